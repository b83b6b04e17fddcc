"""The Action Plan, review cycles, reports, meetings and the review view over GraphQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from enum import Enum

import strawberry
from sqlalchemy import select

from federation.tables import LogHead
from schema.context import Info
from schema.reviews import plans, service
from schema.reviews.tables import Plan, PlanItem, Report, ReportStatus, ReviewCycle, ReviewMeeting
from schema.reviews.view import agenda, canonical_json, compute_view
from server.accounts.access import require_role
from server.accounts.tables import Role
from server.i18n import translated

ReportStatusEnum = strawberry.enum(ReportStatus, name="ReportStatus")
STALE_AFTER = timedelta(days=7)


@strawberry.type
class PlanItemNode:
    key: str
    level: str
    parent: str
    title: str
    removed: bool


@strawberry.type(name="Plan")
class PlanNode:
    id: str
    title: str
    publisher: str
    starts: int
    ends: int
    revision: int

    @strawberry.field(description="Themes, goals and actions in plan order; removed ones only when asked.")
    async def items(self, info: Info, level: str | None = None, include_removed: bool = False) -> list[PlanItemNode]:
        async with info.context.db.read() as session:
            rows = list(await session.scalars(select(PlanItem).where(PlanItem.plan_id == self.id)))
        rows = plans.plan_order(rows)
        return [
            PlanItemNode(key=r.key, level=r.level, parent=r.parent, title=r.title, removed=r.removed_at is not None)
            for r in rows
            if (level is None or r.level == level) and (include_removed or r.removed_at is None)
        ]


def _plan(row: Plan) -> PlanNode:
    return PlanNode(
        id=row.id, title=row.title, publisher=row.publisher, starts=row.starts, ends=row.ends, revision=row.revision
    )


@strawberry.type
class PlanImport:
    plan: PlanNode
    added: int
    updated: int
    kept: int
    removed: int


@strawberry.type(name="ReviewCycle")
class CycleNode:
    key: str
    plan_id: str
    name: str
    opens_on: date
    closes_on: date
    open: bool


def _cycle(row: ReviewCycle) -> CycleNode:
    today = datetime.now(UTC).date()
    return CycleNode(
        key=row.key,
        plan_id=row.plan_id,
        name=row.name,
        opens_on=row.opens_on,
        closes_on=row.closes_on,
        open=row.opens_on <= today <= row.closes_on,
    )


@strawberry.type(name="Report")
class ReportNode:
    id: strawberry.ID
    coalition: str
    cycle_key: str
    action_key: str
    committed: bool
    status: ReportStatusEnum
    progress: int
    evidence: list[str]
    event_ids: list[str]
    petition_ids: list[str]
    published: bool
    published_at: datetime | None
    updated_at: datetime
    row: strawberry.Private[Report]

    @strawberry.field
    def narrative(self, lang: str | None = None) -> str:
        return translated(self.row.narrative, self.row.translations, "narrative", lang) or ""

    @classmethod
    def of(cls, r: Report) -> ReportNode:
        return cls(
            id=strawberry.ID(r.id),
            coalition=r.coalition,
            cycle_key=r.cycle_key,
            action_key=r.action_key,
            committed=r.committed,
            status=ReportStatus(r.status),
            progress=r.progress,
            evidence=r.evidence,
            event_ids=r.event_ids,
            petition_ids=r.petition_ids,
            published=r.published,
            published_at=r.published_at,
            updated_at=r.updated_at,
            row=r,
        )


@strawberry.type
class StatusCount:
    status: ReportStatusEnum
    count: int


@strawberry.type
class ActionReview:
    key: str
    goal: str
    title: str
    committed: int
    statuses: list[StatusCount]
    mean_progress: str | None
    previous_mean_progress: str | None
    progress_change: str | None
    latest_update: str | None
    reported_by: list[str]
    not_reported: list[str]


@strawberry.type
class RollUp:
    key: str
    title: str
    committed: int
    weighted_progress: str | None = strawberry.field(description="Mean progress weighted by committed coalitions.")


@strawberry.type
class AgendaItem:
    key: str
    kind: str
    title: str
    note: str


@strawberry.type
class CoalitionFreshness:
    coalition: str
    log_position: int
    as_of: datetime | None
    stale: bool = strawberry.field(description="Nothing received from it for a week, or ever.")


@strawberry.type
class ReviewView:
    cycle: str
    previous_cycle: str | None
    coalitions: list[str]
    themes: list[RollUp]
    goals: list[RollUp]
    actions: list[ActionReview]
    agenda: list[AgendaItem]
    freshness: list[CoalitionFreshness]
    digest: str = strawberry.field(
        description="SHA-256 of the view's canonical JSON: equal on every node that holds the same reports."
    )


@strawberry.type(name="ReviewMeeting")
class MeetingNode:
    id: strawberry.ID
    cycle_key: str
    event_id: strawberry.ID
    agenda: list[AgendaItem]
    minutes: str
    decisions: list[str]


def _meeting(m: ReviewMeeting) -> MeetingNode:
    return MeetingNode(
        id=strawberry.ID(m.id),
        cycle_key=m.cycle_key,
        event_id=strawberry.ID(m.event_id),
        agenda=[AgendaItem(**item) for item in m.agenda],
        minutes=m.minutes,
        decisions=[f"{d['item']}: {d['text']}" for d in m.decisions],
    )


@strawberry.enum
class ReportScope(Enum):
    ALL = "all"
    PUBLISHED = "published"
    DRAFTS = "drafts"


@strawberry.input
class ReportInput:
    cycle_key: str
    action_key: str
    committed: bool = False
    status: ReportStatusEnum = ReportStatus.NOT_STARTED
    progress: int = 0
    narrative: str = ""
    language: str | None = None
    evidence: list[str] | None = None
    event_ids: list[str] | None = None
    petition_ids: list[str] | None = None


@strawberry.input
class MinuteDecision:
    item: str = strawberry.field(description="The agenda item's key.")
    text: str


@strawberry.type
class ReviewQuery:
    @strawberry.field
    async def plans(self, info: Info) -> list[PlanNode]:
        async with info.context.db.read() as session:
            return [_plan(p) for p in await session.scalars(select(Plan).order_by(Plan.id))]

    @strawberry.field
    async def review_cycles(self, info: Info) -> list[CycleNode]:
        async with info.context.db.read() as session:
            return [_cycle(c) for c in await session.scalars(select(ReviewCycle).order_by(ReviewCycle.opens_on))]

    @strawberry.field(description="Reports; drafts only for this node's organisers and admins.")
    async def reports(
        self,
        info: Info,
        cycle_key: str | None = None,
        coalition: str | None = None,
        theme: str | None = None,
        goal: str | None = None,
        status: ReportStatusEnum | None = None,
        scope: ReportScope = ReportScope.PUBLISHED,
    ) -> list[ReportNode]:
        statement = select(Report)
        manager = info.context.viewer is not None and info.context.viewer.role in (Role.ADMIN, Role.ORGANISER)
        if scope == ReportScope.PUBLISHED or not manager:
            statement = statement.where(Report.published.is_(True))
        elif scope == ReportScope.DRAFTS:
            statement = statement.where(Report.published.is_(False))
        for column, value in (
            (Report.cycle_key, cycle_key),
            (Report.coalition, coalition),
            (Report.status, status.value if status else None),
        ):
            if value is not None:
                statement = statement.where(column == value)
        prefix = goal or theme
        if prefix:
            statement = statement.where(Report.action_key.startswith(prefix + "."))
        async with info.context.db.read() as session:
            rows = list(
                await session.scalars(statement.order_by(Report.cycle_key, Report.action_key, Report.coalition))
            )
        return [ReportNode.of(r) for r in rows]

    @strawberry.field(description="The review of a cycle, computed from every coalition's published reports.")
    async def review_view(self, info: Info, cycle_key: str) -> ReviewView:
        async with info.context.db.read() as session:
            view = await compute_view(session, cycle_key)
            heads = {h.origin: h for h in await session.scalars(select(LogHead))}
        now = datetime.now(UTC)
        own = info.context.settings.node_id
        freshness = []
        for coalition in view["coalitions"]:
            head = heads.get(coalition)
            as_of = head.updated_at if head else None
            stale = coalition != own and (as_of is None or now - as_of > STALE_AFTER)
            freshness.append(
                CoalitionFreshness(coalition=coalition, log_position=head.seq if head else 0, as_of=as_of, stale=stale)
            )
        return ReviewView(
            cycle=view["cycle"],
            previous_cycle=view["previous_cycle"],
            coalitions=view["coalitions"],
            themes=[
                RollUp(
                    key=t["key"], title=t["title"], committed=t["committed"], weighted_progress=t["weighted_progress"]
                )
                for t in view["themes"]
            ],
            goals=[
                RollUp(
                    key=g["key"], title=g["title"], committed=g["committed"], weighted_progress=g["weighted_progress"]
                )
                for g in view["goals"]
            ],
            actions=[
                ActionReview(
                    key=a["key"],
                    goal=a["goal"],
                    title=a["title"],
                    committed=a["committed"],
                    statuses=[StatusCount(status=ReportStatus(s), count=n) for s, n in a["statuses"].items()],
                    mean_progress=a["mean_progress"],
                    previous_mean_progress=a["previous_mean_progress"],
                    progress_change=a["progress_change"],
                    latest_update=a["latest_update"],
                    reported_by=a["reported_by"],
                    not_reported=a["not_reported"],
                )
                for a in view["actions"]
            ],
            agenda=[AgendaItem(**item) for item in agenda(view)],
            freshness=freshness,
            digest=hashlib.sha256(canonical_json(view).encode()).hexdigest(),
        )

    @strawberry.field
    async def review_meetings(self, info: Info, cycle_key: str | None = None) -> list[MeetingNode]:
        statement = select(ReviewMeeting).order_by(ReviewMeeting.created_at)
        if cycle_key:
            statement = statement.where(ReviewMeeting.cycle_key == cycle_key)
        async with info.context.db.read() as session:
            return [_meeting(m) for m in await session.scalars(statement)]


@strawberry.type
class ReviewMutation:
    @strawberry.mutation(description="Import or revise a plan from TOML (admins); reports on unchanged keys stay.")
    async def import_plan(self, info: Info, toml: str) -> PlanImport:
        plan, counts = await plans.import_plan(info.context.db, info.context.viewer, toml)
        return PlanImport(plan=_plan(plan), **counts)

    @strawberry.mutation(description="Open a review cycle (admins). Its key is shared across the federation.")
    async def create_review_cycle(
        self, info: Info, key: str, name: str, plan_id: str, opens_on: date, closes_on: date
    ) -> CycleNode:
        return _cycle(
            await service.create_cycle(info.context.db, info.context.viewer, key, name, plan_id, opens_on, closes_on)
        )

    @strawberry.mutation(description="Draft or change this coalition's report on an action (organisers and admins).")
    async def draft_report(self, info: Info, input: ReportInput) -> ReportNode:
        ctx = info.context
        values = {k: (v.value if isinstance(v, Enum) else v) for k, v in vars(input).items() if v is not None}
        return ReportNode.of(await service.draft_report(ctx.db, ctx.settings, ctx.viewer, **values))

    @strawberry.mutation(description="Publish a report (admins): it federates, signed by this node.")
    async def publish_report(self, info: Info, id: strawberry.ID) -> ReportNode:
        return ReportNode.of(await service.publish_report(info.context.db, info.context.viewer, id))

    @strawberry.mutation(description="Schedule a review meeting: an event in the feeds, with an agenda from the view.")
    async def create_review_meeting(
        self,
        info: Info,
        cycle_key: str,
        title: str,
        start: datetime,
        end: datetime,
        timezone: str | None = None,
        online_url: str | None = None,
    ) -> MeetingNode:
        ctx = info.context
        meeting = await service.create_meeting(
            ctx.db, ctx.settings, ctx.viewer, cycle_key, title, start, end, timezone, online_url
        )
        return _meeting(meeting)

    @strawberry.mutation(description="Record a review meeting's minutes and decisions against its agenda.")
    async def record_minutes(
        self, info: Info, meeting_id: strawberry.ID, minutes: str, decisions: list[MinuteDecision] | None = None
    ) -> MeetingNode:
        require_role(info.context.viewer, Role.ADMIN, Role.ORGANISER)
        meeting = await service.record_minutes(
            info.context.db,
            info.context.viewer,
            meeting_id,
            minutes,
            [{"item": d.item, "text": d.text} for d in decisions or []],
        )
        return _meeting(meeting)
