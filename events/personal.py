"""What a member keeps for themselves: followed events and personal feed tokens."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from events.access import load_visible
from events.tables import EventFollow, FeedToken
from server import checks
from server.accounts.access import Viewer, require_member
from server.accounts.secrets import digest, new_token
from server.accounts.service import on_member_deleted
from server.accounts.tables import Member, MemberStatus
from server.dataversion import bump
from server.db import Database, utcnow
from server.errors import Conflict, NotFound


async def follow(db: Database, viewer: Viewer | None, event_id: str, following: bool) -> bool:
    viewer = require_member(viewer)
    async with db.write() as session:
        event = await load_visible(session, viewer, event_id)
        existing = await session.get(EventFollow, (event.id, viewer.member_id))
        if following and existing is None:
            session.add(EventFollow(event_id=event.id, member_id=viewer.member_id))
        elif not following and existing is not None:
            await session.delete(existing)
        else:
            return following
        await bump(session)
    return following


async def create_feed_token(db: Database, viewer: Viewer | None, label: str = "") -> tuple[FeedToken, str]:
    viewer = require_member(viewer)
    label = checks.text(label, "label", max_length=100)
    token = new_token()
    row = FeedToken(member_id=viewer.member_id, token_hash=digest(token), label=label)
    async with db.write() as session:
        session.add(row)
    return row, token


async def revoke_feed_token(db: Database, viewer: Viewer | None, token_id: str) -> FeedToken:
    viewer = require_member(viewer)
    async with db.write() as session:
        row = await session.get(FeedToken, token_id)
        if row is None or row.member_id != viewer.member_id:
            raise NotFound(f"You have no feed token with id '{token_id}'.", field="id")
        if row.revoked_at is not None:
            raise Conflict("This feed token is already revoked.")
        row.revoked_at = utcnow()
        await bump(session)
    return row


async def my_feed_tokens(session: AsyncSession, viewer: Viewer) -> list[FeedToken]:
    rows = await session.scalars(
        select(FeedToken).where(FeedToken.member_id == viewer.member_id).order_by(FeedToken.created_at, FeedToken.id)
    )
    return list(rows)


async def feed_owner(session: AsyncSession, token: str) -> str | None:
    """The active member behind a personal feed token, or ``None`` (unknown, revoked, suspended)."""
    return await session.scalar(
        select(FeedToken.member_id)
        .join(Member, Member.id == FeedToken.member_id)
        .where(
            FeedToken.token_hash == digest(token), FeedToken.revoked_at.is_(None), Member.status == MemberStatus.ACTIVE
        )
    )


@on_member_deleted
async def _forget_departed(session: AsyncSession, member_id: str) -> None:
    await session.execute(delete(EventFollow).where(EventFollow.member_id == member_id))
    await session.execute(
        update(FeedToken)
        .where(FeedToken.member_id == member_id, FeedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
