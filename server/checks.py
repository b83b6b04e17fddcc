"""Input checks shared by every domain; each failure names the field and the fix."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import TypeVar

from server.errors import BadInput

E = TypeVar("E", bound=Enum)


def text(value: str | None, field: str, *, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BadInput(f"'{field}' cannot be empty.", field=field)
    if len(value) > max_length:
        raise BadInput(f"'{field}' has {len(value)} characters; the limit is {max_length}.", field=field)
    return value


def date_range(start: date | None, end: date | None, *, start_field: str, end_field: str) -> None:
    if start is not None and end is not None and end < start:
        raise BadInput(f"'{end_field}' ({end}) is before '{start_field}' ({start}).", field=end_field)


def count(value: int | None, field: str, *, maximum: int = 10_000_000) -> int | None:
    if value is not None and not 0 <= value <= maximum:
        raise BadInput(f"'{field}' must be between 0 and {maximum}.", field=field)
    return value


def choice(kind: type[E], value: object, field: str) -> E:
    """A member of ``kind``, or ``BAD_USER_INPUT`` listing the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(item.value) for item in kind)
        raise BadInput(f"'{value}' is not a valid {field}; use one of: {choices}.", field=field) from None
