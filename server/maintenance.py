"""Periodic upkeep while the node serves. Domains register their tasks (a privacy deadline,
for one); the platform only runs them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from server.db import Database
from server.settings import Settings

log = logging.getLogger("coalition.maintenance")
EVERY_SECONDS = 3600


Task = Callable[[Database, Settings], Awaitable[int]]
_tasks: dict[str, Task] = {}


def upkeep(name: str) -> Callable[[Task], Task]:
    """Register a task that returns how many things it did."""

    def register(task: Task) -> Task:
        _tasks[name] = task
        return task

    return register


async def run_once(db: Database, settings: Settings) -> dict[str, int]:
    return {name: await task(db, settings) for name, task in sorted(_tasks.items())}


async def maintenance(db: Database, settings: Settings) -> None:
    while True:
        try:
            done = await run_once(db, settings)
            if any(done.values()):
                log.info("maintenance: %s", done)
        except Exception:
            log.exception("maintenance failed; trying again in an hour")
        await asyncio.sleep(EVERY_SECONDS)
