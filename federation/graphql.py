"""Peers, the federation directory, freshness and fork reports over GraphQL."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import select

from federation import peers
from federation.tables import Fork, LogHead, Peer, PeerState
from schema.context import Info
from server.accounts.access import require_role
from server.accounts.tables import Role

PeerStateEnum = strawberry.enum(PeerState, name="PeerState")


@strawberry.type
class LogPosition:
    origin: str
    seq: int
    as_of: datetime = strawberry.field(description="When this node last received an entry of that log.")


@strawberry.type(name="Peer")
class PeerNode:
    id: str
    base_url: str
    name: str
    region: str
    languages: list[str]
    state: PeerStateEnum
    fingerprint: str = strawberry.field(description="SHA-256 of the peer's public key: compare it out of band.")
    last_contact_at: datetime | None
    last_error: str
    push_cursor: int
    behind: int = strawberry.field(description="Entries of this node's log the peer has not received yet.")

    @classmethod
    def of(cls, peer: Peer, own_head: int = 0) -> PeerNode:
        return cls(
            id=peer.id,
            base_url=peer.base_url,
            name=peer.name,
            region=peer.region,
            languages=peer.languages,
            state=PeerState(peer.state),
            fingerprint=peer.fingerprint,
            last_contact_at=peer.last_contact_at,
            last_error=peer.last_error,
            push_cursor=peer.push_cursor,
            behind=max(0, own_head - peer.push_cursor),
        )


@strawberry.type(description="A coalition known to this node: the open directory of the federation.")
class Coalition:
    node_id: str
    name: str
    region: str
    languages: list[str]
    base_url: str
    this_node: bool
    log_position: int
    as_of: datetime | None


@strawberry.type
class ForkReport:
    origin: str
    seq: int
    kept_hash: str
    offered_hash: str
    offered_by: str
    seen_at: datetime


@strawberry.type
class FederationQuery:
    @strawberry.field(description="Peers, their state and how far behind each is (admins).")
    async def peers(self, info: Info) -> list[PeerNode]:
        require_role(info.context.viewer, Role.ADMIN)
        async with info.context.db.read() as session:
            head = await session.get(LogHead, info.context.settings.node_id)
            rows = list(await session.scalars(select(Peer).order_by(Peer.added_at)))
        return [PeerNode.of(peer, head.seq if head else 0) for peer in rows]

    @strawberry.field(description="Coalitions in the federation, with region, languages and freshness.")
    async def directory(self, info: Info) -> list[Coalition]:
        settings = info.context.settings
        async with info.context.db.read() as session:
            heads = {h.origin: h for h in await session.scalars(select(LogHead))}
            rows = list(await session.scalars(select(Peer).where(Peer.state == PeerState.ACTIVE).order_by(Peer.name)))
        own = heads.get(settings.node_id)
        entries = [
            Coalition(
                node_id=settings.node_id,
                name=settings.node_name,
                region=settings.region,
                languages=list(settings.languages),
                base_url=settings.base_url,
                this_node=True,
                log_position=own.seq if own else 0,
                as_of=own.updated_at if own else None,
            )
        ]
        for peer in rows:
            head = heads.get(peer.id)
            entries.append(
                Coalition(
                    node_id=peer.id,
                    name=peer.name,
                    region=peer.region,
                    languages=peer.languages,
                    base_url=peer.base_url,
                    this_node=False,
                    log_position=head.seq if head else 0,
                    as_of=head.updated_at if head else None,
                )
            )
        return entries

    @strawberry.field(description="How fresh each replicated log is: last sequence number and when it moved.")
    async def freshness(self, info: Info) -> list[LogPosition]:
        async with info.context.db.read() as session:
            rows = list(await session.scalars(select(LogHead).order_by(LogHead.origin)))
        return [LogPosition(origin=r.origin, seq=r.seq, as_of=r.updated_at) for r in rows]

    @strawberry.field(description="Conflicting entries offered for one sequence number (admins).")
    async def forks(self, info: Info) -> list[ForkReport]:
        require_role(info.context.viewer, Role.ADMIN)
        async with info.context.db.read() as session:
            rows = list(await session.scalars(select(Fork).order_by(Fork.seen_at)))
        return [
            ForkReport(
                origin=f.origin,
                seq=f.seq,
                kept_hash=f.kept_hash,
                offered_hash=f.offered_hash,
                offered_by=f.offered_by,
                seen_at=f.seen_at,
            )
            for f in rows
        ]


@strawberry.type
class FederationMutation:
    @strawberry.mutation(description="Fetch a peer's document and show its key fingerprint; nothing is exchanged yet.")
    async def add_peer(self, info: Info, url: str) -> PeerNode:
        return PeerNode.of(await peers.add_peer(info.context.db, info.context.federation, info.context.viewer, url))

    @strawberry.mutation(description="Pin the peer's key after comparing its fingerprint, and start exchanging.")
    async def confirm_peer(self, info: Info, id: str, fingerprint: str) -> PeerNode:
        return PeerNode.of(await peers.confirm_peer(info.context.db, info.context.viewer, id, fingerprint))

    @strawberry.mutation(description="Stop all exchange with a peer at once; purge deletes what came from it.")
    async def block_peer(self, info: Info, id: str, purge: bool = False) -> PeerNode:
        return PeerNode.of(await peers.block_peer(info.context.db, info.context.viewer, id, purge))
