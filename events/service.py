"""The rules for creating, changing, cancelling and deleting events and single occurrences."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from events import federated, recurrence
from events.access import load_visible, require_editor
from events.registrations import promote_waiting
from events.tables import Event, EventKind, EventOverride, EventStatus, EventVisibility
from schema.councils.service import load_council
from server import checks
from server.accounts.access import Viewer, require_role
from server.accounts.tables import Role
from server.dataversion import bump
from server.db import Database, utcnow
from server.errors import BadInput, Conflict
from server.i18n import language_tag, merge_translations
from server.settings import Settings

MANAGERS = (Role.ADMIN, Role.ORGANISER)
TRANSLATABLE = ("title", "description", "accessibility")
MAX_DURATION = timedelta(days=31)


EVENTS_CHANNEL = "events"


async def _announce(db: Database, session: AsyncSession, event: Event, change: str) -> None:
    """Tell live subscribers, and the federation, of a change in this transaction."""
    await db.publish(session, EVENTS_CHANNEL, {"event": event.id, "sequence": event.sequence, "change": change})
    await session.flush()
    await federated.publish(db, session, event)


def _local(value: datetime, timezone: str) -> datetime:
    """A wall-clock time in ``timezone``; aware input is converted, naive input is taken as local."""
    if value.tzinfo is not None:
        value = value.astimezone(recurrence.zone(timezone))
    return value.replace(tzinfo=None, microsecond=0)


def _url(value: str | None, field: str) -> str | None:
    value = checks.text(value, field, max_length=1000) or None
    if value and not value.startswith(("https://", "http://")):
        raise BadInput(f"'{field}' must be an http(s) link.", field=field)
    return value


def _languages(values: list[str] | None, field: str) -> list[str]:
    return sorted({language_tag(value, field=field) for value in values or []})


def _times(values: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Start and end as local wall-clock times, checked, from either dates (all day) or datetimes."""
    all_day = bool(values.get("all_day"))
    if all_day:
        first: date | None = values.get("start_date")
        last: date | None = values.get("end_date") or first
        if first is None:
            raise BadInput("An all-day event needs 'startDate'.", field="startDate")
        checks.date_range(first, last, start_field="startDate", end_field="endDate")
        start = datetime.combine(first, time())
        end = datetime.combine(last, time()) + timedelta(days=1)
        timezone = None
    else:
        timezone = values.get("timezone") or settings.timezone
        recurrence.zone(timezone)
        if values.get("start") is None or values.get("end") is None:
            raise BadInput("An event needs 'start' and 'end' (or allDay with dates).", field="start")
        start, end = _local(values["start"], timezone), _local(values["end"], timezone)
        if end <= start:
            raise BadInput(f"'end' ({end}) must be after 'start' ({start}).", field="end")
        if end - start > MAX_DURATION:
            raise BadInput("An event lasts at most 31 days; use a repeat rule for a series.", field="end")
    rule = (values.get("rrule") or "").strip().removeprefix("RRULE:") or None
    if rule:
        recurrence.check_synchronised(recurrence.parse_rule(rule, start, timezone), start)
    return {
        "all_day": all_day,
        "timezone": timezone,
        "start_local": start,
        "end_local": end,
        "rrule": rule,
        "first_start": recurrence.to_utc(start, timezone),
        "last_end": recurrence.series_end(start, end, timezone, rule),
    }


async def _checked(
    session: AsyncSession, viewer: Viewer, settings: Settings, values: dict[str, Any], current: Event | None
) -> dict[str, Any]:
    """Every field of an event, checked; ``current`` supplies what an edit leaves unchanged."""
    merged = {**(_as_input(current) if current else {}), **values}
    fields: dict[str, Any] = {
        "kind": checks.choice(EventKind, merged.get("kind") or EventKind.OTHER, "kind"),
        "title": checks.text(merged.get("title"), "title", max_length=300, required=True),
        "description": checks.text(merged.get("description"), "description", max_length=20_000),
        "language": language_tag(merged.get("language") or settings.default_language),
        "status": checks.choice(EventStatus, merged.get("status") or EventStatus.CONFIRMED, "status"),
        "visibility": checks.choice(EventVisibility, merged.get("visibility") or EventVisibility.PUBLIC, "visibility"),
        "track": checks.text(merged.get("track"), "track", max_length=100) or None,
        "room": checks.text(merged.get("room"), "room", max_length=100) or None,
        "venue": checks.text(merged.get("venue"), "venue", max_length=200) or None,
        "address": checks.text(merged.get("address"), "address", max_length=500) or None,
        "online_url": _url(merged.get("online_url"), "onlineUrl"),
        "languages": _languages(merged.get("languages"), "languages"),
        "interpretation": _languages(merged.get("interpretation"), "interpretation"),
        "accessibility": checks.text(merged.get("accessibility"), "accessibility", max_length=2_000),
        "capacity": checks.count(merged.get("capacity"), "capacity", maximum=1_000_000),
        **_times(merged, settings),
    }
    if fields["status"] == EventStatus.CANCELLED and (current is None or current.status != EventStatus.CANCELLED):
        raise BadInput("Use cancelEvent to cancel an event.", field="status")
    latitude, longitude = merged.get("latitude"), merged.get("longitude")
    if (latitude is None) != (longitude is None):
        raise BadInput("Give both latitude and longitude, or neither.", field="latitude")
    if latitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise BadInput("Latitude is -90 to 90 and longitude -180 to 180.", field="latitude")
    fields.update(latitude=latitude, longitude=longitude)

    council_id = merged.get("council_id") or None
    if council_id:
        await load_council(session, viewer, council_id)
    elif fields["visibility"] == EventVisibility.COUNCIL:
        raise BadInput("A council-only event needs a 'councilId'.", field="councilId")
    fields["council_id"] = council_id

    parent_id = merged.get("parent_id") or None
    if parent_id:
        parent = await load_visible(session, viewer, parent_id)
        if parent.kind != EventKind.CONFERENCE:
            raise BadInput("Sessions belong to an event of kind CONFERENCE.", field="parentId")
        if fields["kind"] != EventKind.SESSION:
            raise BadInput("An event inside a conference has kind SESSION.", field="kind")
        if current is not None and parent.id == current.id:
            raise BadInput("An event cannot be its own session.", field="parentId")
    elif fields["kind"] == EventKind.SESSION:
        raise BadInput("A SESSION belongs to a conference: give 'parentId'.", field="parentId")
    fields["parent_id"] = parent_id
    if current is not None and fields["capacity"] is not None and fields["capacity"] < current.registered_count:
        raise Conflict(
            f"{current.registered_count} people are registered; capacity cannot go below that.", field="capacity"
        )
    return fields


def _as_input(event: Event) -> dict[str, Any]:
    values = {name: getattr(event, name) for name in Event.model_fields}
    if event.all_day:
        values["start_date"] = event.start_local.date()
        values["end_date"] = (event.end_local - timedelta(days=1)).date()
    else:
        values["start"], values["end"] = event.start_local, event.end_local
    return values


async def create_event(db: Database, settings: Settings, viewer: Viewer | None, **values: Any) -> Event:
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        fields = await _checked(session, viewer, settings, values, None)
        event_id = uuid.uuid4()
        event = Event(id=event_id.hex, uid=str(event_id), created_by=viewer.member_id, **fields)
        session.add(event)
        await bump(session)
        await _announce(db, session, event, "created")
    return event


async def update_event(db: Database, settings: Settings, viewer: Viewer | None, event_id: str, **values: Any) -> Event:
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id, lock=True)
        require_editor(viewer, event)
        if event.status == EventStatus.CANCELLED:
            raise Conflict("This event is cancelled; it can no longer change.")
        fields = await _checked(session, viewer, settings, values, event)
        changed = {name: value for name, value in fields.items() if getattr(event, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(event, name, value)
            event.sequence += 1
            event.updated_at = utcnow()
            await session.flush()
            await promote_waiting(session, event)
            await bump(session)
            await _announce(db, session, event, "updated")
    return event


async def set_translation(db: Database, viewer: Viewer | None, event_id: str, lang: str, **texts: str | None) -> Event:
    viewer = require_role(viewer, *MANAGERS)
    lang = language_tag(lang, field="lang")
    limits = {"title": 300, "description": 20_000, "accessibility": 2_000}
    for field, value in texts.items():
        if value is not None:
            checks.text(value, field, max_length=limits[field])
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id, lock=True)
        require_editor(viewer, event)
        if lang == event.language:
            raise BadInput(f"'{lang}' is the event's original language; edit the event instead.", field="lang")
        event.translations = merge_translations(event.translations, lang, texts, TRANSLATABLE)
        event.sequence += 1
        event.updated_at = utcnow()
        await bump(session)
        await _announce(db, session, event, "updated")
    return event


async def cancel_event(db: Database, viewer: Viewer | None, event_id: str) -> Event:
    """Kept and marked cancelled, so calendars show the cancellation instead of losing the event."""
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id, lock=True)
        require_editor(viewer, event)
        if event.status == EventStatus.CANCELLED:
            raise Conflict("This event is already cancelled.")
        now = utcnow()
        event.status, event.cancelled_at, event.updated_at = EventStatus.CANCELLED, now, now
        event.sequence += 1
        await bump(session)
        await _announce(db, session, event, "cancelled")
    return event


async def delete_event(db: Database, viewer: Viewer | None, event_id: str) -> Event:
    """Removed from every list and feed; the row stays as a tombstone so a conference feed
    answers 410 Gone rather than 404."""
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id, lock=True)
        require_editor(viewer, event)
        sessions = (
            await session.scalars(select(Event).where(Event.parent_id == event.id, Event.deleted_at.is_(None)))
        ).all()
        now = utcnow()
        for item in (event, *sessions):
            item.deleted_at, item.updated_at = now, now
            item.sequence += 1
            await _announce(db, session, item, "deleted")
        await bump(session)
    return event


def _series(event: Event) -> None:
    if not event.rrule:
        raise BadInput("This event is not a series; edit the event itself.", field="recurrenceId")


def _check_occurrence(event: Event, recurrence_id: datetime) -> datetime:
    _series(event)
    local = _local(recurrence_id, event.timezone) if event.timezone else recurrence_id.replace(tzinfo=None)
    rule = recurrence.parse_rule(event.rrule, event.start_local, event.timezone)
    probe = local.replace(tzinfo=rule._dtstart.tzinfo)
    if probe not in rule.between(probe, probe, inc=True) or local.isoformat() in event.exdates:
        raise BadInput(f"{local} is not an occurrence of this series.", field="recurrenceId")
    return local


async def change_occurrence(
    db: Database,
    viewer: Viewer | None,
    event_id: str,
    recurrence_id: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
    title: str | None = None,
    description: str | None = None,
    status: str | None = None,
) -> EventOverride:
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id, lock=True)
        require_editor(viewer, event)
        local = _check_occurrence(event, recurrence_id)
        override = await session.scalar(
            select(EventOverride).where(EventOverride.event_id == event.id, EventOverride.recurrence_id == local)
        )
        if override is None:
            duration = event.end_local - event.start_local
            override = EventOverride(
                event_id=event.id, recurrence_id=local, start_local=local, end_local=local + duration
            )
            session.add(override)
        tz = event.timezone or "UTC"
        if start is not None:
            override.start_local = _local(start, tz)
        if end is not None:
            override.end_local = _local(end, tz)
        if override.end_local <= override.start_local:
            raise BadInput("'end' must be after 'start'.", field="end")
        if title is not None:
            override.title = checks.text(title, "title", max_length=300, required=True)
        if description is not None:
            override.description = checks.text(description, "description", max_length=20_000)
        if status is not None:
            override.status = checks.choice(EventStatus, status, "status")
        override.sequence = event.sequence + 1
        override.updated_at = utcnow()
        event.sequence += 1
        event.updated_at = override.updated_at
        await bump(session)
        await _announce(db, session, event, "updated")
    return override


async def remove_occurrence(db: Database, viewer: Viewer | None, event_id: str, recurrence_id: datetime) -> Event:
    """Drop one occurrence from a series (an EXDATE)."""
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id, lock=True)
        require_editor(viewer, event)
        local = _check_occurrence(event, recurrence_id)
        await session.execute(
            delete(EventOverride).where(EventOverride.event_id == event.id, EventOverride.recurrence_id == local)
        )
        event.exdates = sorted({*event.exdates, local.isoformat()})
        event.sequence += 1
        event.updated_at = utcnow()
        await bump(session)
        await _announce(db, session, event, "updated")
    return event
