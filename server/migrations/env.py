"""Alembic environment: runs on a connection handed over by server.migrate.

For ``alembic revision --autogenerate`` during development, set COALITION_DATABASE_URL (or use a
coalition.toml) and run alembic with ``-c server/migrations/alembic.ini``.
"""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import schema.tables  # noqa: F401  (registers every table on the metadata)

target_metadata = SQLModel.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    from server.db import Database
    from server.settings import load_settings

    db = Database(load_settings().database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(run)
    await db.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    asyncio.run(run_standalone())
