"""A data version: a counter raised in the same transaction as every change that public views
(calendar feeds, tallies) show, so those views can answer If-None-Match from one indexed read."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

FEEDS = "feeds"


class DataVersion(SQLModel, table=True):
    __tablename__ = "data_version"

    name: str = Field(primary_key=True, max_length=32)
    version: int = 0


async def bump(session: AsyncSession, name: str = FEEDS) -> None:
    result = await session.execute(
        update(DataVersion).where(DataVersion.name == name).values(version=DataVersion.version + 1)
    )
    if result.rowcount == 0:
        session.add(DataVersion(name=name, version=1))
        await session.flush()


async def current(session: AsyncSession, name: str = FEEDS) -> int:
    return await session.scalar(select(DataVersion.version).where(DataVersion.name == name)) or 0
