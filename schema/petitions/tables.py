"""Petition tables. Signatures carry no time and no sequence: nothing stored or shown orders them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel

from schema.petitions.receipts import EMPTY_STATE
from server.accounts.tables import new_id
from server.db import UTCDateTime, utcnow


class PetitionState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class PetitionOutcome(StrEnum):
    DELIVERED = "delivered"
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"


class Petition(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    origin: str | None = Field(default=None, index=True, max_length=64)  # None: this node's own; else read-only
    uid: str = Field(unique=True, max_length=64)
    title: str = Field(max_length=300)
    text: str = Field(default="", max_length=50_000)
    language: str = Field(max_length=35)
    translations: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    decision_maker: str = Field(max_length=300)
    council_id: str | None = Field(default=None, foreign_key="council.id", index=True, max_length=32)
    state: str = Field(default=PetitionState.DRAFT, max_length=16, index=True)
    opens_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    deadline: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    thresholds: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    crossed: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    outcome: str | None = Field(default=None, max_length=16)
    response: str = Field(default="", max_length=50_000)
    event_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    signature_count: int = 0
    named_count: int = 0
    set_state: str = Field(default=EMPTY_STATE, sa_column=Column(Text, nullable=False))
    set_digest: str = Field(default="", max_length=64)
    created_by: str | None = Field(default=None, foreign_key="member.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    unlinked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Signature(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("petition_id", "member_id"), UniqueConstraint("petition_id", "commitment"))

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    petition_id: str = Field(foreign_key="petition.id", index=True, max_length=32)
    member_id: str | None = Field(default=None, foreign_key="member.id", index=True, max_length=32)
    named: bool = False
    commitment: str = Field(max_length=64)


class PetitionTally(SQLModel, table=True):
    """The latest signed count each coalition published for a petition: the global count is
    their sum, computed by every node from the logs it holds."""

    __tablename__ = "petition_tally"

    petition_id: str = Field(primary_key=True, max_length=32)
    contributor: str = Field(primary_key=True, max_length=64)
    count: int = 0
    named: int = 0
    digest: str = Field(default="", max_length=64)
    seq: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
