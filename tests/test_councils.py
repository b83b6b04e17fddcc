"""Councils, seats and decisions through GraphQL, as organisers and members use them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from schema.councils.tables import Council, CouncilDecision, CouncilSeat
from server.db import statement_count

CREATE = """mutation($input: CouncilInput!) { createCouncil(input: $input) {
  id name description mandate region visibility language archived } }"""
COUNCIL = """query($id: ID!, $lang: String) { council(id: $id) {
  name(lang: $lang) description(lang: $lang) mandate(lang: $lang) language translations { lang field text } } }"""


@pytest.fixture
async def organiser(node):
    return await node.join("organiser", "organiser")


async def create(node, token, **fields) -> dict:
    data = await node.data(CREATE, {"input": {"name": "Survivor Council", **fields}}, token)
    return data["createCouncil"]


async def counts(node) -> tuple[int, int, int]:
    async with node.db.read() as session:
        return tuple(
            [await session.scalar(select(func.count()).select_from(t)) for t in (Council, CouncilSeat, CouncilDecision)]
        )


async def test_create_edit_and_translate_a_council(node, organiser):
    created = await create(node, organiser["token"], description="Leads us", mandate="Set priorities", region="Nairobi")
    assert created == {
        "id": created["id"],
        "name": "Survivor Council",
        "description": "Leads us",
        "mandate": "Set priorities",
        "region": "Nairobi",
        "visibility": "PUBLIC",
        "language": "en",
        "archived": False,
    }
    await node.data(
        'mutation($id: ID!) { setCouncilTranslation(id: $id, lang: "sw", name: "Baraza la Manusura") { id } }',
        {"id": created["id"]},
        organiser["token"],
    )
    swahili = (await node.data(COUNCIL, {"id": created["id"], "lang": "sw"}))["council"]
    # translated where a translation exists, the original language elsewhere
    assert swahili["name"] == "Baraza la Manusura"
    assert swahili["description"] == "Leads us"
    assert swahili["translations"] == [{"lang": "sw", "field": "name", "text": "Baraza la Manusura"}]
    assert (await node.data(COUNCIL, {"id": created["id"], "lang": "fr"}))["council"]["name"] == "Survivor Council"

    edited = await node.data(
        'mutation($id: ID!) { updateCouncil(id: $id, changes: {mandate: "New mandate"}) { name mandate } }',
        {"id": created["id"]},
        organiser["token"],
    )
    assert edited["updateCouncil"] == {"name": "Survivor Council", "mandate": "New mandate"}
    # an empty text removes a translation
    await node.data(
        'mutation($id: ID!) { setCouncilTranslation(id: $id, lang: "sw", name: "") { id } }',
        {"id": created["id"]},
        organiser["token"],
    )
    assert (await node.data(COUNCIL, {"id": created["id"], "lang": "sw"}))["council"]["translations"] == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "x" * 10_001}, "description"),
        ({"language": "klingonish-xx"}, "language"),
    ],
)
async def test_bad_council_input_is_refused_and_changes_nothing(node, organiser, fields, field):
    before = await counts(node)
    error = await node.error(CREATE, {"input": {"name": "Council", **fields}}, organiser["token"])
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert await counts(node) == before


async def test_unknown_enum_values_are_bad_input(node, organiser):
    error = await node.error(CREATE, {"input": {"name": "Council", "visibility": "SECRET"}}, organiser["token"])
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_members_only_councils_are_hidden_from_the_public(node, organiser):
    public = await create(node, organiser["token"], name="Open")
    private = await create(node, organiser["token"], name="Safety", visibility="MEMBERS")
    listing = "{ councils { nodes { name } } }"
    assert [c["name"] for c in (await node.data(listing))["councils"]["nodes"]] == ["Open"]
    member = await node.join("member")
    assert [c["name"] for c in (await node.data(listing, token=member["token"]))["councils"]["nodes"]] == [
        "Open",
        "Safety",
    ]
    error = await node.error(COUNCIL, {"id": private["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await node.data(COUNCIL, {"id": public["id"]}))["council"]["name"] == "Open"
    error = await node.error(COUNCIL, {"id": "does-not-exist"})
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "id"}


async def test_archived_councils_keep_history_and_refuse_changes(node, organiser):
    council = await create(node, organiser["token"])
    archive = "mutation($id: ID!) { archiveCouncil(id: $id) { archived archivedAt } }"
    archived = await node.data(archive, {"id": council["id"]}, organiser["token"])
    assert archived["archiveCouncil"]["archived"] is True
    assert (await node.error(archive, {"id": council["id"]}, organiser["token"]))["extensions"]["code"] == "CONFLICT"
    assert (await node.data("{ councils { nodes { id } } }"))["councils"]["nodes"] == []
    all_councils = await node.data("{ councils(includeArchived: true) { nodes { id archived } } }")
    assert all_councils["councils"]["nodes"] == [{"id": council["id"], "archived": True}]
    error = await node.error(
        'mutation($c: ID!) { recordCouncilDecision(input: {councilId: $c, decidedOn: "2026-02-01", title: "t", '
        "outcome: DEFERRED}) { id } }",
        {"c": council["id"]},
        organiser["token"],
    )
    assert error["extensions"]["code"] == "CONFLICT"
    await node.data(
        "mutation($id: ID!) { unarchiveCouncil(id: $id) { archived } }", {"id": council["id"]}, organiser["token"]
    )
    assert len((await node.data("{ councils { nodes { id } } }"))["councils"]["nodes"]) == 1


SEAT = """mutation($input: SeatInput!) { addCouncilSeat(input: $input) {
  id holder position title termStart termEnd current } }"""


async def test_seats_have_terms_and_ended_seats_stay_as_history(node, organiser):
    council = await create(node, organiser["token"])
    amani = await node.join("amani")
    jade = await node.join("jade")
    chair = await node.data(
        SEAT,
        {
            "input": {
                "councilId": council["id"],
                "memberId": amani["id"],
                "position": "CHAIR",
                "termStart": "2024-01-01",
            }
        },
        organiser["token"],
    )
    assert chair["addCouncilSeat"]["current"] is True
    treasurer = await node.data(
        SEAT,
        {
            "input": {
                "councilId": council["id"],
                "memberId": jade["id"],
                "position": "CUSTOM",
                "title": "Treasurer",
                "termStart": "2024-01-01",
            }
        },
        organiser["token"],
    )
    assert treasurer["addCouncilSeat"]["title"] == "Treasurer"
    # a member holds one seat per council at a time
    error = await node.error(
        SEAT, {"input": {"councilId": council["id"], "memberId": amani["id"], "position": "MEMBER"}}, organiser["token"]
    )
    assert error["extensions"]["code"] == "CONFLICT"
    ended = await node.data(
        'mutation($id: ID!) { endCouncilSeat(seatId: $id, termEnd: "2025-01-01") { termEnd current } }',
        {"id": chair["addCouncilSeat"]["id"]},
        organiser["token"],
    )
    assert ended["endCouncilSeat"] == {"termEnd": "2025-01-01", "current": False}
    seats = "query($id: ID!, $all: Boolean!) { council(id: $id) { seats(includeEnded: $all) { holder position } } }"
    current = (await node.data(seats, {"id": council["id"], "all": False}))["council"]["seats"]
    assert current == [{"holder": "jade", "position": "CUSTOM"}]
    history = (await node.data(seats, {"id": council["id"], "all": True}))["council"]["seats"]
    assert history == [{"holder": "amani", "position": "CHAIR"}, {"holder": "jade", "position": "CUSTOM"}]
    # after the seat ended, the member can be seated again
    again = await node.data(
        SEAT, {"input": {"councilId": council["id"], "memberId": amani["id"], "position": "MEMBER"}}, organiser["token"]
    )
    assert again["addCouncilSeat"]["current"] is True


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({"termStart": "2025-01-01", "termEnd": "2024-01-01"}, "BAD_USER_INPUT", "termEnd"),
        ({"position": "CUSTOM"}, "BAD_USER_INPUT", "title"),
        ({"memberId": "nobody"}, "NOT_FOUND", "id"),
        ({"councilId": "nothing"}, "NOT_FOUND", "id"),
    ],
)
async def test_bad_seats_are_refused(node, organiser, extra, code, field):
    council = await create(node, organiser["token"])
    member = await node.join("member")
    before = await counts(node)
    error = await node.error(
        SEAT, {"input": {"councilId": council["id"], "memberId": member["id"], **extra}}, organiser["token"]
    )
    assert error["extensions"] == {"code": code, "field": field}
    assert await counts(node) == before


DECIDE = """mutation($input: DecisionInput!) { recordCouncilDecision(input: $input) {
  id title text outcome votesFor votesAgainst votesAbstain recordedBy decidedOn } }"""


async def test_decisions_are_recorded_and_paginated(node, organiser):
    council = await create(node, organiser["token"])
    for number in range(5):
        await node.data(
            DECIDE,
            {
                "input": {
                    "councilId": council["id"],
                    "decidedOn": f"2026-0{number + 1}-10",
                    "title": f"Decision {number}",
                    "outcome": "ADOPTED",
                    "votesFor": 5,
                    "votesAgainst": number,
                    "votesAbstain": 0,
                }
            },
            organiser["token"],
        )
    page = """query($id: ID!, $after: String) { council(id: $id) { decisions(first: 2, after: $after) {
      nodes { title votesAgainst recordedBy } pageInfo { hasNextPage endCursor } } } }"""
    titles, after = [], None
    while True:
        decisions = (await node.data(page, {"id": council["id"], "after": after}))["council"]["decisions"]
        titles += [d["title"] for d in decisions["nodes"]]
        assert all(d["recordedBy"] == "organiser" for d in decisions["nodes"])
        if not decisions["pageInfo"]["hasNextPage"]:
            break
        after = decisions["pageInfo"]["endCursor"]
    assert titles == [f"Decision {n}" for n in range(5)]
    error = await node.error(page, {"id": council["id"], "after": "garbage!"})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"title": ""}, "title"), ({"votesFor": -1}, "votesFor"), ({"language": "zz-qq-1234567"}, "language")],
)
async def test_bad_decisions_are_refused(node, organiser, extra, field):
    council = await create(node, organiser["token"])
    before = await counts(node)
    payload = {"councilId": council["id"], "decidedOn": "2026-01-01", "title": "T", "outcome": "REJECTED", **extra}
    error = await node.error(DECIDE, {"input": payload}, organiser["token"])
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert await counts(node) == before


async def test_council_lists_paginate_and_take_the_same_statements_for_any_page_size(node, organiser):
    members = [await node.join(f"member{n}") for n in range(3)]
    ids = []
    for number in range(12):
        council = await create(node, organiser["token"], name=f"Council {number:02}")
        ids.append(council["id"])
        for member in members:
            await node.data(SEAT, {"input": {"councilId": council["id"], "memberId": member["id"]}}, organiser["token"])
    query = """query($first: Int!) { councils(first: $first) {
      nodes { name seats { holder position } } pageInfo { hasNextPage } } }"""
    statements = {}
    for first in (2, 12):
        counter = [0]
        token = statement_count.set(counter)
        try:
            data = await node.data(query, {"first": first})
        finally:
            statement_count.reset(token)
        statements[first] = counter[0]
        nodes = data["councils"]["nodes"]
        assert len(nodes) == first
        assert all(len(c["seats"]) == 3 for c in nodes)
        assert data["councils"]["pageInfo"]["hasNextPage"] is (first < 12)
    assert statements[2] == statements[12] <= 4  # two SELECTs (plus BEGIN on SQLite), whatever the page size
    error = await node.error(query, {"first": 500})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
