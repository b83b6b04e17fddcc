"""Exports of the review view: JSON and CSV for allies and funders, a plain-text agenda."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from schema.reviews.view import agenda, agenda_text, canonical_json, compute_view, view_csv
from server.db import Database
from server.errors import NotFound


def routes(db: Database) -> list[Route]:
    async def export(request: Request) -> Response:
        try:
            async with db.read() as session:
                view = await compute_view(session, request.path_params["cycle"])
        except NotFound as error:
            return PlainTextResponse(error.message + "\n", status_code=404)
        kind = request.path_params["kind"]
        if kind == "view.json":
            return Response(canonical_json(view), media_type="application/json")
        if kind == "view.csv":
            return Response(
                view_csv(view),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="review-{view["cycle"]}.csv"'},
            )
        if kind == "agenda.txt":
            return PlainTextResponse(agenda_text(view, agenda(view)))
        return PlainTextResponse("Exports: view.json, view.csv, agenda.txt\n", status_code=404)

    return [Route("/reviews/{cycle}/{kind}", export)]
