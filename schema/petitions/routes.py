"""The public commitment list of a petition, for anyone to check the published digest."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from schema.petitions.tables import Petition, PetitionState, Signature
from server.db import Database


def routes(db: Database) -> list[Route]:
    async def commitments(request: Request) -> PlainTextResponse:
        petition_id = request.path_params["petition_id"]
        async with db.read() as session:
            petition = await session.get(Petition, petition_id)
            if petition is None or petition.state == PetitionState.DRAFT:
                return PlainTextResponse("No such petition.\n", status_code=404)
            values = sorted(
                await session.scalars(select(Signature.commitment).where(Signature.petition_id == petition_id))
            )
        header = (
            f"# petition {petition.id}: {len(values)} signatures; digest {petition.set_digest}\n"
            f"# digest = SHA-256 of MuHash3072 over SHA-256 commitments, see schema/petitions/receipts.py\n"
        )
        return PlainTextResponse(
            header + "".join(f"{v}\n" for v in values), headers={"Cache-Control": "public, max-age=60"}
        )

    return [Route("/petitions/{petition_id}/commitments", commitments)]
