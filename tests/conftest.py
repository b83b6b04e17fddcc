"""One suite, two databases: every storage test runs on SQLite and on PostgreSQL.

Each test gets a fresh database copied from a migrated template (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL). PostgreSQL comes from
``COALITION_TEST_POSTGRES_URL``, which ``tests/run.sh`` sets after starting a throwaway server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from server.app import create_app
from server.db import Database
from server.migrate import upgrade
from server.settings import Settings

PG_ENV = "COALITION_TEST_POSTGRES_URL"
TEMPLATE_DB = "coalition_template"


def _in_thread(coroutine_factory) -> Any:
    """Run async setup from a sync session fixture without touching the tests' event loop."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine_factory())
        except BaseException as error:  # re-raised in the caller
            result["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def _pg_admin_dsn() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/postgres); "
            "`bash tests/run.sh` starts a throwaway server and sets it. Use `-k sqlite` to skip them.",
            pytrace=False,
        )
    return url.replace("postgresql+asyncpg://", "postgresql://")


def pg_url(database: str) -> str:
    base = _pg_admin_dsn().rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{database}"


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> None:
    """Still argon2id through the same code, at the cost profile argon2-cffi provides for tests."""
    from argon2.profiles import CHEAPEST

    from server.accounts.secrets import use_hash_parameters

    use_hash_parameters(CHEAPEST)


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read a coalition.toml or COALITION_* variables of the machine they run on."""
    for name in list(os.environ):
        if name.startswith("COALITION_") and name != PG_ENV:
            monkeypatch.delenv(name)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("COALITION_CONFIG", str(empty))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _in_thread(lambda: _migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> str:
    admin = _pg_admin_dsn()

    async def build() -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        finally:
            await connection.close()
        await _migrate(pg_url(TEMPLATE_DB))

    _in_thread(build)
    return TEMPLATE_DB


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def copy_database(backend: str, template: Path | str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database copied from ``template`` (a SQLite file or a PostgreSQL database name)."""
    if backend == "sqlite":
        target = tmp_path / f"node-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    name = f"test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_pg_admin_dsn())
    try:
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await connection.close()
    yield pg_url(name)
    connection = await asyncpg.connect(_pg_admin_dsn())
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def migrated_template(backend: str, request: pytest.FixtureRequest) -> Path | str:
    return request.getfixturevalue("sqlite_template" if backend == "sqlite" else "postgres_template")


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async for url in copy_database(backend, migrated_template(backend, request), tmp_path):
        yield url


def make_settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        node_id="node-a",
        node_name="Test Coalition",
        region="East Africa",
        base_url="https://node-a.test",
        data_dir=data_dir,
        database_url=database_url,
        default_language="en",
        languages=["en", "sw", "fr"],
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data")


class GraphQLError(AssertionError):
    pass


class Node:
    """A node under test, reached the way clients reach it: GraphQL over HTTP."""

    def __init__(self, client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
        self.client = client
        self.db = db
        self.settings = settings

    async def gql(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        body = await self.gql(query, variables, token)
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        return body["data"]

    async def error(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        """The single error of a request that must fail."""
        body = await self.gql(query, variables, token)
        assert body.get("errors"), f"expected an error, got {body}"
        return body["errors"][0]

    async def invite(self, role: str = "member") -> str:
        from server.accounts.service import create_invitation

        _, code = await create_invitation(self.db, self.settings, None, role, by_operator=True)
        return code

    async def join(self, handle: str, role: str = "member", password: str = "correct horse battery") -> dict:
        """A new member with ``role``; returns ``{"token", "id", "handle"}``."""
        data = await self.data(
            """mutation($code: String!, $handle: String!, $password: String!) {
                 acceptInvitation(code: $code, handle: $handle, password: $password) {
                   token account { id handle role } } }""",
            {"code": await self.invite(role), "handle": handle, "password": password},
        )
        payload = data["acceptInvitation"]
        return {"token": payload["token"], "id": payload["account"]["id"], "handle": handle}


@contextlib.asynccontextmanager
async def running_node(settings: Settings) -> AsyncIterator[Node]:
    db = Database(settings.database_url)
    app = create_app(settings, db)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://node-a.test") as client:
        yield Node(client, db, settings)
    await db.dispose()


@pytest.fixture
async def node(settings: Settings) -> AsyncIterator[Node]:
    async with running_node(settings) as running:
        yield running


class Snapshots:
    """Node states built once per session and backend, then copied for each test: for tests
    that all start from the same elaborate world."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.built: dict[tuple[str, str], tuple[Path | str, Any]] = {}

    def get(self, name: str, backend: str, request: pytest.FixtureRequest, build) -> tuple[Path | str, Any]:
        key = (name, backend)
        if key not in self.built:
            base = migrated_template(backend, request)
            directory = self.tmp_path_factory.mktemp(f"snapshot-{name}")
            if backend == "sqlite":
                template: Path | str = directory / "snapshot.db"
                shutil.copyfile(base, template)
                url = f"sqlite+aiosqlite:///{template}"
            else:
                template = f"snapshot_{name}"

                async def create() -> None:
                    connection = await asyncpg.connect(_pg_admin_dsn())
                    try:
                        await connection.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                        await connection.execute(f'CREATE DATABASE "{template}" TEMPLATE "{base}"')
                    finally:
                        await connection.close()

                _in_thread(create)
                url = pg_url(template)

            async def run_build() -> Any:
                async with running_node(make_settings(url, directory / "data")) as snapshot_node:
                    return await build(snapshot_node)

            self.built[key] = (template, _in_thread(run_build))
        return self.built[key]


@pytest.fixture(scope="session")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Snapshots:
    return Snapshots(tmp_path_factory)


@contextlib.asynccontextmanager
async def live_server(app) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a loopback port in this event loop; yields its base URL."""
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


class GraphQLSocket:
    """A graphql-transport-ws (or legacy graphql-ws) client over a real WebSocket."""

    def __init__(self, address: str, protocol: str = "graphql-transport-ws") -> None:
        self.address, self.protocol = address, protocol
        self.socket = None
        self._next = 0

    async def connect(self, payload: dict | None = None) -> dict:
        import websockets

        self.socket = await websockets.connect(f"ws://{self.address}/graphql", subprotocols=[self.protocol])
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def send(self, message: dict) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self, timeout: float = 10) -> dict:
        return json.loads(await asyncio.wait_for(self.socket.recv(), timeout=timeout))

    async def subscribe(self, query: str, variables: dict | None = None) -> str:
        self._next += 1
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        await self.send(
            {"id": str(self._next), "type": kind, "payload": {"query": query, "variables": variables or {}}}
        )
        return str(self._next)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
