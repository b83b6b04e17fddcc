"""Series: RRULE validation and expansion in local wall-clock time (so DST keeps meetings at the
same hour), EXDATEs and changed occurrences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import rrule, rrulestr

from server.errors import BadInput

ALLOWED_FREQUENCIES = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
MAX_COUNT = 1000
MAX_OCCURRENCES_PER_QUERY = 5000
_ZONES: set[str] | None = None


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """An IANA zone, or ``BAD_USER_INPUT`` naming the field."""
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    if name not in _ZONES:
        raise BadInput(f"'{name}' is not an IANA time zone; use a name such as 'Africa/Nairobi'.", field=field)
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:  # pragma: no cover - available_timezones said it exists
        raise BadInput(f"Time zone '{name}' is not available on this node.", field=field) from None


def to_utc(local: datetime, timezone: str | None) -> datetime:
    if timezone is None:
        return local.replace(tzinfo=UTC)
    return local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def parse_rule(text: str, start_local: datetime, timezone: str | None) -> rrule:
    text = text.strip().removeprefix("RRULE:")
    parts = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    if parts.get("FREQ") not in ALLOWED_FREQUENCIES:
        raise BadInput(
            "A repeat rule needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY, e.g. 'FREQ=WEEKLY;BYDAY=MO;COUNT=10'.",
            field="rrule",
        )
    if "COUNT" in parts and not (parts["COUNT"].isdigit() and 1 <= int(parts["COUNT"]) <= MAX_COUNT):
        raise BadInput(f"COUNT must be between 1 and {MAX_COUNT}.", field="rrule")
    dtstart = start_local.replace(tzinfo=ZoneInfo(timezone)) if timezone else start_local
    try:
        rule = rrulestr(f"RRULE:{text}", dtstart=dtstart)
    except (ValueError, TypeError) as error:
        raise BadInput(f"The repeat rule '{text}' is not valid: {error}.", field="rrule") from None
    if not isinstance(rule, rrule):
        raise BadInput("Give one repeat rule.", field="rrule")
    return rule


def check_synchronised(rule: rrule, start_local: datetime) -> None:
    """The start must itself be an occurrence: RFC 5545 leaves other cases undefined, and calendar
    apps disagree on them (some show the start as an extra occurrence, some do not)."""
    first = next(iter(rule), None)
    if first is None:
        raise BadInput("This repeat rule has no occurrences.", field="rrule")
    if first.replace(tzinfo=None) != start_local:
        raise BadInput(
            f"The start ({start_local:%A %Y-%m-%d %H:%M}) is not an occurrence of the repeat rule; "
            f"start on {first:%A %Y-%m-%d %H:%M} or change the rule.",
            field="start",
        )


def never_ends(rule_text: str | None) -> bool:
    return bool(rule_text) and "COUNT=" not in rule_text and "UNTIL=" not in rule_text


@dataclass(frozen=True)
class Occurrence:
    recurrence_id: datetime | None  # the original local start, for series
    start_local: datetime
    end_local: datetime
    start: datetime  # UTC
    end: datetime  # UTC


def series_end(
    start_local: datetime, end_local: datetime, timezone: str | None, rule_text: str | None
) -> datetime | None:
    """UTC end of the last occurrence; ``None`` for a series that never ends."""
    if not rule_text:
        return to_utc(end_local, timezone)
    if never_ends(rule_text):
        return None
    rule = parse_rule(rule_text, start_local, timezone)
    occurrences = list(rule)  # bounded by COUNT <= MAX_COUNT or by UNTIL
    last = occurrences[-1] if occurrences else None
    if last is None:
        return to_utc(end_local, timezone)
    return to_utc(last.replace(tzinfo=None) + (end_local - start_local), timezone)


def expand(
    start_local: datetime,
    end_local: datetime,
    timezone: str | None,
    rule_text: str | None,
    exdates: list[str],
    window_start: datetime,
    window_end: datetime,
) -> list[Occurrence]:
    """Occurrences overlapping [window_start, window_end) (UTC), before overrides."""
    duration = end_local - start_local
    if not rule_text:
        start, end = to_utc(start_local, timezone), to_utc(end_local, timezone)
        return (
            [Occurrence(None, start_local, end_local, start, end)] if start < window_end and end > window_start else []
        )
    rule = parse_rule(rule_text, start_local, timezone)
    excluded = {datetime.fromisoformat(value) for value in exdates}
    # search in local time with a day of margin for zone offsets, then filter exactly in UTC
    margin = timedelta(days=1)
    tz = ZoneInfo(timezone) if timezone else None
    low = (
        (window_start - duration - margin).astimezone(tz).replace(tzinfo=tz)
        if tz
        else (window_start - duration - margin).replace(tzinfo=None)
    )
    high = (window_end + margin).astimezone(tz) if tz else (window_end + margin).replace(tzinfo=None)
    found = []
    for occurrence in rule.between(low, high, inc=True):
        local = occurrence.replace(tzinfo=None)
        if local in excluded:
            continue
        start, end = to_utc(local, timezone), to_utc(local + duration, timezone)
        if start < window_end and end > window_start:
            found.append(Occurrence(local, local, local + duration, start, end))
            if len(found) > MAX_OCCURRENCES_PER_QUERY:
                raise BadInput("That window holds too many occurrences; ask for a shorter period.", field="to")
    return found
