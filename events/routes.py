"""HTTP routes for the calendar feeds and the event pages that feed items link to."""

from __future__ import annotations

import gzip
import hashlib
import html
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from events import feed_source as _registered  # noqa: F401  (registers the events' feed items)
from events.feeds import FeedItem, FeedMeta, FeedScope, ItemCache, collect, render
from events.personal import feed_owner
from events.tables import Event, EventKind, EventVisibility
from schema.councils.tables import Council, Visibility
from server.dataversion import VersionCache
from server.db import Database, utcnow
from server.errors import BadInput
from server.i18n import language_tag
from server.settings import Settings

log = logging.getLogger("coalition.feeds")
CONTENT_TYPE = "text/calendar; charset=utf-8"


def feed_links(settings: Settings, path: str) -> dict[str, str]:
    """https, webcal and Google "add by URL" links for a feed path such as /calendars/public.ics."""
    https = f"{settings.base_url}{path}"
    webcal = "webcal://" + https.split("://", 1)[1]
    return {
        "https": https,
        "webcal": webcal,
        "google": f"https://calendar.google.com/calendar/render?cid={quote(webcal, safe='')}",
    }


@dataclass(frozen=True)
class Rendered:
    etag: str
    body: bytes
    gzipped: bytes
    last_modified: datetime | None
    personal: bool


class FeedCache:
    """Rendered feeds by (path, language, data version, day): unchanged data is never rebuilt."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, Rendered] = OrderedDict()

    def get(self, key: tuple) -> Rendered | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple, value: Rendered) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class Gone(Exception):
    pass


class Missing(Exception):
    pass


def _not_modified(request: Request, rendered: Rendered, etag: str) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags or rendered.etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since and rendered.last_modified is not None:
        try:
            return rendered.last_modified.replace(microsecond=0) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


class Feeds:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.cache = FeedCache()
        self.items = ItemCache()
        self.versions = VersionCache(db)

    async def _scope(self, session, request: Request) -> tuple[FeedScope, FeedMeta, bool]:
        """The feed a path names, its title, and whether it is personal."""
        day = utcnow().date()
        params = request.path_params
        node = self.settings.node_name
        source = f"{self.settings.base_url}{request.url.path}"
        if "token" in params:
            member_id = await feed_owner(session, params["token"])
            if member_id is None:
                raise Missing
            meta = FeedMeta(f"{node}: my calendar", "Events you registered for, follow, or sit on.", source, "purple")
            return FeedScope("personal", member_id, day), meta, True
        if "council_id" in params:
            council = await session.get(Council, params["council_id"])
            if council is None or council.visibility != Visibility.PUBLIC:
                raise Missing
            meta = FeedMeta(f"{node}: {council.name}", f"Public meetings of {council.name}.", source, "darkcyan")
            return FeedScope("council", council.id, day), meta, False
        if "conference_id" in params:
            conference = await session.get(Event, params["conference_id"])
            if conference is None or conference.kind != EventKind.CONFERENCE:
                raise Missing
            if conference.deleted_at is not None:
                raise Gone
            if conference.visibility != EventVisibility.PUBLIC:
                raise Missing
            meta = FeedMeta(f"{conference.title}", f"Programme of {conference.title}.", source, "darkorange")
            return FeedScope("conference", conference.id, day), meta, False
        if "kind" in params:
            try:
                kind = EventKind(params["kind"])
            except ValueError:
                raise Missing from None
            label = kind.value.replace("_", " ")
            return (
                FeedScope("kind", kind, day),
                FeedMeta(f"{node}: {label}s", f"Public {label}s of {node}.", source),
                False,
            )
        if params.get("whole") == "federation":
            meta = FeedMeta(
                f"{node}: the federation", "Public events of this coalition and its peers.", source, "indigo"
            )
            return FeedScope("federation", None, day), meta, False
        if params.get("whole") == "public":
            meta = FeedMeta(f"{node}: public events", f"All public events of {node}.", source)
            return FeedScope("public", None, day), meta, False
        raise Missing

    async def serve(self, request: Request) -> Response:
        try:
            return await self._serve(request)
        except Missing:
            return Response("No such calendar feed.\n", status_code=404, media_type="text/plain")
        except Gone:
            return Response("This calendar feed was retired.\n", status_code=410, media_type="text/plain")
        except Exception:
            log.exception("feed %s failed", request.url.path)
            return Response(
                "The calendar is briefly unavailable.\n",
                status_code=503,
                media_type="text/plain",
                headers={"Retry-After": "120"},
            )

    async def _serve(self, request: Request) -> Response:
        lang = request.query_params.get("lang")
        try:
            lang = language_tag(lang) if lang else None
        except BadInput:
            lang = None
        # Everything a feed shows (tokens and council visibility included) raises the data
        # version, so a feed rendered at this version and day is still exactly right.
        version = await self.versions.get()
        key = (request.url.path, lang, version, utcnow().date())
        rendered = self.cache.get(key)
        if rendered is None:
            async with self.db.read() as session:
                scope, meta, personal = await self._scope(session, request)
                items = await collect(session, self.settings, scope)
            rendered = self._render(meta, scope, items, lang, personal)
            self.cache.put(key, rendered)
        personal = rendered.personal
        use_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
        etag = f'"{rendered.etag}-gz"' if use_gzip else f'"{rendered.etag}"'
        headers = {
            "ETag": etag,
            "Cache-Control": ("private" if personal else "public") + ", max-age=300",
            "Vary": "Accept-Encoding",
        }
        if rendered.last_modified is not None:
            headers["Last-Modified"] = format_datetime(rendered.last_modified, usegmt=True)
        if _not_modified(request, rendered, etag):
            return Response(status_code=304, headers=headers)
        body = rendered.gzipped if use_gzip else rendered.body
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        return Response(body, headers=headers, media_type=CONTENT_TYPE)

    def _render(
        self, meta: FeedMeta, scope: FeedScope, items: list[FeedItem], lang: str | None, personal: bool
    ) -> Rendered:
        body = render(self.settings, meta, scope, items, lang, self.items)
        return Rendered(
            etag=hashlib.sha256(body).hexdigest()[:32],
            body=body,
            gzipped=gzip.compress(body, mtime=0),
            last_modified=max((item.last_modified for item in items), default=None),
            personal=personal,
        )


def event_page(db: Database, settings: Settings):
    """A plain page for a public event: where the URL in every feed item leads."""

    async def page(request: Request) -> Response:
        async with db.read() as session:
            event = await session.scalar(
                select(Event).where(
                    Event.id == request.path_params["event_id"],
                    Event.deleted_at.is_(None),
                    Event.visibility == EventVisibility.PUBLIC,
                )
            )
        if event is None:
            return HTMLResponse("<h1>No such public event</h1>", status_code=404)
        lang = request.query_params.get("lang")
        title = (event.translations.get(lang, {}).get("title") if lang else None) or event.title
        when = f"{event.start_local:%Y-%m-%d %H:%M} to {event.end_local:%Y-%m-%d %H:%M} {event.timezone or ''}"
        status = " (cancelled)" if event.status == "cancelled" else ""
        parts = [
            f"<!doctype html><html lang='{html.escape(event.language)}'><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{html.escape(title)}</title><h1>{html.escape(title)}{status}</h1>",
            f"<p>{html.escape(when)}</p>",
            f"<p>{html.escape(event.description)}</p>" if event.description else "",
            f"<p>{html.escape(', '.join(p for p in (event.venue, event.address) if p))}</p>" if event.venue else "",
        ]
        return HTMLResponse("".join(parts))

    return page


def routes(db: Database, settings: Settings) -> list[Route]:
    feeds = Feeds(db, settings)
    methods = ["GET", "HEAD"]
    return [
        Route("/calendars/{whole}.ics", feeds.serve, methods=methods),  # public.ics and federation.ics
        Route("/calendars/councils/{council_id}.ics", feeds.serve, methods=methods),
        Route("/calendars/conferences/{conference_id}.ics", feeds.serve, methods=methods),
        Route("/calendars/kinds/{kind}.ics", feeds.serve, methods=methods),
        Route("/calendars/private/{token}.ics", feeds.serve, methods=methods),
        Route("/events/{event_id}", event_page(db, settings)),
    ]
