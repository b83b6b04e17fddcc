"""Periodic upkeep while the node serves: privacy deadlines first."""

from __future__ import annotations

import asyncio
import logging

from server.db import Database
from server.settings import Settings

log = logging.getLogger("coalition.maintenance")
EVERY_SECONDS = 3600


async def run_once(db: Database, settings: Settings) -> dict[str, int]:
    from schema.petitions.service import unlink_expired

    return {"petitions_unlinked": await unlink_expired(db, settings)}


async def maintenance(db: Database, settings: Settings) -> None:
    while True:
        try:
            done = await run_once(db, settings)
            if any(done.values()):
                log.info("maintenance: %s", done)
        except Exception:
            log.exception("maintenance failed; trying again in an hour")
        await asyncio.sleep(EVERY_SECONDS)
