"""Independent checks of served calendars: icalendar's own validation and ical.js through Node."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import recurring_ical_events
from icalendar import Calendar

JS = Path(__file__).with_name("js")


def strict_parse(body: bytes) -> Calendar:
    """Parse as calendar apps would, failing on anything icalendar flags or a TZID without VTIMEZONE."""
    assert not body.startswith(b"\xef\xbb\xbf"), "feeds carry no byte order mark"
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b""), "lines end in CRLF only"
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, f"line longer than 75 octets: {line!r}"
        line.decode("utf-8")  # folding never splits a character
    calendar = Calendar.from_ical(body.decode("utf-8"))
    for component in calendar.walk():
        assert not component.errors, (component.name, component.errors)
    assert not calendar.get_missing_tzids(), f"TZIDs without VTIMEZONE: {calendar.get_missing_tzids()}"
    return calendar


def expanded(calendar: Calendar, start: datetime, end: datetime) -> dict[str, list[str]]:
    """UID -> sorted UTC starts of timed occurrences, as recurring-ical-events expands them."""
    found: dict[str, list[str]] = {}
    for event in recurring_ical_events.of(calendar).between(start, end):
        moment = event["DTSTART"].dt
        if isinstance(moment, datetime):
            found.setdefault(str(event["UID"]), []).append(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    return {uid: sorted(starts) for uid, starts in found.items()}


async def icaljs(body: bytes, start: datetime, end: datetime) -> dict:
    """What ical.js (Thunderbird's parser) reads from the feed."""
    node = shutil.which("node")
    assert node, "Node.js is needed for the ical.js check; tests/run.sh installs its packages"
    assert (JS / "node_modules" / "ical.js").exists(), "run `npm install` in tests/js (tests/run.sh does)"
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / "expand.mjs"),
        start.isoformat(),
        end.isoformat(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(body), timeout=60)
    assert process.returncode == 0, err.decode()
    return json.loads(out)
