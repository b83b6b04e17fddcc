"""GraphQL listing 50 councils with their current seats, against a plain Starlette JSON endpoint
serving the same data from the same database; and SQL statements per request by page size."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.common import fresh_node, profile, rate
from schema.councils.tables import Council, CouncilSeat
from server.accounts.tables import Member
from server.app import create_app
from server.db import Database, statement_count

QUERY = """query($first: Int!) { councils(first: $first) { nodes {
  id name region visibility seats { holder position title termStart } } } }"""
POSITIONS = ("chair", "vice_chair", "secretary", "member")


async def seed(db: Database, councils: int = 200) -> None:
    async with db.write() as session:
        members = [Member(handle=f"member{n}", handle_key=f"member{n}") for n in range(40)]
        session.add_all(members)
        await session.flush()
        for n in range(councils):
            council = Council(name=f"Council {n:03}", description="d" * 200, language="en", region="Region")
            session.add(council)
            await session.flush()
            for i, position in enumerate(POSITIONS):
                session.add(
                    CouncilSeat(
                        council_id=council.id,
                        member_id=members[(n + i) % len(members)].id,
                        position=position,
                        term_start=date(2024, 1, 1),
                    )
                )


def plain_app(db: Database) -> Starlette:
    """The same data as the GraphQL query, written by hand: the baseline."""

    async def councils(request: Request) -> JSONResponse:
        first = int(request.query_params.get("first", "50"))
        async with db.read() as session:
            rows = (
                (
                    await session.execute(
                        select(Council)
                        .where(Council.archived_at.is_(None), Council.visibility == "public")
                        .order_by(Council.created_at, Council.id)
                        .limit(first)
                    )
                )
                .scalars()
                .all()
            )
            seats = await session.execute(
                select(CouncilSeat, Member.handle)
                .join(Member, Member.id == CouncilSeat.member_id)
                .where(CouncilSeat.council_id.in_([c.id for c in rows]))
            )
            today = date.today()
            by_council: dict[str, list] = {}
            for seat, handle in seats:
                if seat.term_start <= today and (seat.term_end is None or seat.term_end > today):
                    by_council.setdefault(seat.council_id, []).append(
                        {
                            "holder": handle,
                            "position": seat.position.upper(),
                            "title": seat.title,
                            "termStart": seat.term_start.isoformat(),
                        }
                    )
        nodes = [
            {"id": c.id, "name": c.name, "region": c.region, "visibility": "PUBLIC", "seats": by_council.get(c.id, [])}
            for c in rows
        ]
        return JSONResponse({"data": {"councils": {"nodes": nodes}}})

    return Starlette(routes=[Route("/councils", councils)])


async def run(database_url: str | None = None) -> None:
    settings, db = await fresh_node(database_url)
    await seed(db)
    graphql = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, db)), base_url="http://b")
    plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app(db)), base_url="http://b")

    async def graphql_request(first: int = 50) -> dict:
        response = await graphql.post("/graphql", json={"query": QUERY, "variables": {"first": first}})
        body = response.json()
        assert "errors" not in body, body
        return body

    async def plain_request() -> dict:
        return (await plain.get("/councils", params={"first": 50})).json()

    same = await graphql_request()
    assert same["data"]["councils"]["nodes"] == (await plain_request())["data"]["councils"]["nodes"]

    print(f"councils: database {db.engine.dialect.name}, 50 councils x 4 current seats per request")
    plain_rate = await rate(plain_request)
    graphql_rate = await rate(graphql_request)
    print(f"  plain Starlette JSON: {plain_rate:8.1f} req/s")
    print(f"  GraphQL:              {graphql_rate:8.1f} req/s")
    print(f"  ratio GraphQL/plain:  {graphql_rate / plain_rate:8.1%}   (target >= 10%)")
    for first in (10, 50, 200):
        counter = [0]
        token = statement_count.set(counter)
        try:
            await graphql_request(first)
        finally:
            statement_count.reset(token)
        print(f"  SQL statements per request, page size {first:3}: {counter[0]}")
    print("  where a GraphQL request's time goes (cProfile, 50 requests, top functions by own time):")
    for line in (await profile(graphql_request)).splitlines():
        print("    " + line[:150])
    await graphql.aclose()
    await plain.aclose()
    await db.dispose()
