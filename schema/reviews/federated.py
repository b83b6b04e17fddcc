"""Published reports federate as review.report, owned by the reporting coalition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.kinds import update_kind
from federation.peers import on_purge
from schema.reviews.tables import Report
from server.db import Database

REPORT = "review.report"
FIELDS = (
    "plan",
    "cycle",
    "action",
    "committed",
    "status",
    "progress",
    "narrative",
    "language",
    "translations",
    "evidence",
    "published_at",
    "updated_at",
)


async def publish(db: Database, session: AsyncSession, report: Report) -> None:
    await db.record(
        session,
        REPORT,
        "report",
        report.id,
        {
            "plan": report.plan_id,
            "cycle": report.cycle_key,
            "action": report.action_key,
            "committed": report.committed,
            "status": report.status,
            "progress": report.progress,
            "narrative": report.narrative,
            "language": report.language,
            "translations": report.translations,
            "evidence": report.evidence,
            "published_at": report.published_at.isoformat(),
            "updated_at": report.updated_at.isoformat(),
        },
    )


@update_kind(REPORT, FIELDS)
async def apply_report(session: AsyncSession, envelope: dict[str, Any]) -> None:
    body, origin = envelope["body"], envelope["origin"]
    report_id = envelope["subject"].rsplit("/", 1)[1]
    report = await session.get(Report, report_id) or await session.scalar(
        select(Report).where(
            Report.coalition == origin, Report.cycle_key == body["cycle"], Report.action_key == body["action"]
        )
    )
    if report is not None and report.origin != origin:
        raise ValueError("that report belongs to another node")
    fields = {
        "coalition": origin,
        "plan_id": body["plan"],
        "cycle_key": body["cycle"],
        "action_key": body["action"],
        "committed": bool(body["committed"]),
        "status": body["status"],
        "progress": int(body["progress"]),
        "narrative": body.get("narrative") or "",
        "language": body["language"],
        "translations": body.get("translations") or {},
        "evidence": body.get("evidence") or [],
        "published": True,
        "published_at": datetime.fromisoformat(body["published_at"]),
        "updated_at": datetime.fromisoformat(body["updated_at"]),
    }
    if report is None:
        session.add(Report(id=report_id, origin=origin, **fields))
    else:
        for name, value in fields.items():
            setattr(report, name, value)


@on_purge
async def purge(session: AsyncSession, origin: str) -> None:
    await session.execute(delete(Report).where(Report.origin == origin))
