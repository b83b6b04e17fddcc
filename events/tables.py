"""Event tables. Times are stored as local wall-clock times with their IANA zone (what the
organiser meant, and what recurrence needs across DST changes), plus UTC bounds for queries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import JSON, Column, DateTime, Field, SQLModel

from server.accounts.tables import new_id
from server.db import UTCDateTime, utcnow


class EventKind(StrEnum):
    COUNCIL_MEETING = "council_meeting"
    TOWN_HALL = "town_hall"
    CIRCLE = "circle"
    TRAINING = "training"
    CONFERENCE = "conference"
    SESSION = "session"
    REVIEW_MEETING = "review_meeting"
    OBSERVANCE = "observance"
    OTHER = "other"


class EventStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class EventVisibility(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"
    COUNCIL = "council"


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"


def _utc(**kwargs) -> Column:
    return Column(UTCDateTime(), **kwargs)


class Event(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    origin: str | None = Field(default=None, index=True, max_length=64)  # None: this node's own; else read-only
    uid: str = Field(unique=True, max_length=255)
    source_uid: str | None = Field(default=None, unique=True, max_length=255)
    kind: str = Field(default=EventKind.OTHER, max_length=24, index=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", max_length=20_000)
    language: str = Field(max_length=35)
    translations: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    timezone: str | None = Field(default=None, max_length=64)
    all_day: bool = False
    start_local: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    end_local: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    rrule: str | None = Field(default=None, max_length=500)
    exdates: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    first_start: datetime = Field(sa_column=_utc(nullable=False, index=True))
    last_end: datetime | None = Field(default=None, sa_column=_utc(index=True))  # None: never ends
    status: str = Field(default=EventStatus.CONFIRMED, max_length=16)
    visibility: str = Field(default=EventVisibility.PUBLIC, max_length=16, index=True)
    council_id: str | None = Field(default=None, foreign_key="council.id", index=True, max_length=32)
    parent_id: str | None = Field(default=None, foreign_key="event.id", index=True, max_length=32)
    track: str | None = Field(default=None, max_length=100)
    room: str | None = Field(default=None, max_length=100)
    venue: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    latitude: float | None = None
    longitude: float | None = None
    online_url: str | None = Field(default=None, max_length=1000)
    languages: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    interpretation: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    accessibility: str = Field(default="", max_length=2_000)
    capacity: int | None = None
    petition_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    registered_count: int = 0
    waitlist_count: int = 0
    queue_counter: int = 0
    sequence: int = 0
    created_by: str | None = Field(default=None, foreign_key="member.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    cancelled_at: datetime | None = Field(default=None, sa_column=_utc())
    deleted_at: datetime | None = Field(default=None, sa_column=_utc())


class EventOverride(SQLModel, table=True):
    """One changed occurrence of a series, identified by its original local start."""

    __tablename__ = "event_override"
    __table_args__ = (UniqueConstraint("event_id", "recurrence_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="event.id", index=True, max_length=32)
    recurrence_id: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    start_local: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    end_local: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    status: str | None = Field(default=None, max_length=16)
    sequence: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))


class Registration(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("event_id", "member_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="event.id", index=True, max_length=32)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=32)
    status: str = Field(max_length=16)
    hide_handle: bool = False
    queue_number: int = Field(description="Order of arrival, for promoting the waiting list fairly.")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))


class Speaker(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    event_id: str = Field(foreign_key="event.id", index=True, max_length=32)
    member_id: str | None = Field(default=None, foreign_key="member.id", max_length=32)
    name: str | None = Field(default=None, max_length=200)
    bio: str = Field(default="", max_length=2_000)
    consented: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))


class EventFollow(SQLModel, table=True):
    __tablename__ = "event_follow"

    event_id: str = Field(foreign_key="event.id", primary_key=True, max_length=32)
    member_id: str = Field(foreign_key="member.id", primary_key=True, max_length=32)


class FeedToken(SQLModel, table=True):
    __tablename__ = "feed_token"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)
    label: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_utc())
