"""Petitions over GraphQL, with the live tally subscription."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import select

from schema.common import OriginScope, Translation, given, translation_list
from schema.context import Info
from schema.pagination import Connection, Edge, PageInfo, connection, keyset_page, page_size
from schema.petitions import service
from schema.petitions.federated import remote_total
from schema.petitions.tables import Petition, PetitionOutcome, PetitionState, PetitionTally, Signature
from server.accounts.tables import Member
from server.bus import RESYNC
from server.db import utcnow
from server.errors import BadInput
from server.i18n import translated

StateEnum = strawberry.enum(PetitionState, name="PetitionState")
OutcomeEnum = strawberry.enum(PetitionOutcome, name="PetitionOutcome")
COALESCE_SECONDS = 0.1


@strawberry.type
class Threshold:
    count: int
    crossed_at: datetime | None


def _thresholds(thresholds: list[int], crossed: dict[str, str]) -> list[Threshold]:
    return [
        Threshold(count=t, crossed_at=datetime.fromisoformat(crossed[str(t)]) if str(t) in crossed else None)
        for t in thresholds
    ]


@strawberry.type
class MySignature:
    named: bool


@strawberry.type(description="One coalition's share of a petition's signatures, from its signed tally.")
class CoalitionTally:
    coalition: str
    signature_count: int
    signature_set_digest: str
    as_of: datetime


@strawberry.type(name="Petition")
class PetitionNode:
    id: strawberry.ID
    uid: str
    language: str
    decision_maker: str
    council_id: strawberry.ID | None
    state: StateEnum
    opens_at: datetime | None
    deadline: datetime
    outcome: OutcomeEnum | None
    response: str
    event_ids: list[strawberry.ID]
    signature_count: int
    named_count: int
    signature_set_digest: str = strawberry.field(
        description="MuHash digest of all receipt commitments; /petitions/{id}/commitments lists them."
    )
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    row: strawberry.Private[Petition]

    @classmethod
    def of(cls, p: Petition) -> PetitionNode:
        return cls(
            id=strawberry.ID(p.id),
            uid=p.uid,
            language=p.language,
            decision_maker=p.decision_maker,
            council_id=p.council_id,
            state=PetitionState(p.state),
            opens_at=p.opens_at,
            deadline=p.deadline,
            outcome=PetitionOutcome(p.outcome) if p.outcome else None,
            response=p.response,
            event_ids=[strawberry.ID(i) for i in p.event_ids],
            signature_count=p.signature_count,
            named_count=p.named_count,
            signature_set_digest=p.set_digest,
            created_at=p.created_at,
            updated_at=p.updated_at,
            closed_at=p.closed_at,
            row=p,
        )

    @strawberry.field
    def title(self, lang: str | None = None) -> str:
        return translated(self.row.title, self.row.translations, "title", lang) or ""

    @strawberry.field
    def text(self, lang: str | None = None) -> str:
        return translated(self.row.text, self.row.translations, "text", lang) or ""

    @strawberry.field
    def translations(self) -> list[Translation]:
        return translation_list(self.row.translations)

    @strawberry.field
    def thresholds(self) -> list[Threshold]:
        return _thresholds(self.row.thresholds, self.row.crossed)

    @strawberry.field(description="The coalition (node id) that owns this petition.")
    def origin(self, info: Info) -> str:
        return self.row.origin or info.context.settings.node_id

    @strawberry.field(description="Every coalition's signatures: this node's count plus the latest tally of each peer.")
    async def global_count(self, info: Info) -> int:
        async with info.context.db.read() as session:
            return self.row.signature_count + await remote_total(session, self.row.id)

    @strawberry.field(description="The global count, coalition by coalition, with how fresh each figure is.")
    async def tallies(self, info: Info) -> list[CoalitionTally]:
        async with info.context.db.read() as session:
            rows = list(
                await session.scalars(
                    select(PetitionTally)
                    .where(PetitionTally.petition_id == self.row.id)
                    .order_by(PetitionTally.contributor)
                )
            )
        own = CoalitionTally(
            coalition=info.context.settings.node_id,
            signature_count=self.row.signature_count,
            signature_set_digest=self.row.set_digest,
            as_of=self.row.updated_at,
        )
        return [own] + [
            CoalitionTally(
                coalition=r.contributor, signature_count=r.count, signature_set_digest=r.digest, as_of=r.updated_at
            )
            for r in rows
        ]

    @strawberry.field(description="Whether signatures are accepted right now.")
    def accepting_signatures(self) -> bool:
        return service.accepting(self.row, utcnow()) is None

    @strawberry.field(description="Your own signature, while it is linked to you.")
    async def my_signature(self, info: Info) -> MySignature | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        async with info.context.db.read() as session:
            named = await session.scalar(
                select(Signature.named).where(
                    Signature.petition_id == self.row.id, Signature.member_id == viewer.member_id
                )
            )
        return None if named is None else MySignature(named=named)

    @strawberry.field(description="Handles of those who chose to sign by name, alphabetically.")
    async def named_signatories(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[str]:
        size = page_size(first)
        statement = (
            select(Member.handle)
            .join(Signature, Signature.member_id == Member.id)
            .where(Signature.petition_id == self.row.id, Signature.named.is_(True), Member.handle.is_not(None))
            .order_by(Member.handle_key, Member.handle)
            .limit(size + 1)
        )
        if after:
            try:
                last = base64.urlsafe_b64decode(after.encode()).decode()
            except ValueError:
                raise BadInput("'after' is not a cursor from this list.", field="after") from None
            statement = statement.where(Member.handle_key > last)
        async with info.context.db.read() as session:
            handles = list(await session.scalars(statement))
        page = handles[:size]
        edges = [Edge(cursor=base64.urlsafe_b64encode(h.casefold().encode()).decode(), node=h) for h in page]
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=len(handles) > size, end_cursor=edges[-1].cursor if edges else None),
        )


@strawberry.type
class SignResult:
    receipt: str = strawberry.field(
        description="Keep this private value: verifyReceipt later shows your signature is still counted, "
        "without saying who you are. It is shown once and stored nowhere."
    )
    petition: PetitionNode


@strawberry.type
class ReceiptCheck:
    petition_id: strawberry.ID
    counted: bool
    signature_count: int
    signature_set_digest: str


@strawberry.type
class Tally:
    petition_id: strawberry.ID
    global_count: int = strawberry.field(description="Signatures on every coalition's node, from their tallies.")
    signature_count: int
    named_count: int
    signature_set_digest: str
    thresholds: list[Threshold]


def _tally(message: dict[str, Any], thresholds: list[int]) -> Tally:
    return Tally(
        petition_id=strawberry.ID(message["petition"]),
        global_count=message["global"],
        signature_count=message["count"],
        named_count=message["named"],
        signature_set_digest=message["digest"],
        thresholds=_thresholds(thresholds, message["crossed"]),
    )


@strawberry.enum
class PetitionFilter(Enum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


@strawberry.input
class PetitionInput:
    title: str
    decision_maker: str
    deadline: datetime
    text: str = ""
    language: str | None = None
    council_id: strawberry.ID | None = strawberry.field(default=None, description="Owner; none means the coalition.")
    opens_at: datetime | None = None
    thresholds: list[int] | None = None
    event_ids: list[strawberry.ID] | None = None


@strawberry.input
class PetitionChanges:
    title: str | None = None
    decision_maker: str | None = None
    deadline: datetime | None = None
    text: str | None = None
    language: str | None = None
    council_id: strawberry.ID | None = None
    opens_at: datetime | None = None
    thresholds: list[int] | None = None
    event_ids: list[strawberry.ID] | None = None


@strawberry.type
class PetitionQuery:
    @strawberry.field(description="Petitions, newest first; drafts only for organisers and admins.")
    async def petitions(
        self,
        info: Info,
        state: PetitionFilter | None = None,
        council_id: strawberry.ID | None = None,
        language: str | None = None,
        scope: OriginScope = OriginScope.ALL,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PetitionNode]:
        statement = select(Petition)
        if not service.is_manager(info.context.viewer):
            statement = statement.where(Petition.state != PetitionState.DRAFT)
        if state is not None:
            statement = statement.where(Petition.state == state.value)
        if council_id:
            statement = statement.where(Petition.council_id == council_id)
        if language:
            statement = statement.where(Petition.language == language)
        if scope != OriginScope.ALL:
            local = Petition.origin.is_(None)
            statement = statement.where(local if scope == OriginScope.LOCAL else ~local)
        async with info.context.db.read() as session:
            rows, more = await keyset_page(
                session, statement, Petition.created_at, Petition.id, first, after, newest_first=True
            )
        petitions = [row[0] for row in rows]
        return connection([PetitionNode.of(p) for p in petitions], [(p.created_at, p.id) for p in petitions], more)

    @strawberry.field
    async def petition(self, info: Info, id: strawberry.ID) -> PetitionNode:
        async with info.context.db.read() as session:
            return PetitionNode.of(await service.load_petition(session, info.context.viewer, id))

    @strawberry.field(description="Check a signing receipt: is that signature still counted?")
    async def verify_receipt(self, info: Info, receipt: str) -> ReceiptCheck:
        petition, counted = await service.verify_receipt(info.context.db, receipt)
        return ReceiptCheck(
            petition_id=strawberry.ID(petition.id),
            counted=counted,
            signature_count=petition.signature_count,
            signature_set_digest=petition.set_digest,
        )


@strawberry.type
class PetitionMutation:
    @strawberry.mutation(description="Draft a petition (organisers and admins).")
    async def create_petition(self, info: Info, input: PetitionInput) -> PetitionNode:
        ctx = info.context
        return PetitionNode.of(await service.create_petition(ctx.db, ctx.settings, ctx.viewer, **given(input)))

    @strawberry.mutation(description="Edit a draft.")
    async def update_petition(self, info: Info, id: strawberry.ID, changes: PetitionChanges) -> PetitionNode:
        ctx = info.context
        return PetitionNode.of(await service.update_petition(ctx.db, ctx.settings, ctx.viewer, id, **given(changes)))

    @strawberry.mutation(description="Set or remove (empty text) a translation; allowed in every state.")
    async def set_petition_translation(
        self, info: Info, id: strawberry.ID, lang: str, title: str | None = None, text: str | None = None
    ) -> PetitionNode:
        petition = await service.set_translation(info.context.db, info.context.viewer, id, lang, title=title, text=text)
        return PetitionNode.of(petition)

    @strawberry.mutation(description="Open a draft for signatures.")
    async def open_petition(self, info: Info, id: strawberry.ID) -> PetitionNode:
        return PetitionNode.of(await service.open_petition(info.context.db, info.context.viewer, id))

    @strawberry.mutation(description="Close; the outcome can be given now or later.")
    async def close_petition(
        self, info: Info, id: strawberry.ID, outcome: OutcomeEnum | None = None, response: str | None = None
    ) -> PetitionNode:
        petition = await service.close_petition(
            info.context.db, info.context.viewer, id, outcome.value if outcome else None, response
        )
        return PetitionNode.of(petition)

    @strawberry.mutation(description="Record what happened after closing.")
    async def set_petition_outcome(
        self, info: Info, id: strawberry.ID, outcome: OutcomeEnum, response: str | None = None
    ) -> PetitionNode:
        return PetitionNode.of(
            await service.set_outcome(info.context.db, info.context.viewer, id, outcome.value, response)
        )

    @strawberry.mutation(
        description="Sign once: named (your handle is listed) or anonymous (counted, never linked to you publicly)."
    )
    async def sign_petition(self, info: Info, id: strawberry.ID, named: bool = False) -> SignResult:
        ctx = info.context
        petition, receipt = await service.sign(ctx.db, ctx.settings, ctx.viewer, id, named)
        return SignResult(receipt=receipt, petition=PetitionNode.of(petition))

    @strawberry.mutation(description="Withdraw your signature while the petition is open.")
    async def withdraw_signature(self, info: Info, id: strawberry.ID) -> PetitionNode:
        ctx = info.context
        return PetitionNode.of(await service.withdraw(ctx.db, ctx.settings, ctx.viewer, id))


@strawberry.type
class PetitionSubscription:
    @strawberry.subscription(description="The count and thresholds, now and after every change (bursts coalesced).")
    async def petition_tally(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Tally, None]:
        db = info.context.db
        async with db.read() as session:
            petition = await service.load_petition(session, info.context.viewer, id)
            first = await service.tally_message(session, petition)
        thresholds = list(petition.thresholds)
        async with db.bus.subscribe(service.channel(petition.id)) as subscription:
            yield _tally(first, thresholds)
            while True:
                message = await subscription.get()
                await asyncio.sleep(COALESCE_SECONDS)  # let a burst settle, then send the newest
                latest = [message, *subscription.drain()][-1]
                if RESYNC in (message, latest):
                    async with db.read() as session:
                        latest = await service.tally_message(
                            session, await service.load_petition(session, None, petition.id)
                        )
                yield _tally(latest, thresholds)
