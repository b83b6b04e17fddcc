"""The rules for petitions and signatures. Counts are stored counters changed in the same
transaction as the signature, under a lock on the petition row, so they are always exact."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events.tables import Event
from schema.councils.service import load_council
from schema.petitions import federated, receipts
from schema.petitions.tables import Petition, PetitionOutcome, PetitionState, Signature
from server import checks, ratelimit
from server.accounts.access import Viewer, require_member, require_role
from server.accounts.service import on_member_deleted
from server.accounts.tables import Role
from server.dataversion import bump
from server.db import Database, utcnow
from server.errors import BadInput, Conflict, Forbidden, NotFound
from server.i18n import language_tag, merge_translations
from server.maintenance import upkeep
from server.settings import Settings

MANAGERS = (Role.ADMIN, Role.ORGANISER)
TRANSLATABLE = ("title", "text")
MAX_THRESHOLDS = 20


def channel(petition_id: str) -> str:
    return f"petition:{petition_id}"


async def tally_message(session: AsyncSession, petition: Petition) -> dict[str, Any]:
    """What subscribers receive: numbers and ids only."""
    return {
        "petition": petition.id,
        "count": petition.signature_count,
        "named": petition.named_count,
        "digest": petition.set_digest or receipts.digest(petition.set_state),
        "crossed": dict(petition.crossed),
        "global": petition.signature_count + await federated.remote_total(session, petition.id),
    }


def _own(petition: Petition) -> None:
    if petition.origin is not None:
        raise Forbidden(f"This petition belongs to the coalition '{petition.origin}'; only its node can change it.")


def is_manager(viewer: Viewer | None) -> bool:
    return viewer is not None and viewer.is_active and viewer.role in MANAGERS


async def load_petition(
    session: AsyncSession, viewer: Viewer | None, petition_id: str, *, lock: bool = False
) -> Petition:
    statement = select(Petition).where(Petition.id == petition_id)
    if lock:
        statement = statement.with_for_update()
    petition = await session.scalar(statement)
    if petition is None or (petition.state == PetitionState.DRAFT and not is_manager(viewer)):
        raise NotFound(f"No petition with id '{petition_id}' that you can see.", field="id")
    return petition


def _thresholds(values: list[int] | None) -> list[int]:
    values = sorted(set(values or []))
    if len(values) > MAX_THRESHOLDS or any(v < 1 or v > 100_000_000 for v in values):
        raise BadInput(f"Thresholds are up to {MAX_THRESHOLDS} counts between 1 and 100,000,000.", field="thresholds")
    return values


def _deadline(value: datetime | None, field: str = "deadline") -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadInput(f"Give '{field}' with a UTC offset, e.g. 2027-03-01T17:00:00+03:00.", field=field)
    return value


async def _fields(session: AsyncSession, viewer: Viewer, settings: Settings, values: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "title" in values:
        fields["title"] = checks.text(values["title"], "title", max_length=300, required=True)
    if "text" in values:
        fields["text"] = checks.text(values["text"], "text", max_length=50_000)
    if "decision_maker" in values:
        fields["decision_maker"] = checks.text(values["decision_maker"], "decisionMaker", max_length=300, required=True)
    if "language" in values:
        fields["language"] = language_tag(values["language"] or settings.default_language)
    if "council_id" in values:
        if values["council_id"]:
            await load_council(session, viewer, values["council_id"])
        fields["council_id"] = values["council_id"] or None
    if "opens_at" in values:
        fields["opens_at"] = _deadline(values["opens_at"], "opensAt")
    if "deadline" in values:
        fields["deadline"] = _deadline(values["deadline"])
    if "thresholds" in values:
        fields["thresholds"] = _thresholds(values["thresholds"])
    if "event_ids" in values:
        ids = sorted(set(values["event_ids"] or []))
        if ids:
            found = set(await session.scalars(select(Event.id).where(Event.id.in_(ids), Event.deleted_at.is_(None))))
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFound(f"No event with id '{missing[0]}'.", field="eventIds")
        fields["event_ids"] = ids
    return fields


def _check_times(petition: Petition) -> None:
    if petition.opens_at is not None and petition.opens_at >= petition.deadline:
        raise BadInput("The petition must open before its deadline.", field="deadline")


async def create_petition(db: Database, settings: Settings, viewer: Viewer | None, **values: Any) -> Petition:
    viewer = require_role(viewer, *MANAGERS)
    if values.get("deadline") is None:
        raise BadInput("A petition needs a 'deadline'.", field="deadline")
    async with db.write() as session:
        fields = await _fields(session, viewer, settings, {"language": None, **values})
        petition = Petition(uid=str(uuid.uuid4()), created_by=viewer.member_id, **fields)
        _check_times(petition)
        petition.set_digest = receipts.digest(petition.set_state)
        session.add(petition)
    return petition


async def update_petition(
    db: Database, settings: Settings, viewer: Viewer | None, petition_id: str, **values: Any
) -> Petition:
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        petition = await load_petition(session, viewer, petition_id, lock=True)
        _own(petition)
        if petition.state != PetitionState.DRAFT:
            raise Conflict("Only a draft can be edited; once open, only its translations can change.")
        for name, value in (await _fields(session, viewer, settings, values)).items():
            setattr(petition, name, value)
        _check_times(petition)
        petition.updated_at = utcnow()
        await bump(session)
    return petition


async def set_translation(
    db: Database, viewer: Viewer | None, petition_id: str, lang: str, **texts: str | None
) -> Petition:
    viewer = require_role(viewer, *MANAGERS)
    lang = language_tag(lang, field="lang")
    for field, value in texts.items():
        if value is not None:
            checks.text(value, field, max_length=300 if field == "title" else 50_000)
    async with db.write() as session:
        petition = await load_petition(session, viewer, petition_id, lock=True)
        _own(petition)
        if lang == petition.language:
            raise BadInput(f"'{lang}' is the petition's original language.", field="lang")
        petition.translations = merge_translations(petition.translations, lang, texts, TRANSLATABLE)
        petition.updated_at = utcnow()
        await bump(session)
        await federated.publish(db, session, petition)
    return petition


async def open_petition(db: Database, viewer: Viewer | None, petition_id: str) -> Petition:
    viewer = require_role(viewer, *MANAGERS)
    async with db.write() as session:
        petition = await load_petition(session, viewer, petition_id, lock=True)
        _own(petition)
        if petition.state != PetitionState.DRAFT:
            raise Conflict(f"The petition is {petition.state}; only a draft can be opened.")
        now = utcnow()
        if petition.deadline <= now:
            raise BadInput("The deadline has passed; set a later one before opening.", field="deadline")
        petition.state = PetitionState.OPEN
        petition.opens_at = petition.opens_at or now
        petition.updated_at = now
        await bump(session)
        await federated.publish(db, session, petition)
    return petition


def _check_outcome(outcome: str | None, response: str | None) -> tuple[str | None, str]:
    if outcome is None:
        return None, ""
    outcome = checks.choice(PetitionOutcome, outcome, "outcome")
    response = checks.text(response, "response", max_length=50_000)
    if outcome == PetitionOutcome.ANSWERED and not response:
        raise BadInput("An answered petition needs the decision-maker's 'response'.", field="response")
    return outcome, response


async def close_petition(
    db: Database, viewer: Viewer | None, petition_id: str, outcome: str | None = None, response: str | None = None
) -> Petition:
    viewer = require_role(viewer, *MANAGERS)
    outcome, response = _check_outcome(outcome, response)
    async with db.write() as session:
        petition = await load_petition(session, viewer, petition_id, lock=True)
        _own(petition)
        if petition.state != PetitionState.OPEN:
            raise Conflict(f"The petition is {petition.state}; only an open petition can be closed.")
        now = utcnow()
        petition.state, petition.closed_at, petition.updated_at = PetitionState.CLOSED, now, now
        petition.outcome, petition.response = outcome, response
        await bump(session)
        await federated.publish(db, session, petition)
        await db.publish(session, channel(petition.id), await tally_message(session, petition))
    return petition


async def set_outcome(
    db: Database, viewer: Viewer | None, petition_id: str, outcome: str, response: str | None
) -> Petition:
    viewer = require_role(viewer, *MANAGERS)
    outcome, response = _check_outcome(outcome, response)
    async with db.write() as session:
        petition = await load_petition(session, viewer, petition_id, lock=True)
        _own(petition)
        if petition.state != PetitionState.CLOSED:
            raise Conflict("Record the outcome once the petition is closed.")
        petition.outcome, petition.response, petition.updated_at = outcome, response, utcnow()
        await federated.publish(db, session, petition)
    return petition


def accepting(petition: Petition, now: datetime) -> str | None:
    """Why the petition does not accept signatures now, or ``None`` when it does."""
    if petition.state == PetitionState.DRAFT:
        return "This petition is still a draft."
    if petition.state == PetitionState.CLOSED:
        return "This petition is closed."
    if petition.opens_at is not None and petition.opens_at > now:
        return f"This petition opens for signatures at {petition.opens_at.isoformat()}."
    if petition.deadline <= now:
        return "The deadline for this petition has passed."
    return None


async def _spend_action(session: AsyncSession, settings: Settings, viewer: Viewer) -> None:
    await ratelimit.spend(
        session,
        f"signing:{viewer.member_id}",
        settings.signing_actions_per_window,
        timedelta(minutes=settings.signing_window_minutes),
        f"Too many signs and withdrawals; wait {settings.signing_window_minutes} minutes and try again.",
    )


def _cross_thresholds(petition: Petition, now: datetime) -> None:
    crossed = dict(petition.crossed)
    for threshold in petition.thresholds:
        if petition.signature_count >= threshold and str(threshold) not in crossed:
            crossed[str(threshold)] = now.replace(microsecond=0).isoformat()
    petition.crossed = crossed


async def sign(
    db: Database, settings: Settings, viewer: Viewer | None, petition_id: str, named: bool
) -> tuple[Petition, str]:
    """Sign once; returns the petition and the signer's receipt (shown once, kept nowhere)."""
    viewer = require_member(viewer)
    try:
        async with db.write() as session:
            petition = await load_petition(session, viewer, petition_id, lock=True)
            now = utcnow()
            reason = accepting(petition, now)
            if reason:
                raise Conflict(reason)
            if await session.scalar(
                select(Signature.id).where(
                    Signature.petition_id == petition.id, Signature.member_id == viewer.member_id
                )
            ):
                raise Conflict("You have already signed this petition.")
            await _spend_action(session, settings, viewer)
            receipt, commitment = receipts.new_receipt(petition.id)
            session.add(
                Signature(petition_id=petition.id, member_id=viewer.member_id, named=named, commitment=commitment)
            )
            petition.signature_count += 1
            petition.named_count += 1 if named else 0
            petition.set_state = receipts.add(petition.set_state, commitment)
            petition.set_digest = receipts.digest(petition.set_state)
            _cross_thresholds(petition, now)
            await session.flush()
            await federated.publish_tally(db, session, petition)
            await db.publish(session, channel(petition.id), await tally_message(session, petition))
    except IntegrityError:
        raise Conflict("You have already signed this petition.") from None
    return petition, receipt


async def withdraw(db: Database, settings: Settings, viewer: Viewer | None, petition_id: str) -> Petition:
    viewer = require_member(viewer)
    async with db.write() as session:
        petition = await load_petition(session, viewer, petition_id, lock=True)
        reason = accepting(petition, utcnow())
        if reason:
            raise Conflict(f"{reason} Signatures can be withdrawn only while it is open.")
        signature = await session.scalar(
            select(Signature).where(Signature.petition_id == petition.id, Signature.member_id == viewer.member_id)
        )
        if signature is None:
            raise NotFound("You have not signed this petition.", field="id")
        await _spend_action(session, settings, viewer)
        await session.delete(signature)
        petition.signature_count -= 1
        petition.named_count -= 1 if signature.named else 0
        petition.set_state = receipts.remove(petition.set_state, signature.commitment)
        petition.set_digest = receipts.digest(petition.set_state)
        await session.flush()
        await federated.publish_tally(db, session, petition)
        await db.publish(session, channel(petition.id), await tally_message(session, petition))
    return petition


async def verify_receipt(db: Database, receipt: str) -> tuple[Petition, bool]:
    petition_id, commitment = receipts.read_receipt(receipt)
    async with db.read() as session:
        petition = await load_petition(session, None, petition_id)
        counted = await session.scalar(
            select(Signature.id).where(Signature.petition_id == petition.id, Signature.commitment == commitment)
        )
    return petition, counted is not None


@upkeep("petitions_unlinked")
async def unlink_expired(db: Database, settings: Settings) -> int:
    """Drop the member link of anonymous signatures once their petition has been closed for the
    configured period; counts, commitments and receipts stay as they are."""
    cutoff = utcnow() - timedelta(days=settings.petition_unlink_days)
    async with db.write() as session:
        due = list(
            await session.scalars(
                select(Petition.id).where(
                    Petition.state == PetitionState.CLOSED, Petition.closed_at <= cutoff, Petition.unlinked_at.is_(None)
                )
            )
        )
        if not due:
            return 0
        await session.execute(
            update(Signature).where(Signature.petition_id.in_(due), Signature.named.is_(False)).values(member_id=None)
        )
        await session.execute(update(Petition).where(Petition.id.in_(due)).values(unlinked_at=utcnow()))
    return len(due)


@on_member_deleted
async def _unlink_departed(session: AsyncSession, member_id: str) -> None:
    """A departed member's signatures still count; nothing points to them any more."""
    rows = await session.execute(
        select(Petition, Signature)
        .join(Signature, Signature.petition_id == Petition.id)
        .where(Signature.member_id == member_id)
        .with_for_update()
    )
    for petition, signature in rows.all():
        if signature.named:
            petition.named_count -= 1
        signature.member_id, signature.named = None, False
