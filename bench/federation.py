"""Federation: verified entries applied per second against the raw Ed25519 verification rate
measured in the same run, and how long a node that missed 100,000 entries takes to catch up."""

from __future__ import annotations

import time
import uuid

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert

from bench.common import fresh_node
from federation.apply import receive
from federation.envelope import canonical, entry_hash, sign, unb64
from federation.identity import Identity
from federation.tables import LogEntry, LogHead, NodeKey, Peer, PeerState
from server.app import create_app


def make_log(identity: Identity, count: int) -> list[dict]:
    """A chain of realistic entries: mostly petition tallies, every tenth a council update."""
    entries, prev = [], ""
    petitions = [uuid.uuid4().hex for _ in range(50)]
    for seq in range(1, count + 1):
        if seq % 10:
            kind, subject = "petition.tally", f"{identity.node_id}/tally/{petitions[seq % 50]}"
            body = {
                "petition": f"{identity.node_id}/petition/{petitions[seq % 50]}",
                "count": seq,
                "named": seq // 3,
                "digest": "ab" * 32,
            }
        else:
            kind, subject = "council.upsert", f"{identity.node_id}/council/{uuid.UUID(int=seq % 500).hex}"
            body = {
                "name": f"Council {seq}",
                "description": "",
                "mandate": "",
                "language": "en",
                "translations": {},
                "region": "",
                "archived_at": None,
                "created_at": "2026-01-01T00:00:00+00:00",
                "updated_at": "2026-01-01T00:00:00+00:00",
            }
        unsigned = {
            "v": 1,
            "origin": identity.node_id,
            "seq": seq,
            "prev": prev,
            "ts": 1_800_000_000 + seq,
            "kind": kind,
            "subject": subject,
            "body": body,
            "key_id": identity.key_id,
        }
        envelope = sign(unsigned, identity.key)
        prev = entry_hash(envelope)
        entries.append(envelope)
    return entries


async def trust(db, identity: Identity, base_url: str | None = None) -> None:
    async with db.write() as session:
        session.add(NodeKey(key_id=identity.key_id, origin=identity.node_id, public_key=identity.public_b64))
        if base_url:
            session.add(Peer(id=identity.node_id, base_url=base_url, fingerprint="", state=PeerState.ACTIVE))


async def apply_rate(database_url: str | None, identity: Identity) -> None:
    entries = make_log(identity, 5_000)
    public = identity.key.public_key()
    started = time.perf_counter()
    for envelope in entries:
        unsigned = {k: v for k, v in envelope.items() if k != "sig"}
        public.verify(unb64(envelope["sig"]), canonical(unsigned))
    raw = len(entries) / (time.perf_counter() - started)

    settings, db = await fresh_node(database_url)
    await trust(db, identity)
    started = time.perf_counter()
    for start in range(0, len(entries), 200):
        outcome = await receive(db, settings.node_id, entries[start : start + 200])
        assert outcome.applied == min(200, len(entries) - start), outcome.rejected[:1]
    applied = len(entries) / (time.perf_counter() - started)
    print(f"federation: database {db.engine.dialect.name}")
    print(f"  raw Ed25519 verification (JCS + verify): {raw:8.0f} entries/s")
    print(f"  verified, chained and applied:           {applied:8.0f} entries/s   {applied / raw:.1%} (target >= 10%)")
    await db.dispose()


async def catch_up(database_url: str | None, identity: Identity, count: int = 100_000) -> None:
    source_settings, source = await fresh_node(database_url)
    source_settings.node_id = identity.node_id
    entries = make_log(identity, count)
    async with source.write() as session:
        for start in range(0, count, 5_000):
            rows = [
                {
                    "origin": e["origin"],
                    "seq": e["seq"],
                    "kind": e["kind"],
                    "subject": e["subject"],
                    "ts": e["ts"],
                    "hash": entry_hash(e),
                    "envelope": canonical(e).decode(),
                }
                for e in entries[start : start + 5_000]
            ]
            await session.execute(insert(LogEntry), rows)
        session.add(LogHead(origin=identity.node_id, seq=count, hash=entry_hash(entries[-1])))
    key_path = source_settings.key_file
    key_path.parent.mkdir(parents=True, exist_ok=True)
    from cryptography.hazmat.primitives import serialization

    key_path.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    source_app = create_app(source_settings, source, background=False)

    lagging_settings, lagging = await fresh_node(database_url)
    lagging_settings.node_id = "lagging"
    lagging_app = create_app(
        lagging_settings,
        lagging,
        background=False,
        client_factory=lambda: httpx.AsyncClient(mounts={"https://source.test": httpx.ASGITransport(app=source_app)}),
    )
    lagging_identity = lagging_app.state.federation.identity
    await trust(lagging, identity, "https://source.test")
    async with source.write() as session:  # the source knows the lagging node as an active peer
        session.add(NodeKey(key_id=lagging_identity.key_id, origin="lagging", public_key=lagging_identity.public_b64))
        session.add(Peer(id="lagging", base_url="https://lagging.test", fingerprint="", state=PeerState.ACTIVE))
    started = time.perf_counter()
    outcome = await lagging_app.state.federation.pull_once()
    elapsed = time.perf_counter() - started
    assert outcome.applied == count, (outcome.applied, outcome.rejected[:2])
    print(
        f"  catch-up after missing {count:,} entries (pull over HTTP, verified and applied): {elapsed:5.1f} s "
        f"(target < 60 s), {count / elapsed:,.0f} entries/s"
    )
    await source.dispose()
    await lagging.dispose()


async def run(database_url: str | None = None) -> None:
    identity = Identity("source", Ed25519PrivateKey.generate())
    await apply_rate(database_url, identity)
    await catch_up(database_url, identity)
