"""Events, programmes, registrations and feeds over GraphQL."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy import func, select
from strawberry.dataloader import DataLoader
from strawberry.file_uploads import Upload

from events import importer, personal, programme, registrations, service
from events.access import can_see, is_manager, load_visible
from events.queries import Instance, instances
from events.recurrence import never_ends
from events.routes import feed_links
from events.tables import (
    Event,
    EventKind,
    EventStatus,
    EventVisibility,
    Registration,
    RegistrationStatus,
    Speaker,
)
from schema.common import OriginScope, Translation, given, translation_list
from schema.context import Context, Info
from schema.councils.tables import Council, Visibility
from schema.pagination import Edge, PageInfo, page_size
from server.accounts.access import require_member
from server.accounts.tables import Member
from server.errors import BadInput, Forbidden
from server.i18n import translated

KindEnum = strawberry.enum(EventKind, name="EventKind")
StatusEnum = strawberry.enum(EventStatus, name="EventStatus")
EventVisibilityEnum = strawberry.enum(EventVisibility, name="EventVisibility")
RegistrationStatusEnum = strawberry.enum(RegistrationStatus, name="RegistrationStatus")
HIDDEN = "hidden by request"


@strawberry.enum
class Attendance(Enum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    HYBRID = "hybrid"
    UNSPECIFIED = "unspecified"


@strawberry.type
class FeedLink:
    label: str
    https: str
    webcal: str
    google: str = strawberry.field(description="Opens Google Calendar's 'add by URL' for this feed.")


def _link(context: Context, label: str, path: str) -> FeedLink:
    return FeedLink(label=label, **feed_links(context.settings, path))


@strawberry.type
class SpeakerNode:
    id: strawberry.ID
    name: str
    bio: str
    consented: bool


@strawberry.type
class RegistrationEntry:
    holder: str = strawberry.field(description=f"The member's handle, or '{HIDDEN}'.")
    status: RegistrationStatusEnum
    registered_at: datetime


@strawberry.type
class MyRegistration:
    status: RegistrationStatusEnum
    hide_handle: bool
    place_in_queue: int | None = strawberry.field(description="Your place on the waiting list (1 is next).")


def _aware(local: datetime, event: Event) -> datetime:
    return local.replace(tzinfo=ZoneInfo(event.timezone)) if event.timezone else local.replace(tzinfo=UTC)


def _loader(context: Context, name: str, load) -> DataLoader:
    return context.loader(name, lambda ctx: DataLoader(load_fn=lambda keys: load(ctx, keys)))


async def _load_sessions(context: Context, ids: list[str]) -> list[list[Event]]:
    from events.access import visibility_filter

    found: dict[str, list[Event]] = defaultdict(list)
    async with context.db.read() as session:
        rows = await session.scalars(
            select(Event)
            .where(Event.parent_id.in_(ids), await visibility_filter(session, context.viewer))
            .order_by(Event.first_start, Event.id)
        )
        for row in rows:
            found[row.parent_id].append(row)
    return [found[i] for i in ids]


async def _load_speakers(context: Context, ids: list[str]) -> list[list[tuple[Speaker, str | None]]]:
    found: dict[str, list] = defaultdict(list)
    async with context.db.read() as session:
        rows = await session.execute(
            select(Speaker, Member.handle)
            .outerjoin(Member, Member.id == Speaker.member_id)
            .where(Speaker.event_id.in_(ids))
            .order_by(Speaker.created_at, Speaker.id)
        )
        for speaker, handle in rows:
            found[speaker.event_id].append((speaker, handle))
    return [found[i] for i in ids]


async def _load_mine(context: Context, ids: list[str]) -> list[Registration | None]:
    viewer = context.viewer
    if viewer is None:
        return [None] * len(ids)
    async with context.db.read() as session:
        rows = await session.scalars(
            select(Registration).where(Registration.event_id.in_(ids), Registration.member_id == viewer.member_id)
        )
        mine = {row.event_id: row for row in rows}
    return [mine.get(i) for i in ids]


@strawberry.type(name="Event")
class EventNode:
    id: strawberry.ID
    uid: str = strawberry.field(description="The iCalendar UID: stable forever, identical on every node.")
    kind: KindEnum
    status: StatusEnum
    visibility: EventVisibilityEnum
    language: str
    timezone: str | None
    all_day: bool
    rrule: str | None
    council_id: strawberry.ID | None
    parent_id: strawberry.ID | None
    track: str | None
    room: str | None
    venue: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    online_url: str | None
    languages: list[str]
    interpretation: list[str]
    capacity: int | None
    registered_count: int
    waitlist_count: int
    sequence: int
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    row: strawberry.Private[Event]

    @classmethod
    def of(cls, e: Event) -> EventNode:
        return cls(
            id=strawberry.ID(e.id),
            uid=e.uid,
            kind=EventKind(e.kind),
            status=EventStatus(e.status),
            visibility=EventVisibility(e.visibility),
            language=e.language,
            timezone=e.timezone,
            all_day=e.all_day,
            rrule=e.rrule,
            council_id=e.council_id,
            parent_id=e.parent_id,
            track=e.track,
            room=e.room,
            venue=e.venue,
            address=e.address,
            latitude=e.latitude,
            longitude=e.longitude,
            online_url=e.online_url,
            languages=e.languages,
            interpretation=e.interpretation,
            capacity=e.capacity,
            registered_count=e.registered_count,
            waitlist_count=e.waitlist_count,
            sequence=e.sequence,
            created_at=e.created_at,
            updated_at=e.updated_at,
            cancelled_at=e.cancelled_at,
            row=e,
        )

    @strawberry.field(description="The coalition (node id) that publishes this event; others hold read-only copies.")
    def origin(self, info: Info) -> str:
        return self.row.origin or info.context.settings.node_id

    @strawberry.field(description="Start, in the event's time zone (all-day events: midnight).")
    def start(self) -> datetime:
        return _aware(self.row.start_local, self.row)

    @strawberry.field
    def end(self) -> datetime:
        return _aware(self.row.end_local, self.row)

    @strawberry.field(description="Occurrences removed from the series (local times).")
    def exdates(self) -> list[str]:
        return list(self.row.exdates)

    @strawberry.field
    def attendance(self) -> Attendance:
        place, online = bool(self.row.venue or self.row.address), bool(self.row.online_url)
        if place and online:
            return Attendance.HYBRID
        return Attendance.IN_PERSON if place else Attendance.ONLINE if online else Attendance.UNSPECIFIED

    @strawberry.field
    def title(self, lang: str | None = None) -> str:
        return translated(self.row.title, self.row.translations, "title", lang) or ""

    @strawberry.field
    def description(self, lang: str | None = None) -> str:
        return translated(self.row.description, self.row.translations, "description", lang) or ""

    @strawberry.field
    def accessibility(self, lang: str | None = None) -> str:
        return translated(self.row.accessibility, self.row.translations, "accessibility", lang) or ""

    @strawberry.field
    def translations(self) -> list[Translation]:
        return translation_list(self.row.translations)

    @strawberry.field(description="A conference's programme: its sessions, by start.")
    async def sessions(self, info: Info) -> list[EventNode]:
        rows = await _loader(info.context, "event_sessions", _load_sessions).load(self.row.id)
        return [EventNode.of(row) for row in rows]

    @strawberry.field(description="Speakers who consented to be listed (organisers also see pending ones).")
    async def speakers(self, info: Info) -> list[SpeakerNode]:
        rows = await _loader(info.context, "event_speakers", _load_speakers).load(self.row.id)
        everyone = is_manager(info.context.viewer)
        return [
            SpeakerNode(id=strawberry.ID(s.id), name=s.name or handle or "", bio=s.bio, consented=s.consented)
            for s, handle in rows
            if s.consented or everyone
        ]

    @strawberry.field(description="Your registration for this event, if any.")
    async def my_registration(self, info: Info) -> MyRegistration | None:
        mine = await _loader(info.context, "my_registrations", _load_mine).load(self.row.id)
        if mine is None:
            return None
        place = None
        if mine.status == RegistrationStatus.WAITLISTED:
            async with info.context.db.read() as session:
                ahead = await session.scalar(
                    select(func.count())
                    .select_from(Registration)
                    .where(
                        Registration.event_id == self.row.id,
                        Registration.status == RegistrationStatus.WAITLISTED,
                        Registration.queue_number < mine.queue_number,
                    )
                )
            place = (ahead or 0) + 1
        return MyRegistration(
            status=RegistrationStatus(mine.status), hide_handle=mine.hide_handle, place_in_queue=place
        )

    @strawberry.field(description="Who registered (organisers and admins); others see only the counts.")
    async def registrations(self, info: Info) -> list[RegistrationEntry]:
        viewer = require_member(info.context.viewer)
        if not is_manager(viewer):
            raise Forbidden("Only organisers and admins see who registered; members see the counts.")
        async with info.context.db.read() as session:
            rows = await session.execute(
                select(Registration, Member.handle)
                .join(Member, Member.id == Registration.member_id)
                .where(Registration.event_id == self.row.id)
                .order_by(Registration.queue_number)
            )
            return [
                RegistrationEntry(
                    holder=HIDDEN if r.hide_handle else (handle or "former member"),
                    status=RegistrationStatus(r.status),
                    registered_at=r.created_at,
                )
                for r, handle in rows
            ]

    @strawberry.field(description="Series occurrences in a window (required for series that never end).")
    async def occurrences(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> list[Occurrence]:
        if from_ is None or to is None:
            if never_ends(self.row.rrule):
                raise BadInput("This series never ends; give 'from' and 'to'.", field="to")
            from_ = from_ or self.row.first_start
            to = to or (self.row.last_end or self.row.first_start) + timedelta(seconds=1)
        async with info.context.db.read() as session:
            found = await instances(session, info.context.viewer, from_, to, event_id=self.row.id)
        return [Occurrence.of(i) for i in found]

    @strawberry.field(description="Calendar feeds this event appears in, ready to subscribe to.")
    async def feeds(self, info: Info) -> list[FeedLink]:
        e, ctx = self.row, info.context
        links = []
        if e.visibility == EventVisibility.PUBLIC:
            links.append(_link(ctx, "All public events", "/calendars/public.ics"))
            links.append(_link(ctx, f"All {e.kind.replace('_', ' ')}s", f"/calendars/kinds/{e.kind}.ics"))
            conference = e.id if e.kind == EventKind.CONFERENCE else e.parent_id
            if conference:
                links.append(_link(ctx, "Conference programme", f"/calendars/conferences/{conference}.ics"))
            if e.council_id:
                async with ctx.db.read() as session:
                    council = await session.get(Council, e.council_id)
                if council is not None and council.visibility == Visibility.PUBLIC:
                    links.append(_link(ctx, f"{council.name} meetings", f"/calendars/councils/{council.id}.ics"))
        return links


@strawberry.type
class Occurrence:
    event: EventNode
    recurrence_id: str | None = strawberry.field(description="Local start of this occurrence in its series.")
    start: datetime
    end: datetime
    status: StatusEnum
    changed: bool = strawberry.field(description="True when this occurrence differs from its series.")
    instance: strawberry.Private[Instance]

    @strawberry.field
    def title(self, lang: str | None = None) -> str:
        override = self.instance.override
        if override is not None and override.title:
            return override.title
        return self.event.title(lang)

    @classmethod
    def of(cls, instance: Instance) -> Occurrence:
        tz = ZoneInfo(instance.event.timezone) if instance.event.timezone else UTC
        status = (instance.override.status if instance.override else None) or instance.event.status
        return cls(
            event=EventNode.of(instance.event),
            recurrence_id=instance.recurrence_id.isoformat() if instance.recurrence_id else None,
            start=instance.start.astimezone(tz),
            end=instance.end.astimezone(tz),
            status=EventStatus(status),
            changed=instance.override is not None,
            instance=instance,
        )


@strawberry.type
class OccurrenceConnection:
    edges: list[Edge[Occurrence]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Occurrence]:
        return [edge.node for edge in self.edges]


def _cursor(instance: Instance) -> str:
    rid = instance.recurrence_id.isoformat() if instance.recurrence_id else ""
    return base64.urlsafe_b64encode(f"{instance.start.isoformat()}|{instance.event.id}|{rid}".encode()).decode()


@strawberry.input
class EventInput:
    title: str
    start: datetime | None = strawberry.field(default=None, description="Local time (or with offset) in 'timezone'.")
    end: datetime | None = None
    timezone: str | None = strawberry.field(default=None, description="IANA zone; defaults to the node's.")
    all_day: bool = False
    start_date: date | None = None
    end_date: date | None = strawberry.field(default=None, description="Last day of an all-day event.")
    kind: KindEnum = EventKind.OTHER
    description: str = ""
    language: str | None = None
    rrule: str | None = strawberry.field(default=None, description="e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=10")
    status: StatusEnum = EventStatus.CONFIRMED
    visibility: EventVisibilityEnum = EventVisibility.PUBLIC
    council_id: strawberry.ID | None = None
    parent_id: strawberry.ID | None = strawberry.field(default=None, description="The conference of a session.")
    track: str | None = None
    room: str | None = None
    venue: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    online_url: str | None = None
    languages: list[str] | None = None
    interpretation: list[str] | None = None
    accessibility: str = ""
    capacity: int | None = None


@strawberry.input
class EventChanges:
    title: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    timezone: str | None = None
    all_day: bool | None = None
    start_date: date | None = None
    end_date: date | None = None
    kind: KindEnum | None = None
    description: str | None = None
    language: str | None = None
    rrule: str | None = None
    status: StatusEnum | None = None
    visibility: EventVisibilityEnum | None = None
    council_id: strawberry.ID | None = None
    track: str | None = None
    room: str | None = None
    venue: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    online_url: str | None = None
    languages: list[str] | None = None
    interpretation: list[str] | None = None
    accessibility: str | None = None
    capacity: int | None = None


@strawberry.input
class OccurrenceChanges:
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    description: str | None = None
    status: StatusEnum | None = None


@strawberry.type
class FeedTokenInfo:
    id: strawberry.ID
    label: str
    created_at: datetime
    revoked: bool


@strawberry.type
class NewFeedToken:
    token: FeedTokenInfo
    feed: FeedLink = strawberry.field(description="Your personal feed; shown once, keep it private.")


@strawberry.type
class ImportResult:
    created: int
    updated: int
    events: list[EventNode]


@strawberry.type
class EventQuery:
    @strawberry.field(description="Occurrences in a window, series expanded, by start time.")
    async def events(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        kinds: list[KindEnum] | None = None,
        council_id: strawberry.ID | None = None,
        conference_id: strawberry.ID | None = None,
        language: str | None = None,
        scope: OriginScope = OriginScope.ALL,
        first: int | None = None,
        after: str | None = None,
    ) -> OccurrenceConnection:
        size = page_size(first)
        async with info.context.db.read() as session:
            found = await instances(
                session,
                info.context.viewer,
                from_,
                to,
                kinds=[k.value for k in kinds or []],
                council_id=council_id,
                conference_id=conference_id,
                language=language,
                scope=scope.value,
            )
        if after:
            cursors = [_cursor(i) for i in found]
            if after not in cursors:
                raise BadInput("'after' is not a cursor from this list; start again without it.", field="after")
            found = found[cursors.index(after) + 1 :]
        page = found[:size]
        edges = [Edge(cursor=_cursor(i), node=Occurrence.of(i)) for i in page]
        return OccurrenceConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=len(found) > size, end_cursor=edges[-1].cursor if edges else None),
        )

    @strawberry.field
    async def event(self, info: Info, id: strawberry.ID) -> EventNode:
        async with info.context.db.read() as session:
            return EventNode.of(await load_visible(session, info.context.viewer, id))

    @strawberry.field(description="The node's public calendar feeds.")
    def calendar_feeds(self, info: Info) -> list[FeedLink]:
        return [_link(info.context, "All public events", "/calendars/public.ics")] + [
            _link(info.context, kind.value.replace("_", " "), f"/calendars/kinds/{kind.value}.ics")
            for kind in EventKind
        ]

    @strawberry.field(description="Your personal feed tokens.")
    async def my_feed_tokens(self, info: Info) -> list[FeedTokenInfo]:
        viewer = require_member(info.context.viewer)
        async with info.context.db.read() as session:
            rows = await personal.my_feed_tokens(session, viewer)
        return [
            FeedTokenInfo(id=r.id, label=r.label, created_at=r.created_at, revoked=r.revoked_at is not None)
            for r in rows
        ]


@strawberry.type
class EventMutation:
    @strawberry.mutation(description="Publish an event (organisers and admins).")
    async def create_event(self, info: Info, input: EventInput) -> EventNode:
        ctx = info.context
        return EventNode.of(await service.create_event(ctx.db, ctx.settings, ctx.viewer, **given(input)))

    @strawberry.mutation(description="Change an event; raises its SEQUENCE so calendars pick the change up.")
    async def update_event(self, info: Info, id: strawberry.ID, changes: EventChanges) -> EventNode:
        ctx = info.context
        return EventNode.of(await service.update_event(ctx.db, ctx.settings, ctx.viewer, id, **given(changes)))

    @strawberry.mutation(description="Set or remove (empty text) an event's texts in another language.")
    async def set_event_translation(
        self,
        info: Info,
        id: strawberry.ID,
        lang: str,
        title: str | None = None,
        description: str | None = None,
        accessibility: str | None = None,
    ) -> EventNode:
        event = await service.set_translation(
            info.context.db,
            info.context.viewer,
            id,
            lang,
            title=title,
            description=description,
            accessibility=accessibility,
        )
        return EventNode.of(event)

    @strawberry.mutation(description="Cancel: the event stays, marked cancelled, in lists and feeds.")
    async def cancel_event(self, info: Info, id: strawberry.ID) -> EventNode:
        return EventNode.of(await service.cancel_event(info.context.db, info.context.viewer, id))

    @strawberry.mutation(description="Delete an event (and a conference's sessions) from lists and feeds.")
    async def delete_event(self, info: Info, id: strawberry.ID) -> bool:
        await service.delete_event(info.context.db, info.context.viewer, id)
        return True

    @strawberry.mutation(description="Change one occurrence of a series (its RECURRENCE-ID is its original start).")
    async def change_occurrence(
        self, info: Info, event_id: strawberry.ID, recurrence_id: datetime, changes: OccurrenceChanges
    ) -> EventNode:
        ctx = info.context
        await service.change_occurrence(ctx.db, ctx.viewer, event_id, recurrence_id, **given(changes))
        async with ctx.db.read() as session:
            return EventNode.of(await load_visible(session, ctx.viewer, event_id))

    @strawberry.mutation(description="Remove one occurrence from a series (an EXDATE).")
    async def remove_occurrence(self, info: Info, event_id: strawberry.ID, recurrence_id: datetime) -> EventNode:
        return EventNode.of(
            await service.remove_occurrence(info.context.db, info.context.viewer, event_id, recurrence_id)
        )

    @strawberry.mutation(description="Register; when the event is full you join the waiting list.")
    async def register(self, info: Info, event_id: strawberry.ID, hide_handle: bool = False) -> MyRegistration:
        r = await registrations.register(info.context.db, info.context.viewer, event_id, hide_handle)
        return MyRegistration(status=RegistrationStatus(r.status), hide_handle=r.hide_handle, place_in_queue=None)

    @strawberry.mutation(description="Unregister (from a conference: from its sessions too).")
    async def unregister(self, info: Info, event_id: strawberry.ID) -> EventNode:
        return EventNode.of(await registrations.unregister(info.context.db, info.context.viewer, event_id))

    @strawberry.mutation(description="Add a public event to your personal feed.")
    async def follow_event(self, info: Info, event_id: strawberry.ID) -> bool:
        return await personal.follow(info.context.db, info.context.viewer, event_id, True)

    @strawberry.mutation
    async def unfollow_event(self, info: Info, event_id: strawberry.ID) -> bool:
        return not await personal.follow(info.context.db, info.context.viewer, event_id, False)

    @strawberry.mutation(description="List a speaker: a member (who then consents) or a guest who agreed.")
    async def add_speaker(
        self,
        info: Info,
        event_id: strawberry.ID,
        member_id: strawberry.ID | None = None,
        name: str | None = None,
        bio: str = "",
        consent_confirmed: bool = False,
    ) -> SpeakerNode:
        s = await programme.add_speaker(
            info.context.db, info.context.viewer, event_id, member_id, name, bio, consent_confirmed
        )
        return SpeakerNode(id=s.id, name=s.name or "", bio=s.bio, consented=s.consented)

    @strawberry.mutation(description="Give or withdraw your consent to be listed as a speaker.")
    async def set_speaker_consent(self, info: Info, speaker_id: strawberry.ID, consent: bool) -> SpeakerNode:
        s = await programme.set_consent(info.context.db, info.context.viewer, speaker_id, consent)
        return SpeakerNode(id=s.id, name=s.name or info.context.viewer.handle, bio=s.bio, consented=s.consented)

    @strawberry.mutation
    async def remove_speaker(self, info: Info, speaker_id: strawberry.ID) -> bool:
        return await programme.remove_speaker(info.context.db, info.context.viewer, speaker_id)

    @strawberry.mutation(description="A private feed of your events; revoke it any time.")
    async def create_feed_token(self, info: Info, label: str = "") -> NewFeedToken:
        row, token = await personal.create_feed_token(info.context.db, info.context.viewer, label)
        return NewFeedToken(
            token=FeedTokenInfo(id=row.id, label=row.label, created_at=row.created_at, revoked=False),
            feed=_link(info.context, "My calendar", f"/calendars/private/{token}.ics"),
        )

    @strawberry.mutation(description="Revoke a personal feed: its URL answers 404 from now on.")
    async def revoke_feed_token(self, info: Info, id: strawberry.ID) -> FeedTokenInfo:
        r = await personal.revoke_feed_token(info.context.db, info.context.viewer, id)
        return FeedTokenInfo(id=r.id, label=r.label, created_at=r.created_at, revoked=True)

    @strawberry.mutation(
        description="Publish events from an .ics file (upload, text or URL). Re-importing updates by UID; "
        "a malformed file is refused whole, with the line and reason."
    )
    async def import_calendar(
        self,
        info: Info,
        file: Upload | None = None,
        ics: str | None = None,
        url: str | None = None,
        kind: KindEnum = EventKind.OTHER,
        visibility: EventVisibilityEnum = EventVisibility.PUBLIC,
        council_id: strawberry.ID | None = None,
    ) -> ImportResult:
        ctx = info.context
        if sum(x is not None for x in (file, ics, url)) != 1:
            raise BadInput("Give exactly one of 'file', 'ics' or 'url'.", field="file")
        if file is not None:
            raw = await file.read()
            text = raw.decode("utf-8-sig", errors="replace") if isinstance(raw, bytes) else raw
        elif url is not None:
            text = await importer.fetch(url)
        else:
            text = ics
        result = await importer.import_calendar(
            ctx.db, ctx.settings, ctx.viewer, text, kind=kind.value, visibility=visibility.value, council_id=council_id
        )
        return ImportResult(
            created=result.created, updated=result.updated, events=[EventNode.of(e) for e in result.events]
        )


@strawberry.enum
class ChangeKind(Enum):
    CREATED = "created"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    DELETED = "deleted"


@strawberry.type
class EventChange:
    event_id: strawberry.ID
    sequence: int
    change: ChangeKind


@strawberry.type
class EventSubscription:
    @strawberry.subscription(description="Changes to events you can see, for calendars that want them at once.")
    async def event_changed(
        self, info: Info, council_id: strawberry.ID | None = None, conference_id: strawberry.ID | None = None
    ) -> AsyncGenerator[EventChange, None]:
        ctx = info.context
        async with ctx.db.bus.subscribe(service.EVENTS_CHANNEL) as subscription:
            while True:
                message = await subscription.get()
                if "event" not in message:
                    continue  # a resync: nothing to replay for a change stream
                async with ctx.db.read() as session:
                    event = await session.get(Event, message["event"])
                    if event is None or not await can_see(session, ctx.viewer, event):
                        continue
                if council_id and event.council_id != council_id:
                    continue
                if conference_id and conference_id not in (event.id, event.parent_id):
                    continue
                yield EventChange(
                    event_id=strawberry.ID(event.id), sequence=message["sequence"], change=ChangeKind(message["change"])
                )
