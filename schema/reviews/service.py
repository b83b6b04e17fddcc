"""Rules for review cycles, reports and review meetings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events import service as events
from schema.reviews import federated
from schema.reviews.tables import Plan, PlanItem, Report, ReportStatus, ReviewCycle, ReviewMeeting
from schema.reviews.view import agenda, compute_view
from server import checks
from server.accounts.access import Viewer, require_role
from server.accounts.tables import Role
from server.db import Database, utcnow
from server.errors import BadInput, Conflict, Forbidden, NotFound
from server.i18n import language_tag
from server.settings import Settings

MANAGERS = (Role.ADMIN, Role.ORGANISER)


async def create_cycle(
    db: Database, viewer: Viewer | None, key: str, name: str, plan_id: str, opens_on: date, closes_on: date
) -> ReviewCycle:
    require_role(viewer, Role.ADMIN)
    key = checks.text(key, "key", max_length=64, required=True)
    if not key.replace("-", "").replace("_", "").isalnum():
        raise BadInput("A cycle key has letters, digits, '-' and '_', e.g. '2026' or '2026-annual'.", field="key")
    checks.date_range(opens_on, closes_on, start_field="opensOn", end_field="closesOn")
    cycle = ReviewCycle(
        key=key,
        plan_id=plan_id,
        name=checks.text(name, "name", max_length=200, required=True),
        opens_on=opens_on,
        closes_on=closes_on,
    )
    try:
        async with db.write() as session:
            if await session.get(Plan, plan_id) is None:
                raise NotFound(f"No plan '{plan_id}'; import it first.", field="planId")
            session.add(cycle)
    except IntegrityError:
        raise Conflict(f"A cycle with the key '{key}' exists already.", field="key") from None
    return cycle


async def _cycle(session: AsyncSession, key: str) -> ReviewCycle:
    cycle = await session.get(ReviewCycle, key)
    if cycle is None:
        raise NotFound(f"No review cycle '{key}'.", field="cycleKey")
    return cycle


async def draft_report(db: Database, settings: Settings, viewer: Viewer | None, **values: Any) -> Report:
    """Create or change this coalition's draft report on one action for one cycle."""
    viewer = require_role(viewer, *MANAGERS)
    progress = values.get("progress", 0)
    if not 0 <= progress <= 100:
        raise BadInput("Progress is a percentage from 0 to 100.", field="progress")
    evidence = [checks.text(link, "evidence", max_length=1000) for link in values.get("evidence") or []]
    if any(not link.startswith(("https://", "http://")) for link in evidence):
        raise BadInput("Evidence links are http(s) URLs.", field="evidence")
    async with db.write() as session:
        cycle = await _cycle(session, values["cycle_key"])
        if cycle.closes_on < utcnow().date():
            raise Conflict(f"The cycle '{cycle.key}' closed on {cycle.closes_on}; reports on it can no longer change.")
        action = await session.get(PlanItem, (cycle.plan_id, values["action_key"]))
        if action is None or action.level != "action" or action.removed_at is not None:
            raise BadInput(
                f"'{values['action_key']}' is not an action of the plan (e.g. 'decisions.3.12').", field="actionKey"
            )
        report = await session.scalar(
            select(Report).where(
                Report.coalition == settings.node_id, Report.cycle_key == cycle.key, Report.action_key == action.key
            )
        )
        if report is None:
            report = Report(
                coalition=settings.node_id,
                plan_id=cycle.plan_id,
                cycle_key=cycle.key,
                action_key=action.key,
                language=settings.default_language,
                created_by=viewer.member_id,
            )
            session.add(report)
        report.committed = bool(values.get("committed", report.committed))
        report.status = checks.choice(ReportStatus, values.get("status") or report.status, "status")
        report.progress = progress
        report.narrative = checks.text(values.get("narrative"), "narrative", max_length=20_000)
        report.language = language_tag(values.get("language") or report.language)
        report.evidence = evidence
        report.event_ids = sorted(set(values.get("event_ids") or []))
        report.petition_ids = sorted(set(values.get("petition_ids") or []))
        report.published, report.updated_at = False, utcnow()
    return report


async def publish_report(db: Database, viewer: Viewer | None, report_id: str) -> Report:
    require_role(viewer, Role.ADMIN)
    async with db.write() as session:
        report = await session.get(Report, report_id, with_for_update=True)
        if report is None:
            raise NotFound(f"No report '{report_id}'.", field="id")
        if report.origin is not None:
            raise Forbidden(f"This report belongs to the coalition '{report.origin}'; only its admins publish it.")
        report.published, report.published_at, report.updated_at = True, utcnow(), utcnow()
        await federated.publish(db, session, report)
    return report


async def create_meeting(
    db: Database,
    settings: Settings,
    viewer: Viewer | None,
    cycle_key: str,
    title: str,
    start: datetime,
    end: datetime,
    timezone: str | None,
    online_url: str | None,
) -> ReviewMeeting:
    """A review meeting is an event of kind review_meeting (so it is in the feeds) tied to a cycle,
    with its agenda built from the review view at the time."""
    require_role(viewer, Role.ADMIN)
    async with db.read() as session:
        await _cycle(session, cycle_key)
        view = await compute_view(session, cycle_key)
    event = await events.create_event(
        db,
        settings,
        viewer,
        title=title,
        kind="review_meeting",
        start=start,
        end=end,
        timezone=timezone,
        online_url=online_url,
    )
    meeting = ReviewMeeting(cycle_key=cycle_key, event_id=event.id, agenda=agenda(view))
    async with db.write() as session:
        session.add(meeting)
    return meeting


async def record_minutes(
    db: Database, viewer: Viewer | None, meeting_id: str, minutes: str, decisions: list[dict[str, str]]
) -> ReviewMeeting:
    require_role(viewer, *MANAGERS)
    async with db.write() as session:
        meeting = await session.get(ReviewMeeting, meeting_id, with_for_update=True)
        if meeting is None:
            raise NotFound(f"No review meeting '{meeting_id}'.", field="id")
        items = {item["key"] for item in meeting.agenda}
        for decision in decisions:
            if decision["item"] not in items:
                raise BadInput(f"'{decision['item']}' is not on this meeting's agenda.", field="decisions")
        meeting.minutes = checks.text(minutes, "minutes", max_length=100_000)
        meeting.decisions = [
            {"item": d["item"], "text": checks.text(d["text"], "text", max_length=5_000, required=True)}
            for d in decisions
        ]
    return meeting
