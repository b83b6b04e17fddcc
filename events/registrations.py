"""Registration with exact capacity and a fair waiting list.

Each change locks the event row (SELECT ... FOR UPDATE on PostgreSQL; on SQLite every write
transaction is BEGIN IMMEDIATE), so counts stay exact under concurrent registrations.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events.access import load_visible
from events.tables import Event, EventStatus, Registration, RegistrationStatus
from server.accounts.access import Viewer, require_member
from server.accounts.service import on_member_deleted
from server.dataversion import bump
from server.db import Database, utcnow
from server.errors import Conflict, NotFound


def _has_room(event: Event) -> bool:
    return event.capacity is None or event.registered_count < event.capacity


async def promote_waiting(session: AsyncSession, event: Event) -> int:
    """Move people from the waiting list, in order of arrival, into free places."""
    promoted = 0
    while event.waitlist_count and _has_room(event):
        first = await session.scalar(
            select(Registration)
            .where(Registration.event_id == event.id, Registration.status == RegistrationStatus.WAITLISTED)
            .order_by(Registration.queue_number)
            .limit(1)
        )
        if first is None:  # pragma: no cover - counters and rows move together
            break
        first.status = RegistrationStatus.REGISTERED
        event.registered_count += 1
        event.waitlist_count -= 1
        promoted += 1
    return promoted


async def register(db: Database, viewer: Viewer | None, event_id: str, hide_handle: bool = False) -> Registration:
    viewer = require_member(viewer)
    try:
        async with db.write() as session:
            event = await load_visible(session, viewer, event_id, lock=True)
            if event.origin is not None:
                raise Conflict("This event is organised by another coalition; register on its node.")
            if event.status == EventStatus.CANCELLED:
                raise Conflict("This event is cancelled; registration is closed.")
            if event.last_end is not None and event.last_end <= utcnow():
                raise Conflict("This event is over; registration is closed.")
            if event.parent_id:
                conference = await session.scalar(
                    select(Registration.id).where(
                        Registration.event_id == event.parent_id,
                        Registration.member_id == viewer.member_id,
                        Registration.status == RegistrationStatus.REGISTERED,
                    )
                )
                if conference is None:
                    raise Conflict("Register for the conference first, then for its sessions.")
            existing = await session.scalar(
                select(Registration).where(
                    Registration.event_id == event.id, Registration.member_id == viewer.member_id
                )
            )
            if existing is not None:
                raise Conflict(f"You are already {existing.status} for this event.")
            status = RegistrationStatus.REGISTERED if _has_room(event) else RegistrationStatus.WAITLISTED
            event.queue_counter += 1
            registration = Registration(
                event_id=event.id,
                member_id=viewer.member_id,
                status=status,
                hide_handle=hide_handle,
                queue_number=event.queue_counter,
            )
            session.add(registration)
            if status == RegistrationStatus.REGISTERED:
                event.registered_count += 1
            else:
                event.waitlist_count += 1
            await session.flush()
            await bump(session)
    except IntegrityError:
        raise Conflict("You are already registered for this event.") from None
    return registration


async def _withdraw(session: AsyncSession, event: Event, registration: Registration) -> None:
    await session.delete(registration)
    if registration.status == RegistrationStatus.REGISTERED:
        event.registered_count -= 1
        await session.flush()
        await promote_waiting(session, event)
    else:
        event.waitlist_count -= 1


async def unregister(db: Database, viewer: Viewer | None, event_id: str) -> Event:
    """Leave an event (and, for a conference, its sessions); the waiting list moves up."""
    viewer = require_member(viewer)
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id, lock=True)
        registration = await session.scalar(
            select(Registration).where(Registration.event_id == event.id, Registration.member_id == viewer.member_id)
        )
        if registration is None:
            raise NotFound("You are not registered for this event.", field="eventId")
        await _withdraw(session, event, registration)
        session_rows = await session.execute(
            select(Event, Registration)
            .join(Registration, Registration.event_id == Event.id)
            .where(Event.parent_id == event.id, Registration.member_id == viewer.member_id)
            .with_for_update()
        )
        for child, child_registration in session_rows.all():
            await _withdraw(session, child, child_registration)
        await bump(session)
    return event


@on_member_deleted
async def _withdraw_departed(session: AsyncSession, member_id: str) -> None:
    rows = await session.execute(
        select(Event, Registration)
        .join(Registration, Registration.event_id == Event.id)
        .where(Registration.member_id == member_id)
        .with_for_update()
    )
    for event, registration in rows.all():
        await _withdraw(session, event, registration)
    await bump(session)
