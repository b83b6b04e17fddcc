"""Fixed-window action counters kept in the database, so limits hold across server processes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Column, Field, SQLModel

from server.db import UTCDateTime, utcnow
from server.errors import RateLimited


class ActionCounter(SQLModel, table=True):
    __tablename__ = "action_counter"

    key: str = Field(primary_key=True, max_length=100)
    window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    count: int = 0


async def spend(session: AsyncSession, key: str, limit: int, window: timedelta, message: str) -> None:
    """Count one action for ``key`` in the current transaction, or refuse it past ``limit``."""
    now = utcnow()
    row = await session.scalar(select(ActionCounter).where(ActionCounter.key == key).with_for_update())
    if row is None:
        session.add(ActionCounter(key=key, window_start=now, count=1))
        await session.flush()
        return
    if now - row.window_start >= window:
        row.window_start, row.count = now, 1
        return
    if row.count >= limit:
        raise RateLimited(message)
    row.count += 1
