"""The review view over 50 coalitions x 133 actions x 10 cycles, and SQL statements per request
as the number of coalitions grows."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, date, datetime

import httpx
from sqlalchemy import insert

from bench.common import fresh_node
from schema.reviews.plans import default_plan, import_plan
from schema.reviews.tables import PlanItem, Report, ReportStatus, ReviewCycle
from server.app import create_app
from server.db import statement_count

QUERY = "query($c: String!) { reviewView(cycleKey: $c) { digest actions { key meanProgress } goals { key weightedProgress } } }"


async def seeded(coalitions: int, database_url: str | None):
    settings, db = await fresh_node(database_url)
    plan, _ = await import_plan(db, None, default_plan(), by_operator=True)
    from sqlalchemy import select

    async with db.read() as session:
        actions = list(await session.scalars(select(PlanItem.key).where(PlanItem.level == "action")))
    chooser = random.Random(coalitions)
    statuses = [s.value for s in ReportStatus]
    async with db.write() as session:
        for year in range(2024, 2034):
            session.add(
                ReviewCycle(
                    key=str(year),
                    plan_id=plan.id,
                    name=str(year),
                    opens_on=date(year, 1, 1),
                    closes_on=date(year, 12, 31),
                )
            )
        await session.flush()
        for year in range(2024, 2034):
            rows = [
                {
                    "id": uuid.uuid4().hex,
                    "origin": None if c == 0 else f"coalition-{c:02}",
                    "coalition": f"coalition-{c:02}",
                    "plan_id": plan.id,
                    "cycle_key": str(year),
                    "action_key": action,
                    "committed": chooser.random() < 0.7,
                    "status": chooser.choice(statuses),
                    "progress": chooser.randint(0, 100),
                    "narrative": "",
                    "language": "en",
                    "translations": {},
                    "evidence": [],
                    "event_ids": [],
                    "petition_ids": [],
                    "published": True,
                    "published_at": datetime(year, 6, 1, tzinfo=UTC),
                    "updated_at": datetime(year, 6, 1, tzinfo=UTC),
                }
                for c in range(coalitions)
                for action in actions
            ]
            await session.execute(insert(Report), rows)
    return settings, db


async def run(database_url: str | None = None) -> None:
    counts = {}
    for coalitions in (5, 50):
        settings, db = await seeded(coalitions, database_url)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, db, background=False)), base_url="http://b"
        )

        async def view(client: httpx.AsyncClient = client) -> dict:
            body = (await client.post("/graphql", json={"query": QUERY, "variables": {"c": "2033"}})).json()
            assert "errors" not in body, body
            return body

        await view()
        counter = [0]
        token = statement_count.set(counter)
        try:
            await view()
        finally:
            statement_count.reset(token)
        counts[coalitions] = counter[0]
        if coalitions == 50:
            best = min([await _timed(view) for _ in range(3)])
            print(
                f"reviews: database {db.engine.dialect.name}, 50 coalitions x 133 actions x 10 cycles = {50 * 133 * 10:,} reports"
            )
            print(f"  review view through GraphQL: {best * 1000:.0f} ms (target < 1000 ms)")
        await client.aclose()
        await db.dispose()
    print(f"  SQL statements per view request: {counts[5]} with 5 coalitions, {counts[50]} with 50 (must not grow)")


async def _timed(action) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started
