"""Who is asking, and the checks every mutation starts with."""

from __future__ import annotations

from dataclasses import dataclass

from server.accounts.tables import MemberStatus, Role
from server.errors import Forbidden, Unauthenticated


@dataclass(frozen=True, slots=True)
class Viewer:
    member_id: str
    handle: str
    role: Role
    status: MemberStatus
    session_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN and self.status == MemberStatus.ACTIVE

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE


def require_member(viewer: Viewer | None) -> Viewer:
    if viewer is None:
        raise Unauthenticated("Log in first: send 'Authorization: Bearer <token>' from the login mutation.")
    if viewer.status != MemberStatus.ACTIVE:
        raise Forbidden("This account is suspended; ask a coalition admin to reactivate it.")
    return viewer


def require_role(viewer: Viewer | None, *roles: Role) -> Viewer:
    viewer = require_member(viewer)
    if viewer.role not in roles:
        names = " or ".join(role.value for role in roles)
        raise Forbidden(f"Only a coalition {names} can do this.")
    return viewer


def can_see_members_only(viewer: Viewer | None) -> bool:
    return viewer is not None and viewer.is_active
