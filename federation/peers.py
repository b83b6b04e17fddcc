"""Peers: added by URL, pinned once an admin confirms the key fingerprint, blocked at once."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import delete, select

from federation.identity import fingerprint
from federation.tables import LogEntry, LogHead, NodeKey, Peer, PeerState
from server.accounts.access import Viewer, require_role
from server.accounts.tables import Role
from server.db import Database
from server.errors import BadInput, Conflict, NotFound

_purgers: list = []  # async (session, origin) -> None: what each domain deletes when a peer is purged


def on_purge(purger):
    """Register how a domain deletes what it replicated from a blocked peer."""
    _purgers.append(purger)
    return purger


def _operator_or_admin(viewer: Viewer | None, by_operator: bool) -> None:
    if not by_operator:
        require_role(viewer, Role.ADMIN)


def _current_key(document: dict[str, Any]) -> dict[str, Any]:
    current = [k for k in document.get("keys", []) if k.get("valid_until") is None]
    if not current:
        raise BadInput("The peer's document lists no current key.", field="url")
    return current[-1]


async def add_peer(db: Database, federation, viewer: Viewer | None, url: str, *, by_operator: bool = False) -> Peer:
    _operator_or_admin(viewer, by_operator)
    url = url.strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise BadInput("A peer's URL starts with https:// (or http:// on a private network).", field="url")
    try:
        document = await federation.fetch_document(url)
    except (httpx.HTTPError, ValueError) as error:
        raise BadInput(
            f"Could not read {url}/.well-known/coalition-node: {error.__class__.__name__}.", field="url"
        ) from None
    node_id = str(document.get("node_id", ""))
    if not node_id or node_id == federation.identity.node_id:
        raise BadInput("That URL is this node itself, or serves no node id.", field="url")
    key = _current_key(document)
    async with db.write() as session:
        peer = await session.get(Peer, node_id)
        if peer is not None and peer.state != PeerState.PENDING:
            raise Conflict(f"{node_id} is already a peer ({peer.state}).", field="url")
        if peer is None:
            peer = Peer(id=node_id, base_url=url, fingerprint=fingerprint(key["public_key"]))
            session.add(peer)
        peer.base_url, peer.name, peer.region = (
            url,
            str(document.get("name", ""))[:200],
            str(document.get("region", ""))[:100],
        )
        peer.languages = [str(x) for x in document.get("languages", [])][:20]
        peer.keys = document.get("keys", [])
        peer.fingerprint = fingerprint(key["public_key"])
    return peer


async def confirm_peer(
    db: Database, viewer: Viewer | None, peer_id: str, fingerprint_seen: str, *, by_operator: bool = False
) -> Peer:
    """Pin the key the admin checked (by fingerprint, out of band) and start exchanging."""
    _operator_or_admin(viewer, by_operator)
    async with db.write() as session:
        peer = await session.get(Peer, peer_id, with_for_update=True)
        if peer is None:
            raise NotFound(f"No peer '{peer_id}'.", field="id")
        if peer.state != PeerState.PENDING:
            raise Conflict(f"The peer is {peer.state}; only a pending peer is confirmed.")
        if fingerprint_seen.strip().lower().replace(":", "") != peer.fingerprint:
            raise BadInput("That fingerprint is not the one this peer offered; do not confirm it.", field="fingerprint")
        for key in peer.keys:
            if await session.get(NodeKey, key["key_id"]) is None:
                session.add(
                    NodeKey(
                        key_id=key["key_id"],
                        origin=peer.id,
                        public_key=key["public_key"],
                        valid_from=int(key.get("valid_from", 0)),
                        valid_until=key.get("valid_until"),
                    )
                )
        peer.state = PeerState.ACTIVE
    return peer


async def block_peer(
    db: Database, viewer: Viewer | None, peer_id: str, purge: bool = False, *, by_operator: bool = False
) -> Peer:
    """Stop exchange both ways at once; with ``purge``, delete what was replicated from it."""
    _operator_or_admin(viewer, by_operator)
    async with db.write() as session:
        peer = await session.get(Peer, peer_id, with_for_update=True)
        if peer is None:
            raise NotFound(f"No peer '{peer_id}'.", field="id")
        peer.state = PeerState.BLOCKED
        if purge:
            for purger in _purgers:
                await purger(session, peer.id)
            await session.execute(delete(LogEntry).where(LogEntry.origin == peer.id))
            await session.execute(delete(LogHead).where(LogHead.origin == peer.id))
    return peer


async def list_peers(db: Database) -> list[tuple[Peer, dict[str, int]]]:
    async with db.read() as session:
        peers = list(await session.scalars(select(Peer).order_by(Peer.added_at)))
        heads = {h.origin: h.seq for h in await session.scalars(select(LogHead))}
    return [(peer, heads) for peer in peers]
