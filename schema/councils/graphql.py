from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import strawberry
from sqlalchemy import select
from strawberry.dataloader import DataLoader

from schema.common import OriginScope, Translation, given, translation_list
from schema.context import Context, Info
from schema.councils import service
from schema.councils.tables import (
    Council,
    CouncilDecision,
    CouncilSeat,
    Outcome,
    SeatPosition,
    Visibility,
)
from schema.pagination import Connection, connection, keyset_page
from server.accounts.tables import FORMER_MEMBER, Member
from server.db import utcnow
from server.i18n import translated

VisibilityEnum = strawberry.enum(Visibility, name="Visibility")
SeatPositionEnum = strawberry.enum(SeatPosition, name="SeatPosition")
OutcomeEnum = strawberry.enum(Outcome, name="DecisionOutcome")


@strawberry.type
class Seat:
    id: strawberry.ID
    holder: str = strawberry.field(description="The seat holder's handle ('former member' once deleted).")
    position: SeatPositionEnum
    title: str | None = strawberry.field(description="The custom title, for position CUSTOM.")
    term_start: date
    term_end: date | None = strawberry.field(description="The day the seat ended (or will end); null while open.")
    current: bool

    @classmethod
    def of(cls, seat: CouncilSeat, handle: str | None, today: date) -> Seat:
        return cls(
            id=strawberry.ID(seat.id),
            holder=handle or FORMER_MEMBER,
            position=SeatPosition(seat.position),
            title=seat.title,
            term_start=seat.term_start,
            term_end=seat.term_end,
            current=seat.term_start <= today and (seat.term_end is None or seat.term_end > today),
        )


@strawberry.type
class Decision:
    id: strawberry.ID
    council_id: strawberry.ID
    decided_on: date
    language: str
    outcome: OutcomeEnum
    votes_for: int | None
    votes_against: int | None
    votes_abstain: int | None
    recorded_by: str
    created_at: datetime
    _title: strawberry.Private[str]
    _text: strawberry.Private[str]
    _translations: strawberry.Private[dict]

    @strawberry.field
    def title(self, lang: str | None = None) -> str:
        return translated(self._title, self._translations, "title", lang) or ""

    @strawberry.field
    def text(self, lang: str | None = None) -> str:
        return translated(self._text, self._translations, "text", lang) or ""

    @classmethod
    def of(cls, row: CouncilDecision, handle: str | None) -> Decision:
        return cls(
            id=strawberry.ID(row.id),
            council_id=strawberry.ID(row.council_id),
            decided_on=row.decided_on,
            language=row.language,
            outcome=Outcome(row.outcome),
            votes_for=row.votes_for,
            votes_against=row.votes_against,
            votes_abstain=row.votes_abstain,
            recorded_by=handle or FORMER_MEMBER,
            created_at=row.created_at,
            _title=row.title,
            _text=row.text,
            _translations=row.translations,
        )


def _seats_loader(context: Context) -> DataLoader[str, list[tuple[CouncilSeat, str | None]]]:
    async def load(council_ids: list[str]) -> list[list[tuple[CouncilSeat, str | None]]]:
        found: dict[str, list[tuple[CouncilSeat, str | None]]] = defaultdict(list)
        async with context.db.read() as session:
            rows = await session.execute(
                select(CouncilSeat, Member.handle)
                .join(Member, Member.id == CouncilSeat.member_id)
                .where(CouncilSeat.council_id.in_(council_ids))
                .order_by(CouncilSeat.term_start, CouncilSeat.created_at, CouncilSeat.id)
            )
            for seat, handle in rows:
                found[seat.council_id].append((seat, handle))
        return [found[council_id] for council_id in council_ids]

    return DataLoader(load_fn=load)


@strawberry.type(name="Council")
class CouncilNode:
    id: strawberry.ID
    language: str = strawberry.field(description="The original language of the council's texts.")
    region: str
    visibility: VisibilityEnum
    archived: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    _name: strawberry.Private[str]
    _description: strawberry.Private[str]
    _mandate: strawberry.Private[str]
    _translations: strawberry.Private[dict]
    _origin: strawberry.Private[str | None]

    @strawberry.field(description="The coalition (node id) that runs this council.")
    def origin(self, info: Info) -> str:
        return self._origin or info.context.settings.node_id

    @strawberry.field(description="In the language asked for, falling back to the original.")
    def name(self, lang: str | None = None) -> str:
        return translated(self._name, self._translations, "name", lang) or ""

    @strawberry.field
    def description(self, lang: str | None = None) -> str:
        return translated(self._description, self._translations, "description", lang) or ""

    @strawberry.field
    def mandate(self, lang: str | None = None) -> str:
        return translated(self._mandate, self._translations, "mandate", lang) or ""

    @strawberry.field
    def translations(self) -> list[Translation]:
        return translation_list(self._translations)

    @strawberry.field(description="Current seats; with includeEnded, the whole history.")
    async def seats(self, info: Info, include_ended: bool = False) -> list[Seat]:
        rows = await info.context.loader("council_seats", _seats_loader).load(self.id)
        today = utcnow().date()
        seats = [Seat.of(seat, handle, today) for seat, handle in rows]
        return seats if include_ended else [seat for seat in seats if seat.current]

    @strawberry.field(description="Decisions, oldest first.")
    async def decisions(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Decision]:
        statement = (
            select(CouncilDecision, Member.handle)
            .outerjoin(Member, Member.id == CouncilDecision.recorded_by)
            .where(CouncilDecision.council_id == self.id)
        )
        async with info.context.db.read() as session:
            rows, more = await keyset_page(
                session, statement, CouncilDecision.created_at, CouncilDecision.id, first, after
            )
        return connection(
            [Decision.of(row, handle) for row, handle in rows],
            [(row.created_at, row.id) for row, _ in rows],
            more,
        )

    @classmethod
    def of(cls, row: Council) -> CouncilNode:
        return cls(
            id=strawberry.ID(row.id),
            language=row.language,
            region=row.region,
            visibility=Visibility(row.visibility),
            archived=row.archived_at is not None,
            archived_at=row.archived_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            _name=row.name,
            _description=row.description,
            _mandate=row.mandate,
            _translations=row.translations,
            _origin=row.origin,
        )


@strawberry.input
class CouncilInput:
    name: str
    description: str = ""
    mandate: str = ""
    region: str = ""
    visibility: VisibilityEnum = Visibility.PUBLIC
    language: str | None = strawberry.field(default=None, description="Defaults to the node's language.")


@strawberry.input
class CouncilChanges:
    name: str | None = None
    description: str | None = None
    mandate: str | None = None
    region: str | None = None
    visibility: VisibilityEnum | None = None
    language: str | None = None


@strawberry.input
class SeatInput:
    council_id: strawberry.ID
    member_id: strawberry.ID
    position: SeatPositionEnum = SeatPosition.MEMBER
    title: str | None = None
    term_start: date | None = strawberry.field(default=None, description="Defaults to today.")
    term_end: date | None = None


@strawberry.input
class DecisionInput:
    council_id: strawberry.ID
    decided_on: date
    title: str
    outcome: OutcomeEnum
    text: str | None = None
    language: str | None = None
    votes_for: int | None = None
    votes_against: int | None = None
    votes_abstain: int | None = None


@strawberry.type
class CouncilQuery:
    @strawberry.field(description="Councils you may see, oldest first.")
    async def councils(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_archived: bool = False,
        scope: OriginScope = OriginScope.ALL,
    ) -> Connection[CouncilNode]:
        statement = select(Council).where(service.visible_councils(info.context.viewer))
        if scope != OriginScope.ALL:
            local = Council.origin.is_(None)
            statement = statement.where(local if scope == OriginScope.LOCAL else ~local)
        if not include_archived:
            statement = statement.where(Council.archived_at.is_(None))
        async with info.context.db.read() as session:
            rows, more = await keyset_page(session, statement, Council.created_at, Council.id, first, after)
        councils = [row[0] for row in rows]
        return connection([CouncilNode.of(c) for c in councils], [(c.created_at, c.id) for c in councils], more)

    @strawberry.field
    async def council(self, info: Info, id: strawberry.ID) -> CouncilNode:
        async with info.context.db.read() as session:
            return CouncilNode.of(await service.load_council(session, info.context.viewer, id))


@strawberry.type
class CouncilMutation:
    @strawberry.mutation(description="Create a council (organisers and admins).")
    async def create_council(self, info: Info, input: CouncilInput) -> CouncilNode:
        ctx = info.context
        values = given(input)
        return CouncilNode.of(await service.create_council(ctx.db, ctx.settings, ctx.viewer, **values))

    @strawberry.mutation(description="Change a council; fields left out stay as they are.")
    async def update_council(self, info: Info, id: strawberry.ID, changes: CouncilChanges) -> CouncilNode:
        return CouncilNode.of(await service.update_council(info.context.db, info.context.viewer, id, **given(changes)))

    @strawberry.mutation(description="Set or remove (empty text) a council's texts in another language.")
    async def set_council_translation(
        self,
        info: Info,
        id: strawberry.ID,
        lang: str,
        name: str | None = None,
        description: str | None = None,
        mandate: str | None = None,
    ) -> CouncilNode:
        council = await service.set_council_translation(
            info.context.db, info.context.viewer, id, lang, name=name, description=description, mandate=mandate
        )
        return CouncilNode.of(council)

    @strawberry.mutation(description="Archive a council: it keeps its history and leaves the default lists.")
    async def archive_council(self, info: Info, id: strawberry.ID) -> CouncilNode:
        return CouncilNode.of(await service.set_archived(info.context.db, info.context.viewer, id, True))

    @strawberry.mutation
    async def unarchive_council(self, info: Info, id: strawberry.ID) -> CouncilNode:
        return CouncilNode.of(await service.set_archived(info.context.db, info.context.viewer, id, False))

    @strawberry.mutation(description="Give a member a seat on a council.")
    async def add_council_seat(self, info: Info, input: SeatInput) -> Seat:
        seat = await service.add_seat(info.context.db, info.context.viewer, **dict(vars(input)))
        async with info.context.db.read() as session:
            handle = await session.scalar(select(Member.handle).where(Member.id == seat.member_id))
        return Seat.of(seat, handle, utcnow().date())

    @strawberry.mutation(description="End a seat (today, or on termEnd); it stays in the history.")
    async def end_council_seat(self, info: Info, seat_id: strawberry.ID, term_end: date | None = None) -> Seat:
        seat = await service.end_seat(info.context.db, info.context.viewer, seat_id, term_end)
        async with info.context.db.read() as session:
            handle = await session.scalar(select(Member.handle).where(Member.id == seat.member_id))
        return Seat.of(seat, handle, utcnow().date())

    @strawberry.mutation(description="Record a council decision.")
    async def record_council_decision(self, info: Info, input: DecisionInput) -> Decision:
        ctx = info.context
        decision = await service.record_decision(ctx.db, ctx.settings, ctx.viewer, **dict(vars(input)))
        return Decision.of(decision, ctx.viewer.handle if ctx.viewer else None)
