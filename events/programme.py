"""Conference programmes: speakers, listed only once they consent."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from events.access import load_visible, require_editor
from events.tables import Speaker
from server import checks
from server.accounts.access import Viewer, require_member, require_role
from server.accounts.service import get_member, on_member_deleted
from server.accounts.tables import Role
from server.dataversion import bump
from server.db import Database
from server.errors import BadInput, Forbidden, NotFound


async def add_speaker(
    db: Database,
    viewer: Viewer | None,
    event_id: str,
    member_id: str | None = None,
    name: str | None = None,
    bio: str = "",
    consent_confirmed: bool = False,
) -> Speaker:
    """A member speaker is listed after they consent themselves; for a guest, the organiser
    confirms that the guest agreed to be listed."""
    viewer = require_role(viewer, Role.ADMIN, Role.ORGANISER)
    name = checks.text(name, "name", max_length=200) or None
    bio = checks.text(bio, "bio", max_length=2_000)
    if (member_id is None) == (name is None):
        raise BadInput("Give either a member's id or a guest speaker's name.", field="memberId")
    if member_id is not None and consent_confirmed:
        raise BadInput("Members give their own consent with setSpeakerConsent.", field="consentConfirmed")
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id)
        require_editor(viewer, event)
        if member_id is not None:
            await get_member(session, member_id)
        speaker = Speaker(event_id=event.id, member_id=member_id, name=name, bio=bio, consented=consent_confirmed)
        session.add(speaker)
        await bump(session)
    return speaker


async def set_consent(db: Database, viewer: Viewer | None, speaker_id: str, consent: bool) -> Speaker:
    viewer = require_member(viewer)
    async with db.write() as session:
        speaker = await session.get(Speaker, speaker_id)
        if speaker is None:
            raise NotFound(f"No speaker entry with id '{speaker_id}'.", field="speakerId")
        if speaker.member_id != viewer.member_id:
            raise Forbidden("Only the speaker can give or withdraw their consent.")
        speaker.consented = consent
        await bump(session)
    return speaker


async def remove_speaker(db: Database, viewer: Viewer | None, speaker_id: str) -> bool:
    viewer = require_member(viewer)
    async with db.write() as session:
        speaker = await session.get(Speaker, speaker_id)
        if speaker is None:
            raise NotFound(f"No speaker entry with id '{speaker_id}'.", field="speakerId")
        if speaker.member_id != viewer.member_id:
            require_role(viewer, Role.ADMIN, Role.ORGANISER)
            require_editor(viewer, await load_visible(session, viewer, speaker.event_id))
        await session.delete(speaker)
        await bump(session)
    return True


@on_member_deleted
async def _unlist_departed(session: AsyncSession, member_id: str) -> None:
    await session.execute(delete(Speaker).where(Speaker.member_id == member_id))
