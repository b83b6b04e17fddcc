"""Public events in the federation: what an event.upsert carries (an explicit allow-list; nothing
about registrations or members) and how a replica is stored, read-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from events import recurrence
from events.tables import Event, EventOverride, EventVisibility
from federation.kinds import from_iso, iso, update_kind
from federation.peers import on_purge
from server.dataversion import bump
from server.db import Database, utcnow

UPSERT, DELETE = "event.upsert", "event.delete"
FIELDS = (
    "uid",
    "kind",
    "title",
    "description",
    "language",
    "translations",
    "timezone",
    "all_day",
    "start_local",
    "end_local",
    "rrule",
    "exdates",
    "status",
    "venue",
    "address",
    "latitude",
    "longitude",
    "online_url",
    "languages",
    "interpretation",
    "accessibility",
    "sequence",
    "created_at",
    "updated_at",
    "cancelled_at",
    "parent",
    "overrides",
)


def _values(event: Event, overrides: list[EventOverride]) -> dict[str, Any]:
    return {
        "uid": event.uid,
        "kind": event.kind,
        "title": event.title,
        "description": event.description,
        "language": event.language,
        "translations": event.translations,
        "timezone": event.timezone,
        "all_day": event.all_day,
        "start_local": iso(event.start_local),
        "end_local": iso(event.end_local),
        "rrule": event.rrule,
        "exdates": list(event.exdates),
        "status": event.status,
        "venue": event.venue,
        "address": event.address,
        "latitude": iso(event.latitude),
        "longitude": iso(event.longitude),
        "online_url": event.online_url,
        "languages": list(event.languages),
        "interpretation": list(event.interpretation),
        "accessibility": event.accessibility,
        "sequence": event.sequence,
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
        "cancelled_at": iso(event.cancelled_at),
        "parent": event.parent_id,
        "overrides": [
            {
                "recurrence_id": iso(o.recurrence_id),
                "start_local": iso(o.start_local),
                "end_local": iso(o.end_local),
                "title": o.title,
                "description": o.description,
                "status": o.status,
                "sequence": o.sequence,
            }
            for o in sorted(overrides, key=lambda o: o.recurrence_id)
        ],
    }


async def publish(db: Database, session: AsyncSession, event: Event) -> None:
    """Federate a change to one of this node's events: public ones are upserted; an event that
    is deleted or no longer public is withdrawn."""
    if event.origin is not None:
        return
    if event.deleted_at is not None or event.visibility != EventVisibility.PUBLIC:
        await db.record(session, DELETE, "event", event.id, {"uid": event.uid})
        return
    overrides = list(await session.scalars(select(EventOverride).where(EventOverride.event_id == event.id)))
    await db.record(session, UPSERT, "event", event.id, _values(event, overrides))


@update_kind(UPSERT, FIELDS)
async def apply_upsert(session: AsyncSession, envelope: dict[str, Any]) -> None:
    body, origin = envelope["body"], envelope["origin"]
    event_id = envelope["subject"].rsplit("/", 1)[1]
    event = await session.get(Event, event_id)
    if event is not None and event.origin != origin:
        raise ValueError("that event belongs to another node")
    start, end, zone = from_iso(body["start_local"]), from_iso(body["end_local"]), body.get("timezone")
    if zone:
        recurrence.zone(zone)
    fields = {
        "uid": body["uid"],
        "kind": body["kind"],
        "title": body["title"],
        "description": body.get("description") or "",
        "language": body["language"],
        "translations": body.get("translations") or {},
        "timezone": zone,
        "all_day": bool(body.get("all_day")),
        "start_local": start,
        "end_local": end,
        "rrule": body.get("rrule"),
        "exdates": body.get("exdates") or [],
        "status": body["status"],
        "visibility": EventVisibility.PUBLIC,
        "venue": body.get("venue"),
        "address": body.get("address"),
        "latitude": float(body["latitude"]) if body.get("latitude") else None,
        "longitude": float(body["longitude"]) if body.get("longitude") else None,
        "online_url": body.get("online_url"),
        "languages": body.get("languages") or [],
        "interpretation": body.get("interpretation") or [],
        "accessibility": body.get("accessibility") or "",
        "sequence": int(body["sequence"]),
        "created_at": from_iso(body["created_at"]),
        "updated_at": from_iso(body["updated_at"]),
        "cancelled_at": from_iso(body.get("cancelled_at")),
        "parent_id": body["parent"] if body.get("parent") and await session.get(Event, body["parent"]) else None,
        "first_start": recurrence.to_utc(start, zone),
        "last_end": recurrence.series_end(start, end, zone, body.get("rrule")),
        "deleted_at": None,
    }
    if event is None:
        session.add(Event(id=event_id, origin=origin, **fields))
    else:
        for name, value in fields.items():
            setattr(event, name, value)
    await session.flush()
    await session.execute(delete(EventOverride).where(EventOverride.event_id == event_id))
    for item in body.get("overrides") or []:
        session.add(
            EventOverride(
                event_id=event_id,
                recurrence_id=from_iso(item["recurrence_id"]),
                start_local=from_iso(item["start_local"]),
                end_local=from_iso(item["end_local"]),
                title=item.get("title"),
                description=item.get("description"),
                status=item.get("status"),
                sequence=int(item.get("sequence") or 0),
            )
        )
    await bump(session)


@update_kind(DELETE, ("uid",))
async def apply_delete(session: AsyncSession, envelope: dict[str, Any]) -> None:
    event = await session.get(Event, envelope["subject"].rsplit("/", 1)[1])
    if event is not None and event.origin == envelope["origin"] and event.deleted_at is None:
        event.deleted_at = utcnow()
        await bump(session)


@on_purge
async def purge(session: AsyncSession, origin: str) -> None:
    ids = select(Event.id).where(Event.origin == origin)
    await session.execute(delete(EventOverride).where(EventOverride.event_id.in_(ids)))
    await session.execute(delete(Event).where(Event.origin == origin))
