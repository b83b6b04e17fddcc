from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from sqlalchemy import select

from schema.context import Info
from schema.pagination import Connection, connection, keyset_page
from server.accounts import service
from server.accounts.access import require_role
from server.accounts.tables import Member, MemberStatus, Role

RoleEnum = strawberry.enum(Role, name="Role")
StatusEnum = strawberry.enum(MemberStatus, name="MemberStatus")


@strawberry.type(description="Your own account; only you and the node's admins see its details.")
class Account:
    id: strawberry.ID
    handle: str
    email: str | None
    role: RoleEnum
    status: StatusEnum
    language: str | None
    created_at: datetime

    @classmethod
    def of(cls, member: Member) -> Account:
        return cls(
            id=strawberry.ID(member.id),
            handle=member.display_handle,
            email=member.email,
            role=Role(member.role),
            status=MemberStatus(member.status),
            language=member.language,
            created_at=member.created_at,
        )


@strawberry.type(description="A member as admins and organisers see them.")
class MemberSummary:
    id: strawberry.ID
    handle: str
    role: RoleEnum
    status: StatusEnum
    created_at: datetime

    @classmethod
    def of(cls, member: Member) -> MemberSummary:
        return cls(
            id=strawberry.ID(member.id),
            handle=member.display_handle,
            role=Role(member.role),
            status=MemberStatus(member.status),
            created_at=member.created_at,
        )


@strawberry.type
class AuthPayload:
    token: str = strawberry.field(description="Send as 'Authorization: Bearer <token>'.")
    account: Account


@strawberry.type
class InvitationPayload:
    code: str = strawberry.field(description="Shown once; give it to the new member.")
    role: RoleEnum
    expires_at: datetime


@strawberry.enum
class MemberFilter(Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@strawberry.type
class MemberQuery:
    @strawberry.field(description="The logged-in member's own account, or null.")
    async def me(self, info: Info) -> Account | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        async with info.context.db.read() as session:
            return Account.of(await service.get_member(session, viewer.member_id))

    @strawberry.field(description="Members of this node (admins and organisers only).")
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: MemberFilter | None = None,
    ) -> Connection[MemberSummary]:
        require_role(info.context.viewer, Role.ADMIN, Role.ORGANISER)
        statement = select(Member).where(Member.status != MemberStatus.DELETED)
        if status is not None:
            statement = statement.where(Member.status == status.value)
        async with info.context.db.read() as session:
            rows, more = await keyset_page(session, statement, Member.created_at, Member.id, first, after)
        members = [row[0] for row in rows]
        return connection([MemberSummary.of(m) for m in members], [(m.created_at, m.id) for m in members], more)


@strawberry.type
class MemberMutation:
    @strawberry.mutation(description="Create a single-use invitation code (admins).")
    async def create_invitation(
        self, info: Info, role: RoleEnum = Role.MEMBER, note: str | None = None
    ) -> InvitationPayload:
        ctx = info.context
        invitation, code = await service.create_invitation(ctx.db, ctx.settings, ctx.viewer, role, note)
        return InvitationPayload(code=code, role=Role(invitation.role), expires_at=invitation.expires_at)

    @strawberry.mutation(description="Join with an invitation code and a pseudonymous handle.")
    async def accept_invitation(
        self,
        info: Info,
        code: str,
        handle: str,
        password: str,
        email: str | None = None,
        language: str | None = None,
    ) -> AuthPayload:
        ctx = info.context
        member, token = await service.accept_invitation(ctx.db, ctx.settings, code, handle, password, email, language)
        return AuthPayload(token=token, account=Account.of(member))

    @strawberry.mutation(description="Log in; returns a bearer token.")
    async def login(self, info: Info, handle: str, password: str) -> AuthPayload:
        ctx = info.context
        member, token = await service.login(ctx.db, ctx.settings, handle, password, ctx.client_address)
        return AuthPayload(token=token, account=Account.of(member))

    @strawberry.mutation(description="End this session.")
    async def logout(self, info: Info) -> bool:
        return await service.logout(info.context.db, info.context.viewer) > 0

    @strawberry.mutation(description="End every session of this account; returns how many ended.")
    async def logout_everywhere(self, info: Info) -> int:
        return await service.logout(info.context.db, info.context.viewer, everywhere=True)

    @strawberry.mutation(description="Change your email (empty string removes it) or language.")
    async def update_my_account(self, info: Info, email: str | None = None, language: str | None = None) -> Account:
        member = await service.update_account(
            info.context.db,
            info.context.viewer,
            email=email or None,
            clear_email=email == "",
            language=language,
        )
        return Account.of(member)

    @strawberry.mutation(description="Change your password; your other sessions end.")
    async def change_password(self, info: Info, current_password: str, new_password: str) -> bool:
        await service.change_password(info.context.db, info.context.viewer, current_password, new_password)
        return True

    @strawberry.mutation(
        description="Delete your account: your personal data is erased, your seats end, and what "
        "you wrote stays, credited to 'former member'."
    )
    async def delete_my_account(self, info: Info, password: str) -> bool:
        await service.delete_account(info.context.db, info.context.viewer, password)
        return True

    @strawberry.mutation(description="Change a member's role (admins).")
    async def set_member_role(self, info: Info, member_id: strawberry.ID, role: RoleEnum) -> MemberSummary:
        return MemberSummary.of(await service.set_role(info.context.db, info.context.viewer, member_id, role))

    @strawberry.mutation(description="Suspend a member: they cannot log in or act until reactivated (admins).")
    async def suspend_member(self, info: Info, member_id: strawberry.ID) -> MemberSummary:
        return MemberSummary.of(await service.set_suspended(info.context.db, info.context.viewer, member_id, True))

    @strawberry.mutation(description="Lift a suspension (admins).")
    async def reactivate_member(self, info: Info, member_id: strawberry.ID) -> MemberSummary:
        return MemberSummary.of(await service.set_suspended(info.context.db, info.context.viewer, member_id, False))
