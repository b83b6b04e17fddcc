"""Every mutation against every role, including the denials.

The table must name every mutation of the schema: a new mutation without a rule fails here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from schema.assembly import build_schema

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
    "recordCouncilDecision": Case(
        'mutation($council: ID!) { recordCouncilDecision(input: {councilId: $council, decidedOn: "2026-03-01", '
        'title: "T", outcome: ADOPTED}) { id } }',
        MANAGERS,
    ),
}


def test_every_mutation_has_a_rule():
    mutation_type = build_schema()._schema.mutation_type
    assert set(mutation_type.fields) == set(CASES)


@pytest.fixture
async def world(node) -> dict:
    admin = await node.join("admin", "admin")
    await node.join("second-admin", "admin")  # so that an admin may delete their own account
    tokens = {
        "anonymous": None,
        "admin": admin["token"],
        "organiser": (await node.join("organiser", "organiser"))["token"],
        "member": (await node.join("member"))["token"],
    }
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
    return {
        "tokens": tokens,
        "ids": {
            "council": council,
            "archived": archived,
            "target": target["id"],
            "seat": seat["addCouncilSeat"]["id"],
            "code": await node.invite(),
        },
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("mutation", sorted(CASES))
async def test_mutation_access(node, world, mutation, role):
    case = CASES[mutation]
    variables = {
        name: world["ids"][name]
        for name in ("council", "archived", "target", "seat", "code")
        if f"${name}" in case.query
    }
    body = await node.gql(case.query, variables, world["tokens"][role])
    errors = body.get("errors") or []
    if role in case.allowed:
        assert not errors, f"{role} should be allowed to {mutation}: {errors}"
        assert body["data"][mutation] is not None
    else:
        assert len(errors) == 1, body
        expected = "UNAUTHENTICATED" if role == "anonymous" else "FORBIDDEN"
        assert errors[0]["extensions"]["code"] == expected, errors
        assert errors[0]["message"]
