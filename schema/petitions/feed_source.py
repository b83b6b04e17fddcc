"""Petition deadlines in the calendar feeds: in the public feed, and in signers' personal feeds."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.feeds import FeedItem, FeedScope, feed_source
from schema.petitions.tables import Petition, PetitionState, Signature
from server.settings import Settings

DEADLINE_LENGTH = timedelta(minutes=30)
TITLE_PREFIX = {
    "en": "Petition deadline",
    "sw": "Mwisho wa ombi",
    "fr": "Date limite de la pétition",
    "es": "Plazo de la petición",
    "pt": "Prazo do abaixo-assinado",
}


@feed_source
async def petition_deadlines(session: AsyncSession, settings: Settings, scope: FeedScope) -> list[FeedItem]:
    if scope.kind not in ("public", "personal"):
        return []
    statement = select(Petition).where(
        Petition.state != PetitionState.DRAFT,
        Petition.deadline >= scope.window_start,
        Petition.deadline < scope.window_end,
    )
    if scope.kind == "personal":
        statement = statement.where(
            Petition.id.in_(select(Signature.petition_id).where(Signature.member_id == scope.key))
        )
    items = []
    for petition in await session.scalars(statement):
        prefix = TITLE_PREFIX.get(petition.language.split("-")[0], TITLE_PREFIX["en"])
        translations = {
            lang: {"title": f"{TITLE_PREFIX.get(lang.split('-')[0], TITLE_PREFIX['en'])}: {texts['title']}"}
            for lang, texts in petition.translations.items()
            if texts.get("title")
        }
        start = petition.deadline.replace(tzinfo=None)
        items.append(
            FeedItem(
                uid=f"{petition.uid}-deadline",
                sequence=0,
                title=f"{prefix}: {petition.title}",
                description=f"Addressed to {petition.decision_maker}.\n\n{settings.base_url}/petitions/{petition.id}",
                language=petition.language,
                translations=translations,
                start_local=start - DEADLINE_LENGTH,
                end_local=start,
                timezone="UTC",
                all_day=False,
                created=petition.created_at,
                last_modified=petition.updated_at,
                url=f"{settings.base_url}/petitions/{petition.id}",
                status="cancelled" if petition.outcome == "withdrawn" else "confirmed",
                categories=("Petition deadline",),
            )
        )
    return items
