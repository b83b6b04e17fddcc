"""Live updates: a small publish/subscribe bus.

Two backends behind one interface: in-process (one server process, the SQLite default) and
PostgreSQL LISTEN/NOTIFY (several processes sharing one database). Messages are published only
once the transaction that caused them commits, and carry ids and numbers, never personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

log = logging.getLogger("coalition.bus")
PG_CHANNEL = "coalition"
RESYNC = {"type": "resync"}  # delivered after a lost connection: re-read the current state


class Subscription:
    """A bounded queue of messages; when a slow reader falls behind, the oldest are dropped
    (every message carries current totals, so the newest is what matters)."""

    def __init__(self, size: int = 64) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)

    def offer(self, message: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(message)

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    def drain(self) -> list[dict[str, Any]]:
        found = []
        while not self.queue.empty():
            found.append(self.queue.get_nowait())
        return found


class Bus:
    """In-process delivery; the base of the PostgreSQL backend, which feeds it from NOTIFY."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    async def start(self) -> None:
        """Nothing to start in one process."""

    async def stop(self) -> None:
        """Nothing to stop in one process."""

    def deliver(self, channel: str, message: dict[str, Any]) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.offer(message)

    def deliver_everywhere(self, message: dict[str, Any]) -> None:
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                subscription.offer(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        await self.start()
        subscription = Subscription()
        self._subscribers[channel].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[channel].discard(subscription)
            if not self._subscribers[channel]:
                del self._subscribers[channel]

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())


class PostgresBus(Bus):
    """Listens on one PostgreSQL connection and fans NOTIFY messages out to local subscribers.

    The listener reconnects after a dropped connection (with backoff) and then tells every
    subscriber to re-read, so nobody waits for a message that was lost meanwhile."""

    def __init__(self, dsn: str, *, check_every: float = 2.0) -> None:
        super().__init__()
        self.dsn = dsn
        self.check_every = check_every
        self._task: asyncio.Task | None = None
        self._connection: asyncpg.Connection | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._listen(), name="postgres-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            envelope = json.loads(payload)
            self.deliver(envelope["channel"], envelope["message"])
        except (ValueError, KeyError):
            log.warning("ignored a malformed notification")

    async def _listen(self) -> None:
        delay, first = 0.5, True
        while True:
            try:
                connection = await asyncpg.connect(self.dsn)
                self._connection = connection
                await connection.add_listener(PG_CHANNEL, self._on_notify)
                if not first:
                    log.info("bus reconnected; asking subscribers to re-read")
                    self.deliver_everywhere(RESYNC)
                first, delay = False, 0.5
                self._ready.set()
                while not connection.is_closed():
                    await asyncio.sleep(self.check_every)
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), timeout=self.check_every * 2)
            except asyncio.CancelledError:
                if self._connection is not None and not self._connection.is_closed():
                    await self._connection.close()
                raise
            except Exception as error:  # lost or refused: try again
                log.warning("bus connection lost (%s); reconnecting in %.1fs", error.__class__.__name__, delay)
                if self._connection is not None and not self._connection.is_closed():
                    self._connection.terminate()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)


def notify_sql() -> str:
    return f"SELECT pg_notify('{PG_CHANNEL}', :payload)"


def envelope(channel: str, message: dict[str, Any]) -> str:
    return json.dumps({"channel": channel, "message": message}, separators=(",", ":"), sort_keys=True)
