"""The events' contribution to the calendar feeds."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.access import seat_council_ids
from events.feeds import FeedItem, FeedOverride, FeedScope, feed_source
from events.tables import Event, EventFollow, EventKind, EventOverride, EventStatus, EventVisibility, Registration
from server.settings import Settings

KIND_LABELS = {
    EventKind.COUNCIL_MEETING: "Council meeting",
    EventKind.TOWN_HALL: "Town hall",
    EventKind.CIRCLE: "Healing circle",
    EventKind.TRAINING: "Training",
    EventKind.CONFERENCE: "Conference",
    EventKind.SESSION: "Conference session",
    EventKind.REVIEW_MEETING: "Review meeting",
    EventKind.OBSERVANCE: "Observance",
    EventKind.OTHER: "Event",
}


def event_url(settings: Settings, event_id: str) -> str:
    return f"{settings.base_url}/events/{event_id}"


async def _scope_filter(session: AsyncSession, scope: FeedScope) -> ColumnElement[bool]:
    if scope.kind == "federation":  # public events of this node and of every peer it replicates
        return Event.visibility == EventVisibility.PUBLIC
    public = (Event.visibility == EventVisibility.PUBLIC) & Event.origin.is_(None)
    if scope.kind == "public":
        return public
    if scope.kind == "council":
        return public & (Event.council_id == scope.key)
    if scope.kind == "conference":
        return public & or_(Event.id == scope.key, Event.parent_id == scope.key)
    if scope.kind == "kind":
        return public & (Event.kind == scope.key)
    if scope.kind == "personal":
        member = scope.key
        registered = select(Registration.event_id).where(Registration.member_id == member)
        followed = select(EventFollow.event_id).where(EventFollow.member_id == member)
        councils = await seat_council_ids(session, member)
        council_events = (
            Event.council_id.in_(councils) & Event.visibility.in_(list(EventVisibility)) if councils else False
        )
        return or_(
            Event.id.in_(registered),
            (Event.visibility == EventVisibility.PUBLIC) & Event.id.in_(followed),
            council_events,
        )
    raise ValueError(f"unknown feed kind {scope.kind}")


@feed_source
async def events_in_feed(session: AsyncSession, settings: Settings, scope: FeedScope) -> list[FeedItem]:
    in_window = and_(
        Event.first_start < scope.window_end,
        or_(Event.last_end.is_(None), Event.last_end > scope.window_start),
    )
    still_shown = or_(Event.status != EventStatus.CANCELLED, Event.cancelled_at > scope.cancelled_since)
    rows = (
        await session.scalars(
            select(Event).where(Event.deleted_at.is_(None), in_window, still_shown, await _scope_filter(session, scope))
        )
    ).all()
    overrides: dict[str, list[FeedOverride]] = defaultdict(list)
    series = [event.id for event in rows if event.rrule]
    if series:
        for row in await session.scalars(select(EventOverride).where(EventOverride.event_id.in_(series))):
            overrides[row.event_id].append(
                FeedOverride(
                    recurrence_id=row.recurrence_id,
                    start_local=row.start_local,
                    end_local=row.end_local,
                    sequence=row.sequence,
                    title=row.title,
                    description=row.description,
                    status=row.status,
                )
            )
    return [_item(settings, event, overrides.get(event.id, [])) for event in rows]


def _description(event: Event) -> str:
    lines = [event.description] if event.description else []
    if event.languages:
        lines.append("Languages: " + ", ".join(event.languages))
    if event.interpretation:
        lines.append("Interpretation: " + ", ".join(event.interpretation))
    if event.accessibility:
        lines.append("Accessibility: " + event.accessibility)
    if event.online_url:
        lines.append("Join online: " + event.online_url)
    return "\n\n".join(lines)


def _item(settings: Settings, event: Event, overrides: list[FeedOverride]) -> FeedItem:
    location = ", ".join(part for part in (event.room, event.venue, event.address) if part) or None
    return FeedItem(
        uid=event.uid,
        sequence=event.sequence,
        title=event.title,
        description=_description(event),
        language=event.language,
        translations=event.translations,
        start_local=event.start_local,
        end_local=event.end_local,
        timezone=event.timezone,
        all_day=event.all_day,
        created=event.created_at,
        last_modified=event.updated_at,
        url=event_url(settings, event.id),
        status=event.status,
        rrule=event.rrule,
        exdates=tuple(event.exdates),
        overrides=tuple(overrides),
        location=location,
        geo=(event.latitude, event.longitude) if event.latitude is not None else None,
        online_url=event.online_url,
        categories=(KIND_LABELS[EventKind(event.kind)],),
    )
