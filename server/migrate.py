"""Alembic migrations, run from the command line and at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from server.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _pending(connection: Connection) -> list[str]:
    current = MigrationContext.configure(connection).get_current_heads()
    script = ScriptDirectory.from_config(alembic_config())
    pending = []
    for revision in script.walk_revisions():
        if revision.revision in current:
            break
        pending.append(revision.revision)
    return list(reversed(pending))


async def pending_migrations(db: Database) -> list[str]:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_pending)


async def upgrade(db: Database) -> list[str]:
    """Apply every pending migration; returns the revisions applied."""
    pending = await pending_migrations(db)
    if pending:
        async with db.engine.begin() as connection:
            await connection.run_sync(_upgrade)
    return pending
