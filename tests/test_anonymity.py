"""Anonymous signing is unlinkable: signing anonymously adds no mention of the signer's handle or
id to any GraphQL field a non-admin can reach, any feed or public list, any bus message, or any
log line. (The member list that organisers see names every member, signer or not; what must not
change is how often the signer appears anywhere once they have signed.)"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from itertools import product

from graphql import GraphQLNonNull, GraphQLObjectType, get_named_type

from schema.assembly import build_schema

SOON = (datetime.now(UTC) + timedelta(days=30)).isoformat()
WINDOW = {"from": "2026-01-01T00:00:00Z", "to": "2028-12-31T00:00:00Z"}


def selection(type_, depth: int) -> str:
    """Every field without required arguments, to ``depth`` levels."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        return ""
    if depth == 0:
        return "{ __typename }"
    parts = []
    for name, field in named.fields.items():
        if any(isinstance(arg.type, GraphQLNonNull) and arg.default_value is None for arg in field.args.values()):
            continue
        inner = selection(field.type, depth - 1)
        parts.append(f"{name} {inner}".strip())
    return "{ " + " ".join(parts) + " }"


def root_queries(known: dict[str, list[str]]) -> list[tuple[str, dict]]:
    """(document, variables) for every root query field, with each combination of known values."""
    query_type = build_schema()._schema.query_type
    documents = []
    for name, field in query_type.fields.items():
        required = {
            a: arg
            for a, arg in field.args.items()
            if isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
        }
        if any(a not in known for a in required):
            raise AssertionError(f"no test value for {name}({', '.join(required)}): add one to 'known'")
        choices = [known[a] for a in required]
        for values in product(*choices) if required else [()]:
            variables = dict(zip(required, values, strict=True))
            declared = ", ".join(f"${a}: {arg.type}" for a, arg in required.items())
            passed = ", ".join(f"{a}: ${a}" for a in required)
            head = f"query({declared})" if declared else "query"
            call = f"{name}({passed})" if passed else name
            documents.append((f"{head} {{ {call} {selection(field.type, 4)} }}", variables))
    return documents


async def test_nothing_reachable_links_an_anonymous_signer(node, caplog):
    caplog.set_level(logging.DEBUG)
    organiser = await node.join("organiser", "organiser")
    council = (
        await node.data('mutation { createCouncil(input: {name: "Council"}) { id } }', token=organiser["token"])
    )["createCouncil"]["id"]
    event = (
        await node.data(
            'mutation { createEvent(input: {title: "E", start: "2027-01-01T10:00:00", end: "2027-01-01T11:00:00"}) { id } }',
            token=organiser["token"],
        )
    )["createEvent"]["id"]
    petition = (
        await node.data(
            'mutation($d: DateTime!) { createPetition(input: {title: "P", decisionMaker: "M", deadline: $d, thresholds: [1, 2]}) { id } }',
            {"d": SOON},
            organiser["token"],
        )
    )["createPetition"]["id"]
    await node.data("mutation($id: ID!) { openPetition(id: $id) { id } }", {"id": petition}, organiser["token"])

    secret = await node.join("secret-signer")
    named = await node.join("open-signer")
    bystander = await node.join("bystander")
    forbidden = [secret["handle"], secret["id"]]
    known = {"id": [petition, council, event, secret["id"]], **{k: [v] for k, v in WINDOW.items()}}
    await node.data(
        "mutation($id: ID!) { signPetition(id: $id, named: true) { receipt } }", {"id": petition}, named["token"]
    )
    open_receipt = (
        await node.data(
            "mutation($id: ID!) { signPetition(id: $id, named: false) { receipt } }",
            {"id": petition},
            bystander["token"],
        )
    )["signPetition"]["receipt"]
    known["receipt"] = [open_receipt]
    documents = root_queries(known)
    assert len(documents) > 10
    paths = ("/calendars/public.ics", f"/petitions/{petition}/commitments", f"/events/{event}")

    async def mentions() -> dict[tuple, int]:
        found = {}
        for viewer in (None, bystander["token"], organiser["token"]):
            for document, variables in documents:
                text = json.dumps(await node.gql(document, variables, viewer))
                found[(viewer, document, json.dumps(variables))] = sum(text.count(v) for v in forbidden)
        for path in paths:
            response = await node.client.get(path)
            assert response.status_code == 200, path
            found[(None, path, "")] = sum(response.text.count(v) for v in forbidden)
        return found

    before = await mentions()
    assert any(before.values()), "the organiser's member list names every member"
    caplog.clear()
    messages = []
    async with node.db.bus.subscribe(f"petition:{petition}") as subscription:
        await node.data(
            "mutation($id: ID!) { signPetition(id: $id, named: false) { receipt } }", {"id": petition}, secret["token"]
        )
        await node.data(
            "mutation($id: ID!) { register(eventId: $id, hideHandle: true) { status } }", {"id": event}, secret["token"]
        )
        while not subscription.queue.empty():
            messages.append(subscription.queue.get_nowait())
    signing_logs = list(caplog.records)
    after = await mentions()
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert not changed, f"the anonymous signature is visible through: {list(changed)[:3]}"
    assert len(messages) == 1
    for message in messages:
        assert all(value not in json.dumps(message) for value in forbidden)
        assert set(message) == {"petition", "count", "named", "digest", "crossed", "global"}
    assert signing_logs, "the signing was logged at debug level, so this check read something"
    for record in signing_logs:
        line = record.getMessage()
        assert all(value not in line for value in forbidden), line
