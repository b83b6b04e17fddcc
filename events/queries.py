"""Reading events: the occurrences in a window, visible to a viewer, with overrides applied."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from events import recurrence
from events.access import visibility_filter
from events.tables import Event, EventOverride
from server.accounts.access import Viewer
from server.errors import BadInput

MAX_WINDOW = timedelta(days=3 * 366)


@dataclass(frozen=True)
class Instance:
    event: Event
    recurrence_id: datetime | None
    start: datetime  # UTC
    end: datetime
    override: EventOverride | None


def check_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise BadInput("Give 'from' and 'to' with a UTC offset, e.g. 2026-12-01T00:00:00Z.", field="from")
    if end <= start:
        raise BadInput("'to' must be after 'from'.", field="to")
    if end - start > MAX_WINDOW:
        raise BadInput("A window spans at most three years; ask for a shorter period.", field="to")
    return start, end


async def instances(
    session: AsyncSession,
    viewer: Viewer | None,
    start: datetime,
    end: datetime,
    *,
    kinds: list[str] | None = None,
    council_id: str | None = None,
    conference_id: str | None = None,
    language: str | None = None,
    scope: str = "all",
    event_id: str | None = None,
) -> list[Instance]:
    start, end = check_window(start, end)
    statement = select(Event).where(
        await visibility_filter(session, viewer),
        Event.first_start < end + timedelta(days=31),  # an override may move an occurrence later
        or_(Event.last_end.is_(None), Event.last_end > start - timedelta(days=31)),
    )
    if event_id:
        statement = statement.where(Event.id == event_id)
    if scope == "local":
        statement = statement.where(Event.origin.is_(None))
    elif scope == "remote":
        statement = statement.where(Event.origin.is_not(None))
    if kinds:
        statement = statement.where(Event.kind.in_(kinds))
    if council_id:
        statement = statement.where(Event.council_id == council_id)
    if conference_id:
        statement = statement.where(or_(Event.id == conference_id, Event.parent_id == conference_id))
    events = list((await session.scalars(statement)).all())
    if language:
        events = [e for e in events if language == e.language or language in e.languages or language in e.translations]
    overrides: dict[str, dict[datetime, EventOverride]] = defaultdict(dict)
    series = [e.id for e in events if e.rrule]
    if series:
        for row in await session.scalars(select(EventOverride).where(EventOverride.event_id.in_(series))):
            overrides[row.event_id][row.recurrence_id] = row
    found: list[Instance] = []
    for event in events:
        changed = overrides.get(event.id, {})
        widen = timedelta(days=31) if changed else timedelta(0)
        for occurrence in recurrence.expand(
            event.start_local, event.end_local, event.timezone, event.rrule, event.exdates, start - widen, end + widen
        ):
            override = changed.get(occurrence.recurrence_id) if occurrence.recurrence_id else None
            o_start, o_end = occurrence.start, occurrence.end
            if override is not None:
                o_start = recurrence.to_utc(override.start_local, event.timezone)
                o_end = recurrence.to_utc(override.end_local, event.timezone)
            if o_start < end and o_end > start:
                found.append(Instance(event, occurrence.recurrence_id, o_start, o_end, override))
    found.sort(key=lambda i: (i.start, i.event.id, i.recurrence_id or datetime.min))
    return found
