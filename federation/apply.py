"""Applying envelopes from other nodes: verified with the origin's key valid at the time,
chained, in order per origin, idempotently by (origin, seq). A gap stops that origin until a pull
fills it; a fork is refused and reported."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import kinds
from federation.envelope import EnvelopeError, canonical_and_hash, check_shape, verify
from federation.identity import public_key
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


class _Keys:
    """An origin's keys, read once per batch and followed through rotations within it."""

    def __init__(self, rows: list[NodeKey]) -> None:
        self.rows = {row.key_id: [row.public_key, row.valid_from, row.valid_until] for row in rows}
        self._parsed: dict[str, Any] = {}

    def valid(self, key_id: str, ts: int):
        found = self.rows.get(key_id)
        if found is None or ts < found[1] or (found[2] is not None and ts >= found[2]):
            return None
        if key_id not in self._parsed:
            self._parsed[key_id] = public_key(found[0])
        return self._parsed[key_id]

    def rotate(self, envelope: dict[str, Any]) -> None:
        body = envelope["body"]
        if body["previous"] in self.rows and self.rows[body["previous"]][2] is None:
            self.rows[body["previous"]][2] = envelope["ts"] + 1
        self.rows.setdefault(body["key_id"], [body["public_key"], envelope["ts"], None])


def _final_states(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For kinds whose entries carry a whole state, the last entry per subject, placed where the
    subject first appeared (so a decision still follows its council); other kinds as they are."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for envelope in entries:
        kind = kinds.KINDS.get(envelope["kind"])
        if kind is not None and kind.latest_wins:
            last[(envelope["kind"], envelope["subject"])] = envelope
    ordered, placed = [], set()
    for envelope in entries:
        key = (envelope["kind"], envelope["subject"])
        if key in last:
            if key not in placed:
                placed.add(key)
                ordered.append(last[key])
        else:
            ordered.append(envelope)
    return ordered


async def _apply(session: AsyncSession, envelope: dict[str, Any]) -> None:
    if envelope["kind"] == KEY_KIND:
        await _apply_key_rotation(session, envelope)
    else:
        await kinds.check_body(envelope["kind"], envelope["body"]).apply(session, envelope)


async def _receive_origin(
    db: Database, session: AsyncSession, origin: str, batch: list[dict[str, Any]], offered_by: str, outcome: Outcome
) -> None:
    """Check the whole batch first (keys, signatures, chain: no database work), then apply it in
    one savepoint; only if a body fails to apply is the batch applied entry by entry."""
    if await _blocked(session, origin):
        outcome.rejected.extend({"origin": origin, "seq": e["seq"], "reason": "origin is blocked"} for e in batch)
        return
    head = await session.scalar(select(LogHead).where(LogHead.origin == origin).with_for_update())
    if head is None:
        head = LogHead(origin=origin)
        session.add(head)
    keys = _Keys(list(await session.scalars(select(NodeKey).where(NodeKey.origin == origin))))
    held = {
        seq: digest
        for seq, digest in await session.execute(
            select(LogEntry.seq, LogEntry.hash).where(
                LogEntry.origin == origin, LogEntry.seq.in_([e["seq"] for e in batch if e["seq"] <= head.seq])
            )
        )
    }
    accepted: list[tuple[dict[str, Any], str, str]] = []
    last_seq, last_hash = head.seq, head.hash
    for envelope in batch:
        seq = envelope["seq"]
        text, digest = canonical_and_hash(envelope)
        if seq <= last_seq:
            if held.get(seq) == digest or any(d == digest for e, _, d in accepted if e["seq"] == seq):
                outcome.duplicates += 1
            else:
                session.add(
                    Fork(
                        origin=origin, seq=seq, kept_hash=held.get(seq, ""), offered_hash=digest, offered_by=offered_by
                    )
                )
                log.warning("fork: origin %s offered a second entry %s at seq %s", origin, digest[:12], seq)
                outcome.rejected.append(
                    {"origin": origin, "seq": seq, "reason": "fork: a different entry has this seq"}
                )
            continue
        if seq > last_seq + 1:
            outcome.gaps.add(origin)
            break
        key = keys.valid(envelope["key_id"], envelope["ts"])
        if key is None:
            outcome.rejected.append({"origin": origin, "seq": seq, "reason": "unknown key, or not valid at that time"})
            break
        if not verify(envelope, key):
            outcome.rejected.append({"origin": origin, "seq": seq, "reason": "bad signature"})
            break
        if envelope["prev"] != last_hash:
            outcome.rejected.append({"origin": origin, "seq": seq, "reason": "does not chain to the previous entry"})
            break
        if envelope["kind"] == KEY_KIND:
            keys.rotate(envelope)
        accepted.append((envelope, text, digest))
        last_seq, last_hash = seq, digest
    final = _final_states([e for e, _, _ in accepted])
    for name, kind in kinds.KINDS.items():
        if kind.prefetch is not None and any(e["kind"] == name for e in final):
            await kind.prefetch(session, [e for e in final if e["kind"] == name])
    try:
        async with session.begin_nested():
            for envelope in final:
                await _apply(session, envelope)
    except (EnvelopeError, KeyError, ValueError, TypeError):
        applied: list[tuple[dict[str, Any], str, str]] = []
        for entry in accepted:  # the slow path applies one by one and names the entry that fails
            try:
                async with session.begin_nested():
                    await _apply(session, entry[0])
            except (EnvelopeError, KeyError, ValueError, TypeError) as error:
                outcome.rejected.append({"origin": origin, "seq": entry[0]["seq"], "reason": f"cannot apply: {error}"})
                break
            applied.append(entry)
        accepted = applied
    if accepted:
        await session.execute(
            insert(LogEntry),
            [
                {
                    "origin": origin,
                    "seq": e["seq"],
                    "kind": e["kind"],
                    "subject": e["subject"],
                    "ts": e["ts"],
                    "hash": d,
                    "envelope": t,
                }
                for e, t, d in accepted
            ],
        )
        head.seq, head.hash, head.updated_at = accepted[-1][0]["seq"], accepted[-1][2], utcnow()
        outcome.applied += len(accepted)
        await session.flush()
        await db.publish(session, "federation:log", {"origin": origin, "seq": head.seq})
