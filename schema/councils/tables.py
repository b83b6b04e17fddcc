from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import JSON, Column, Field, SQLModel

from server.accounts.tables import new_id
from server.db import UTCDateTime, utcnow


class Visibility(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"


class SeatPosition(StrEnum):
    CHAIR = "chair"
    VICE_CHAIR = "vice_chair"
    SECRETARY = "secretary"
    MEMBER = "member"
    CUSTOM = "custom"


class Outcome(StrEnum):
    ADOPTED = "adopted"
    REJECTED = "rejected"
    DEFERRED = "deferred"


class Council(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    origin: str | None = Field(default=None, index=True, max_length=64)  # None: this node's own; else read-only
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=10_000)
    mandate: str = Field(default="", max_length=10_000)
    language: str = Field(max_length=35)
    translations: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    region: str = Field(default="", max_length=100)
    visibility: str = Field(default=Visibility.PUBLIC, max_length=16)
    created_by: str | None = Field(default=None, foreign_key="member.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CouncilSeat(SQLModel, table=True):
    __tablename__ = "council_seat"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    council_id: str = Field(foreign_key="council.id", index=True, max_length=32)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=32)
    position: str = Field(default=SeatPosition.MEMBER, max_length=16)
    title: str | None = Field(default=None, max_length=100)
    term_start: date
    term_end: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CouncilDecision(SQLModel, table=True):
    __tablename__ = "council_decision"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    origin: str | None = Field(default=None, index=True, max_length=64)
    council_id: str = Field(foreign_key="council.id", index=True, max_length=32)
    decided_on: date
    title: str = Field(max_length=300)
    text: str = Field(default="", max_length=50_000)
    language: str = Field(max_length=35)
    translations: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    outcome: str = Field(max_length=16)
    votes_for: int | None = None
    votes_against: int | None = None
    votes_abstain: int | None = None
    recorded_by: str | None = Field(default=None, foreign_key="member.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
