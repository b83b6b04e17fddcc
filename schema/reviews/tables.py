from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel

from server.accounts.tables import new_id
from server.db import UTCDateTime, utcnow


class ReportStatus(StrEnum):
    NOT_STARTED = "not_started"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    ACHIEVED = "achieved"
    BLOCKED = "blocked"
    DROPPED = "dropped"


class Plan(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=100)
    title: str = Field(max_length=300)
    publisher: str = Field(default="", max_length=200)
    starts: int
    ends: int
    revision: int = 1
    imported_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PlanItem(SQLModel, table=True):
    """A theme, goal or action of a plan, by its stable key (e.g. ``decisions.3.12``). Items
    dropped by a revised plan are flagged, not deleted, so their history stays."""

    __tablename__ = "plan_item"

    plan_id: str = Field(foreign_key="plan.id", primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=100)
    level: str = Field(max_length=8)  # theme, goal, action
    parent: str = Field(default="", max_length=100)
    position: int = 0
    title: str = Field(max_length=500)
    translations: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    removed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ReviewCycle(SQLModel, table=True):
    __tablename__ = "review_cycle"

    key: str = Field(primary_key=True, max_length=64)  # shared across the federation, e.g. "2026"
    plan_id: str = Field(foreign_key="plan.id", max_length=100)
    name: str = Field(max_length=200)
    opens_on: date
    closes_on: date
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Report(SQLModel, table=True):
    """A coalition's report on one action in one cycle; replicated reports carry their origin."""

    __table_args__ = (UniqueConstraint("coalition", "cycle_key", "action_key"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    origin: str | None = Field(default=None, index=True, max_length=64)
    coalition: str = Field(index=True, max_length=64)
    plan_id: str = Field(max_length=100)
    cycle_key: str = Field(index=True, max_length=64)
    action_key: str = Field(max_length=100)
    committed: bool = False
    status: str = Field(default=ReportStatus.NOT_STARTED, max_length=16)
    progress: int = 0
    narrative: str = Field(default="", sa_column=Column(Text, nullable=False))
    language: str = Field(max_length=35)
    translations: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    evidence: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    event_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    petition_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    published: bool = Field(default=False, index=True)
    published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str | None = Field(default=None, foreign_key="member.id", max_length=32)


class ReviewMeeting(SQLModel, table=True):
    __tablename__ = "review_meeting"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    cycle_key: str = Field(foreign_key="review_cycle.key", max_length=64)
    event_id: str = Field(foreign_key="event.id", max_length=32)
    agenda: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    minutes: str = Field(default="", sa_column=Column(Text, nullable=False))
    decisions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
