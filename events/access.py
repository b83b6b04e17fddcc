"""Who may see and change which events."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from events.tables import Event, EventVisibility
from schema.councils.tables import CouncilSeat
from server.accounts.access import Viewer, can_see_members_only
from server.accounts.tables import Role
from server.db import utcnow
from server.errors import Forbidden, NotFound


async def seat_council_ids(session: AsyncSession, member_id: str) -> set[str]:
    today = utcnow().date()
    rows = await session.scalars(
        select(CouncilSeat.council_id).where(
            CouncilSeat.member_id == member_id,
            CouncilSeat.term_start <= today,
            or_(CouncilSeat.term_end.is_(None), CouncilSeat.term_end > today),
        )
    )
    return set(rows)


def is_manager(viewer: Viewer | None) -> bool:
    return viewer is not None and viewer.is_active and viewer.role in (Role.ADMIN, Role.ORGANISER)


async def visibility_filter(session: AsyncSession, viewer: Viewer | None) -> ColumnElement[bool]:
    """Events this viewer may see (deleted ones never)."""
    alive = Event.deleted_at.is_(None)
    if is_manager(viewer):
        return alive & true()
    public = Event.visibility == EventVisibility.PUBLIC
    if not can_see_members_only(viewer):
        return alive & public
    councils = await seat_council_ids(session, viewer.member_id)
    council_only = (
        (Event.visibility == EventVisibility.COUNCIL) & Event.council_id.in_(councils) if councils else false()
    )
    return alive & or_(public, Event.visibility == EventVisibility.MEMBERS, council_only)


async def load_visible(session: AsyncSession, viewer: Viewer | None, event_id: str, *, lock: bool = False) -> Event:
    statement = select(Event).where(Event.id == event_id, await visibility_filter(session, viewer))
    if lock:
        statement = statement.with_for_update()
    event = await session.scalar(statement)
    if event is None:
        raise NotFound(f"No event with id '{event_id}' that you can see.", field="id")
    return event


def require_editor(viewer: Viewer, event: Event) -> None:
    """Organisers change their own events; admins change any of this node's events."""
    if event.origin is not None:
        raise Forbidden(f"This event belongs to the coalition '{event.origin}'; only its node can change it.")
    if viewer.role == Role.ADMIN or event.created_by == viewer.member_id:
        return
    raise Forbidden("Only the organiser who created this event, or an admin, can change it.")


async def can_see(session: AsyncSession, viewer: Viewer | None, event: Event) -> bool:
    """Whether the viewer may know of this event (deleted ones included, to hear of the deletion)."""
    if is_manager(viewer) or event.visibility == EventVisibility.PUBLIC:
        return True
    if not can_see_members_only(viewer):
        return False
    if event.visibility == EventVisibility.MEMBERS:
        return True
    return event.council_id in await seat_council_ids(session, viewer.member_id)
