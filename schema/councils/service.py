"""The rules for councils, seats and decisions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schema.councils import federated
from schema.councils.tables import (
    Council,
    CouncilDecision,
    CouncilSeat,
    Outcome,
    SeatPosition,
    Visibility,
)
from server import checks
from server.accounts.access import Viewer, can_see_members_only, require_role
from server.accounts.service import get_member, on_member_deleted
from server.accounts.tables import Role
from server.dataversion import bump
from server.db import Database, utcnow
from server.errors import BadInput, Conflict, Forbidden, NotFound
from server.i18n import language_tag, merge_translations
from server.settings import Settings

MANAGERS = (Role.ADMIN, Role.ORGANISER)
TRANSLATABLE = ("name", "description", "mandate")
DECISION_TRANSLATABLE = ("title", "text")


def visible_councils(viewer: Viewer | None):
    """A filter for the councils this viewer may see."""
    if can_see_members_only(viewer):
        return True
    return Council.visibility == Visibility.PUBLIC


def _own(council: Council) -> None:
    if council.origin is not None:
        raise Forbidden(f"This council belongs to the coalition '{council.origin}'; only its node can change it.")


async def load_council(session: AsyncSession, viewer: Viewer | None, council_id: str) -> Council:
    council = await session.get(Council, council_id)
    if council is None or (council.visibility != Visibility.PUBLIC and not can_see_members_only(viewer)):
        raise NotFound(f"No council with id '{council_id}' that you can see.", field="id")
    return council


def _today() -> date:
    return utcnow().date()


def _council_fields(values: Mapping[str, object]) -> dict[str, object]:
    checked: dict[str, object] = {}
    if "name" in values:
        checked["name"] = checks.text(values["name"], "name", max_length=200, required=True)
    for field in ("description", "mandate"):
        if field in values:
            checked[field] = checks.text(values[field], field, max_length=10_000)
    if "region" in values:
        checked["region"] = checks.text(values["region"], "region", max_length=100)
    if "visibility" in values:
        checked["visibility"] = checks.choice(Visibility, values["visibility"], "visibility")
    if "language" in values:
        checked["language"] = language_tag(values["language"])
    return checked


async def create_council(db: Database, settings: Settings, viewer: Viewer | None, **values) -> Council:
    viewer = require_role(viewer, *MANAGERS)
    fields = _council_fields({"language": settings.default_language, **values})
    council = Council(created_by=viewer.member_id, **fields)
    async with db.write() as session:
        session.add(council)
        await session.flush()
        await bump(session)
        await federated.publish(db, session, council)
    return council


async def update_council(db: Database, viewer: Viewer | None, council_id: str, **values) -> Council:
    viewer = require_role(viewer, *MANAGERS)
    fields = _council_fields({key: value for key, value in values.items() if value is not None})
    async with db.write() as session:
        council = await load_council(session, viewer, council_id)
        _own(council)
        for name, value in fields.items():
            setattr(council, name, value)
        council.updated_at = utcnow()
        await bump(session)
        await federated.publish(db, session, council)
    return council


async def set_council_translation(
    db: Database, viewer: Viewer | None, council_id: str, lang: str, **texts: str | None
) -> Council:
    viewer = require_role(viewer, *MANAGERS)
    lang = language_tag(lang, field="lang")
    limits = {"name": 200, "description": 10_000, "mandate": 10_000}
    for field, value in texts.items():
        if value is not None:
            checks.text(value, field, max_length=limits[field])
    async with db.write() as session:
        council = await load_council(session, viewer, council_id)
        _own(council)
        if lang == council.language:
            raise BadInput(
                f"'{lang}' is the council's original language; edit the council itself instead.",
                field="lang",
            )
        council.translations = merge_translations(council.translations, lang, texts, TRANSLATABLE)
        council.updated_at = utcnow()
        await bump(session)
        await federated.publish(db, session, council)
    return council


async def set_archived(db: Database, viewer: Viewer | None, council_id: str, archived: bool) -> Council:
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        council = await load_council(session, viewer, council_id)
        _own(council)
        if archived == (council.archived_at is not None):
            state = "archived" if archived else "not archived"
            raise Conflict(f"The council is already {state}.")
        council.archived_at = utcnow() if archived else None
        council.updated_at = utcnow()
        await bump(session)
        await federated.publish(db, session, council)
    return council


def _active(council: Council) -> None:
    _own(council)
    if council.archived_at is not None:
        raise Conflict("The council is archived; unarchive it before changing its seats or decisions.")


async def add_seat(
    db: Database,
    viewer: Viewer | None,
    council_id: str,
    member_id: str,
    position: str = SeatPosition.MEMBER,
    title: str | None = None,
    term_start: date | None = None,
    term_end: date | None = None,
) -> CouncilSeat:
    viewer = require_role(viewer, *MANAGERS)
    position = checks.choice(SeatPosition, position, "position")
    title = checks.text(title, "title", max_length=100) or None
    if position == SeatPosition.CUSTOM and not title:
        raise BadInput("A custom position needs a 'title', e.g. 'Treasurer'.", field="title")
    term_start = term_start or _today()
    checks.date_range(term_start, term_end, start_field="termStart", end_field="termEnd")
    async with db.write() as session:
        council = await load_council(session, viewer, council_id)
        _active(council)
        member = await get_member(session, member_id)
        if member.status != "active":
            raise Conflict("A suspended member cannot take a seat; reactivate them first.", field="memberId")
        overlapping = await session.scalar(
            select(CouncilSeat.id).where(
                CouncilSeat.council_id == council.id,
                CouncilSeat.member_id == member.id,
                or_(CouncilSeat.term_end.is_(None), CouncilSeat.term_end > term_start),
                *([CouncilSeat.term_start < term_end] if term_end else []),
            )
        )
        if overlapping:
            raise Conflict(
                f"{member.handle} already holds a seat on this council in that period; end it first.",
                field="memberId",
            )
        seat = CouncilSeat(
            council_id=council.id,
            member_id=member.id,
            position=position,
            title=title,
            term_start=term_start,
            term_end=term_end,
        )
        session.add(seat)
        council.updated_at = utcnow()
        await bump(session)  # seats decide whose personal feeds show the council's meetings
    return seat


async def end_seat(db: Database, viewer: Viewer | None, seat_id: str, term_end: date | None = None) -> CouncilSeat:
    viewer = require_role(viewer, *MANAGERS)
    term_end = term_end or _today()
    async with db.write() as session:
        seat = await session.get(CouncilSeat, seat_id)
        if seat is None:
            raise NotFound(f"No seat with id '{seat_id}'.", field="seatId")
        council = await load_council(session, viewer, seat.council_id)
        checks.date_range(seat.term_start, term_end, start_field="termStart", end_field="termEnd")
        if seat.term_end is not None and seat.term_end <= term_end:
            raise Conflict(f"This seat already ended on {seat.term_end}.")
        seat.term_end = term_end
        council.updated_at = utcnow()
        await bump(session)
    return seat


async def record_decision(
    db: Database,
    settings: Settings,
    viewer: Viewer | None,
    council_id: str,
    decided_on: date,
    title: str,
    outcome: str,
    text: str | None = None,
    language: str | None = None,
    votes_for: int | None = None,
    votes_against: int | None = None,
    votes_abstain: int | None = None,
) -> CouncilDecision:
    viewer = require_role(viewer, *MANAGERS)
    decision = CouncilDecision(
        council_id=council_id,
        decided_on=decided_on,
        title=checks.text(title, "title", max_length=300, required=True),
        text=checks.text(text, "text", max_length=50_000),
        language=language_tag(language or settings.default_language),
        outcome=checks.choice(Outcome, outcome, "outcome"),
        votes_for=checks.count(votes_for, "votesFor"),
        votes_against=checks.count(votes_against, "votesAgainst"),
        votes_abstain=checks.count(votes_abstain, "votesAbstain"),
        recorded_by=viewer.member_id,
    )
    async with db.write() as session:
        council = await load_council(session, viewer, council_id)
        _active(council)
        session.add(decision)
        await session.flush()
        await federated.publish_decision(db, session, council, decision)
    return decision


@on_member_deleted
async def _end_seats_of_departed(session: AsyncSession, member_id: str) -> None:
    today = _today()
    await session.execute(delete(CouncilSeat).where(CouncilSeat.member_id == member_id, CouncilSeat.term_start > today))
    await session.execute(
        update(CouncilSeat)
        .where(
            CouncilSeat.member_id == member_id,
            or_(CouncilSeat.term_end.is_(None), CouncilSeat.term_end > today),
        )
        .values(term_end=today)
    )
    await bump(session)
