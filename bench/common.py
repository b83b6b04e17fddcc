"""Shared pieces: a throwaway node database and timing helpers."""

from __future__ import annotations

import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from server.db import Database
from server.migrate import upgrade
from server.settings import Settings


async def fresh_node(database_url: str | None = None) -> tuple[Settings, Database]:
    directory = Path(tempfile.mkdtemp(prefix="coalition-bench-"))
    settings = Settings(
        node_id="bench",
        data_dir=directory,
        database_url=database_url or f"sqlite+aiosqlite:///{directory / 'bench.db'}",
    )
    db = Database(settings.database_url)
    await upgrade(db)
    return settings, db


async def rate(action: Callable[[], Awaitable[object]], seconds: float = 3.0) -> float:
    """Calls per second of ``action``, run back to back for about ``seconds``."""
    for _ in range(5):
        await action()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        await action()
        count += 1
    return count / elapsed


async def profile(action: Callable[[], Awaitable[object]], calls: int = 50, top: int = 15) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        await action()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return "\n".join(lines[start:])
