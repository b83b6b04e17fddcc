"""iCalendar feeds. Domains contribute ``FeedItem``s through ``feed_source``; the builder turns
them into a calendar that is byte-identical for unchanged data (no clock reads: every time comes
from the data or from the day the window is anchored on)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone, vCategory, vDDDTypes, vDuration, vGeo, vInt, vRecur, vText, vUri
from icalendar import Event as VEvent
from sqlalchemy.ext.asyncio import AsyncSession

from server.settings import Settings

WINDOW_BACK = timedelta(days=30)
WINDOW_AHEAD = timedelta(days=548)  # about 18 months
CANCELLED_GRACE = timedelta(days=30)
REFRESH = timedelta(hours=1)
PRODID = "-//coalition-node//coalition-node calendar//EN"

CANCELLED_PREFIX = {
    "en": "Cancelled",
    "sw": "Imeahirishwa",
    "fr": "Annulé",
    "es": "Cancelado",
    "pt": "Cancelado",
    "ar": "أُلغي",
    "hi": "रद्द",
    "ne": "रद्द गरियो",
    "am": "ተሰርዟል",
    "th": "ยกเลิก",
    "tl": "Kanselado",
    "id": "Dibatalkan",
    "ru": "Отменено",
    "uk": "Скасовано",
    "de": "Abgesagt",
    "it": "Annullato",
}


@dataclass(frozen=True)
class FeedScope:
    """Which feed is being built. ``key`` is the council or conference id, the kind, or the member
    id of a personal feed; the window is anchored on ``day`` so output only moves once a day."""

    kind: str
    key: str | None
    day: date

    @property
    def window_start(self) -> datetime:
        return datetime.combine(self.day, datetime.min.time(), UTC) - WINDOW_BACK

    @property
    def window_end(self) -> datetime:
        return datetime.combine(self.day, datetime.min.time(), UTC) + WINDOW_AHEAD

    @property
    def cancelled_since(self) -> datetime:
        return datetime.combine(self.day, datetime.min.time(), UTC) - CANCELLED_GRACE


@dataclass(frozen=True)
class FeedOverride:
    recurrence_id: datetime  # local
    start_local: datetime
    end_local: datetime
    sequence: int
    title: str | None = None
    description: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class FeedItem:
    uid: str
    sequence: int
    title: str
    language: str
    start_local: datetime
    end_local: datetime
    timezone: str | None  # None with all_day: dates
    all_day: bool
    created: datetime
    last_modified: datetime
    url: str
    description: str = ""
    translations: dict = field(default_factory=dict)
    status: str = "confirmed"
    rrule: str | None = None
    exdates: tuple[str, ...] = ()
    overrides: tuple[FeedOverride, ...] = ()
    location: str | None = None
    geo: tuple[float, float] | None = None
    online_url: str | None = None
    categories: tuple[str, ...] = ()


FeedSource = Callable[[AsyncSession, Settings, FeedScope], Awaitable[list[FeedItem]]]
_sources: list[FeedSource] = []


def feed_source(source: FeedSource) -> FeedSource:
    """Register a domain's contribution to the feeds (events, petition deadlines, ...)."""
    _sources.append(source)
    return source


async def collect(session: AsyncSession, settings: Settings, scope: FeedScope) -> list[FeedItem]:
    items: list[FeedItem] = []
    for source in _sources:
        items.extend(await source(session, settings, scope))
    return sorted(items, key=lambda item: (item.start_local, item.uid))


def _text(item: FeedItem | FeedOverride, name: str, lang: str | None, fallback: FeedItem) -> tuple[str, str]:
    """(text, language) of a field, in ``lang`` when translated, else in the original."""
    original = getattr(item, name)
    if original is None:
        return _text(fallback, name, lang, fallback)
    if isinstance(item, FeedItem) and lang and lang != item.language:
        translated = item.translations.get(lang, {}).get(name)
        if translated:
            return translated, lang
    return original, fallback.language


def _moment(local: datetime, item: FeedItem) -> datetime | date:
    if item.all_day:
        return local.date()
    return local.replace(tzinfo=ZoneInfo(item.timezone or "UTC"))


def _summary(title: str, status: str, language: str) -> str:
    if status != "cancelled":
        return title
    prefix = CANCELLED_PREFIX.get(language) or CANCELLED_PREFIX.get(language.split("-")[0], CANCELLED_PREFIX["en"])
    return f"{prefix}: {title}"


def _tagged(value: str, language: str) -> vText:
    text = vText(value)
    text.params["LANGUAGE"] = language
    return text


def _uri(value: str, **params: str) -> vUri:
    uri = vUri(value)
    uri.params.update({"VALUE": "URI", **params})
    return uri


# Properties are set as typed values rather than through Component.add, which infers types
# and costs about a third more on large feeds (see bench/feeds.py).
def _fill(
    vevent: VEvent,
    item: FeedItem,
    start: datetime,
    end: datetime,
    sequence: int,
    status: str,
    summary: vText,
    description: vText | None,
) -> None:
    vevent["SUMMARY"] = summary
    if description is not None:
        vevent["DESCRIPTION"] = description
    vevent["DTSTART"] = vDDDTypes(_moment(start, item))
    vevent["DTEND"] = vDDDTypes(_moment(end, item))
    vevent["UID"] = vText(item.uid)
    vevent["SEQUENCE"] = vInt(sequence)
    vevent["STATUS"] = vText(status.upper())
    vevent["DTSTAMP"] = vDDDTypes(item.last_modified)
    vevent["CREATED"] = vDDDTypes(item.created)
    vevent["LAST-MODIFIED"] = vDDDTypes(item.last_modified)
    vevent["URL"] = _uri(item.url)
    if item.location:
        vevent["LOCATION"] = vText(item.location)
    if item.geo:
        vevent["GEO"] = vGeo(item.geo)
    if item.online_url:
        vevent["CONFERENCE"] = _uri(item.online_url, FEATURE="AUDIO,VIDEO")
    if item.categories:
        vevent["CATEGORIES"] = vCategory(list(item.categories))
    vevent["TRANSP"] = vText("OPAQUE")


def _vevents(item: FeedItem, lang: str | None) -> list[VEvent]:
    title, title_lang = _text(item, "title", lang, item)
    description, description_lang = _text(item, "description", lang, item)
    master = VEvent()
    _fill(
        master,
        item,
        item.start_local,
        item.end_local,
        item.sequence,
        item.status,
        _tagged(_summary(title, item.status, title_lang), title_lang),
        _tagged(description, description_lang) if description else None,
    )
    if item.rrule:
        master["RRULE"] = vRecur.from_ical(item.rrule)
        if item.exdates:
            master.add("exdate", [_moment(datetime.fromisoformat(value), item) for value in sorted(item.exdates)])
    components = [master]
    for override in sorted(item.overrides, key=lambda o: o.recurrence_id):
        status = override.status or item.status
        o_description = override.description if override.description is not None else description
        vevent = VEvent()
        _fill(
            vevent,
            item,
            override.start_local,
            override.end_local,
            override.sequence,
            status,
            _tagged(_summary(override.title or title, status, title_lang), title_lang),
            _tagged(o_description, description_lang) if o_description else None,
        )
        vevent["RECURRENCE-ID"] = vDDDTypes(_moment(override.recurrence_id, item))
        components.append(vevent)
    return components


class ItemCache:
    """Serialised VEVENTs by item and language. An item renders the same in every feed, so after
    a change only the changed items are serialised again."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str | None], bytes] = OrderedDict()

    def bytes_of(self, item: FeedItem, lang: str | None) -> bytes:
        key = (repr(item), lang)  # the whole content: any change is a new entry
        found = self._entries.get(key)
        if found is None:
            found = b"".join(component.to_ical() for component in _vevents(item, lang))
            self._entries[key] = found
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return found


@dataclass(frozen=True)
class FeedMeta:
    name: str
    description: str
    source_url: str
    color: str = "teal"


def render(
    settings: Settings,
    meta: FeedMeta,
    scope: FeedScope,
    items: list[FeedItem],
    lang: str | None,
    cache: ItemCache | None = None,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", meta.name)
    calendar.add("x-wr-calname", meta.name)
    calendar.add("description", meta.description)
    calendar.add("x-wr-caldesc", meta.description)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))  # a bare timedelta would print "1:00:00"
    calendar.add("source", meta.source_url, parameters={"VALUE": "URI"})
    calendar.add("url", settings.base_url, parameters={"VALUE": "URI"})
    calendar.add("color", meta.color)
    zones = sorted({item.timezone for item in items if item.timezone and not item.all_day})
    if zones:
        earliest = min([scope.window_start, *(i.start_local.replace(tzinfo=UTC) for i in items)]) - timedelta(days=1)
        for name in zones:
            timezone = Timezone.from_tzid(name, first_date=earliest.date(), last_date=scope.window_end.date())
            calendar.add_component(timezone)
        _split_rdates(calendar)
    head = calendar.to_ical()
    assert head.endswith(b"END:VCALENDAR\r\n")
    cache = cache or ItemCache()
    return b"".join(
        [head[: -len(b"END:VCALENDAR\r\n")], *(cache.bytes_of(i, lang) for i in items), b"END:VCALENDAR\r\n"]
    )


def _split_rdates(calendar: Calendar) -> None:
    """Give each time-zone transition its own STANDARD/DAYLIGHT block instead of RDATE lists.

    Both are valid iCalendar, but ical.js (Thunderbird's parser) applies an observance that
    carries RDATEs only at its RDATE instants, which shifts DST-season meetings by an hour."""
    for timezone in calendar.walk("VTIMEZONE"):
        blocks = []
        for observance in timezone.subcomponents:
            rdates = observance.pop("RDATE", None)
            blocks.append(observance)
            if rdates is None:
                continue
            for entry in rdates if isinstance(rdates, list) else [rdates]:
                for moment in entry.dts:
                    copy = observance.copy()
                    copy.subcomponents = []
                    copy.pop("DTSTART")
                    copy.add("dtstart", moment.dt)
                    blocks.append(copy)
        timezone.subcomponents = blocks
