"""Live updates over real WebSockets: tallies, event changes, both protocols, and the bus."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from server.app import create_app

from conftest import GraphQLSocket, live_server

TALLY = "subscription($id: ID!) { petitionTally(id: $id) { signatureCount namedCount signatureSetDigest thresholds { count crossedAt } } }"
SIGN = "mutation($id: ID!) { signPetition(id: $id) { receipt } }"
SOON = (datetime.now(UTC) + timedelta(days=30)).isoformat()


async def open_petition(node, token) -> str:
    created = await node.data(
        'mutation($d: DateTime!) { createPetition(input: {title: "Live", decisionMaker: "Senate", deadline: $d, '
        "thresholds: [2]}) { id } }",
        {"d": SOON},
        token,
    )
    petition = created["createPetition"]["id"]
    await node.data("mutation($id: ID!) { openPetition(id: $id) { state } }", {"id": petition}, token)
    return petition


async def next_data(client: GraphQLSocket, timeout: float = 10) -> dict:
    while True:
        message = await client.receive(timeout)
        if message["type"] in ("next", "data"):
            return message["payload"]
        if message["type"] in ("ka", "ping", "pong"):
            continue
        raise AssertionError(f"unexpected message {message}")


@pytest.fixture
async def served(node):
    async with live_server(create_app(node.settings, node.db)) as address:
        yield address


async def test_tally_reaches_a_websocket_subscriber(node, served):
    organiser = await node.join("organiser", "organiser")
    member = await node.join("member")
    petition = await open_petition(node, organiser["token"])
    client = GraphQLSocket(served)
    ack = await client.connect({"authorization": f"Bearer {member['token']}"})
    assert ack == {"type": "connection_ack", "payload": {"handle": "member"}}
    await client.subscribe(TALLY, {"id": petition})
    first = await next_data(client)
    assert first["data"]["petitionTally"]["signatureCount"] == 0
    await node.data(SIGN, {"id": petition}, member["token"])
    second = (await next_data(client))["data"]["petitionTally"]
    assert second["signatureCount"] == 1 and second["thresholds"][0]["crossedAt"] is None
    # a burst is coalesced: fewer messages than signatures, ending on the exact count
    signers = [await node.join(f"burst{n}") for n in range(6)]
    await asyncio.gather(*(node.data(SIGN, {"id": petition}, s["token"]) for s in signers))
    seen = []
    while not seen or seen[-1]["signatureCount"] < 7:
        seen.append((await next_data(client))["data"]["petitionTally"])
    assert seen[-1]["signatureCount"] == 7 and len(seen) < 6
    assert seen[-1]["thresholds"][0]["crossedAt"] is not None
    await client.close()


async def test_legacy_graphql_ws_protocol(node, served):
    organiser = await node.join("organiser", "organiser")
    petition = await open_petition(node, organiser["token"])
    client = GraphQLSocket(served, protocol="graphql-ws")
    assert (await client.connect())["type"] == "connection_ack"
    await client.subscribe(TALLY, {"id": petition})
    assert (await next_data(client))["data"]["petitionTally"]["signatureCount"] == 0
    await node.data(SIGN, {"id": petition}, organiser["token"])
    assert (await next_data(client))["data"]["petitionTally"]["signatureCount"] == 1
    await client.close()


async def test_unauthorised_subscriptions_are_refused(node, served):
    import websockets

    client = GraphQLSocket(served)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await client.connect({"authorization": "Bearer not-a-real-token"})
        await client.receive()
    assert closed.value.rcvd.code == 4403
    organiser = await node.join("organiser", "organiser")
    draft = await node.data(
        'mutation($d: DateTime!) { createPetition(input: {title: "D", decisionMaker: "S", deadline: $d}) { id } }',
        {"d": SOON},
        organiser["token"],
    )
    member = await node.join("member")
    client = GraphQLSocket(served)
    await client.connect({"authorization": f"Bearer {member['token']}"})
    await client.subscribe(TALLY, {"id": draft["createPetition"]["id"]})
    message = await client.receive()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    await client.close()


async def test_event_changes_respect_visibility(node, served):
    organiser = await node.join("organiser", "organiser")
    client = GraphQLSocket(served)
    await client.connect()
    await client.subscribe("subscription { eventChanged { eventId sequence change } }")
    await asyncio.sleep(0.2)
    create = "mutation($input: EventInput!) { createEvent(input: $input) { id } }"
    when = {"start": "2027-01-01T10:00:00", "end": "2027-01-01T11:00:00"}
    await node.data(create, {"input": {"title": "Members only", "visibility": "MEMBERS", **when}}, organiser["token"])
    public = (await node.data(create, {"input": {"title": "Public", **when}}, organiser["token"]))["createEvent"]["id"]
    change = (await next_data(client))["data"]["eventChanged"]
    assert change == {"eventId": public, "sequence": 0, "change": "CREATED"}
    await node.data("mutation($id: ID!) { cancelEvent(id: $id) { id } }", {"id": public}, organiser["token"])
    assert (await next_data(client))["data"]["eventChanged"] == {
        "eventId": public,
        "sequence": 1,
        "change": "CANCELLED",
    }
    await client.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # the LISTEN connection; SQLite has none
async def test_bus_reconnects_after_a_dropped_connection(node):
    organiser = await node.join("organiser", "organiser")
    petition = await open_petition(node, organiser["token"])
    bus = node.db.bus
    bus.check_every = 0.2
    async with bus.subscribe(f"petition:{petition}") as subscription:
        listener_pid = bus._connection.get_server_pid()
        admin = await asyncpg.connect(os.environ["COALITION_TEST_POSTGRES_URL"])
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", listener_pid)
        finally:
            await admin.close()
        await node.data(SIGN, {"id": petition}, organiser["token"])  # may be lost while reconnecting
        message = await asyncio.wait_for(subscription.get(), timeout=15)
        assert message.get("type") == "resync" or message.get("count") == 1
        assert bus._connection.get_server_pid() != listener_pid


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # several processes need PostgreSQL
async def test_tallies_cross_server_processes(database_url, tmp_path):
    """Two `coalition serve` processes on one PostgreSQL database: a signature made through one
    reaches a subscriber of the other."""
    coalition = str(Path(sys.executable).with_name("coalition"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}

    async def run(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            coalition, *args, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await process.communicate()
        assert process.returncode == 0, out.decode()
        return out.decode()

    await run("init", "--database-url", database_url)
    output = await run("demo")
    passwords = dict(re.findall(r"^\s+(\w+)\s+(\S+)\s+\w+$", output, re.MULTILINE))
    ports = []
    servers = []
    for _ in range(2):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        servers.append(
            await asyncio.create_subprocess_exec(
                coalition,
                "serve",
                "--port",
                str(ports[-1]),
                cwd=tmp_path,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        )
    try:
        clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") for port in ports]
        for client in clients:
            for _ in range(100):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)

        async def gql(client, query, variables=None, token=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body = (
                await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
            ).json()
            assert "errors" not in body, body
            return body["data"]

        login = 'mutation($p: String!) { login(handle: "tumaini", password: $p) { token } }'
        token = (await gql(clients[1], login, {"p": passwords["tumaini"]}))["login"]["token"]
        petition = (
            await gql(
                clients[1],
                'mutation($d: DateTime!) { createPetition(input: {title: "X", '
                'decisionMaker: "Y", deadline: $d}) { id } }',
                {"d": SOON},
                token,
            )
        )["createPetition"]["id"]
        await gql(clients[1], "mutation($id: ID!) { openPetition(id: $id) { id } }", {"id": petition}, token)
        socket_client = GraphQLSocket(f"127.0.0.1:{ports[0]}")
        await socket_client.connect()
        await socket_client.subscribe(TALLY, {"id": petition})
        assert (await next_data(socket_client))["data"]["petitionTally"]["signatureCount"] == 0
        await gql(clients[1], SIGN, {"id": petition}, token)
        assert (await next_data(socket_client))["data"]["petitionTally"]["signatureCount"] == 1
        await socket_client.close()
        for client in clients:
            await client.aclose()
    finally:
        for server in servers:
            server.terminate()
            await server.wait()
