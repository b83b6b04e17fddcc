"""Importing .ics files: checked whole before anything is written, applied in one transaction,
and keyed by the source UID so that importing the same file again updates instead of duplicating."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from events.access import require_editor
from events.service import MANAGERS, _announce, _checked
from events.tables import Event, EventOverride, EventStatus
from server.accounts.access import Viewer, require_role
from server.dataversion import bump
from server.db import Database, utcnow
from server.errors import AppError, BadInput, Conflict
from server.settings import Settings

MAX_BYTES = 5_000_000
CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+(;[^:]*)?:")


@dataclass
class ImportOutcome:
    created: int = 0
    updated: int = 0
    events: list[Event] = field(default_factory=list)


def _fail(line: int, reason: str) -> BadInput:
    return BadInput(f"Line {line}: {reason}. Nothing was imported.", field="file")


def check_structure(text: str) -> list[int]:
    """Content lines and BEGIN/END nesting; returns the line number of each VEVENT."""
    if not text.strip():
        raise BadInput("The calendar file is empty. Nothing was imported.", field="file")
    stack: list[tuple[str, int]] = []
    events: list[int] = []
    logical: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line[:1] in (" ", "\t") and logical:
            logical[-1] = (logical[-1][0], logical[-1][1] + line[1:])
        elif line.strip():
            logical.append((number, line))
    for number, line in logical:
        if not CONTENT_LINE.match(line):
            raise _fail(number, f"expected 'NAME:value', found '{line[:40]}'")
        name, _, value = line.partition(":")
        name = name.split(";")[0].upper()
        if not stack and name != "BEGIN":
            raise _fail(number, "the file must start with BEGIN:VCALENDAR")
        if name == "BEGIN":
            if not stack and value.strip().upper() != "VCALENDAR":
                raise _fail(number, "the file must start with BEGIN:VCALENDAR")
            stack.append((value.strip().upper(), number))
            if value.strip().upper() == "VEVENT":
                events.append(number)
        elif name == "END":
            if not stack or stack[-1][0] != value.strip().upper():
                opened = f"{stack[-1][0]} opened on line {stack[-1][1]}" if stack else "nothing"
                raise _fail(number, f"END:{value.strip()} does not close {opened}")
            stack.pop()
    if stack:
        raise _fail(stack[-1][1], f"BEGIN:{stack[-1][0]} is never closed")
    return events


def _zone_name(value: datetime, tzid: str | None, settings: Settings, line: int) -> str:
    if value.tzinfo is None:
        if tzid:
            raise _fail(line, f"TZID '{tzid}' is neither an IANA zone nor defined in the file")
        return settings.timezone  # floating times: the node's zone, never left floating
    if value.tzinfo == UTC or (value.utcoffset() == timedelta(0) and getattr(value.tzinfo, "key", "UTC") == "UTC"):
        return "UTC"
    key = getattr(value.tzinfo, "key", None)
    if isinstance(value.tzinfo, ZoneInfo) and key:
        return key
    raise _fail(line, f"time zone '{value.tzinfo}' is not an IANA zone name such as 'Africa/Nairobi'")


def _when(component: Any, name: str) -> Any:
    prop = component.get(name)
    return prop.dt if prop is not None else None


def _fields(component: Any, settings: Settings, line: int) -> dict[str, Any]:
    start = _when(component, "DTSTART")
    if start is None:
        raise _fail(line, "the event has no DTSTART")
    end = _when(component, "DTEND")
    if end is None:
        duration = _when(component, "DURATION")
        if duration is None:
            duration = timedelta(days=1) if not isinstance(start, datetime) else timedelta(hours=1)
        end = start + duration
    values: dict[str, Any] = {
        "title": str(component.get("SUMMARY") or "").strip() or "(untitled)",
        "description": str(component.get("DESCRIPTION") or ""),
        "venue": str(component.get("LOCATION") or "") or None,
    }
    if not isinstance(start, datetime):
        values.update(all_day=True, start_date=start, end_date=(end - timedelta(days=1)) if end > start else start)
    else:
        zone = _zone_name(start, component["DTSTART"].params.get("TZID"), settings, line)
        values.update(all_day=False, timezone=zone, start=start.replace(tzinfo=None) if start.tzinfo is None else start)
        values["end"] = end.replace(tzinfo=None) if isinstance(end, datetime) and end.tzinfo is None else end
    if component.get("RRULE") is not None:
        values["rrule"] = component["RRULE"].to_ical().decode()
    geo = component.get("GEO")
    if geo is not None:
        values.update(latitude=float(geo.latitude), longitude=float(geo.longitude))
    conference = component.get("CONFERENCE")
    if conference is not None:
        values["online_url"] = str(conference)
    return values


def _local(value: date | datetime, zone: str | None) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time())
    if value.tzinfo is not None and zone:
        value = value.astimezone(ZoneInfo(zone))
    return value.replace(tzinfo=None)


def _exdates(component: Any, zone: str | None) -> list[str]:
    found = component.get("EXDATE")
    if found is None:
        return []
    found = found if isinstance(found, list) else [found]
    return sorted({_local(d.dt, zone).isoformat() for entry in found for d in entry.dts})


def parse(text: str, settings: Settings) -> list[tuple[int, Any, list[Any]]]:
    """(line, master VEVENT, changed occurrences) for each event of a checked file."""
    lines = check_structure(text)
    try:
        calendar = Calendar.from_ical(text)
    except ValueError as error:
        raise BadInput(f"The file is not valid iCalendar: {error}. Nothing was imported.", field="file") from None
    components = calendar.walk("VEVENT")
    masters: dict[str, tuple[int, Any, list[Any]]] = {}
    changed: list[tuple[int, Any]] = []
    for line, component in zip(lines, components, strict=False):
        if component.errors:
            raise _fail(line, "; ".join(f"{name}: {problem}" for name, problem in component.errors))
        uid = str(component.get("UID") or "").strip()
        if not uid:
            raise _fail(line, "the event has no UID, so a later import could not update it")
        if component.get("RECURRENCE-ID") is not None:
            changed.append((line, component))
        elif uid in masters:
            raise _fail(line, f"UID '{uid}' appears twice")
        else:
            masters[uid] = (line, component, [])
    for line, component in changed:
        uid = str(component["UID"]).strip()
        if uid not in masters:
            raise _fail(line, f"a changed occurrence of UID '{uid}', whose series is not in the file")
        masters[uid][2].append(component)
    return list(masters.values())


async def import_calendar(
    db: Database,
    settings: Settings,
    viewer: Viewer | None,
    text: str,
    *,
    kind: str = "other",
    visibility: str = "public",
    council_id: str | None = None,
) -> ImportOutcome:
    viewer = require_role(viewer, *MANAGERS)
    if len(text.encode()) > MAX_BYTES:
        raise BadInput(f"The file is larger than {MAX_BYTES // 1_000_000} MB.", field="file")
    parsed = parse(text, settings)
    for attempt in range(3):
        try:
            return await _apply(db, settings, viewer, parsed, kind, visibility, council_id)
        except IntegrityError:
            if attempt == 2:
                raise Conflict("Another import of the same events is running; try again in a moment.") from None
    raise AssertionError("unreachable")


async def _apply(
    db: Database,
    settings: Settings,
    viewer: Viewer,
    parsed: list[tuple[int, Any, list[Any]]],
    kind: str,
    visibility: str,
    council_id: str | None,
) -> ImportOutcome:
    """One transaction; a concurrent import of the same UIDs makes it fail whole and retry."""
    outcome = ImportOutcome()
    async with db.write() as session:
        for line, component, changes in parsed:
            source_uid = str(component["UID"]).strip()
            values = {
                **_fields(component, settings, line),
                "kind": kind,
                "visibility": visibility,
                "council_id": council_id,
            }
            cancelled = str(component.get("STATUS") or "").upper() == "CANCELLED"
            if str(component.get("STATUS") or "").upper() == "TENTATIVE":
                values["status"] = EventStatus.TENTATIVE
            existing = await session.scalar(select(Event).where(Event.source_uid == source_uid).with_for_update())
            try:
                fields = await _checked(session, viewer, settings, values, None)
            except AppError as error:
                raise BadInput(
                    f"Line {line} (event '{values['title']}'): {error.message} Nothing was imported.", field="file"
                ) from None
            zone = fields["timezone"]
            fields["exdates"] = _exdates(component, zone)
            now = utcnow()
            if existing is None:
                event_id = uuid.uuid4()
                event = Event(
                    id=event_id.hex, uid=str(event_id), source_uid=source_uid, created_by=viewer.member_id, **fields
                )
                session.add(event)
                outcome.created += 1
            else:
                event = existing
                require_editor(viewer, event)
                if event.deleted_at is not None:
                    event.deleted_at = None
                changed_fields = {k: v for k, v in fields.items() if getattr(event, k) != v}
                for name, value in changed_fields.items():
                    setattr(event, name, value)
                event.sequence += 1 if changed_fields or changes else 0
                event.updated_at = now if changed_fields or changes else event.updated_at
                outcome.updated += 1
            if cancelled and event.status != EventStatus.CANCELLED:
                event.status, event.cancelled_at = EventStatus.CANCELLED, now
            await session.flush()
            await session.execute(delete(EventOverride).where(EventOverride.event_id == event.id))
            for override in changes:
                session.add(_override(event, override, zone))
            outcome.events.append(event)
            await _announce(db, session, event, "created" if existing is None else "updated")
        await bump(session)
    return outcome


def _override(event: Event, component: Any, zone: str | None) -> EventOverride:
    start = _local(_when(component, "DTSTART"), zone)
    end_value = _when(component, "DTEND")
    end = _local(end_value, zone) if end_value is not None else start + (event.end_local - event.start_local)
    status = str(component.get("STATUS") or "").lower() or None
    return EventOverride(
        event_id=event.id,
        recurrence_id=_local(_when(component, "RECURRENCE-ID"), zone),
        start_local=start,
        end_local=end,
        title=str(component.get("SUMMARY")) if component.get("SUMMARY") else None,
        description=str(component.get("DESCRIPTION")) if component.get("DESCRIPTION") else None,
        status=status if status in ("confirmed", "tentative", "cancelled") else None,
        sequence=event.sequence,
    )


async def fetch(url: str) -> str:
    """Download a calendar for import (http, https or webcal), at most 5 MB."""
    if url.startswith("webcal://"):
        url = "https://" + url.removeprefix("webcal://")
    if not url.startswith(("http://", "https://")):
        raise BadInput("The calendar URL must start with https://, http:// or webcal://.", field="url")
    try:
        async with (
            httpx.AsyncClient(timeout=15, follow_redirects=True, max_redirects=5) as client,
            client.stream("GET", url, headers={"Accept": "text/calendar"}) as response,
        ):
            if response.status_code != 200:
                raise BadInput(f"Fetching {url} answered HTTP {response.status_code}.", field="url")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise BadInput(f"The calendar at {url} is larger than 5 MB.", field="url")
                chunks.append(chunk)
    except httpx.HTTPError as error:
        raise BadInput(f"Could not fetch {url}: {error.__class__.__name__}.", field="url") from None
    return b"".join(chunks).decode("utf-8-sig", errors="replace")
