"""Account tables. None of these rows ever leaves the node."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Column, Field, SQLModel

from server.db import UTCDateTime, utcnow


def new_id() -> str:
    return uuid.uuid4().hex


class Role(StrEnum):
    ADMIN = "admin"
    ORGANISER = "organiser"
    MEMBER = "member"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


FORMER_MEMBER = "former member"


class Member(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    handle: str | None = Field(default=None, max_length=32)
    handle_key: str | None = Field(default=None, unique=True, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    password_hash: str | None = Field(default=None, max_length=255)
    role: str = Field(default=Role.MEMBER, max_length=16)
    status: str = Field(default=MemberStatus.ACTIVE, max_length=16, index=True)
    language: str | None = Field(default=None, max_length=35)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    deleted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    @property
    def display_handle(self) -> str:
        return self.handle or FORMER_MEMBER


class Invitation(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    code_hash: str = Field(unique=True, max_length=64)
    role: str = Field(default=Role.MEMBER, max_length=16)
    note: str | None = Field(default=None, max_length=200)
    created_by: str | None = Field(default=None, foreign_key="member.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    used_by: str | None = Field(default=None, foreign_key="member.id", max_length=32)


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_session"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class LoginFailure(SQLModel, table=True):
    """One failed login, keyed by handle or client address, for rate limiting."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
