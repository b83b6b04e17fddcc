"""The calendar feeds, checked against ICS.md: what calendar apps need to trust them."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from feedcheck import expanded, icaljs, strict_parse

CREATE = "mutation($input: EventInput!) { createEvent(input: $input) { id uid } }"
ZONES = ["Africa/Nairobi", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Berlin"]
START, END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)


@pytest.fixture
async def organiser(node):
    return await node.join("organiser", "organiser")


async def create(node, token, **fields) -> dict:
    payload = {
        "title": "Meeting",
        "start": "2026-12-01T18:00:00",
        "end": "2026-12-01T19:00:00",
        "timezone": "Africa/Nairobi",
        **fields,
    }
    return (await node.data(CREATE, {"input": payload}, token))["createEvent"]


async def feed(node, path: str = "/calendars/public.ics", **headers) -> tuple[bytes, object]:
    """A feed as a client that does not ask for gzip gets it (httpx asks by default)."""
    response = await node.client.get(path, headers={"Accept-Encoding": "identity", **headers})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return response.content, response


def vevents(calendar: Calendar) -> list:
    return list(calendar.walk("VEVENT"))


async def test_feeds_parse_cleanly_in_every_zone_and_agree_with_two_expanders(node, organiser):
    for n, zone in enumerate(ZONES):
        await create(
            node,
            organiser["token"],
            title=f"Circle {zone}",
            kind="CIRCLE",
            timezone=zone,
            start=f"2027-0{n + 1}-03T18:30:00",
            end=f"2027-0{n + 1}-03T20:00:00",
            rrule="FREQ=WEEKLY;COUNT=12" if n % 2 == 0 else "FREQ=MONTHLY;BYMONTHDAY=3,17;UNTIL=20271231T000000Z",
            description="Bring tea; commas, semicolons; and\\backslashes — also ünïcödé ✓ " * 3,
            venue="Hall",
            latitude=-1.28,
            longitude=36.82,
            onlineUrl="https://meet.example.org/c",
        )
    await create(
        node,
        organiser["token"],
        title="Day of remembrance",
        kind="OBSERVANCE",
        allDay=True,
        startDate="2027-07-30",
        endDate="2027-07-30",
    )
    body, _ = await feed(node)
    calendar = strict_parse(body)
    assert sorted(str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")) == sorted(ZONES)
    ours = expanded(calendar, START, END)
    theirs = await icaljs(body, START, END)
    js = {event["uid"]: event["starts"] for event in theirs["events"] if event["tzid"]}
    assert js == ours
    assert sum(len(starts) for starts in ours.values()) > 30
    # and both agree with what the GraphQL API lists
    listed = await node.data(
        'query { events(from: "2026-10-01T00:00:00Z", to: "2028-01-01T00:00:00Z", first: 200) '
        "{ nodes { event { uid allDay } start } } }"
    )
    api: dict[str, list[str]] = {}
    for occurrence in listed["events"]["nodes"]:
        if not occurrence["event"]["allDay"]:
            moment = datetime.fromisoformat(occurrence["start"]).astimezone(UTC)
            api.setdefault(occurrence["event"]["uid"], []).append(moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    assert {uid: sorted(starts) for uid, starts in api.items()} == ours


async def test_calendar_and_event_properties(node, organiser):
    event = await create(
        node,
        organiser["token"],
        kind="TOWN_HALL",
        venue="Hall",
        address="Main St",
        latitude=-1.5,
        longitude=36.5,
        onlineUrl="https://meet.example.org/x",
    )
    body, _ = await feed(node)
    calendar = strict_parse(body)
    for name in ("PRODID", "NAME", "X-WR-CALNAME", "DESCRIPTION", "X-WR-CALDESC", "SOURCE", "URL", "COLOR"):
        assert calendar.get(name), name
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in body
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in body
    assert str(calendar["SOURCE"]) == "https://node-a.test/calendars/public.ics"
    assert b"METHOD" not in body and b"VALARM" not in body
    (vevent,) = vevents(calendar)
    assert str(vevent["UID"]) == event["uid"]
    assert str(vevent["URL"]) == f"https://node-a.test/events/{event['id']}"
    assert str(vevent["LOCATION"]) == "Hall, Main St"
    assert (vevent["GEO"].latitude, vevent["GEO"].longitude) == (-1.5, 36.5)
    assert b'CONFERENCE;FEATURE="AUDIO,VIDEO";VALUE=URI:https://meet.example.org/x' in body
    assert vevent["CATEGORIES"].cats == ["Town hall"]
    assert vevent["DTSTAMP"].dt == vevent["LAST-MODIFIED"].dt
    assert vevent["DTSTART"].params["TZID"] == "Africa/Nairobi"
    # the page the URL leads to exists
    page = await node.client.get(f"/events/{event['id']}")
    assert page.status_code == 200 and "Meeting" in page.text


async def test_unchanged_data_gives_identical_bytes_and_304s(node, organiser):
    await create(node, organiser["token"])
    first, response = await feed(node)
    second, again = await feed(node)
    assert first == second
    etag = response.headers["etag"]
    assert etag == again.headers["etag"] and not etag.startswith("W/")
    plain = {"Accept-Encoding": "identity"}
    not_modified = await node.client.get("/calendars/public.ics", headers={**plain, "If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    since = await node.client.get(
        "/calendars/public.ics", headers={**plain, "If-Modified-Since": response.headers["last-modified"]}
    )
    assert since.status_code == 304
    # Accept: text/calendar never gets 406, and HEAD works
    accepted = await node.client.get("/calendars/public.ics", headers={"Accept": "text/calendar"})
    assert accepted.status_code == 200
    head = await node.client.head("/calendars/public.ics", headers=plain)
    assert head.status_code == 200 and head.headers["etag"] == etag
    # gzip when asked, with its own strong tag
    zipped = await node.client.get("/calendars/public.ics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == first  # httpx decodes; the bytes underneath are gzip
    assert zipped.headers["etag"] != etag
    # a change gives a new tag and new content
    await create(node, organiser["token"], title="Another")
    changed = await node.client.get("/calendars/public.ics", headers={**plain, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_edits_keep_the_uid_and_raise_sequence_cancellations_stay(node, organiser):
    event = await create(node, organiser["token"], title="Council meeting", language="en")
    await node.data(
        'mutation($id: ID!) { setEventTranslation(id: $id, lang: "sw", title: "Mkutano wa baraza") { id } }',
        {"id": event["id"]},
        organiser["token"],
    )
    before = vevents(strict_parse((await feed(node))[0]))[0]
    await node.data(
        'mutation($id: ID!) { updateEvent(id: $id, changes: {start: "2026-12-01T17:00:00"}) { id } }',
        {"id": event["id"]},
        organiser["token"],
    )
    after = vevents(strict_parse((await feed(node))[0]))[0]
    assert str(after["UID"]) == str(before["UID"]) == event["uid"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["LAST-MODIFIED"].dt >= before["LAST-MODIFIED"].dt
    await node.data("mutation($id: ID!) { cancelEvent(id: $id) { id } }", {"id": event["id"]}, organiser["token"])
    cancelled = vevents(strict_parse((await feed(node))[0]))[0]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["SUMMARY"]) == "Cancelled: Council meeting"
    assert cancelled["SEQUENCE"] > after["SEQUENCE"]
    swahili_body, _ = await feed(node, "/calendars/public.ics?lang=sw")
    swahili = vevents(strict_parse(swahili_body))[0]
    assert str(swahili["SUMMARY"]) == "Imeahirishwa: Mkutano wa baraza"
    assert swahili["SUMMARY"].params["LANGUAGE"] == "sw"
    # a language without a translation falls back to the original, tagged as such
    french = vevents(strict_parse((await feed(node, "/calendars/public.ics?lang=fr"))[0]))[0]
    assert french["SUMMARY"].params["LANGUAGE"] == "en"


async def test_changed_and_removed_occurrences_in_the_feed(node, organiser):
    event = await create(
        node,
        organiser["token"],
        start="2027-02-01T10:00:00",
        end="2027-02-01T11:00:00",
        timezone="Asia/Kathmandu",
        rrule="FREQ=DAILY;COUNT=5",
    )
    await node.data(
        'mutation($id: ID!) { changeOccurrence(eventId: $id, recurrenceId: "2027-02-02T10:00:00", '
        'changes: {start: "2027-02-02T12:00:00", end: "2027-02-02T13:00:00", title: "Later today"}) { id } }',
        {"id": event["id"]},
        organiser["token"],
    )
    await node.data(
        'mutation($id: ID!) { removeOccurrence(eventId: $id, recurrenceId: "2027-02-04T10:00:00") { id } }',
        {"id": event["id"]},
        organiser["token"],
    )
    body, _ = await feed(node)
    calendar = strict_parse(body)
    master, changed = vevents(calendar)
    assert b"EXDATE;TZID=Asia/Kathmandu:20270204T100000" in body
    assert b"RECURRENCE-ID;TZID=Asia/Kathmandu:20270202T100000" in body
    assert str(changed["UID"]) == str(master["UID"]) and str(changed["SUMMARY"]) == "Later today"
    starts = expanded(calendar, START, END)[event["uid"]]
    assert starts == [
        "2027-02-01T04:15:00.000Z",
        "2027-02-02T06:15:00.000Z",
        "2027-02-03T04:15:00.000Z",
        "2027-02-05T04:15:00.000Z",
    ]
    js = await icaljs(body, START, END)
    assert js["events"][0]["starts"] == starts


async def test_council_conference_and_kind_feeds(node, organiser):
    council = (
        await node.data('mutation { createCouncil(input: {name: "Youth Council"}) { id } }', token=organiser["token"])
    )["createCouncil"]["id"]
    hidden = (
        await node.data(
            'mutation { createCouncil(input: {name: "Safety", visibility: MEMBERS}) { id } }', token=organiser["token"]
        )
    )["createCouncil"]["id"]
    await create(node, organiser["token"], title="Youth council meeting", kind="COUNCIL_MEETING", councilId=council)
    await create(
        node,
        organiser["token"],
        title="Members-only meeting",
        kind="COUNCIL_MEETING",
        councilId=council,
        visibility="MEMBERS",
    )
    conference = await create(
        node,
        organiser["token"],
        title="Summit",
        kind="CONFERENCE",
        start="2027-05-10T09:00:00",
        end="2027-05-11T17:00:00",
    )
    await create(
        node,
        organiser["token"],
        title="Plenary",
        kind="SESSION",
        parentId=conference["id"],
        start="2027-05-10T09:00:00",
        end="2027-05-10T10:00:00",
    )
    titles = lambda body: sorted(str(e["SUMMARY"]) for e in vevents(strict_parse(body)))  # noqa: E731
    assert titles((await feed(node, f"/calendars/councils/{council}.ics"))[0]) == ["Youth council meeting"]
    assert titles((await feed(node, f"/calendars/conferences/{conference['id']}.ics"))[0]) == ["Plenary", "Summit"]
    assert titles((await feed(node, "/calendars/kinds/session.ics"))[0]) == ["Plenary"]
    assert titles((await feed(node, "/calendars/kinds/review_meeting.ics"))[0]) == []
    for missing in (
        f"/calendars/councils/{hidden}.ics",
        "/calendars/councils/nope.ics",
        "/calendars/kinds/party.ics",
        "/calendars/nope.ics",
        "/calendars/conferences/nope.ics",
        "/calendars/private/not-a-token.ics",
    ):
        assert (await node.client.get(missing)).status_code == 404, missing
    # an empty feed is still a calendar, never an empty 200
    empty, _ = await feed(node, "/calendars/kinds/training.ics")
    assert empty.startswith(b"BEGIN:VCALENDAR\r\n") and b"X-WR-CALNAME" in empty
    await node.data("mutation($id: ID!) { deleteEvent(id: $id) }", {"id": conference["id"]}, organiser["token"])
    assert (await node.client.get(f"/calendars/conferences/{conference['id']}.ics")).status_code == 410


async def test_personal_feed_token_lifecycle(node, organiser):
    council = (
        await node.data('mutation { createCouncil(input: {name: "Council"}) { id } }', token=organiser["token"])
    )["createCouncil"]["id"]
    member = await node.join("member")
    await node.data(
        "mutation($c: ID!, $m: ID!) { addCouncilSeat(input: {councilId: $c, memberId: $m}) { id } }",
        {"c": council, "m": member["id"]},
        organiser["token"],
    )
    registered = await create(node, organiser["token"], title="Training I joined", visibility="MEMBERS")
    followed = await create(node, organiser["token"], title="Public event I follow")
    await create(node, organiser["token"], title="Council-only meeting", visibility="COUNCIL", councilId=council)
    await create(node, organiser["token"], title="Not mine")
    await node.data(
        "mutation($id: ID!) { register(eventId: $id) { status } }", {"id": registered["id"]}, member["token"]
    )
    await node.data("mutation($id: ID!) { followEvent(eventId: $id) }", {"id": followed["id"]}, member["token"])
    created = await node.data(
        'mutation { createFeedToken(label: "phone") { token { id } feed { https webcal } } }', token=member["token"]
    )
    url = created["createFeedToken"]["feed"]["https"]
    path = url.removeprefix("https://node-a.test")
    assert path.startswith("/calendars/private/") and len(url) < 256
    body, response = await feed(node, path)
    assert sorted(str(e["SUMMARY"]) for e in vevents(strict_parse(body))) == [
        "Council-only meeting",
        "Public event I follow",
        "Training I joined",
    ]
    assert response.headers["cache-control"].startswith("private")
    tokens = await node.data("{ myFeedTokens { id label revoked } }", token=member["token"])
    assert tokens["myFeedTokens"] == [
        {"id": created["createFeedToken"]["token"]["id"], "label": "phone", "revoked": False}
    ]
    other = await node.join("other")
    stolen = await node.error(
        "mutation($id: ID!) { revokeFeedToken(id: $id) { id } }",
        {"id": created["createFeedToken"]["token"]["id"]},
        other["token"],
    )
    assert stolen["extensions"]["code"] == "NOT_FOUND"
    await node.data(
        "mutation($id: ID!) { revokeFeedToken(id: $id) { revoked } }",
        {"id": created["createFeedToken"]["token"]["id"]},
        member["token"],
    )
    assert (await node.client.get(path)).status_code == 404


async def test_feed_errors_are_503_with_retry_after(node, organiser, monkeypatch):
    from events import routes

    async def broken(*_args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(routes, "collect", broken)
    response = await node.client.get("/calendars/kinds/circle.ics")
    assert response.status_code == 503 and response.headers["retry-after"] == "120"


async def test_gzip_bytes_are_really_gzip(node, organiser):
    await create(node, organiser["token"])
    async with node.client.stream("GET", "/calendars/public.ics", headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert gzip.decompress(raw).startswith(b"BEGIN:VCALENDAR")


async def test_changes_from_another_process_show_within_a_second(node, organiser):
    """Another server process shares the database: its commits reach this one's feeds within the TTL."""
    import asyncio

    from sqlalchemy import text

    await create(node, organiser["token"])
    plain = {"Accept-Encoding": "identity"}
    first = await node.client.get("/calendars/public.ics", headers=plain)
    etag = first.headers["etag"]
    # a raw write, as another process would make it: this process hears nothing of it
    async with node.db.write_engine.begin() as connection:
        await connection.execute(text("UPDATE event SET title = 'Changed elsewhere', sequence = sequence + 1"))
        await connection.execute(text("UPDATE data_version SET version = version + 1"))
    await asyncio.sleep(1.1)
    second = await node.client.get("/calendars/public.ics", headers={**plain, "If-None-Match": etag})
    assert second.status_code == 200 and b"Changed elsewhere" in second.content
