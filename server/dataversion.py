"""A data version: a counter raised in the same transaction as every change that public views
(calendar feeds, tallies) show, so those views can answer If-None-Match from one indexed read."""

from __future__ import annotations

import time

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from server.db import Database

FEEDS = "feeds"
_BUMPED = "data_version_bumped"
_commits = 0  # commits in this process that raised a data version


class DataVersion(SQLModel, table=True):
    __tablename__ = "data_version"

    name: str = Field(primary_key=True, max_length=32)
    version: int = 0


async def bump(session: AsyncSession, name: str = FEEDS) -> None:
    session.info[_BUMPED] = True
    result = await session.execute(
        update(DataVersion).where(DataVersion.name == name).values(version=DataVersion.version + 1)
    )
    if result.rowcount == 0:
        session.add(DataVersion(name=name, version=1))
        await session.flush()


async def current(session: AsyncSession, name: str = FEEDS) -> int:
    return await session.scalar(select(DataVersion.version).where(DataVersion.name == name)) or 0


@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    global _commits
    if session.info.pop(_BUMPED, False):
        _commits += 1


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: object) -> None:
    session.info.pop(_BUMPED, None)


class VersionCache:
    """The current data version without a database round trip on every request.

    Exact for changes made by this process (a commit that bumps invalidates it at once); changes
    committed by other processes sharing the database are seen within ``ttl`` seconds."""

    def __init__(self, db: Database, name: str = FEEDS, ttl: float = 1.0) -> None:
        self.db, self.name, self.ttl = db, name, ttl
        self._value: int | None = None
        self._read_at = 0.0
        self._commits_seen = -1

    async def get(self) -> int:
        now = time.monotonic()
        if self._value is not None and self._commits_seen == _commits and now - self._read_at < self.ttl:
            return self._value
        commits = _commits  # read first: a commit during the query makes the next call look again
        async with self.db.read() as session:
            value = await current(session, self.name)
        self._value, self._read_at, self._commits_seen = value, now, commits
        return value
