"""Cursor pagination (Relay-style connections) over (created_at, id) keysets."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import BadInput

T = TypeVar("T")
DEFAULT_PAGE, MAX_PAGE = 50, 200


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def encode_cursor(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(stamp), row_id
    except (ValueError, UnicodeDecodeError):
        raise BadInput("'after' is not a cursor from this list; start again without it.", field="after") from None


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise BadInput(f"'first' must be between 1 and {MAX_PAGE}.", field="first")
    return size


async def keyset_page(
    session: AsyncSession,
    statement: Select,
    created_column: Any,
    id_column: Any,
    first: int | None,
    after: str | None,
    *,
    newest_first: bool = False,
) -> tuple[list[Any], bool]:
    """Rows of one page (oldest first, or newest first) and whether more follow."""
    size = page_size(first)
    if after:
        created_at, row_id = decode_cursor(after)
        if newest_first:
            beyond = or_(created_column < created_at, and_(created_column == created_at, id_column < row_id))
        else:
            beyond = or_(created_column > created_at, and_(created_column == created_at, id_column > row_id))
        statement = statement.where(beyond)
    order = (created_column.desc(), id_column.desc()) if newest_first else (created_column, id_column)
    rows = list((await session.execute(statement.order_by(*order).limit(size + 1))).all())
    return rows[:size], len(rows) > size


def connection(items: list[Any], keys: list[tuple[datetime, str]], has_next: bool) -> Connection:
    edges = [Edge(cursor=encode_cursor(*key), node=item) for item, key in zip(items, keys, strict=True)]
    return Connection(
        edges=edges, page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None)
    )
