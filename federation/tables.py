"""Federation state: logs (ours and replicated), keys, peers, forks, seen nonces."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Text
from sqlmodel import JSON, Column, Field, SQLModel

from server.db import UTCDateTime, utcnow


class PeerState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    BLOCKED = "blocked"


class LogEntry(SQLModel, table=True):
    __tablename__ = "log_entry"

    origin: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=200, index=True)
    ts: int
    hash: str = Field(max_length=64)
    envelope: str = Field(sa_column=Column(Text, nullable=False))  # the canonical JSON, as received


class LogHead(SQLModel, table=True):
    """How far this node holds each origin's log, and when it last moved (freshness)."""

    __tablename__ = "log_head"

    origin: str = Field(primary_key=True, max_length=64)
    seq: int = 0
    hash: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class NodeKey(SQLModel, table=True):
    """Public keys of nodes (this one included), with the time span each was valid for."""

    __tablename__ = "node_key"

    key_id: str = Field(primary_key=True, max_length=120)
    origin: str = Field(index=True, max_length=64)
    public_key: str = Field(max_length=64)
    valid_from: int = 0
    valid_until: int | None = None


class Peer(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)  # the peer's node id
    base_url: str = Field(max_length=500)
    name: str = Field(default="", max_length=200)
    region: str = Field(default="", max_length=100)
    languages: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fingerprint: str = Field(max_length=64)
    keys: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # as offered, pinned on confirm
    state: str = Field(default=PeerState.PENDING, max_length=16)
    push_cursor: int = 0
    failures: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_contact_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=500)
    added_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Fork(SQLModel, table=True):
    """Two different entries offered for one (origin, seq): the first is kept, this is reported."""

    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(max_length=64)
    seq: int
    kept_hash: str = Field(max_length=64)
    offered_hash: str = Field(max_length=64)
    offered_by: str = Field(default="", max_length=64)
    seen_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SeenNonce(SQLModel, table=True):
    __tablename__ = "seen_nonce"

    nonce: str = Field(primary_key=True, max_length=100)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
