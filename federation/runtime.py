"""A node's federation at run time: its signed HTTP client, push delivery and pull catch-up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from federation.apply import Outcome, receive
from federation.httpsig import sign_request
from federation.identity import Identity
from federation.log import WAKE_CHANNEL
from federation.tables import LogEntry, LogHead, Peer, PeerState
from server.db import Database, utcnow
from server.settings import Settings

log = logging.getLogger("coalition.federation")
BATCH = 1000
BACKOFF_BASE = 2.0
BACKOFF_CAP = timedelta(hours=3).total_seconds()
PULL_EVERY = 60.0

ClientFactory = Callable[[], httpx.AsyncClient]


def default_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30, follow_redirects=False)


def backoff(failures: int, jitter: Callable[[], float] = random.random) -> float:
    """Seconds before the next attempt: exponential, capped at a few hours, with full jitter."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE ** min(failures, 30))
    return ceiling / 2 + jitter() * ceiling / 2


class Federation:
    def __init__(self, db: Database, settings: Settings, identity: Identity, client_factory: ClientFactory) -> None:
        self.db, self.settings, self.identity = db, settings, identity
        self.client_factory = client_factory
        self._task: asyncio.Task | None = None
        self._pulls: set[asyncio.Task] = set()

    def schedule_pull(self, peer_id: str) -> None:
        """A gap was seen: catch up from that peer soon, without holding up the request."""
        task = asyncio.create_task(self.pull_once(peer_id))
        self._pulls.add(task)
        task.add_done_callback(self._pulls.discard)

    async def request(self, method: str, url: str, payload: Any = None) -> httpx.Response:
        content = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        headers = {"Content-Type": "application/json"} if content else {}
        request = httpx.Request(method, url, content=content, headers=headers)
        sign_request(request, self.identity.key, self.identity.key_id)
        async with self.client_factory() as client:
            return await client.send(request)

    async def fetch_document(self, base_url: str) -> dict[str, Any]:
        async with self.client_factory() as client:
            response = await client.get(f"{base_url.rstrip('/')}/.well-known/coalition-node")
        response.raise_for_status()
        return response.json()

    # push ---------------------------------------------------------------------------------
    async def push_once(self) -> dict[str, int]:
        """Deliver our log to every active peer that is due, from its durable cursor."""
        sent: dict[str, int] = {}
        async with self.db.read() as session:
            peers = list(await session.scalars(select(Peer).where(Peer.state == PeerState.ACTIVE)))
            head = await session.get(LogHead, self.identity.node_id)
        if head is None:
            return sent
        now = utcnow()
        for peer in peers:
            if peer.push_cursor >= head.seq or (peer.next_attempt_at and peer.next_attempt_at > now):
                continue
            sent[peer.id] = await self._push_to(peer)
        return sent

    async def _push_to(self, peer: Peer) -> int:
        delivered = 0
        while True:
            async with self.db.read() as session:
                rows = list(
                    await session.scalars(
                        select(LogEntry)
                        .where(LogEntry.origin == self.identity.node_id, LogEntry.seq > peer.push_cursor)
                        .order_by(LogEntry.seq)
                        .limit(BATCH)
                    )
                )
            if not rows:
                return delivered
            try:
                response = await self.request(
                    "POST", f"{peer.base_url}/federation/inbox", {"entries": [json.loads(r.envelope) for r in rows]}
                )
                if response.status_code != 200:
                    raise httpx.HTTPStatusError(response.text[:200], request=response.request, response=response)
            except httpx.HTTPError as error:
                await self._failed(peer, str(error) or error.__class__.__name__)
                return delivered
            outcome = response.json()
            for gap_origin in outcome.get("gaps", []):
                log.info("peer %s reports a gap for %s", peer.id, gap_origin)
            async with self.db.write() as session:
                stored = await session.get(Peer, peer.id, with_for_update=True)
                if stored is None or stored.state != PeerState.ACTIVE:
                    return delivered
                stored.push_cursor = max(stored.push_cursor, rows[-1].seq)
                stored.failures, stored.next_attempt_at, stored.last_error = 0, None, ""
                stored.last_contact_at = utcnow()
                peer.push_cursor = stored.push_cursor
            delivered += len(rows)

    async def _failed(self, peer: Peer, error: str) -> None:
        async with self.db.write() as session:
            stored = await session.get(Peer, peer.id, with_for_update=True)
            if stored is None:
                return
            stored.failures += 1
            stored.next_attempt_at = utcnow() + timedelta(seconds=backoff(stored.failures))
            stored.last_error = error[:500]
        log.info("push to %s failed (%s); attempt %s", peer.id, error[:100], peer.failures + 1)

    # pull ---------------------------------------------------------------------------------
    async def pull_once(self, only: str | None = None) -> Outcome:
        """Catch up on every origin an active peer holds further than we do."""
        total = Outcome()
        async with self.db.read() as session:
            peers = list(await session.scalars(select(Peer).where(Peer.state == PeerState.ACTIVE)))
        for peer in peers:
            if only and peer.id != only:
                continue
            try:
                await self._pull_from(peer, total)
            except (httpx.HTTPError, ValueError, KeyError) as error:
                log.info("pull from %s failed: %s", peer.id, error)
        return total

    async def _pull_from(self, peer: Peer, total: Outcome) -> None:
        response = await self.request("GET", f"{peer.base_url}/federation/logs")
        response.raise_for_status()
        async with self.db.read() as session:
            ours = {row.origin: row.seq for row in await session.scalars(select(LogHead))}
        for origin, theirs in response.json()["heads"].items():
            if origin == self.identity.node_id:
                continue
            while theirs > ours.get(origin, 0):
                page = await self.request(
                    "GET", f"{peer.base_url}/federation/log/{origin}?after={ours.get(origin, 0)}&limit={BATCH}"
                )
                page.raise_for_status()
                entries = page.json()["entries"]
                if not entries:
                    break
                outcome = await receive(self.db, self.identity.node_id, entries, offered_by=peer.id)
                total.applied += outcome.applied
                total.duplicates += outcome.duplicates
                total.rejected.extend(outcome.rejected)
                if not outcome.applied:
                    break
                async with self.db.read() as session:
                    head = await session.get(LogHead, origin)
                ours[origin] = head.seq if head else 0
        async with self.db.write() as session:
            stored = await session.get(Peer, peer.id, with_for_update=True)
            if stored is not None:
                stored.last_contact_at = utcnow()

    # background ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Push when the log moves (and every few seconds), pull at start and every minute."""
        async with self.db.bus.subscribe(WAKE_CHANNEL) as wake:
            last_pull = -PULL_EVERY
            loop = asyncio.get_running_loop()
            while True:
                try:
                    if loop.time() - last_pull >= PULL_EVERY:
                        last_pull = loop.time()
                        outcome = await self.pull_once()
                        if outcome.gaps:
                            await self.pull_once()
                    await self.push_once()
                except Exception:
                    log.exception("federation round failed; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.get(), timeout=2.0)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="federation")

    async def stop(self) -> None:
        for task in list(self._pulls):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
