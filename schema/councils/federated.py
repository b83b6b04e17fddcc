"""Public councils and their decisions in the federation. Seats are not federated: they name
members, and member records never leave the node."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.kinds import from_iso, iso, update_kind
from federation.peers import on_purge
from schema.councils.tables import Council, CouncilDecision, Visibility
from server.db import Database

UPSERT, DELETE, DECISION = "council.upsert", "council.delete", "decision.upsert"
FIELDS = (
    "name",
    "description",
    "mandate",
    "language",
    "translations",
    "region",
    "archived_at",
    "created_at",
    "updated_at",
)
DECISION_FIELDS = (
    "council",
    "decided_on",
    "title",
    "text",
    "language",
    "translations",
    "outcome",
    "votes_for",
    "votes_against",
    "votes_abstain",
    "created_at",
)


async def publish(db: Database, session: AsyncSession, council: Council) -> None:
    if council.origin is not None:
        return
    if council.visibility != Visibility.PUBLIC:
        await db.record(session, DELETE, "council", council.id, {})
        return
    await db.record(
        session,
        UPSERT,
        "council",
        council.id,
        {
            "name": council.name,
            "description": council.description,
            "mandate": council.mandate,
            "language": council.language,
            "translations": council.translations,
            "region": council.region,
            "archived_at": iso(council.archived_at),
            "created_at": iso(council.created_at),
            "updated_at": iso(council.updated_at),
        },
    )


async def publish_decision(db: Database, session: AsyncSession, council: Council, decision: CouncilDecision) -> None:
    if council.origin is not None or council.visibility != Visibility.PUBLIC:
        return
    await db.record(
        session,
        DECISION,
        "decision",
        decision.id,
        {
            "council": council.id,
            "decided_on": iso(decision.decided_on),
            "title": decision.title,
            "text": decision.text,
            "language": decision.language,
            "translations": decision.translations,
            "outcome": decision.outcome,
            "votes_for": decision.votes_for,
            "votes_against": decision.votes_against,
            "votes_abstain": decision.votes_abstain,
            "created_at": iso(decision.created_at),
        },
    )


async def _prefetch_councils(session: AsyncSession, envelopes: list[dict[str, Any]]) -> None:
    ids = [e["subject"].rsplit("/", 1)[1] for e in envelopes]
    list(await session.scalars(select(Council).where(Council.id.in_(ids))))


@update_kind(UPSERT, FIELDS, prefetch=_prefetch_councils)
async def apply_upsert(session: AsyncSession, envelope: dict[str, Any]) -> None:
    body, origin = envelope["body"], envelope["origin"]
    council_id = envelope["subject"].rsplit("/", 1)[1]
    council = await session.get(Council, council_id)
    if council is not None and council.origin != origin:
        raise ValueError("that council belongs to another node")
    fields = {
        "name": body["name"],
        "description": body.get("description") or "",
        "mandate": body.get("mandate") or "",
        "language": body["language"],
        "translations": body.get("translations") or {},
        "region": body.get("region") or "",
        "visibility": Visibility.PUBLIC,
        "archived_at": from_iso(body.get("archived_at")),
        "created_at": from_iso(body["created_at"]),
        "updated_at": from_iso(body["updated_at"]),
    }
    if council is None:
        session.add(Council(id=council_id, origin=origin, **fields))
    else:
        for name, value in fields.items():
            setattr(council, name, value)


@update_kind(DELETE, ())
async def apply_delete(session: AsyncSession, envelope: dict[str, Any]) -> None:
    council = await session.get(Council, envelope["subject"].rsplit("/", 1)[1])
    if council is not None and council.origin == envelope["origin"]:
        council.visibility = Visibility.MEMBERS  # withdrawn from the federation: hidden here


@update_kind(DECISION, DECISION_FIELDS)
async def apply_decision(session: AsyncSession, envelope: dict[str, Any]) -> None:
    body, origin = envelope["body"], envelope["origin"]
    council = await session.get(Council, body["council"])
    if council is None or council.origin != origin:
        raise ValueError("a decision of a council this node does not hold")
    decision_id = envelope["subject"].rsplit("/", 1)[1]
    decision = await session.get(CouncilDecision, decision_id)
    fields = {
        "council_id": council.id,
        "decided_on": date.fromisoformat(body["decided_on"]),
        "title": body["title"],
        "text": body.get("text") or "",
        "language": body["language"],
        "translations": body.get("translations") or {},
        "outcome": body["outcome"],
        "votes_for": body.get("votes_for"),
        "votes_against": body.get("votes_against"),
        "votes_abstain": body.get("votes_abstain"),
        "created_at": from_iso(body["created_at"]),
    }
    if decision is None:
        session.add(CouncilDecision(id=decision_id, origin=origin, **fields))
    else:
        for name, value in fields.items():
            setattr(decision, name, value)


@on_purge
async def purge(session: AsyncSession, origin: str) -> None:
    await session.execute(delete(CouncilDecision).where(CouncilDecision.origin == origin))
    await session.execute(delete(Council).where(Council.origin == origin))
