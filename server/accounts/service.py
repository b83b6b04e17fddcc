"""The rules for accounts; GraphQL resolvers and the command line both go through here."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.access import Viewer, require_member, require_role
from server.accounts.secrets import (
    digest,
    hash_password,
    new_invitation_code,
    new_token,
    normalise_code,
    verify_password,
)
from server.accounts.tables import AuthSession, Invitation, LoginFailure, Member, MemberStatus, Role
from server.dataversion import bump
from server.db import Database, utcnow
from server.errors import BadInput, Conflict, Forbidden, NotFound, RateLimited, Unauthenticated
from server.i18n import language_tag
from server.settings import Settings

HANDLE_PATTERN = re.compile(r"^[\w.-]{3,32}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PASSWORD_MIN, PASSWORD_MAX = 10, 256

MemberDeletedHook = Callable[[AsyncSession, str], Awaitable[None]]
_member_deleted_hooks: list[MemberDeletedHook] = []


def on_member_deleted(hook: MemberDeletedHook) -> MemberDeletedHook:
    """Register what a domain does, inside the deleting transaction, when a member leaves."""
    _member_deleted_hooks.append(hook)
    return hook


def check_handle(handle: str) -> str:
    handle = handle.strip()
    if not HANDLE_PATTERN.fullmatch(handle):
        raise BadInput(
            "A handle has 3 to 32 letters, digits, '.', '_' or '-', and no spaces. "
            "It is shown to other members, so it need not be your real name.",
            field="handle",
        )
    return handle


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise BadInput(
            f"A password has {PASSWORD_MIN} to {PASSWORD_MAX} characters; a few words make a good one.",
            field="password",
        )
    return password


def check_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    if len(email) > 254 or not EMAIL_PATTERN.fullmatch(email):
        raise BadInput(f"'{email}' does not look like an email address.", field="email")
    return email


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise BadInput(
            f"Unknown role '{role}'; use one of: {', '.join(r.value for r in Role)}.", field="role"
        ) from None


async def authenticate(db: Database, token: str) -> Viewer | None:
    """The member behind a bearer token, or ``None`` when it is unknown, expired or revoked."""
    async with db.read() as session:
        row = (
            await session.execute(
                select(AuthSession.id, Member.id, Member.handle, Member.role, Member.status)
                .join(Member, Member.id == AuthSession.member_id)
                .where(
                    AuthSession.token_hash == digest(token),
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > utcnow(),
                    Member.status != MemberStatus.DELETED,
                )
            )
        ).first()
    if row is None:
        return None
    session_id, member_id, handle, role, status = row
    return Viewer(member_id, handle, Role(role), MemberStatus(status), session_id)


async def create_invitation(
    db: Database,
    settings: Settings,
    viewer: Viewer | None,
    role: str = Role.MEMBER,
    note: str | None = None,
    *,
    by_operator: bool = False,
) -> tuple[Invitation, str]:
    """A single-use invitation. ``by_operator`` is the node's command line, which needs no login."""
    if not by_operator:
        viewer = require_role(viewer, Role.ADMIN)
    role = check_role(role)
    if note is not None and len(note) > 200:
        raise BadInput("An invitation note has at most 200 characters.", field="note")
    code = new_invitation_code()
    invitation = Invitation(
        code_hash=digest(normalise_code(code)),
        role=role,
        note=note,
        created_by=viewer.member_id if viewer else None,
        expires_at=utcnow() + timedelta(days=settings.invitation_days),
    )
    async with db.write() as session:
        session.add(invitation)
    return invitation, code


async def _start_session(session: AsyncSession, settings: Settings, member_id: str) -> str:
    token = new_token()
    session.add(
        AuthSession(
            token_hash=digest(token),
            member_id=member_id,
            expires_at=utcnow() + timedelta(days=settings.session_days),
        )
    )
    return token


async def accept_invitation(
    db: Database,
    settings: Settings,
    code: str,
    handle: str,
    password: str,
    email: str | None = None,
    language: str | None = None,
) -> tuple[Member, str]:
    handle = check_handle(handle)
    check_password(password)
    email = check_email(email)
    if language is not None:
        language = language_tag(language)
    code_hash = digest(normalise_code(code))
    async with db.read() as session:
        taken = await session.scalar(select(Member.id).where(Member.handle_key == handle.casefold()))
    if taken:
        raise Conflict(f"The handle '{handle}' is taken; choose another.", field="handle")
    password_hash = await hash_password(password)
    try:
        async with db.write() as session:
            invitation = await session.scalar(
                select(Invitation).where(Invitation.code_hash == code_hash).with_for_update()
            )
            now = utcnow()
            if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
                raise BadInput(
                    "This invitation code is unknown, already used or expired; ask an admin for a new one.",
                    field="code",
                )
            member = Member(
                handle=handle,
                handle_key=handle.casefold(),
                email=email,
                password_hash=password_hash,
                role=invitation.role,
                language=language,
            )
            session.add(member)
            await session.flush()
            claimed = await session.execute(
                update(Invitation)
                .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
                .values(used_at=now, used_by=member.id)
            )
            if claimed.rowcount != 1:
                raise BadInput("This invitation code was used a moment ago.", field="code")
            token = await _start_session(session, settings, member.id)
    except IntegrityError:
        raise Conflict(f"The handle '{handle}' is taken; choose another.", field="handle") from None
    return member, token


async def _failures(session: AsyncSession, key: str, since) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.key == key, LoginFailure.at > since)
        )
        or 0
    )


async def login(db: Database, settings: Settings, handle: str, password: str, address: str) -> tuple[Member, str]:
    """A new session token. Failures say the same whether or not the handle exists."""
    handle_key = "handle:" + handle.strip().casefold()[:64]
    address_key = "address:" + address[:64]
    now = utcnow()
    since = now - timedelta(minutes=settings.login_window_minutes)
    async with db.read() as session:
        if (
            await _failures(session, handle_key, since) >= settings.login_failures_per_handle
            or await _failures(session, address_key, since) >= settings.login_failures_per_address
        ):
            raise RateLimited(f"Too many failed logins. Wait {settings.login_window_minutes} minutes and try again.")
        member = await session.scalar(select(Member).where(Member.handle_key == handle.strip().casefold()))
    ok = await verify_password(member.password_hash if member else None, password)
    if not ok or member is None or member.status == MemberStatus.DELETED:
        async with db.write() as session:
            session.add(LoginFailure(key=handle_key, at=now))
            session.add(LoginFailure(key=address_key, at=now))
            await session.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))
        raise Unauthenticated("That handle and password do not match an account.")
    if member.status == MemberStatus.SUSPENDED:
        raise Forbidden("This account is suspended; ask a coalition admin to reactivate it.")
    async with db.write() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.key == handle_key))
        token = await _start_session(session, settings, member.id)
    return member, token


async def logout(db: Database, viewer: Viewer | None, *, everywhere: bool = False) -> int:
    viewer = _require_any(viewer)
    condition = AuthSession.member_id == viewer.member_id if everywhere else AuthSession.id == viewer.session_id
    async with db.write() as session:
        result = await session.execute(
            update(AuthSession).where(condition, AuthSession.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
    return result.rowcount


def _require_any(viewer: Viewer | None) -> Viewer:
    """Logging out works for suspended members too."""
    if viewer is None:
        raise Unauthenticated("You are not logged in.")
    return viewer


async def get_member(session: AsyncSession, member_id: str) -> Member:
    member = await session.get(Member, member_id)
    if member is None or member.status == MemberStatus.DELETED:
        raise NotFound(f"No member with id '{member_id}'.", field="id")
    return member


async def _ensure_another_admin(session: AsyncSession, member: Member) -> None:
    if member.role != Role.ADMIN or member.status != MemberStatus.ACTIVE:
        return
    admins = await session.scalar(
        select(func.count())
        .select_from(Member)
        .where(Member.role == Role.ADMIN, Member.status == MemberStatus.ACTIVE, Member.id != member.id)
    )
    if not admins:
        raise Conflict("This is the node's last active admin; make another member admin first.")


async def set_role(db: Database, viewer: Viewer | None, member_id: str, role: str) -> Member:
    require_role(viewer, Role.ADMIN)
    new_role = check_role(role)
    async with db.write() as session:
        member = await get_member(session, member_id)
        if new_role != Role.ADMIN:
            await _ensure_another_admin(session, member)
        member.role = new_role
    return member


async def set_suspended(db: Database, viewer: Viewer | None, member_id: str, suspended: bool) -> Member:
    require_role(viewer, Role.ADMIN)
    async with db.write() as session:
        member = await get_member(session, member_id)
        if suspended:
            await _ensure_another_admin(session, member)
        member.status = MemberStatus.SUSPENDED if suspended else MemberStatus.ACTIVE
        await bump(session)  # a suspended member's personal feed stops
    return member


async def update_account(
    db: Database,
    viewer: Viewer | None,
    *,
    email: str | None = None,
    clear_email: bool = False,
    language: str | None = None,
) -> Member:
    viewer = require_member(viewer)
    email = check_email(email)
    if language is not None:
        language = language_tag(language)
    async with db.write() as session:
        member = await get_member(session, viewer.member_id)
        if email is not None or clear_email:
            member.email = email
        if language is not None:
            member.language = language
    return member


async def change_password(db: Database, viewer: Viewer | None, current: str, new: str) -> None:
    viewer = require_member(viewer)
    check_password(new)
    async with db.read() as session:
        member = await get_member(session, viewer.member_id)
    if not await verify_password(member.password_hash, current):
        raise BadInput("The current password is not right.", field="currentPassword")
    new_hash = await hash_password(new)
    async with db.write() as session:
        await session.execute(update(Member).where(Member.id == viewer.member_id).values(password_hash=new_hash))
        await session.execute(
            update(AuthSession)
            .where(
                AuthSession.member_id == viewer.member_id,
                AuthSession.id != viewer.session_id,
                AuthSession.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )


async def delete_account(db: Database, viewer: Viewer | None, password: str) -> None:
    """Erase a member's personal data; what they wrote stays, credited to "former member"."""
    viewer = _require_any(viewer)
    async with db.read() as session:
        member = await get_member(session, viewer.member_id)
    if not await verify_password(member.password_hash, password):
        raise BadInput("The password is not right; the account was not deleted.", field="password")
    async with db.write() as session:
        member = await get_member(session, viewer.member_id)
        await _ensure_another_admin(session, member)
        for hook in _member_deleted_hooks:
            await hook(session, member.id)
        member.handle = member.handle_key = member.email = member.password_hash = member.language = None
        member.status = MemberStatus.DELETED
        member.deleted_at = utcnow()
        await session.execute(
            update(AuthSession)
            .where(AuthSession.member_id == member.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
