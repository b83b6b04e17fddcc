"""Database engines and transactions for SQLite (embedded) and PostgreSQL (production).

SQLite gets two engines: writes begin with ``BEGIN IMMEDIATE`` so that concurrent writers queue on
``busy_timeout`` instead of failing when a read lock cannot be upgraded; reads begin deferred.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from server.bus import Bus, PostgresBus, envelope, notify_sql

# aiosqlite logs every statement with its parameters at DEBUG: member ids beside petition ids.
# Logs must never link people to acts, whatever level an admin turns on.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

_OUTBOX = "bus_outbox"
statement_count: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("statement_count", default=None)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always returned timezone-aware, on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _count_statements(*_: Any) -> None:
    counter = statement_count.get()
    if counter is not None:
        counter[0] += 1


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _make_engine(url: str, *, immediate: bool = False) -> AsyncEngine:
    is_sqlite = url.startswith("sqlite")
    options: dict[str, Any] = {}
    if is_sqlite:
        options["connect_args"] = {"timeout": 30}
    else:
        options.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, hide_parameters=True, **options)  # no personal data in logs or errors
    sync_engine: Engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", _count_statements)
    if is_sqlite:
        event.listen(sync_engine, "connect", _sqlite_pragmas)
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(sync_engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

    return engine


def _asyncpg_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


class Database:
    """The node's storage: short transactions for writes, sessions for reads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = _make_engine(url)
        self.write_engine = _make_engine(url, immediate=True) if self.is_sqlite else self.engine
        self.bus: Bus = Bus() if self.is_sqlite else PostgresBus(_asyncpg_dsn(url))
        self.log: Any = None  # federation.log.LogWriter, attached when the node has an identity
        self._reads = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writes = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reads() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back entirely on any error.
        Messages published in it (``publish``) go out only after the commit."""
        async with self._writes() as session:
            async with session.begin():
                yield session
            for channel, message in session.info.pop(_OUTBOX, []):
                self.bus.deliver(channel, message)

    async def publish(self, session: AsyncSession, channel: str, message: dict[str, Any]) -> None:
        """Announce a change made in ``session``'s transaction, to go out when it commits.

        On PostgreSQL this is NOTIFY, which the database itself holds back until the commit and
        delivers to every server process; in one process the message waits in the session."""
        if self.is_sqlite:
            session.info.setdefault(_OUTBOX, []).append((channel, message))
        else:
            await session.execute(text(notify_sql()), {"payload": envelope(channel, message)})

    async def record(
        self, session: AsyncSession, kind: str, object_type: str, object_id: str, values: dict[str, Any]
    ) -> None:
        """Append a federated update for a change made in ``session``'s transaction: the change
        and its log entry commit together or not at all."""
        if self.log is not None:
            subject = f"{self.log.identity.node_id}/{object_type}/{object_id}"
            envelope = await self.log.append(session, kind, subject, values)
            await self.publish(session, "federation:log", {"seq": envelope["seq"]})

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.bus.stop()
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
