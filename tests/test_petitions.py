"""Petitions: drafting, signing openly or anonymously, receipts, exact counts and privacy over time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from schema.petitions import receipts
from schema.petitions.tables import Petition, Signature
from server import maintenance

CREATE = """mutation($input: PetitionInput!) { createPetition(input: $input) {
  id state title signatureCount signatureSetDigest thresholds { count crossedAt } } }"""
SIGN = """mutation($id: ID!, $named: Boolean!) { signPetition(id: $id, named: $named) {
  receipt petition { signatureCount namedCount signatureSetDigest } } }"""
WITHDRAW = "mutation($id: ID!) { withdrawSignature(id: $id) { signatureCount namedCount } }"
VERIFY = "query($r: String!) { verifyReceipt(receipt: $r) { petitionId counted signatureCount signatureSetDigest } }"
SOON = (datetime.now(UTC) + timedelta(days=30)).isoformat()


@pytest.fixture
async def organiser(node):
    return await node.join("organiser", "organiser")


async def open_petition(node, token, **fields) -> dict:
    payload = {
        "title": "Fund survivor-led shelters",
        "decisionMaker": "Ministry of Labour",
        "deadline": SOON,
        "thresholds": [3, 1000, 2],
        **fields,
    }
    created = (await node.data(CREATE, {"input": payload}, token))["createPetition"]
    await node.data("mutation($id: ID!) { openPetition(id: $id) { state } }", {"id": created["id"]}, token)
    return created


async def stored(node, petition_id: str) -> tuple[int, int]:
    async with node.db.read() as session:
        petition = await session.get(Petition, petition_id)
        rows = await session.scalar(
            select(func.count()).select_from(Signature).where(Signature.petition_id == petition_id)
        )
    return petition.signature_count, rows


async def test_drafts_are_for_organisers_and_editing_stops_at_opening(node, organiser):
    created = (
        await node.data(
            CREATE, {"input": {"title": "Draft", "decisionMaker": "Parliament", "deadline": SOON}}, organiser["token"]
        )
    )["createPetition"]
    assert created["state"] == "DRAFT" and created["signatureCount"] == 0
    member = await node.join("member")
    hidden = await node.error("query($id: ID!) { petition(id: $id) { id } }", {"id": created["id"]}, member["token"])
    assert hidden["extensions"]["code"] == "NOT_FOUND"
    assert (await node.data("{ petitions { nodes { id } } }", token=member["token"]))["petitions"]["nodes"] == []
    edit = 'mutation($id: ID!) { updatePetition(id: $id, changes: {title: "Fund shelters now"}) { title } }'
    assert (await node.data(edit, {"id": created["id"]}, organiser["token"]))["updatePetition"][
        "title"
    ] == "Fund shelters now"
    await node.data("mutation($id: ID!) { openPetition(id: $id) { state } }", {"id": created["id"]}, organiser["token"])
    refused = await node.error(edit, {"id": created["id"]}, organiser["token"])
    assert refused["extensions"]["code"] == "CONFLICT"
    translated = await node.data(
        'mutation($id: ID!) { setPetitionTranslation(id: $id, lang: "sw", title: "Fadhili makazi") { title(lang: "sw") } }',
        {"id": created["id"]},
        organiser["token"],
    )
    assert translated["setPetitionTranslation"]["title"] == "Fadhili makazi"
    listed = await node.data('{ petitions(state: OPEN) { nodes { title(lang: "sw") state } } }', token=member["token"])
    assert listed["petitions"]["nodes"] == [{"title": "Fadhili makazi", "state": "OPEN"}]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"decisionMaker": " "}, "decisionMaker"),
        ({"deadline": "2027-01-01T00:00:00"}, "deadline"),
        ({"thresholds": [0]}, "thresholds"),
        ({"opensAt": "2099-01-01T00:00:00Z"}, "deadline"),
        ({"language": "zz-zz-zzzzzzzzz"}, "language"),
        ({"eventIds": ["nope"]}, "eventIds"),
    ],
)
async def test_bad_petitions_are_refused(node, organiser, fields, field):
    payload = {"title": "T", "decisionMaker": "D", "deadline": SOON, **fields}
    error = await node.error(CREATE, {"input": payload}, organiser["token"])
    assert error["extensions"]["field"] == field, error
    async with node.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Petition)) == 0


async def test_sign_named_or_anonymous_with_receipts_and_thresholds(node, organiser):
    petition = await open_petition(node, organiser["token"])
    people = [await node.join(name) for name in ("zuri", "amani", "baraka", "chiku")]
    results = []
    for person, named in zip(people, (True, False, True, False), strict=True):
        results.append((await node.data(SIGN, {"id": petition["id"], "named": named}, person["token"]))["signPetition"])
    assert [r["petition"]["signatureCount"] for r in results] == [1, 2, 3, 4]
    assert results[-1]["petition"]["namedCount"] == 2
    digests = [r["petition"]["signatureSetDigest"] for r in results]
    assert len(set(digests)) == 4 and petition["signatureSetDigest"] not in digests

    view = await node.data(
        "query($id: ID!) { petition(id: $id) { signatureCount namedSignatories { nodes } thresholds { count crossedAt } "
        "mySignature { named } acceptingSignatures } }",
        {"id": petition["id"]},
        people[1]["token"],
    )
    p = view["petition"]
    # alphabetical: reveals nothing about when anyone signed
    assert p["namedSignatories"]["nodes"] == ["baraka", "zuri"]
    assert p["mySignature"] == {"named": False} and p["acceptingSignatures"] is True
    assert [(t["count"], t["crossedAt"] is not None) for t in p["thresholds"]] == [(2, True), (3, True), (1000, False)]

    check = (await node.data(VERIFY, {"r": results[1]["receipt"]}))["verifyReceipt"]
    assert check == {
        "petitionId": petition["id"],
        "counted": True,
        "signatureCount": 4,
        "signatureSetDigest": digests[-1],
    }

    twice = await node.error(SIGN, {"id": petition["id"], "named": True}, people[1]["token"])
    assert twice["extensions"]["code"] == "CONFLICT"
    assert await stored(node, petition["id"]) == (4, 4)

    withdrawn = (await node.data(WITHDRAW, {"id": petition["id"]}, people[1]["token"]))["withdrawSignature"]
    assert withdrawn == {"signatureCount": 3, "namedCount": 2}
    assert (await node.data(VERIFY, {"r": results[1]["receipt"]}))["verifyReceipt"]["counted"] is False
    # withdrawing brings the digest back to what it was before that signature
    after = await node.data("query($id: ID!) { petition(id: $id) { signatureSetDigest } }", {"id": petition["id"]})
    assert after["petition"]["signatureSetDigest"] != digests[-1]
    bad = await node.error(VERIFY, {"r": "not-a-receipt"})
    assert bad["extensions"] == {"code": "BAD_USER_INPUT", "field": "receipt"}


async def test_anyone_can_recompute_the_published_digest(node, organiser):
    petition = await open_petition(node, organiser["token"])
    receipts_given = []
    for n in range(5):
        person = await node.join(f"signer{n}")
        receipts_given.append(
            (await node.data(SIGN, {"id": petition["id"], "named": n % 2 == 0}, person["token"]))["signPetition"][
                "receipt"
            ]
        )
    response = await node.client.get(f"/petitions/{petition['id']}/commitments")
    assert response.status_code == 200
    lines = response.text.splitlines()
    commitments = [line for line in lines if not line.startswith("#")]
    assert commitments == sorted(commitments) and len(commitments) == 5
    published = await node.data("query($id: ID!) { petition(id: $id) { signatureSetDigest } }", {"id": petition["id"]})
    assert receipts.digest(receipts.state_of(commitments)) == published["petition"]["signatureSetDigest"]
    # every signer finds their own commitment in the list
    for receipt in receipts_given:
        assert receipts.read_receipt(receipt)[1] in commitments


async def test_signing_is_refused_outside_the_open_period(node, organiser):
    draft = (
        await node.data(
            CREATE, {"input": {"title": "Draft", "decisionMaker": "D", "deadline": SOON}}, organiser["token"]
        )
    )["createPetition"]
    member = await node.join("member")
    assert (await node.error(SIGN, {"id": draft["id"], "named": False}, member["token"]))["extensions"][
        "code"
    ] == "NOT_FOUND"
    later = await open_petition(node, organiser["token"], opensAt=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    error = await node.error(SIGN, {"id": later["id"], "named": False}, member["token"])
    assert error["extensions"]["code"] == "CONFLICT" and "opens" in error["message"]
    past = await open_petition(node, organiser["token"])
    async with node.db.write() as session:
        await session.execute(
            update(Petition).where(Petition.id == past["id"]).values(deadline=datetime.now(UTC) - timedelta(minutes=1))
        )
    error = await node.error(SIGN, {"id": past["id"], "named": False}, member["token"])
    assert error["extensions"]["code"] == "CONFLICT" and "deadline" in error["message"]
    closing = await open_petition(node, organiser["token"])
    await node.data(
        "mutation($id: ID!) { closePetition(id: $id) { state } }", {"id": closing["id"]}, organiser["token"]
    )
    error = await node.error(SIGN, {"id": closing["id"], "named": False}, member["token"])
    assert error["extensions"]["code"] == "CONFLICT" and "closed" in error["message"]
    for petition in (later, past, closing):
        assert await stored(node, petition["id"]) == (0, 0)


async def test_close_with_outcome(node, organiser):
    petition = await open_petition(node, organiser["token"])
    close = "mutation($id: ID!, $o: PetitionOutcome, $r: String) { closePetition(id: $id, outcome: $o, response: $r) { state outcome response closedAt } }"
    missing = await node.error(close, {"id": petition["id"], "o": "ANSWERED"}, organiser["token"])
    assert missing["extensions"] == {"code": "BAD_USER_INPUT", "field": "response"}
    closed = (await node.data(close, {"id": petition["id"], "o": "DELIVERED"}, organiser["token"]))["closePetition"]
    assert closed["state"] == "CLOSED" and closed["outcome"] == "DELIVERED" and closed["closedAt"]
    answered = await node.data(
        'mutation($id: ID!) { setPetitionOutcome(id: $id, outcome: ANSWERED, response: "We will fund 3 shelters.") { outcome response } }',
        {"id": petition["id"]},
        organiser["token"],
    )
    assert answered["setPetitionOutcome"] == {"outcome": "ANSWERED", "response": "We will fund 3 shelters."}


async def test_concurrent_signing_and_withdrawing_ends_exact(node, organiser):
    petition = await open_petition(node, organiser["token"], thresholds=[50, 120])
    people = [await node.join(f"crowd{n}") for n in range(150)]
    first = await asyncio.gather(
        *(node.gql(SIGN, {"id": petition["id"], "named": n % 3 == 0}, p["token"]) for n, p in enumerate(people[:100]))
    )
    assert all("errors" not in r for r in first), [r for r in first if "errors" in r][:1]
    # 200 operations at once: 50 withdraw, 50 new signatures, 50 second signatures, 50 withdraw unsigned
    second = await asyncio.gather(
        *(node.gql(WITHDRAW, {"id": petition["id"]}, p["token"]) for p in people[:50]),
        *(node.gql(SIGN, {"id": petition["id"], "named": False}, p["token"]) for p in people[100:150]),
        *(node.gql(SIGN, {"id": petition["id"], "named": False}, p["token"]) for p in people[50:100]),
        *(node.gql(WITHDRAW, {"id": petition["id"]}, p["token"]) for p in people[:50]),
    )
    assert sum("errors" not in r for r in second) == 100
    codes = sorted(r["errors"][0]["extensions"]["code"] for r in second if "errors" in r)
    assert codes == ["CONFLICT"] * 50 + ["NOT_FOUND"] * 50
    count, rows = await stored(node, petition["id"])
    assert count == rows == 100
    async with node.db.read() as session:
        p = await session.get(Petition, petition["id"])
        commitments = list(await session.scalars(select(Signature.commitment).where(Signature.petition_id == p.id)))
        named = await session.scalar(
            select(func.count()).select_from(Signature).where(Signature.petition_id == p.id, Signature.named.is_(True))
        )
    assert p.named_count == named
    assert receipts.state_of(commitments) == p.set_state
    assert set(p.crossed) == {"50"}


async def test_sign_and_withdraw_flapping_is_rate_limited(node, organiser):
    node.settings.signing_actions_per_window = 4
    petition = await open_petition(node, organiser["token"])
    member = await node.join("flapper")
    for _ in range(2):
        await node.data(SIGN, {"id": petition["id"], "named": False}, member["token"])
        await node.data(WITHDRAW, {"id": petition["id"]}, member["token"])
    error = await node.error(SIGN, {"id": petition["id"], "named": False}, member["token"])
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert await stored(node, petition["id"]) == (0, 0)


async def test_anonymous_signatures_are_unlinked_after_closing(node, organiser):
    node.settings.petition_unlink_days = 0
    petition = await open_petition(node, organiser["token"])
    named, anonymous = await node.join("named-signer"), await node.join("anon-signer")
    await node.data(SIGN, {"id": petition["id"], "named": True}, named["token"])
    receipt = (await node.data(SIGN, {"id": petition["id"], "named": False}, anonymous["token"]))["signPetition"][
        "receipt"
    ]
    await node.data(
        "mutation($id: ID!) { closePetition(id: $id) { state } }", {"id": petition["id"]}, organiser["token"]
    )
    assert (await maintenance.run_once(node.db, node.settings)) == {"petitions_unlinked": 1}
    assert (await maintenance.run_once(node.db, node.settings)) == {"petitions_unlinked": 0}
    async with node.db.read() as session:
        links = sorted((s.named, s.member_id is not None) for s in await session.scalars(select(Signature)))
    assert links == [(False, False), (True, True)]
    assert (await node.data(VERIFY, {"r": receipt}))["verifyReceipt"]["counted"] is True
    mine = "query($id: ID!) { petition(id: $id) { signatureCount mySignature { named } } }"
    assert (await node.data(mine, {"id": petition["id"]}, anonymous["token"]))["petition"] == {
        "signatureCount": 2,
        "mySignature": None,
    }


async def test_a_departed_members_signature_still_counts_but_names_no_one(node, organiser):
    petition = await open_petition(node, organiser["token"])
    leaving = await node.join("leaving")
    await node.data(SIGN, {"id": petition["id"], "named": True}, leaving["token"])
    await node.data('mutation { deleteMyAccount(password: "correct horse battery") }', token=leaving["token"])
    view = await node.data(
        "query($id: ID!) { petition(id: $id) { signatureCount namedCount namedSignatories { nodes } } }",
        {"id": petition["id"]},
    )
    assert view["petition"] == {"signatureCount": 1, "namedCount": 0, "namedSignatories": {"nodes": []}}


async def test_petition_deadlines_appear_in_feeds(node, organiser):
    from icalendar import Calendar

    petition = await open_petition(node, organiser["token"], title="Protect domestic workers")
    signer = await node.join("signer")
    await node.data(SIGN, {"id": petition["id"], "named": False}, signer["token"])
    public = Calendar.from_ical((await node.client.get("/calendars/public.ics")).text)
    summaries = [str(e["SUMMARY"]) for e in public.walk("VEVENT")]
    assert summaries == ["Petition deadline: Protect domestic workers"]
    token = (await node.data("mutation { createFeedToken { feed { https } } }", token=signer["token"]))[
        "createFeedToken"
    ]
    personal = Calendar.from_ical(
        (await node.client.get(token["feed"]["https"].removeprefix("https://node-a.test"))).text
    )
    assert [str(e["SUMMARY"]) for e in personal.walk("VEVENT")] == summaries


async def test_petitions_list_newest_first_in_pages(node, organiser):
    for title in ("First", "Second", "Third"):
        await open_petition(node, organiser["token"], title=title)
    page = "query($after: String) { petitions(first: 2, after: $after) { nodes { title } pageInfo { hasNextPage endCursor } } }"
    first = (await node.data(page, {"after": None}))["petitions"]
    assert [p["title"] for p in first["nodes"]] == ["Third", "Second"] and first["pageInfo"]["hasNextPage"]
    rest = (await node.data(page, {"after": first["pageInfo"]["endCursor"]}))["petitions"]
    assert [p["title"] for p in rest["nodes"]] == ["First"] and not rest["pageInfo"]["hasNextPage"]
