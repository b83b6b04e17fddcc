"""Loading a plan from TOML: checked whole, with the line of any problem; re-importing a revised
plan keeps reports on unchanged keys and flags removed items instead of deleting them."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from typing import Any

from sqlalchemy import select

from schema.reviews.tables import Plan, PlanItem
from server.accounts.access import Viewer, require_role
from server.accounts.tables import Role
from server.db import Database, utcnow
from server.errors import BadInput

KEY = re.compile(r"^[a-z][a-z0-9-]*(\.[0-9]+)*$")


def default_plan() -> str:
    return resources.files("schema.reviews").joinpath("data/action-plan-2023-2033.toml").read_text()


def _line_of(text: str, needle: str, occurrence: int = 0) -> int:
    position = -1
    for _ in range(occurrence + 1):
        position = text.find(needle, position + 1)
        if position < 0:
            return 0
    return text.count("\n", 0, position) + 1


def parse_plan(text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(plan fields, items in order) or ``BAD_USER_INPUT`` with the line and the reason."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"^(.*) \(at line (\d+), column \d+\)$", str(error))
        reason, line = (found.group(1), found.group(2)) if found else (str(error), "?")
        raise BadInput(f"Line {line}: not valid TOML ({reason}). Nothing was imported.", field="plan") from None

    def fail(reason: str, needle: str, occurrence: int = 0) -> BadInput:
        line = _line_of(text, needle, occurrence)
        where = f"Line {line}: " if line else ""
        return BadInput(f"{where}{reason}. Nothing was imported.", field="plan")

    for name in ("id", "title", "starts", "ends"):
        if name not in data:
            return_error = fail(f"the plan needs '{name}'", "[[themes]]")
            raise return_error
    if not isinstance(data.get("themes"), list) or not data["themes"]:
        raise fail("the plan has no [[themes]]", "id")
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    goal_index = 0
    for t, theme in enumerate(data["themes"]):
        key = theme.get("key")
        if not isinstance(key, str) or not KEY.match(key) or "." in key:
            needle, nth = (f'key = "{key}"', 0) if isinstance(key, str) else ("[[themes]]", t)
            raise fail(f"theme {t + 1} needs a key such as 'movement'", needle, nth)
        if not theme.get("title"):
            raise fail(f"theme '{key}' needs a title", f'key = "{key}"')
        items.append({"key": key, "level": "theme", "parent": "", "position": t, "title": theme["title"]})
        for g, goal in enumerate(theme.get("goals", [])):
            goal_key = goal.get("key")
            if not isinstance(goal_key, str) or not goal_key.startswith(key + ".") or not KEY.match(goal_key):
                needle, nth = (
                    (f'key = "{goal_key}"', 0) if isinstance(goal_key, str) else ("[[themes.goals]]", goal_index)
                )
                raise fail(f"goal {g + 1} of theme '{key}' needs a key such as '{key}.{g + 1}'", needle, nth)
            if not goal.get("title"):
                raise fail(f"goal '{goal_key}' needs a title", f'key = "{goal_key}"')
            actions = goal.get("actions", [])
            if not isinstance(actions, list) or not all(isinstance(a, str) and a.strip() for a in actions):
                raise fail(f"goal '{goal_key}' lists its actions as a list of titles", f'key = "{goal_key}"')
            items.append({"key": goal_key, "level": "goal", "parent": key, "position": g, "title": goal["title"]})
            for n, action in enumerate(actions, start=1):
                items.append(
                    {
                        "key": f"{goal_key}.{n}",
                        "level": "action",
                        "parent": goal_key,
                        "position": n,
                        "title": action.strip(),
                    }
                )
            goal_index += 1
    for item in items:
        if item["key"] in seen:
            raise fail(f"the key '{item['key']}' appears twice", f'key = "{item["key"]}"', 1)
        seen.add(item["key"])
    plan = {
        "id": str(data["id"]),
        "title": str(data["title"]),
        "publisher": str(data.get("publisher", "")),
        "starts": int(data["starts"]),
        "ends": int(data["ends"]),
    }
    return plan, items


async def import_plan(
    db: Database, viewer: Viewer | None, text: str, *, by_operator: bool = False
) -> tuple[Plan, dict[str, int]]:
    if not by_operator:
        require_role(viewer, Role.ADMIN)
    fields, items = parse_plan(text)
    counts = {"added": 0, "updated": 0, "removed": 0, "kept": 0}
    async with db.write() as session:
        plan = await session.get(Plan, fields["id"])
        if plan is None:
            plan = Plan(**fields)
            session.add(plan)
            await session.flush()
        else:
            for name, value in fields.items():
                setattr(plan, name, value)
            plan.revision += 1
            plan.imported_at = utcnow()
        existing = {row.key: row for row in await session.scalars(select(PlanItem).where(PlanItem.plan_id == plan.id))}
        for item in items:
            row = existing.pop(item["key"], None)
            if row is None:
                session.add(PlanItem(plan_id=plan.id, **item))
                counts["added"] += 1
            else:
                changed = row.title != item["title"] or row.removed_at is not None or row.position != item["position"]
                row.title, row.position, row.parent, row.level, row.removed_at = (
                    item["title"],
                    item["position"],
                    item["parent"],
                    item["level"],
                    None,
                )
                counts["updated" if changed else "kept"] += 1
        for row in existing.values():
            if row.removed_at is None:
                row.removed_at = utcnow()
                counts["removed"] += 1
    return plan, counts


def plan_order(items: list[PlanItem]) -> list[PlanItem]:
    """Themes, goals and actions in the plan's own order (theme, then goal, then action number)."""
    by_key = {item.key: item for item in items}

    def path(item: PlanItem) -> tuple[int, ...]:
        parent = by_key.get(item.parent)
        return (*path(parent), item.position) if parent is not None else (item.position,)

    return sorted(items, key=lambda item: (path(item), item.key))
