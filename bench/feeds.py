"""Calendar feeds: rendering 5,000 events against icalendar's own serialisation of the same
calendar, and the 304 path against a plain Starlette endpoint."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import replace
from datetime import timedelta

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import fresh_node, rate
from events import recurrence
from events.feeds import FeedMeta, FeedScope, ItemCache, collect, render
from events.routes import Feeds
from events.tables import Event
from server.app import create_app
from server.dataversion import bump
from server.db import Database, utcnow

ZONES = ["Africa/Nairobi", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Berlin", "UTC"]


async def seed(db: Database, count: int = 5000) -> None:
    chooser = random.Random(7)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    async with db.write() as session:
        for n in range(count):
            zone = ZONES[n % len(ZONES)]
            start = today + timedelta(days=chooser.randint(-20, 400), hours=chooser.randint(8, 19))
            end = start + timedelta(minutes=chooser.choice((60, 90, 120)))
            rule = "FREQ=WEEKLY;COUNT=10" if n % 5 == 0 else None
            exdates = [(start + timedelta(weeks=2)).isoformat()] if rule and n % 10 == 0 else []
            event_id = uuid.uuid4()
            session.add(
                Event(
                    id=event_id.hex,
                    uid=str(event_id),
                    title=f"Event {n}: circle, training; town hall",
                    description="A gathering of survivors and allies.\nBring a friend.",
                    language="en",
                    timezone=zone,
                    start_local=start,
                    end_local=end,
                    rrule=rule,
                    exdates=exdates,
                    first_start=recurrence.to_utc(start, zone),
                    last_end=recurrence.series_end(start, end, zone, rule),
                    venue="Community hall",
                    latitude=-1.28,
                    longitude=36.82,
                    kind="town_hall",
                )
            )
        await bump(session)


def plain_app() -> Starlette:
    async def not_modified(_: Request) -> Response:
        return Response(status_code=304, headers={"ETag": '"fixed"'})

    return Starlette(routes=[Route("/calendars/public.ics", not_modified)])


async def timed(action, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        best = min(best, time.perf_counter() - started)
    return best


async def run(database_url: str | None = None) -> None:
    settings, db = await fresh_node(database_url)
    await seed(db)
    print(f"feeds: database {db.engine.dialect.name}, 5,000 public events (1,000 weekly series), 6 zones")

    async with db.read() as session:
        scope = FeedScope("public", None, utcnow().date())
        items = await collect(session, settings, scope)
    meta = FeedMeta("Bench", "Bench feed", f"{settings.base_url}/calendars/public.ics")
    body = render(settings, meta, scope, items, None)
    from icalendar import Calendar

    prebuilt = Calendar.from_ical(body)
    assert prebuilt.to_ical() == body, "the baseline serialises the very calendar the node serves"

    async def icalendar_only() -> bytes:
        return prebuilt.to_ical()

    async def ours_from_items() -> bytes:
        return render(settings, meta, scope, items, None)

    feeds = Feeds(db, settings)

    async def ours_from_database() -> bytes:
        feeds.cache = type(feeds.cache)()  # a cold cache: the whole path, database included
        async with db.read() as session:
            fresh = await collect(session, settings, scope)
        return render(settings, meta, scope, fresh, None)

    baseline = await timed(icalendar_only)
    built = await timed(ours_from_items)
    full = await timed(ours_from_database)
    warm_cache = ItemCache()
    render(settings, meta, scope, items, None, warm_cache)
    changed = [replace(items[0], sequence=items[0].sequence + 1), *items[1:]]

    async def ours_after_one_change() -> bytes:
        return render(settings, meta, scope, changed, None, warm_cache)

    warm = await timed(ours_after_one_change)
    print(f"  feed size: {len(body) / 1e6:.1f} MB, {len(items)} events")
    rows = [
        ("icalendar serialising the pre-built calendar", baseline, ""),
        ("node building + serialising, cold", built, " (target <= 1.5x)"),
        ("node from the database, cold", full, ""),
        ("node after one event changed (item cache)", warm, ""),
    ]
    for label, seconds, note in rows:
        print(f"  {label:<46} {seconds * 1000:7.0f} ms  {seconds / baseline:5.2f}x{note}")

    app = create_app(settings, db)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
    plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app()), base_url="http://b")
    first = await client.get("/calendars/public.ics", headers={"Accept-Encoding": "identity"})
    etag = first.headers["etag"]

    async def conditional() -> None:
        response = await client.get(
            "/calendars/public.ics", headers={"If-None-Match": etag, "Accept-Encoding": "identity"}
        )
        assert response.status_code == 304

    async def plain_conditional() -> None:
        response = await plain.get("/calendars/public.ics", headers={"If-None-Match": '"fixed"'})
        assert response.status_code == 304

    plain_rate = await rate(plain_conditional)
    ours_rate = await rate(conditional)
    print(
        f"  304 path: plain Starlette {plain_rate:7.0f} req/s, node {ours_rate:7.0f} req/s, "
        f"ratio {ours_rate / plain_rate:.0%} (target >= 50%)"
    )
    await client.aclose()
    await plain.aclose()
    await db.dispose()
