"""The HTTP surface: GraphQL at /graphql and the health check, assembled into one Starlette app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from events.routes import routes as event_routes
from schema.assembly import build_schema
from schema.context import Context
from server.accounts.service import authenticate
from server.db import Database
from server.settings import Settings

log = logging.getLogger("coalition")


def bearer_token(connection: HTTPConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class CoalitionGraphQL(GraphQL):
    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(
            build_schema(),
            graphql_ide="graphiql" if settings.dev_mode else None,
            multipart_uploads_enabled=True,  # .ics import; safe because auth is a bearer header, not a cookie
        )
        self.db = db
        self.settings = settings

    async def get_context(self, request, response) -> Context:  # type: ignore[override]
        token = bearer_token(request)
        viewer = await authenticate(self.db, token) if token else None
        return Context(request=request, response=response, db=self.db, settings=self.settings, viewer=viewer)


def create_app(settings: Settings, db: Database | None = None) -> Starlette:
    """The node's ASGI app. ``db`` is given by tests that share one database between apps."""
    database = db or Database(settings.database_url)

    async def healthz(_: Request) -> JSONResponse:
        if await database.ping():
            return JSONResponse({"status": "ok", "database": "ok", "node": settings.node_id})
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"}, status_code=503, headers={"Retry-After": "30"}
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await database.dispose()

    graphql = CoalitionGraphQL(database, settings)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            *event_routes(database, settings),
        ],
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    return app
