"""Federation over HTTP: the node document, the inbox (push) and the logs (pull)."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.apply import receive
from federation.envelope import b64, canonical
from federation.httpsig import Refused, key_id_of, verify
from federation.identity import ensure_own_key, keys_of, now, public_key
from federation.runtime import Federation
from federation.tables import LogEntry, LogHead, NodeKey, Peer, PeerState

log = logging.getLogger("coalition.federation")
MAX_BATCH = 1000


def routes(federation: Federation) -> list[Route]:
    db, settings, identity = federation.db, federation.settings, federation.identity

    async def document(_: Request) -> JSONResponse:
        async with db.write() as session:
            await ensure_own_key(session, identity)
            keys = await keys_of(session, identity.node_id)
        return JSONResponse(
            {
                "node_id": identity.node_id,
                "name": settings.node_name,
                "region": settings.region,
                "languages": settings.languages,
                "base_url": settings.base_url,
                "keys": [
                    {
                        "key_id": k.key_id,
                        "public_key": k.public_key,
                        "valid_from": k.valid_from,
                        "valid_until": k.valid_until,
                    }
                    for k in keys
                ],
                "endpoints": {
                    "inbox": f"{settings.base_url}/federation/inbox",
                    "logs": f"{settings.base_url}/federation/logs",
                    "log": f"{settings.base_url}/federation/log/{{origin}}",
                },
            }
        )

    async def authenticated(request: Request, body: bytes) -> Peer:
        """The active peer that signed this request, or a 401/403 with the reason."""
        key_id = key_id_of(request)
        async with db.write() as session:
            row = await session.get(NodeKey, key_id)
            peer = await session.get(Peer, row.origin) if row is not None else None
            if row is None or peer is None:
                raise Refused(401, f"unknown key '{key_id}': this node has not confirmed you as a peer")
            if peer.state == PeerState.BLOCKED:
                raise Refused(403, "this node has blocked you")
            if peer.state != PeerState.ACTIVE:
                raise Refused(403, "this node has not confirmed you as a peer yet")
            if row.valid_until is not None and row.valid_until <= now():
                raise Refused(401, f"key '{key_id}' was retired")
            await verify(session, request, body, lambda _kid: public_key(row.public_key))
        return peer

    def refused(error: Refused) -> JSONResponse:
        log.info("federation request refused: %s", error.reason)
        return JSONResponse({"error": error.reason}, status_code=error.status)

    async def inbox(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            peer = await authenticated(request, body)
        except Refused as error:
            return refused(error)
        try:
            entries = json.loads(body)["entries"]
        except (ValueError, KeyError, TypeError):
            entries = None
        if not isinstance(entries, list) or len(entries) > MAX_BATCH:
            return JSONResponse(
                {"error": f'send {{"entries": [...]}} with at most {MAX_BATCH} envelopes'}, status_code=400
            )
        outcome = await receive(db, identity.node_id, entries, offered_by=peer.id)
        if outcome.gaps:
            federation.schedule_pull(peer.id)
        return JSONResponse(outcome.as_json())

    async def heads(request: Request) -> JSONResponse:
        try:
            await authenticated(request, await request.body())
        except Refused as error:
            return refused(error)
        async with db.read() as session:
            rows = await session.scalars(select(LogHead))
            return JSONResponse({"heads": {row.origin: row.seq for row in rows}})

    async def entries(request: Request) -> JSONResponse:
        try:
            await authenticated(request, await request.body())
        except Refused as error:
            return refused(error)
        try:
            after = max(0, int(request.query_params.get("after", "0")))
            limit = min(MAX_BATCH, max(1, int(request.query_params.get("limit", "200"))))
        except ValueError:
            return JSONResponse({"error": "after and limit are integers"}, status_code=400)
        origin = request.path_params["origin"]
        async with db.read() as session:
            stored = list(
                await session.scalars(
                    select(LogEntry.envelope)
                    .where(LogEntry.origin == origin, LogEntry.seq > after)
                    .order_by(LogEntry.seq)
                    .limit(limit)
                )
            )
        # the envelopes exactly as stored (canonical JSON), not parsed and dumped again
        body = '{"origin":' + json.dumps(origin) + ',"entries":[' + ",".join(stored) + "]}"
        return Response(body, media_type="application/json")

    async def head(request: Request) -> JSONResponse:
        """A checkpoint of how far this node holds an origin's log, signed by this node."""
        try:
            await authenticated(request, await request.body())
        except Refused as error:
            return refused(error)
        origin = request.path_params["origin"]
        async with db.read() as session:
            row = await session.get(LogHead, origin)
        if row is None:
            return JSONResponse({"error": f"this node holds no log of '{origin}'"}, status_code=404)
        checkpoint = {
            "origin": origin,
            "seq": row.seq,
            "hash": row.hash,
            "ts": now(),
            "by": identity.node_id,
            "key_id": identity.key_id,
        }
        return JSONResponse({**checkpoint, "sig": b64(identity.key.sign(canonical(checkpoint)))})

    return [
        Route("/.well-known/coalition-node", document),
        Route("/federation/inbox", inbox, methods=["POST"]),
        Route("/federation/logs", heads),
        Route("/federation/log/{origin}", entries),
        Route("/federation/log/{origin}/head", head),
    ]
