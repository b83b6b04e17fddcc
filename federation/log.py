"""This node's update log: one signed, hash-chained envelope per change to a federated object,
appended in the same transaction as the change (a crash can neither lose one nor invent one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import kinds
from federation.envelope import canonical_and_hash, sign
from federation.identity import Identity, ensure_own_key, now
from federation.tables import LogEntry, LogHead
from server.db import utcnow

WAKE_CHANNEL = "federation:log"


def subject(origin: str, kind: str, object_id: str) -> str:
    """A global id minted by the origin, e.g. ``<node>/petition/<uuid>``."""
    return f"{origin}/{kind}/{object_id}"


class LogWriter:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    async def append(self, session: AsyncSession, kind: str, subject_id: str, values: dict[str, Any]) -> dict[str, Any]:
        await ensure_own_key(session, self.identity)
        return await self.append_signed(session, kind, subject_id, kinds.body(kind, values), self.identity)

    async def append_signed(
        self, session: AsyncSession, kind: str, subject_id: str, body: dict[str, Any], signer: Identity
    ) -> dict[str, Any]:
        origin = self.identity.node_id
        head = await session.scalar(select(LogHead).where(LogHead.origin == origin).with_for_update())
        if head is None:
            head = LogHead(origin=origin)
            session.add(head)
        unsigned = {
            "v": 1,
            "origin": origin,
            "seq": head.seq + 1,
            "prev": head.hash,
            "ts": now(),
            "kind": kind,
            "subject": subject_id,
            "body": body,
            "key_id": signer.key_id,
        }
        envelope = sign(unsigned, signer.key)
        text, digest = canonical_and_hash(envelope)
        session.add(
            LogEntry(
                origin=origin,
                seq=envelope["seq"],
                kind=kind,
                subject=subject_id,
                ts=envelope["ts"],
                hash=digest,
                envelope=text,
            )
        )
        head.seq, head.hash, head.updated_at = envelope["seq"], digest, utcnow()
        await session.flush()
        return envelope
