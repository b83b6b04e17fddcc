"""Applying envelopes from other nodes: verified with the origin's key valid at the time,
chained, in order per origin, idempotently by (origin, seq). A gap stops that origin until a pull
fills it; a fork is refused and reported."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import kinds
from federation.envelope import EnvelopeError, canonical, check_shape, entry_hash, verify
from federation.identity import key_for
from federation.tables import Fork, LogEntry, LogHead, NodeKey, Peer, PeerState
from server.db import Database, utcnow

log = logging.getLogger("coalition.federation")
KEY_KIND = "node.key"


@dataclass
class Outcome:
    applied: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    gaps: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "gaps": sorted(self.gaps),
        }


async def _blocked(session: AsyncSession, origin: str) -> bool:
    peer = await session.get(Peer, origin)
    return peer is not None and peer.state == PeerState.BLOCKED


async def _apply_key_rotation(session: AsyncSession, envelope: dict[str, Any]) -> None:
    body = envelope["body"]
    if set(body) != {"key_id", "public_key", "previous"} or body["previous"] != envelope["key_id"]:
        raise EnvelopeError("a key rotation names the new key and is signed by the key it replaces")
    previous = await session.get(NodeKey, body["previous"])
    if previous is not None and previous.valid_until is None:
        previous.valid_until = envelope["ts"] + 1
    if await session.get(NodeKey, body["key_id"]) is None:
        session.add(
            NodeKey(
                key_id=body["key_id"],
                origin=envelope["origin"],
                public_key=body["public_key"],
                valid_from=envelope["ts"],
            )
        )


async def receive(db: Database, own_origin: str, envelopes: list[Any], offered_by: str = "") -> Outcome:
    outcome = Outcome()
    by_origin: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for raw in envelopes:
        try:
            envelope = check_shape(raw)
        except EnvelopeError as error:
            outcome.rejected.append({"seq": raw.get("seq") if isinstance(raw, dict) else None, "reason": str(error)})
            continue
        if envelope["origin"] != own_origin:
            by_origin[envelope["origin"]].append(envelope)
    for origin, batch in by_origin.items():
        batch.sort(key=lambda e: e["seq"])
        async with db.write() as session:
            session.info["db"] = db  # for update kinds that announce what they applied
            await _receive_origin(db, session, origin, batch, offered_by, outcome)
    return outcome


async def _receive_origin(
    db: Database, session: AsyncSession, origin: str, batch: list[dict[str, Any]], offered_by: str, outcome: Outcome
) -> None:
    if await _blocked(session, origin):
        outcome.rejected.extend({"origin": origin, "seq": e["seq"], "reason": "origin is blocked"} for e in batch)
        return
    head = await session.scalar(select(LogHead).where(LogHead.origin == origin).with_for_update())
    if head is None:
        head = LogHead(origin=origin)
        session.add(head)
    for envelope in batch:
        seq, digest = envelope["seq"], entry_hash(envelope)
        if seq <= head.seq:
            kept = await session.get(LogEntry, (origin, seq))
            if kept is not None and kept.hash == digest:
                outcome.duplicates += 1
            else:
                session.add(
                    Fork(
                        origin=origin,
                        seq=seq,
                        kept_hash=kept.hash if kept else "",
                        offered_hash=digest,
                        offered_by=offered_by,
                    )
                )
                log.warning("fork: origin %s offered a second entry %s at seq %s", origin, digest[:12], seq)
                outcome.rejected.append(
                    {"origin": origin, "seq": seq, "reason": "fork: a different entry has this seq"}
                )
            continue
        if seq > head.seq + 1:
            outcome.gaps.add(origin)
            break
        key = await key_for(session, origin, envelope["key_id"], envelope["ts"])
        if key is None:
            outcome.rejected.append({"origin": origin, "seq": seq, "reason": "unknown key, or not valid at that time"})
            break
        if not verify(envelope, key):
            outcome.rejected.append({"origin": origin, "seq": seq, "reason": "bad signature"})
            break
        if envelope["prev"] != head.hash:
            outcome.rejected.append({"origin": origin, "seq": seq, "reason": "does not chain to the previous entry"})
            break
        try:
            async with session.begin_nested():
                if envelope["kind"] == KEY_KIND:
                    await _apply_key_rotation(session, envelope)
                else:
                    kind = kinds.check_body(envelope["kind"], envelope["body"])
                    await kind.apply(session, envelope)
        except (EnvelopeError, KeyError, ValueError) as error:
            outcome.rejected.append({"origin": origin, "seq": seq, "reason": f"cannot apply: {error}"})
            break
        session.add(
            LogEntry(
                origin=origin,
                seq=seq,
                kind=envelope["kind"],
                subject=envelope["subject"],
                ts=envelope["ts"],
                hash=digest,
                envelope=canonical(envelope).decode(),
            )
        )
        head.seq, head.hash, head.updated_at = seq, digest, utcnow()
        outcome.applied += 1
    await session.flush()
    if outcome.applied:
        await db.publish(session, "federation:log", {"origin": origin, "seq": head.seq})


def entries_json(rows: list[LogEntry]) -> list[dict[str, Any]]:
    return [json.loads(row.envelope) for row in rows]
