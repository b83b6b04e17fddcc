"""Petitions in the federation. A petition travels as petition.upsert (its public fields only);
each coalition publishes petition.tally, "this node holds n signatures for P" with the digest of
its signature set, and every node sums the latest tallies. No signature, and no signer, travels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.kinds import from_iso, iso, update_kind
from federation.peers import on_purge
from schema.petitions.tables import Petition, PetitionState, PetitionTally, Signature
from server.db import Database, utcnow

UPSERT, TALLY = "petition.upsert", "petition.tally"
FIELDS = (
    "uid",
    "title",
    "text",
    "language",
    "translations",
    "decision_maker",
    "state",
    "opens_at",
    "deadline",
    "thresholds",
    "crossed",
    "outcome",
    "response",
    "created_at",
    "updated_at",
    "closed_at",
)


async def publish(db: Database, session: AsyncSession, petition: Petition) -> None:
    if petition.origin is not None or petition.state == PetitionState.DRAFT:
        return
    values = {
        "uid": petition.uid,
        "title": petition.title,
        "text": petition.text,
        "language": petition.language,
        "translations": petition.translations,
        "decision_maker": petition.decision_maker,
        "state": petition.state,
        "opens_at": iso(petition.opens_at),
        "deadline": iso(petition.deadline),
        "thresholds": petition.thresholds,
        "crossed": petition.crossed,
        "outcome": petition.outcome,
        "response": petition.response,
        "created_at": iso(petition.created_at),
        "updated_at": iso(petition.updated_at),
        "closed_at": iso(petition.closed_at),
    }
    await db.record(session, UPSERT, "petition", petition.id, values)


async def publish_tally(db: Database, session: AsyncSession, petition: Petition) -> None:
    """This node's own count for a petition, wherever the petition comes from."""
    if db.log is None or petition.state == PetitionState.DRAFT:
        return
    origin = petition.origin or db.log.identity.node_id
    values = {
        "petition": f"{origin}/petition/{petition.id}",
        "count": petition.signature_count,
        "named": petition.named_count,
        "digest": petition.set_digest,
    }
    await db.record(session, TALLY, "tally", f"{petition.id}", values)


async def remote_total(session: AsyncSession, petition_id: str) -> int:
    return (
        await session.scalar(
            select(func.coalesce(func.sum(PetitionTally.count), 0)).where(PetitionTally.petition_id == petition_id)
        )
        or 0
    )


@update_kind(UPSERT, FIELDS)
async def apply_upsert(session: AsyncSession, envelope: dict[str, Any]) -> None:
    body, origin = envelope["body"], envelope["origin"]
    petition_id = envelope["subject"].rsplit("/", 1)[1]
    petition = await session.get(Petition, petition_id)
    if petition is not None and petition.origin != origin:
        raise ValueError("that petition belongs to another node")
    fields = {
        "uid": body["uid"],
        "title": body["title"],
        "text": body.get("text") or "",
        "language": body["language"],
        "translations": body.get("translations") or {},
        "decision_maker": body["decision_maker"],
        "state": PetitionState(body["state"]),
        "opens_at": from_iso(body.get("opens_at")),
        "deadline": from_iso(body["deadline"]),
        "thresholds": [int(t) for t in body.get("thresholds") or []],
        "crossed": body.get("crossed") or {},
        "outcome": body.get("outcome"),
        "response": body.get("response") or "",
        "created_at": from_iso(body["created_at"]),
        "updated_at": from_iso(body["updated_at"]),
        "closed_at": from_iso(body.get("closed_at")),
    }
    if petition is None:
        session.add(Petition(id=petition_id, origin=origin, **fields))
    else:
        for name, value in fields.items():
            setattr(petition, name, value)


async def _prefetch_tallies(session: AsyncSession, envelopes: list[dict[str, Any]]) -> None:
    ids = {e["body"]["petition"].rsplit("/", 1)[1] for e in envelopes}
    contributors = {e["origin"] for e in envelopes}
    list(
        await session.scalars(
            select(PetitionTally).where(PetitionTally.petition_id.in_(ids), PetitionTally.contributor.in_(contributors))
        )
    )
    held = {p.id: p for p in await session.scalars(select(Petition).where(Petition.id.in_(ids)))}
    session.info.setdefault("petitions_held", {}).update({i: held.get(i) for i in ids})


@update_kind(TALLY, ("petition", "count", "named", "digest"), prefetch=_prefetch_tallies)
async def apply_tally(session: AsyncSession, envelope: dict[str, Any]) -> None:
    body, contributor = envelope["body"], envelope["origin"]
    petition_id = body["petition"].rsplit("/", 1)[1]
    tallies = session.info.setdefault("tallies", {})
    tally = tallies.get((petition_id, contributor)) or await session.get(PetitionTally, (petition_id, contributor))
    if tally is None:
        tally = PetitionTally(petition_id=petition_id, contributor=contributor)
        session.add(tally)
    tallies[(petition_id, contributor)] = tally
    if envelope["seq"] < tally.seq:
        return  # logs apply in order, so this only guards against misuse
    tally.count, tally.named, tally.digest = int(body["count"]), int(body["named"]), str(body["digest"])
    tally.seq, tally.updated_at = envelope["seq"], utcnow()
    held = session.info.setdefault("petitions_held", {})  # per batch: most tallies repeat a few petitions
    if petition_id not in held:
        held[petition_id] = await session.get(Petition, petition_id)
    petition = held[petition_id]
    if petition is not None:  # live tallies move when a remote count arrives
        from schema.petitions.service import channel, tally_message

        await session.flush()
        db: Database = session.info["db"]
        await db.publish(session, channel(petition.id), await tally_message(session, petition))


@on_purge
async def purge(session: AsyncSession, origin: str) -> None:
    """Replicated petitions go, except those this node's members signed: their signatures stay."""
    await session.execute(delete(PetitionTally).where(PetitionTally.contributor == origin))
    signed = select(Signature.petition_id)
    await session.execute(
        delete(PetitionTally).where(
            PetitionTally.petition_id.in_(
                select(Petition.id).where(Petition.origin == origin, Petition.id.not_in(signed))
            )
        )
    )
    await session.execute(delete(Petition).where(Petition.origin == origin, Petition.id.not_in(signed)))
