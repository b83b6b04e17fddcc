"""The review view: computed from published reports only, in a fixed number of queries, with
fixed ordering and decimal strings, so every node holding the same reports produces the same
bytes."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schema.reviews.plans import plan_order
from schema.reviews.tables import PlanItem, Report, ReportStatus, ReviewCycle
from server.errors import NotFound

STATUSES = [status.value for status in ReportStatus]


def _decimal(total: int, count: int) -> str | None:
    if not count:
        return None
    return str((Decimal(total) / Decimal(count)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


async def compute_view(session: AsyncSession, cycle_key: str) -> dict[str, Any]:
    cycle = await session.get(ReviewCycle, cycle_key)
    if cycle is None:
        raise NotFound(f"No review cycle '{cycle_key}'.", field="cycleKey")
    previous = await session.scalar(
        select(ReviewCycle)
        .where(ReviewCycle.plan_id == cycle.plan_id, ReviewCycle.opens_on < cycle.opens_on)
        .order_by(ReviewCycle.opens_on.desc())
        .limit(1)
    )
    items = list(
        await session.scalars(select(PlanItem).where(PlanItem.plan_id == cycle.plan_id, PlanItem.removed_at.is_(None)))
    )
    keys = [cycle.key] + ([previous.key] if previous else [])
    rows = (
        await session.execute(
            select(
                Report.cycle_key,
                Report.coalition,
                Report.action_key,
                Report.committed,
                Report.status,
                Report.progress,
                Report.published_at,
            ).where(Report.plan_id == cycle.plan_id, Report.published.is_(True), Report.cycle_key.in_(keys))
        )
    ).all()
    coalitions = sorted(
        set(
            await session.scalars(
                select(Report.coalition).where(Report.plan_id == cycle.plan_id, Report.published.is_(True)).distinct()
            )
        )
    )
    return build_view(cycle.plan_id, cycle.key, previous.key if previous else None, items, rows, coalitions)


def build_view(
    plan_id: str, cycle: str, previous: str | None, items: list[PlanItem], rows: list[Any], coalitions: list[str]
) -> dict[str, Any]:
    now: dict[str, list[Any]] = defaultdict(list)
    before: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        (now if row.cycle_key == cycle else before)[row.action_key].append(row)
    ordered = plan_order(items)
    titles = {i.key: i.title for i in ordered}
    actions, goal_parts = [], defaultdict(list)
    for item in (i for i in ordered if i.level == "action"):
        reports = now.get(item.key, [])
        committed = [r for r in reports if r.committed]
        statuses = {status: sum(1 for r in reports if r.status == status) for status in STATUSES}
        mean = _decimal(sum(r.progress for r in committed), len(committed))
        earlier = [r for r in before.get(item.key, []) if r.committed]
        earlier_mean = _decimal(sum(r.progress for r in earlier), len(earlier))
        change = None
        if mean is not None and earlier_mean is not None:
            change = str(Decimal(mean) - Decimal(earlier_mean))
        latest = max((r.published_at for r in reports if r.published_at), default=None)
        reported = sorted({r.coalition for r in reports})
        actions.append(
            {
                "key": item.key,
                "goal": item.parent,
                "title": item.title,
                "committed": len(committed),
                "statuses": statuses,
                "mean_progress": mean,
                "previous_mean_progress": earlier_mean,
                "progress_change": change,
                "latest_update": latest.isoformat() if latest else None,
                "reported_by": reported,
                "not_reported": [c for c in coalitions if c not in reported],
            }
        )
        goal_parts[item.parent].append((len(committed), sum(r.progress for r in committed)))
    goals, theme_parts = [], defaultdict(list)
    for item in (i for i in ordered if i.level == "goal"):
        parts = goal_parts.get(item.key, [])
        committed = sum(c for c, _ in parts)
        goals.append(
            {
                "key": item.key,
                "theme": item.parent,
                "title": item.title,
                "committed": committed,
                "weighted_progress": _decimal(sum(t for _, t in parts), committed),
            }
        )
        theme_parts[item.parent].extend(parts)
    themes = []
    for item in (i for i in ordered if i.level == "theme"):
        parts = theme_parts.get(item.key, [])
        committed = sum(c for c, _ in parts)
        themes.append(
            {
                "key": item.key,
                "title": titles[item.key],
                "committed": committed,
                "weighted_progress": _decimal(sum(t for _, t in parts), committed),
            }
        )
    return {
        "plan": plan_id,
        "cycle": cycle,
        "previous_cycle": previous,
        "coalitions": coalitions,
        "themes": themes,
        "goals": goals,
        "actions": actions,
    }


def canonical_json(view: dict[str, Any]) -> str:
    return json.dumps(view, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def agenda(view: dict[str, Any], goals: int = 5) -> list[dict[str, str]]:
    """Blocked actions first (most blocked first), then the goals with the least progress."""
    blocked = sorted(
        (a for a in view["actions"] if a["statuses"]["blocked"]), key=lambda a: (-a["statuses"]["blocked"], a["key"])
    )
    items = [
        {
            "key": a["key"],
            "kind": "blocked_action",
            "title": a["title"],
            "note": f"blocked for {a['statuses']['blocked']} coalition(s)",
        }
        for a in blocked
    ]
    weakest = sorted(
        (g for g in view["goals"] if g["weighted_progress"] is not None),
        key=lambda g: (Decimal(g["weighted_progress"]), g["key"]),
    )[:goals]
    items += [
        {
            "key": g["key"],
            "kind": "goal",
            "title": g["title"],
            "note": f"{g['weighted_progress']}% across {g['committed']} commitment(s)",
        }
        for g in weakest
    ]
    return items


def agenda_text(view: dict[str, Any], items: list[dict[str, str]]) -> str:
    lines = [f"Review meeting agenda: plan {view['plan']}, cycle {view['cycle']}", ""]
    for number, item in enumerate(items, start=1):
        lines.append(f"{number}. [{item['key']}] {item['title']} ({item['note']})")
    if not items:
        lines.append("No blocked actions and no progress reported yet.")
    return "\n".join(lines) + "\n"


def view_csv(view: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "action",
            "goal",
            "title",
            "committed",
            *STATUSES,
            "mean_progress",
            "progress_change",
            "latest_update",
            "not_reported",
        ]
    )
    for a in view["actions"]:
        writer.writerow(
            [
                a["key"],
                a["goal"],
                a["title"],
                a["committed"],
                *(a["statuses"][s] for s in STATUSES),
                a["mean_progress"] or "",
                a["progress_change"] or "",
                a["latest_update"] or "",
                " ".join(a["not_reported"]),
            ]
        )
    return out.getvalue()
