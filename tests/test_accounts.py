"""Joining, logging in and out, roles, suspension and deleting one's account, over GraphQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.accounts.tables import Member

ME = "{ me { id handle email role status language } }"
LOGIN = """mutation($h: String!, $p: String!) { login(handle: $h, password: $p) { token account { handle role } } }"""
ACCEPT = """mutation($code: String!, $handle: String!, $password: String!, $email: String, $language: String) {
  acceptInvitation(code: $code, handle: $handle, password: $password, email: $email, language: $language) {
    token account { handle role email language } } }"""


async def member_count(node) -> int:
    async with node.db.read() as session:
        return await session.scalar(select(func.count()).select_from(Member))


async def test_join_by_invitation_then_log_in_and_out(node):
    code = await node.invite("organiser")
    joined = await node.data(
        ACCEPT,
        {
            "code": code,
            "handle": "Nyota",
            "password": "a long passphrase",
            "email": "nyota@example.org",
            "language": "sw",
        },
    )
    account = joined["acceptInvitation"]["account"]
    assert account == {"handle": "Nyota", "role": "ORGANISER", "email": "nyota@example.org", "language": "sw"}
    token = joined["acceptInvitation"]["token"]
    assert (await node.data(ME, token=token))["me"]["handle"] == "Nyota"

    # handles are case-insensitive for login
    logged = await node.data(LOGIN, {"h": "nyota", "p": "a long passphrase"})
    second = logged["login"]["token"]
    assert second != token

    assert (await node.data("mutation { logout }", token=second))["logout"] is True
    assert (await node.data(ME, token=second))["me"] is None
    assert (await node.data(ME, token=token))["me"]["handle"] == "Nyota"

    # the used invitation cannot be used again, and nothing is created
    before = await member_count(node)
    error = await node.error(ACCEPT, {"code": code, "handle": "other", "password": "a long passphrase"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await member_count(node) == before


async def test_logout_everywhere_revokes_every_session(node):
    member = await node.join("wanjiru")
    other = (await node.data(LOGIN, {"h": "wanjiru", "p": "correct horse battery"}))["login"]["token"]
    ended = await node.data("mutation { logoutEverywhere }", token=member["token"])
    assert ended["logoutEverywhere"] == 2
    for token in (member["token"], other):
        assert (await node.data(ME, token=token))["me"] is None
    error = await node.error("mutation { logout }", token=member["token"])
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"handle": "ab"}, "BAD_USER_INPUT", "handle"),
        ({"handle": "has space"}, "BAD_USER_INPUT", "handle"),
        ({"password": "short"}, "BAD_USER_INPUT", "password"),
        ({"email": "not-an-email"}, "BAD_USER_INPUT", "email"),
        ({"language": "xx-notreal-123456789"}, "BAD_USER_INPUT", "language"),
        ({"code": "AAAA-BBBB-CCCC-DDDD"}, "BAD_USER_INPUT", "code"),
        ({"handle": "TAKEN"}, "CONFLICT", "handle"),
    ],
)
async def test_bad_joins_are_refused_and_change_nothing(node, variables, code, field):
    await node.join("taken")
    base = {"code": await node.invite(), "handle": "newcomer", "password": "a long passphrase"}
    before = await member_count(node)
    error = await node.error(ACCEPT, {**base, **variables})
    assert error["extensions"]["code"] == code
    assert error["extensions"]["field"] == field
    assert error["message"]
    assert await member_count(node) == before
    # the invitation was not consumed by the failed attempt
    if "code" not in variables:
        joined = await node.data(ACCEPT, {**base, "handle": "newcomer2"})
        assert joined["acceptInvitation"]["account"]["handle"] == "newcomer2"


async def test_login_failures_do_not_reveal_whether_a_handle_exists(node):
    await node.join("existing")
    wrong_password = await node.error(LOGIN, {"h": "existing", "p": "wrong password!!"})
    unknown = await node.error(LOGIN, {"h": "nobody-here", "p": "wrong password!!"})
    assert wrong_password["message"] == unknown["message"]
    assert wrong_password["extensions"] == unknown["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_login_is_rate_limited_per_handle_and_success_resets(node):
    await node.join("target")
    limit = node.settings.login_failures_per_handle
    for _ in range(limit):
        error = await node.error(LOGIN, {"h": "target", "p": "wrong password!!"})
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
    blocked = await node.error(LOGIN, {"h": "target", "p": "correct horse battery"})
    assert blocked["extensions"]["code"] == "RATE_LIMITED"
    # an unknown handle gets the same treatment
    for _ in range(limit):
        await node.error(LOGIN, {"h": "ghost", "p": "wrong password!!"})
    assert (await node.error(LOGIN, {"h": "ghost", "p": "x" * 12}))["extensions"]["code"] == "RATE_LIMITED"


async def test_login_is_rate_limited_per_client_address(node):
    node.settings.login_failures_per_address = 3
    await node.join("someone")
    for handle in ("a1", "a2", "a3"):
        await node.error(LOGIN, {"h": handle, "p": "wrong password!!"})
    error = await node.error(LOGIN, {"h": "someone", "p": "correct horse battery"})
    assert error["extensions"]["code"] == "RATE_LIMITED"


async def test_admin_changes_roles_and_suspends(node):
    admin = await node.join("admin1", "admin")
    member = await node.join("member1")
    changed = await node.data(
        "mutation($id: ID!) { setMemberRole(memberId: $id, role: ORGANISER) { handle role } }",
        {"id": member["id"]},
        admin["token"],
    )
    assert changed["setMemberRole"] == {"handle": "member1", "role": "ORGANISER"}

    suspended = await node.data(
        "mutation($id: ID!) { suspendMember(memberId: $id) { status } }", {"id": member["id"]}, admin["token"]
    )
    assert suspended["suspendMember"]["status"] == "SUSPENDED"
    # a suspended member's session cannot act, and they cannot log in
    error = await node.error('mutation { createCouncil(input: {name: "x"}) { id } }', token=member["token"])
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "suspended" in error["message"]
    error = await node.error(LOGIN, {"h": "member1", "p": "correct horse battery"})
    assert error["extensions"]["code"] == "FORBIDDEN"

    await node.data(
        "mutation($id: ID!) { reactivateMember(memberId: $id) { status } }", {"id": member["id"]}, admin["token"]
    )
    created = await node.data('mutation { createCouncil(input: {name: "Back"}) { name } }', token=member["token"])
    assert created["createCouncil"]["name"] == "Back"


async def test_the_last_admin_cannot_be_demoted_suspended_or_deleted(node):
    admin = await node.join("only-admin", "admin")
    for mutation in (
        "mutation($id: ID!) { setMemberRole(memberId: $id, role: MEMBER) { role } }",
        "mutation($id: ID!) { suspendMember(memberId: $id) { status } }",
    ):
        error = await node.error(mutation, {"id": admin["id"]}, admin["token"])
        assert error["extensions"]["code"] == "CONFLICT"
    error = await node.error('mutation { deleteMyAccount(password: "correct horse battery") }', token=admin["token"])
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await node.data(ME, token=admin["token"]))["me"]["role"] == "ADMIN"


async def test_members_see_and_update_their_own_account(node):
    member = await node.join("self")
    updated = await node.data(
        'mutation { updateMyAccount(email: "me@example.org", language: "fr") { email language } }',
        token=member["token"],
    )
    assert updated["updateMyAccount"] == {"email": "me@example.org", "language": "fr"}
    cleared = await node.data('mutation { updateMyAccount(email: "") { email language } }', token=member["token"])
    assert cleared["updateMyAccount"] == {"email": None, "language": "fr"}


async def test_change_password_ends_other_sessions(node):
    member = await node.join("changer")
    other = (await node.data(LOGIN, {"h": "changer", "p": "correct horse battery"}))["login"]["token"]
    wrong = await node.error(
        'mutation { changePassword(currentPassword: "not it at all", newPassword: "a new long secret") }',
        token=member["token"],
    )
    assert wrong["extensions"]["code"] == "BAD_USER_INPUT"
    await node.data(
        'mutation { changePassword(currentPassword: "correct horse battery", newPassword: "a new long secret") }',
        token=member["token"],
    )
    assert (await node.data(ME, token=other))["me"] is None
    assert (await node.data(ME, token=member["token"]))["me"]["handle"] == "changer"
    assert (await node.data(LOGIN, {"h": "changer", "p": "a new long secret"}))["login"]["account"][
        "handle"
    ] == "changer"


async def test_deleting_an_account_erases_it_but_keeps_the_record(node):
    admin = await node.join("chair", "admin")
    leaving = await node.join("leaving")
    council = (await node.data('mutation { createCouncil(input: {name: "Council"}) { id } }', token=admin["token"]))[
        "createCouncil"
    ]["id"]
    await node.data(
        "mutation($c: ID!, $m: ID!) { addCouncilSeat(input: {councilId: $c, memberId: $m, position: SECRETARY, "
        'termStart: "2020-01-01"}) { id } }',
        {"c": council, "m": leaving["id"]},
        admin["token"],
    )
    await node.data(
        "mutation($id: ID!) { setMemberRole(memberId: $id, role: ORGANISER) { role } }",
        {"id": leaving["id"]},
        admin["token"],
    )
    await node.data(
        'mutation($c: ID!) { recordCouncilDecision(input: {councilId: $c, decidedOn: "2026-01-01", '
        'title: "Minutes", outcome: ADOPTED}) { id } }',
        {"c": council},
        leaving["token"],
    )
    wrong = await node.error('mutation { deleteMyAccount(password: "not the password") }', token=leaving["token"])
    assert wrong["extensions"]["code"] == "BAD_USER_INPUT"

    assert (await node.data('mutation { deleteMyAccount(password: "correct horse battery") }', token=leaving["token"]))[
        "deleteMyAccount"
    ]
    assert (await node.data(ME, token=leaving["token"]))["me"] is None
    view = await node.data(
        "query($c: ID!) { council(id: $c) { seats(includeEnded: true) { holder current termEnd } "
        "decisions { nodes { title recordedBy } } } }",
        {"c": council},
    )
    seats = view["council"]["seats"]
    assert len(seats) == 1 and seats[0]["holder"] == "former member" and seats[0]["current"] is False
    assert view["council"]["decisions"]["nodes"] == [{"title": "Minutes", "recordedBy": "former member"}]
    async with node.db.read() as session:
        row = await session.get(Member, leaving["id"])
    assert (row.handle, row.email, row.password_hash, row.status) == (None, None, None, "deleted")
    # the handle is free again
    assert (await node.join("leaving"))["handle"] == "leaving"
    listed = await node.data("{ members { nodes { handle } } }", token=admin["token"])
    assert sorted(m["handle"] for m in listed["members"]["nodes"]) == ["chair", "leaving"]


async def test_expired_sessions_are_refused(node):
    from datetime import timedelta

    from sqlalchemy import update

    from server.accounts.tables import AuthSession
    from server.db import utcnow

    member = await node.join("expiring")
    async with node.db.write() as session:
        await session.execute(update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await node.data(ME, token=member["token"]))["me"] is None
    error = await node.error('mutation { createCouncil(input: {name: "x"}) { id } }', token=member["token"])
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
