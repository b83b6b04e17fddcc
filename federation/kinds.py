"""Update kinds: each domain registers how to build a body (from an explicit allow-list of
fields) and how to apply a remote one. Federation never reaches into a domain's tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from federation.envelope import EnvelopeError, check_plain

Apply = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]
Prefetch = Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[None]]


@dataclass(frozen=True)
class UpdateKind:
    """``latest_wins``: each entry carries the object's whole state, so within a batch only the
    last entry per subject needs applying (at the place of the first, so dependencies hold)."""

    name: str
    fields: frozenset[str]
    apply: Apply
    latest_wins: bool = True
    prefetch: Prefetch | None = None  # loads a batch's rows in one query before applying it


KINDS: dict[str, UpdateKind] = {}


def update_kind(name: str, fields: Iterable[str], prefetch: Prefetch | None = None) -> Callable[[Apply], Apply]:
    """Register ``name`` with the body fields it may carry; the decorated function applies it."""

    def register(apply: Apply) -> Apply:
        KINDS[name] = UpdateKind(name, frozenset(fields), apply, prefetch=prefetch)
        return apply

    return register


def body(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """A body holding only the kind's allowed fields: nothing else can leave the node."""
    kind = KINDS[name]
    built = {field: values[field] for field in sorted(kind.fields) if field in values}
    check_plain(built)
    return built


def check_body(name: str, value: dict[str, Any]) -> UpdateKind:
    kind = KINDS.get(name)
    if kind is None:
        raise EnvelopeError(f"unknown update kind '{name}'")
    extra = set(value) - kind.fields
    if extra:
        raise EnvelopeError(f"'{name}' bodies do not carry {sorted(extra)}")
    return kind


def iso(value: datetime | date | float | None) -> str | None:
    """Times (and coordinates) travel as strings: bodies hold no floats."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime | date) else repr(value)


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
