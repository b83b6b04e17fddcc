"""Every mutation against every role, including the denials.

The table must name every mutation of the schema: a new mutation without a rule fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from schema.assembly import build_schema

from conftest import copy_database, make_settings, running_node

ROLES = ("anonymous", "member", "organiser", "admin", "suspended")
ANYONE = set(ROLES)
SIGNED_IN = {"member", "organiser", "admin", "suspended"}
ACTIVE = {"member", "organiser", "admin"}
MANAGERS = {"organiser", "admin"}
ADMINS = {"admin"}


@dataclass
class Case:
    query: str
    allowed: set[str]
    allowed_error: str | None = None  # an allowed call that fails for another reason, with this code


CASES: dict[str, Case] = {
    "createInvitation": Case("mutation { createInvitation(role: MEMBER) { code } }", ADMINS),
    "acceptInvitation": Case(
        'mutation($code: String!) { acceptInvitation(code: $code, handle: "fresh", password: "a long passphrase") '
        "{ token } }",
        ANYONE,
    ),
    "login": Case('mutation { login(handle: "target", password: "correct horse battery") { token } }', ANYONE),
    "logout": Case("mutation { logout }", SIGNED_IN),
    "logoutEverywhere": Case("mutation { logoutEverywhere }", SIGNED_IN),
    "updateMyAccount": Case('mutation { updateMyAccount(language: "sw") { language } }', ACTIVE),
    "changePassword": Case(
        'mutation { changePassword(currentPassword: "correct horse battery", newPassword: "another long one") }',
        ACTIVE,
    ),
    "deleteMyAccount": Case('mutation { deleteMyAccount(password: "correct horse battery") }', SIGNED_IN),
    "setMemberRole": Case(
        "mutation($target: ID!) { setMemberRole(memberId: $target, role: ORGANISER) { role } }", ADMINS
    ),
    "suspendMember": Case("mutation($target: ID!) { suspendMember(memberId: $target) { status } }", ADMINS),
    "reactivateMember": Case("mutation($target: ID!) { reactivateMember(memberId: $target) { status } }", ADMINS),
    "createCouncil": Case('mutation { createCouncil(input: {name: "New"}) { id } }', MANAGERS),
    "updateCouncil": Case(
        'mutation($council: ID!) { updateCouncil(id: $council, changes: {region: "Lima"}) { region } }',
        MANAGERS,
    ),
    "setCouncilTranslation": Case(
        'mutation($council: ID!) { setCouncilTranslation(id: $council, lang: "fr", name: "Conseil") { id } }',
        MANAGERS,
    ),
    "archiveCouncil": Case("mutation($council: ID!) { archiveCouncil(id: $council) { archived } }", MANAGERS),
    "unarchiveCouncil": Case("mutation($archived: ID!) { unarchiveCouncil(id: $archived) { archived } }", MANAGERS),
    "addCouncilSeat": Case(
        "mutation($council: ID!, $target: ID!) { addCouncilSeat(input: {councilId: $council, memberId: $target}) "
        "{ id } }",
        MANAGERS,
    ),
    "endCouncilSeat": Case("mutation($seat: ID!) { endCouncilSeat(seatId: $seat) { current } }", MANAGERS),
    "createEvent": Case(
        'mutation { createEvent(input: {title: "T", start: "2027-01-01T10:00:00", end: "2027-01-01T11:00:00"}) '
        "{ id } }",
        MANAGERS,
    ),
    "updateEvent": Case('mutation($event: ID!) { updateEvent(id: $event, changes: {title: "New"}) { id } }', MANAGERS),
    "setEventTranslation": Case(
        'mutation($event: ID!) { setEventTranslation(id: $event, lang: "sw", title: "Mkutano") { id } }', MANAGERS
    ),
    "cancelEvent": Case("mutation($event: ID!) { cancelEvent(id: $event) { status } }", MANAGERS),
    "deleteEvent": Case("mutation($event: ID!) { deleteEvent(id: $event) }", MANAGERS),
    "changeOccurrence": Case(
        'mutation($series: ID!) { changeOccurrence(eventId: $series, recurrenceId: "2027-01-08T10:00:00", '
        'changes: {title: "Moved"}) { id } }',
        MANAGERS,
    ),
    "removeOccurrence": Case(
        'mutation($series: ID!) { removeOccurrence(eventId: $series, recurrenceId: "2027-01-08T10:00:00") { id } }',
        MANAGERS,
    ),
    "register": Case("mutation($event: ID!) { register(eventId: $event) { status } }", ACTIVE),
    "unregister": Case("mutation($joined: ID!) { unregister(eventId: $joined) { id } }", ACTIVE),
    "followEvent": Case("mutation($event: ID!) { followEvent(eventId: $event) }", ACTIVE),
    "unfollowEvent": Case("mutation($event: ID!) { unfollowEvent(eventId: $event) }", ACTIVE),
    "addSpeaker": Case(
        'mutation($event: ID!) { addSpeaker(eventId: $event, name: "Guest", consentConfirmed: true) { id } }', MANAGERS
    ),
    "setSpeakerConsent": Case(
        "mutation($own_speaker: ID!) { setSpeakerConsent(speakerId: $own_speaker, consent: true) { consented } }",
        ACTIVE,
    ),
    "removeSpeaker": Case("mutation($guest: ID!) { removeSpeaker(speakerId: $guest) }", MANAGERS),
    "createFeedToken": Case('mutation { createFeedToken(label: "phone") { feed { https } } }', ACTIVE),
    "revokeFeedToken": Case("mutation($own_feed: ID!) { revokeFeedToken(id: $own_feed) { revoked } }", ACTIVE),
    "importCalendar": Case(
        'mutation { importCalendar(ics: "BEGIN:VCALENDAR\\nVERSION:2.0\\nPRODID:x\\nBEGIN:VEVENT\\nUID:a\\n'
        'DTSTAMP:20260101T000000Z\\nDTSTART:20270101T100000Z\\nSUMMARY:Imported\\nEND:VEVENT\\nEND:VCALENDAR\\n") '
        "{ created } }",
        MANAGERS,
    ),
    "createPetition": Case(
        'mutation { createPetition(input: {title: "T", decisionMaker: "D", deadline: "2099-01-01T00:00:00Z"}) { id } }',
        MANAGERS,
    ),
    "updatePetition": Case(
        'mutation($draft: ID!) { updatePetition(id: $draft, changes: {title: "New"}) { id } }', MANAGERS
    ),
    "setPetitionTranslation": Case(
        'mutation($petition: ID!) { setPetitionTranslation(id: $petition, lang: "sw", title: "Ombi") { id } }', MANAGERS
    ),
    "openPetition": Case("mutation($draft: ID!) { openPetition(id: $draft) { state } }", MANAGERS),
    "closePetition": Case("mutation($petition: ID!) { closePetition(id: $petition) { state } }", MANAGERS),
    "setPetitionOutcome": Case(
        "mutation($closed: ID!) { setPetitionOutcome(id: $closed, outcome: DELIVERED) { outcome } }", MANAGERS
    ),
    "signPetition": Case("mutation($petition: ID!) { signPetition(id: $petition) { receipt } }", ACTIVE),
    "withdrawSignature": Case("mutation($signed: ID!) { withdrawSignature(id: $signed) { signatureCount } }", ACTIVE),
    "addPeer": Case(
        'mutation { addPeer(url: "https://unreachable.invalid") { id } }', ADMINS, allowed_error="BAD_USER_INPUT"
    ),
    "confirmPeer": Case('mutation { confirmPeer(id: "node-z", fingerprint: "00ff") { state } }', ADMINS),
    "blockPeer": Case('mutation { blockPeer(id: "node-z") { state } }', ADMINS),
    "importPlan": Case("mutation($plan: String!) { importPlan(toml: $plan) { added } }", ADMINS),
    "createReviewCycle": Case(
        'mutation($plan_id: String!) { createReviewCycle(key: "2099", name: "C", planId: $plan_id, opensOn: "2099-01-01", closesOn: "2099-12-31") { key } }',
        ADMINS,
    ),
    "draftReport": Case(
        'mutation { draftReport(input: {cycleKey: "open", actionKey: "movement.1.1", progress: 10}) { id } }', MANAGERS
    ),
    "publishReport": Case("mutation($report: ID!) { publishReport(id: $report) { published } }", ADMINS),
    "createReviewMeeting": Case(
        'mutation { createReviewMeeting(cycleKey: "open", title: "Review", start: "2027-01-01T10:00:00", end: "2027-01-01T12:00:00") { id } }',
        ADMINS,
    ),
    "recordMinutes": Case(
        'mutation($meeting: ID!) { recordMinutes(meetingId: $meeting, minutes: "We met.") { minutes } }', MANAGERS
    ),
    "recordCouncilDecision": Case(
        'mutation($council: ID!) { recordCouncilDecision(input: {councilId: $council, decidedOn: "2026-03-01", '
        'title: "T", outcome: ADOPTED}) { id } }',
        MANAGERS,
    ),
}


def test_every_mutation_has_a_rule():
    mutation_type = build_schema()._schema.mutation_type
    assert set(mutation_type.fields) == set(CASES)


async def build_world(node) -> dict:
    admin = await node.join("admin", "admin")
    await node.join("second-admin", "admin")  # so that an admin may delete their own account
    organiser = await node.join("organiser", "organiser")
    member = await node.join("member")
    people = {"admin": admin, "organiser": organiser, "member": member}
    tokens = {"anonymous": None, **{role: person["token"] for role, person in people.items()}}
    suspended = await node.join("suspended")
    await node.data(f'mutation {{ suspendMember(memberId: "{suspended["id"]}") {{ status }} }}', token=admin["token"])
    tokens["suspended"] = suspended["token"]
    target = await node.join("target")
    create = "mutation($name: String!) { createCouncil(input: {name: $name}) { id } }"
    council = (await node.data(create, {"name": "Council"}, admin["token"]))["createCouncil"]["id"]
    archived = (await node.data(create, {"name": "Old"}, admin["token"]))["createCouncil"]["id"]
    await node.data(f'mutation {{ archiveCouncil(id: "{archived}") {{ id }} }}', token=admin["token"])
    other = await node.join("seated")
    seat = await node.data(
        f'mutation {{ addCouncilSeat(input: {{councilId: "{council}", memberId: "{other["id"]}"}}) {{ id }} }}',
        token=admin["token"],
    )
    create = "mutation($input: EventInput!) { createEvent(input: $input) { id } }"
    when = {"start": "2027-01-01T10:00:00", "end": "2027-01-01T11:00:00"}
    event = (await node.data(create, {"input": {"title": "E", **when}}, organiser["token"]))["createEvent"]["id"]
    series = (
        await node.data(create, {"input": {"title": "S", "rrule": "FREQ=WEEKLY;COUNT=5", **when}}, organiser["token"])
    )["createEvent"]["id"]
    joined = (await node.data(create, {"input": {"title": "J", **when}}, organiser["token"]))["createEvent"]["id"]
    own: dict[str, dict[str, str]] = {role: {} for role in ROLES}
    for role, person in people.items():
        await node.data("mutation($e: ID!) { register(eventId: $e) { status } }", {"e": joined}, person["token"])
        speaker = await node.data(
            "mutation($e: ID!, $m: ID!) { addSpeaker(eventId: $e, memberId: $m) { id } }",
            {"e": event, "m": person["id"]},
            organiser["token"],
        )
        own[role]["own_speaker"] = speaker["addSpeaker"]["id"]
        feed = await node.data("mutation { createFeedToken { token { id } } }", token=person["token"])
        own[role]["own_feed"] = feed["createFeedToken"]["token"]["id"]
    petition_create = 'mutation($t: String!) { createPetition(input: {title: $t, decisionMaker: "D", deadline: "2099-01-01T00:00:00Z"}) { id } }'
    petitions = {}
    for name in ("draft", "petition", "closed", "signed"):
        petitions[name] = (await node.data(petition_create, {"t": name}, organiser["token"]))["createPetition"]["id"]
        if name != "draft":
            await node.data(
                "mutation($id: ID!) { openPetition(id: $id) { id } }", {"id": petitions[name]}, organiser["token"]
            )
    await node.data(
        "mutation($id: ID!) { closePetition(id: $id) { id } }", {"id": petitions["closed"]}, organiser["token"]
    )
    for person in people.values():
        await node.data(
            "mutation($id: ID!) { signPetition(id: $id) { receipt } }", {"id": petitions["signed"]}, person["token"]
        )
    from federation.tables import Peer
    from schema.reviews.plans import default_plan

    plan = (
        await node.data(
            "mutation($t: String!) { importPlan(toml: $t) { plan { id } } }", {"t": default_plan()}, admin["token"]
        )
    )["importPlan"]["plan"]["id"]
    await node.data(
        'mutation($p: String!) { createReviewCycle(key: "open", name: "Open", planId: $p, opensOn: "2026-01-01", closesOn: "2099-12-31") { key } }',
        {"p": plan},
        admin["token"],
    )
    report = (
        await node.data(
            'mutation { draftReport(input: {cycleKey: "open", actionKey: "movement.1.2", progress: 5}) { id } }',
            token=admin["token"],
        )
    )["draftReport"]["id"]
    meeting = (
        await node.data(
            'mutation { createReviewMeeting(cycleKey: "open", title: "R", start: "2027-02-01T10:00:00", end: "2027-02-01T11:00:00") { id } }',
            token=admin["token"],
        )
    )["createReviewMeeting"]["id"]

    async with node.db.write() as session:
        session.add(Peer(id="node-z", base_url="https://node-z.test", fingerprint="00ff", keys=[]))
    guest = await node.data(
        'mutation($e: ID!) { addSpeaker(eventId: $e, name: "G", consentConfirmed: true) { id } }',
        {"e": event},
        organiser["token"],
    )
    # the suspended member's own entries exist too, made before the suspension
    own["suspended"] = {"own_speaker": own["member"]["own_speaker"], "own_feed": own["member"]["own_feed"]}
    own["anonymous"] = own["suspended"]
    return {
        "tokens": tokens,
        "own": own,
        "ids": {
            "event": event,
            "series": series,
            "joined": joined,
            "guest": guest["addSpeaker"]["id"],
            **petitions,
            "plan": default_plan(),
            "plan_id": plan,
            "report": report,
            "meeting": meeting,
            "council": council,
            "archived": archived,
            "target": target["id"],
            "seat": seat["addCouncilSeat"]["id"],
            "code": await node.invite(),
        },
    }


@pytest.fixture
async def world_node(backend, request, snapshots, tmp_path):
    """A node holding the world above: built once per backend, copied for each test."""
    template, world = snapshots.get("authorization", backend, request, build_world)
    async for url in copy_database(backend, template, tmp_path):
        async with running_node(make_settings(url, tmp_path / "data")) as node:
            yield node, world


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("mutation", sorted(CASES))
async def test_mutation_access(world_node, mutation, role):
    node, world = world_node
    case = CASES[mutation]
    known = {**world["ids"], **world["own"][role]}
    variables = {name: value for name, value in known.items() if re.search(rf"\${name}\b", case.query)}
    body = await node.gql(case.query, variables, world["tokens"][role])
    errors = body.get("errors") or []
    if role in case.allowed and case.allowed_error:
        assert [e["extensions"]["code"] for e in errors] == [case.allowed_error], errors
    elif role in case.allowed:
        assert not errors, f"{role} should be allowed to {mutation}: {errors}"
        assert body["data"][mutation] is not None
    else:
        assert len(errors) == 1, body
        expected = "UNAUTHENTICATED" if role == "anonymous" else "FORBIDDEN"
        assert errors[0]["extensions"]["code"] == expected, errors
        assert errors[0]["message"]
