"""The HTTP surface: GraphQL at /graphql and the health check, assembled into one Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from events.routes import routes as event_routes
from federation.identity import load_identity
from federation.log import LogWriter
from federation.routes import routes as federation_routes
from federation.runtime import ClientFactory, Federation, default_client
from schema.assembly import build_schema
from schema.context import Context
from schema.petitions import feed_source as _petition_deadlines  # noqa: F401  (registers feed items)
from schema.petitions.routes import routes as petition_routes
from schema.reviews import federated as _reviews_federated  # noqa: F401  (registers review.report)
from schema.reviews.routes import routes as review_routes
from server.accounts.service import authenticate
from server.db import Database
from server.maintenance import maintenance
from server.settings import Settings

log = logging.getLogger("coalition")


def bearer_token(connection: HTTPConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class CoalitionGraphQL(GraphQL):
    def __init__(self, db: Database, settings: Settings, federation: Federation) -> None:
        super().__init__(
            build_schema(),
            graphql_ide="graphiql" if settings.dev_mode else None,
            multipart_uploads_enabled=True,  # .ics import; safe because auth is a bearer header, not a cookie
        )
        self.db = db
        self.settings = settings
        self.federation = federation

    async def get_context(self, request, response) -> Context:  # type: ignore[override]
        token = bearer_token(request)
        viewer = await authenticate(self.db, token) if token else None
        return Context(
            request=request,
            response=response,
            db=self.db,
            settings=self.settings,
            viewer=viewer,
            federation=self.federation,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:  # type: ignore[override]
        """WebSockets authenticate in connection_init: {"authorization": "Bearer <token>"} (or
        {"token": ...}); no payload means anonymous, a bad token is refused."""
        params = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization") or params.get("token")
        if not raw:
            return None
        token = str(raw).removeprefix("Bearer ").strip()
        viewer = await authenticate(self.db, token)
        if viewer is None:
            raise ConnectionRejectionError(
                {"message": "The token is unknown, expired or revoked; log in again.", "code": "UNAUTHENTICATED"}
            )
        context.viewer = viewer
        return {"handle": viewer.handle}


def create_app(
    settings: Settings,
    db: Database | None = None,
    client_factory: ClientFactory = default_client,
    *,
    background: bool = True,
) -> Starlette:
    """The node's ASGI app. Tests give ``db`` (to share it), a ``client_factory`` that reaches
    other in-process nodes, and ``background=False`` to drive push and pull themselves."""
    database = db or Database(settings.database_url)
    federation = Federation(database, settings, load_identity(settings, create=True), client_factory)
    database.log = LogWriter(federation.identity)

    async def healthz(_: Request) -> JSONResponse:
        if await database.ping():
            return JSONResponse({"status": "ok", "database": "ok", "node": settings.node_id})
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"}, status_code=503, headers={"Retry-After": "30"}
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await database.bus.start()
        upkeep = asyncio.create_task(maintenance(database, settings), name="maintenance")
        if background:
            federation.start()
        yield
        await federation.stop()
        upkeep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await upkeep
        await database.dispose()

    graphql = CoalitionGraphQL(database, settings, federation)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            *petition_routes(database),
            *review_routes(database),
            *federation_routes(federation),
            *event_routes(database, settings),
        ],
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    app.state.federation = federation
    return app
