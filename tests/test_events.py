"""Events, series, conferences and registrations through GraphQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from events.tables import Event, Registration

CREATE = """mutation($input: EventInput!) { createEvent(input: $input) {
  id uid kind status title start end timezone rrule sequence capacity registeredCount waitlistCount attendance
  feeds { label https webcal google } } }"""
WINDOW = {"from": "2026-01-01T00:00:00Z", "to": "2027-12-31T00:00:00Z"}
LIST = """query($from: DateTime!, $to: DateTime!, $kinds: [EventKind!], $councilId: ID, $conferenceId: ID,
  $language: String, $first: Int, $after: String) {
  events(from: $from, to: $to, kinds: $kinds, councilId: $councilId, conferenceId: $conferenceId,
         language: $language, first: $first, after: $after) {
    nodes { event { id title } recurrenceId start end status changed title }
    pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture
async def organiser(node):
    return await node.join("organiser", "organiser")


async def create(node, token, **fields) -> dict:
    payload = {
        "title": "Town hall",
        "kind": "TOWN_HALL",
        "start": "2026-12-01T18:00:00",
        "end": "2026-12-01T20:00:00",
        "timezone": "Africa/Nairobi",
        **fields,
    }
    return (await node.data(CREATE, {"input": payload}, token))["createEvent"]


async def event_count(node) -> int:
    async with node.db.read() as session:
        return await session.scalar(select(func.count()).select_from(Event))


async def test_create_an_event_with_its_details_and_feed_links(node, organiser):
    event = await create(
        node,
        organiser["token"],
        venue="Community hall",
        address="Moi Avenue, Nairobi",
        latitude=-1.2833,
        longitude=36.8167,
        onlineUrl="https://meet.example.org/townhall",
        languages=["sw", "en"],
        interpretation=["fr"],
        accessibility="Step-free entrance; sign language on request",
        capacity=40,
    )
    assert event["start"] == "2026-12-01T18:00:00+03:00"
    assert event["end"] == "2026-12-01T20:00:00+03:00"
    assert event["attendance"] == "HYBRID"
    assert event["sequence"] == 0
    assert len(event["uid"]) == 36 and "@" not in event["uid"]
    labels = {link["label"]: link for link in event["feeds"]}
    public = labels["All public events"]
    assert public["https"] == "https://node-a.test/calendars/public.ics"
    assert public["webcal"] == "webcal://node-a.test/calendars/public.ics"
    assert public["google"].startswith("https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2Fnode-a.test")
    assert len(public["google"]) < 256
    detail = await node.data(
        'query($id: ID!) { event(id: $id) { venue languages interpretation accessibility(lang: "sw") latitude } }',
        {"id": event["id"]},
    )
    assert detail["event"] == {
        "venue": "Community hall",
        "languages": ["en", "sw"],
        "interpretation": ["fr"],
        "accessibility": "Step-free entrance; sign language on request",
        "latitude": -1.2833,
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"end": "2026-12-01T17:00:00"}, "end"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"rrule": "FREQ=SECONDLY"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule"),
        ({"rrule": "FREQ=DAILY;COUNT=100000"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=MO"}, "start"),  # 2026-12-01 is a Tuesday
        ({"title": " "}, "title"),
        ({"languages": ["not a language"]}, "languages"),
        ({"latitude": 95, "longitude": 0}, "latitude"),
        ({"onlineUrl": "javascript:alert(1)"}, "onlineUrl"),
        ({"capacity": -1}, "capacity"),
        ({"kind": "SESSION"}, "parentId"),
        ({"visibility": "COUNCIL"}, "councilId"),
        ({"status": "CANCELLED"}, "status"),
        ({"allDay": True, "startDate": "2026-12-05", "endDate": "2026-12-01"}, "endDate"),
    ],
)
async def test_bad_events_are_refused_and_change_nothing(node, organiser, fields, field):
    before = await event_count(node)
    payload = {
        "title": "T",
        "start": "2026-12-01T18:00:00",
        "end": "2026-12-01T20:00:00",
        "timezone": "Africa/Nairobi",
        **fields,
    }
    error = await node.error(CREATE, {"input": payload}, organiser["token"])
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, error
    assert error["message"]
    assert await event_count(node) == before


async def test_editing_raises_the_sequence_and_only_the_owner_or_an_admin_may(node, organiser):
    event = await create(node, organiser["token"])
    other = await node.join("other-organiser", "organiser")
    update = "mutation($id: ID!, $c: EventChanges!) { updateEvent(id: $id, changes: $c) { title sequence uid } }"
    edited = await node.data(update, {"id": event["id"], "c": {"title": "Town hall (moved)"}}, organiser["token"])
    assert edited["updateEvent"] == {"title": "Town hall (moved)", "sequence": 1, "uid": event["uid"]}
    error = await node.error(update, {"id": event["id"], "c": {"title": "Hijacked"}}, other["token"])
    assert error["extensions"]["code"] == "FORBIDDEN"
    admin = await node.join("admin", "admin")
    edited = await node.data(update, {"id": event["id"], "c": {"start": "2026-12-01T17:00:00"}}, admin["token"])
    assert edited["updateEvent"]["sequence"] == 2
    # unchanged values do not raise the sequence
    same = await node.data(update, {"id": event["id"], "c": {"title": "Town hall (moved)"}}, admin["token"])
    assert same["updateEvent"]["sequence"] == 2


async def test_cancel_keeps_the_event_and_delete_removes_it(node, organiser):
    event = await create(node, organiser["token"])
    cancelled = await node.data(
        "mutation($id: ID!) { cancelEvent(id: $id) { status sequence cancelledAt } }",
        {"id": event["id"]},
        organiser["token"],
    )
    assert cancelled["cancelEvent"]["status"] == "CANCELLED" and cancelled["cancelEvent"]["sequence"] == 1
    listed = (await node.data(LIST, WINDOW))["events"]["nodes"]
    assert [o["status"] for o in listed] == ["CANCELLED"]
    again = await node.error(
        "mutation($id: ID!) { cancelEvent(id: $id) { id } }", {"id": event["id"]}, organiser["token"]
    )
    assert again["extensions"]["code"] == "CONFLICT"
    await node.data("mutation($id: ID!) { deleteEvent(id: $id) }", {"id": event["id"]}, organiser["token"])
    assert (await node.data(LIST, WINDOW))["events"]["nodes"] == []
    gone = await node.error("query($id: ID!) { event(id: $id) { id } }", {"id": event["id"]})
    assert gone["extensions"]["code"] == "NOT_FOUND"


async def test_series_expand_in_local_time_across_dst(node, organiser):
    # Berlin switches to summer time on 2027-03-28: the meeting stays at 19:00 local
    event = await create(
        node,
        organiser["token"],
        title="Healing circle",
        kind="CIRCLE",
        start="2027-03-21T19:00:00",
        end="2027-03-21T20:30:00",
        timezone="Europe/Berlin",
        rrule="FREQ=WEEKLY;COUNT=3",
    )
    nodes = (await node.data(LIST, WINDOW))["events"]["nodes"]
    assert [o["start"] for o in nodes] == [
        "2027-03-21T19:00:00+01:00",
        "2027-03-28T19:00:00+02:00",
        "2027-04-04T19:00:00+02:00",
    ]
    assert [o["recurrenceId"] for o in nodes] == ["2027-03-21T19:00:00", "2027-03-28T19:00:00", "2027-04-04T19:00:00"]
    # change one occurrence, remove another
    await node.data(
        'mutation($id: ID!) { changeOccurrence(eventId: $id, recurrenceId: "2027-03-28T19:00:00", '
        'changes: {start: "2027-03-28T18:00:00", end: "2027-03-28T19:30:00", title: "Circle (early)"}) { sequence } }',
        {"id": event["id"]},
        organiser["token"],
    )
    removed = await node.data(
        'mutation($id: ID!) { removeOccurrence(eventId: $id, recurrenceId: "2027-04-04T19:00:00") '
        "{ exdates sequence } }",
        {"id": event["id"]},
        organiser["token"],
    )
    assert removed["removeOccurrence"] == {"exdates": ["2027-04-04T19:00:00"], "sequence": 2}
    nodes = (await node.data(LIST, WINDOW))["events"]["nodes"]
    assert [(o["start"], o["title"], o["changed"]) for o in nodes] == [
        ("2027-03-21T19:00:00+01:00", "Healing circle", False),
        ("2027-03-28T18:00:00+02:00", "Circle (early)", True),
    ]
    error = await node.error(
        'mutation($id: ID!) { removeOccurrence(eventId: $id, recurrenceId: "2027-03-22T19:00:00") { id } }',
        {"id": event["id"]},
        organiser["token"],
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "recurrenceId"}


async def test_never_ending_series_need_a_window(node, organiser):
    event = await create(
        node, organiser["token"], rrule="FREQ=MONTHLY;BYDAY=1SA", start="2026-12-05T10:00:00", end="2026-12-05T12:00:00"
    )
    error = await node.error("query($id: ID!) { event(id: $id) { occurrences { start } } }", {"id": event["id"]})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}
    found = await node.data(
        'query($id: ID!) { event(id: $id) { occurrences(from: "2027-01-01T00:00:00Z", to: "2027-04-01T00:00:00Z") '
        "{ start } } }",
        {"id": event["id"]},
    )
    assert [o["start"][:10] for o in found["event"]["occurrences"]] == ["2027-01-02", "2027-02-06", "2027-03-06"]
    too_wide = await node.error(LIST, {"from": "2026-01-01T00:00:00Z", "to": "2036-01-01T00:00:00Z"})
    assert too_wide["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}


async def test_filters_visibility_and_pagination(node, organiser):
    council = (
        await node.data('mutation { createCouncil(input: {name: "Council"}) { id } }', token=organiser["token"])
    )["createCouncil"]["id"]
    await create(node, organiser["token"], title="Open", kind="TOWN_HALL")
    await create(node, organiser["token"], title="Members", kind="TRAINING", visibility="MEMBERS", language="sw")
    await create(
        node, organiser["token"], title="Council only", kind="COUNCIL_MEETING", visibility="COUNCIL", councilId=council
    )
    titles = lambda body: sorted(o["event"]["title"] for o in body["events"]["nodes"])  # noqa: E731
    assert titles(await node.data(LIST, WINDOW)) == ["Open"]
    member = await node.join("member")
    assert titles(await node.data(LIST, WINDOW, member["token"])) == ["Members", "Open"]
    await node.data(
        "mutation($c: ID!, $m: ID!) { addCouncilSeat(input: {councilId: $c, memberId: $m}) { id } }",
        {"c": council, "m": member["id"]},
        organiser["token"],
    )
    assert titles(await node.data(LIST, WINDOW, member["token"])) == ["Council only", "Members", "Open"]
    assert titles(await node.data(LIST, {**WINDOW, "kinds": ["TRAINING"]}, member["token"])) == ["Members"]
    assert titles(await node.data(LIST, {**WINDOW, "councilId": council}, member["token"])) == ["Council only"]
    assert titles(await node.data(LIST, {**WINDOW, "language": "sw"}, member["token"])) == ["Members"]
    first = await node.data(LIST, {**WINDOW, "first": 2}, member["token"])
    assert len(first["events"]["nodes"]) == 2 and first["events"]["pageInfo"]["hasNextPage"]
    rest = await node.data(
        LIST, {**WINDOW, "first": 2, "after": first["events"]["pageInfo"]["endCursor"]}, member["token"]
    )
    assert len(rest["events"]["nodes"]) == 1 and not rest["events"]["pageInfo"]["hasNextPage"]


REGISTER = "mutation($id: ID!, $hide: Boolean!) { register(eventId: $id, hideHandle: $hide) { status } }"


async def test_capacity_waiting_list_and_who_sees_the_list(node, organiser):
    event = await create(node, organiser["token"], capacity=2)
    people = [await node.join(f"person{n}") for n in range(4)]
    statuses = [
        (await node.data(REGISTER, {"id": event["id"], "hide": n == 1}, p["token"]))["register"]["status"]
        for n, p in enumerate(people)
    ]
    assert statuses == ["REGISTERED", "REGISTERED", "WAITLISTED", "WAITLISTED"]
    twice = await node.error(REGISTER, {"id": event["id"], "hide": False}, people[0]["token"])
    assert twice["extensions"]["code"] == "CONFLICT"
    mine = "query($id: ID!) { event(id: $id) { registeredCount waitlistCount myRegistration { status placeInQueue } } }"
    view = (await node.data(mine, {"id": event["id"]}, people[3]["token"]))["event"]
    assert view == {
        "registeredCount": 2,
        "waitlistCount": 2,
        "myRegistration": {"status": "WAITLISTED", "placeInQueue": 2},
    }
    # members see counts only; organisers see the list, without hidden handles
    listing = "query($id: ID!) { event(id: $id) { registrations { holder status } } }"
    denied = await node.error(listing, {"id": event["id"]}, people[0]["token"])
    assert denied["extensions"]["code"] == "FORBIDDEN"
    seen = (await node.data(listing, {"id": event["id"]}, organiser["token"]))["event"]["registrations"]
    assert seen == [
        {"holder": "person0", "status": "REGISTERED"},
        {"holder": "hidden by request", "status": "REGISTERED"},
        {"holder": "person2", "status": "WAITLISTED"},
        {"holder": "person3", "status": "WAITLISTED"},
    ]
    # a place frees up: the first on the waiting list moves up
    await node.data("mutation($id: ID!) { unregister(eventId: $id) { id } }", {"id": event["id"]}, people[0]["token"])
    view = (await node.data(mine, {"id": event["id"]}, people[2]["token"]))["event"]
    assert view["myRegistration"] == {"status": "REGISTERED", "placeInQueue": None}
    assert (view["registeredCount"], view["waitlistCount"]) == (2, 1)
    # capacity cannot drop below the registered count; raising it promotes
    update = """mutation($id: ID!, $c: Int!) {
      updateEvent(id: $id, changes: {capacity: $c}) { registeredCount waitlistCount } }"""
    error = await node.error(update, {"id": event["id"], "c": 1}, organiser["token"])
    assert error["extensions"] == {"code": "CONFLICT", "field": "capacity"}
    raised = await node.data(update, {"id": event["id"], "c": 3}, organiser["token"])
    assert raised["updateEvent"] == {"registeredCount": 3, "waitlistCount": 0}


async def test_concurrent_registrations_fill_capacity_exactly(node, organiser):
    event = await create(node, organiser["token"], capacity=7)
    people = [await node.join(f"rush{n}") for n in range(20)]
    results = await asyncio.gather(
        *(node.gql(REGISTER, {"id": event["id"], "hide": False}, p["token"]) for p in people)
    )
    statuses = [r["data"]["register"]["status"] for r in results]
    assert statuses.count("REGISTERED") == 7 and statuses.count("WAITLISTED") == 13
    # half of them leave at once; the waiting list fills every freed place, exactly
    leaving = [p for p, s in zip(people, statuses, strict=True) if s == "REGISTERED"][:5]
    await asyncio.gather(
        *(
            node.data("mutation($id: ID!) { unregister(eventId: $id) { id } }", {"id": event["id"]}, p["token"])
            for p in leaving
        )
    )
    async with node.db.read() as session:
        stored = await session.get(Event, event["id"])
        rows = (
            await session.execute(
                select(Registration.status, func.count())
                .where(Registration.event_id == event["id"])
                .group_by(Registration.status)
            )
        ).all()
    assert dict(rows) == {"registered": 7, "waitlisted": 8}
    assert (stored.registered_count, stored.waitlist_count) == (7, 8)


async def test_conference_programme_sessions_and_speakers(node, organiser):
    conference = await create(
        node,
        organiser["token"],
        title="Survivor Summit",
        kind="CONFERENCE",
        start="2027-05-10T09:00:00",
        end="2027-05-12T17:00:00",
        timezone="America/Sao_Paulo",
    )
    session = await create(
        node,
        organiser["token"],
        title="Opening plenary",
        kind="SESSION",
        parentId=conference["id"],
        start="2027-05-10T09:00:00",
        end="2027-05-10T10:30:00",
        timezone="America/Sao_Paulo",
        track="Plenary",
        room="Hall A",
        languages=["pt-BR", "en"],
        capacity=1,
    )
    speaker_member = await node.join("speaker")
    add = """mutation($e: ID!, $m: ID, $n: String, $c: Boolean!) {
      addSpeaker(eventId: $e, memberId: $m, name: $n, consentConfirmed: $c) { id consented } }"""
    listed = await node.data(
        add, {"e": session["id"], "m": speaker_member["id"], "n": None, "c": False}, organiser["token"]
    )
    await node.data(add, {"e": session["id"], "m": None, "n": "Guest Advocate", "c": True}, organiser["token"])
    programme = "query($id: ID!) { event(id: $id) { title sessions { title track room languages speakers { name } } } }"
    seen = (await node.data(programme, {"id": conference["id"]}))["event"]
    assert seen["sessions"] == [
        {
            "title": "Opening plenary",
            "track": "Plenary",
            "room": "Hall A",
            "languages": ["en", "pt-BR"],
            "speakers": [{"name": "Guest Advocate"}],
        }
    ]
    # someone else cannot consent for the speaker
    other = await node.join("someone")
    consent = "mutation($s: ID!) { setSpeakerConsent(speakerId: $s, consent: true) { consented } }"
    denied = await node.error(consent, {"s": listed["addSpeaker"]["id"]}, other["token"])
    assert denied["extensions"]["code"] == "FORBIDDEN"
    await node.data(consent, {"s": listed["addSpeaker"]["id"]}, speaker_member["token"])
    seen = (await node.data(programme, {"id": conference["id"]}))["event"]
    assert [s["name"] for s in seen["sessions"][0]["speakers"]] == ["speaker", "Guest Advocate"]

    # sessions need a conference registration first; leaving the conference leaves its sessions
    attendee = await node.join("attendee")
    first = await node.error(REGISTER, {"id": session["id"], "hide": False}, attendee["token"])
    assert first["extensions"]["code"] == "CONFLICT"
    await node.data(REGISTER, {"id": conference["id"], "hide": False}, attendee["token"])
    assert (await node.data(REGISTER, {"id": session["id"], "hide": False}, attendee["token"]))["register"][
        "status"
    ] == "REGISTERED"
    await node.data(REGISTER, {"id": conference["id"], "hide": False}, other["token"])
    assert (await node.data(REGISTER, {"id": session["id"], "hide": False}, other["token"]))["register"][
        "status"
    ] == "WAITLISTED"
    await node.data(
        "mutation($id: ID!) { unregister(eventId: $id) { id } }", {"id": conference["id"]}, attendee["token"]
    )
    counts = "query($id: ID!) { event(id: $id) { registeredCount waitlistCount } }"
    assert (await node.data(counts, {"id": session["id"]}))["event"] == {"registeredCount": 1, "waitlistCount": 0}
    only = await node.data(LIST, {**WINDOW, "conferenceId": conference["id"]})
    assert sorted(o["event"]["title"] for o in only["events"]["nodes"]) == ["Opening plenary", "Survivor Summit"]


async def test_registration_is_closed_for_cancelled_and_past_events(node, organiser):
    past = await create(node, organiser["token"], start="2020-01-01T10:00:00", end="2020-01-01T11:00:00")
    member = await node.join("late")
    error = await node.error(REGISTER, {"id": past["id"], "hide": False}, member["token"])
    assert error["extensions"]["code"] == "CONFLICT" and "over" in error["message"]
    cancelled = await create(node, organiser["token"])
    await node.data("mutation($id: ID!) { cancelEvent(id: $id) { id } }", {"id": cancelled["id"]}, organiser["token"])
    error = await node.error(REGISTER, {"id": cancelled["id"], "hide": False}, member["token"])
    assert error["extensions"]["code"] == "CONFLICT" and "cancelled" in error["message"]
