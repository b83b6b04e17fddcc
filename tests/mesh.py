"""Several nodes in one process, reaching each other over httpx.ASGITransport."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from federation.runtime import Federation
from server.app import create_app
from server.db import Database

from conftest import Node, copy_database, make_settings, migrated_template


class Mesh:
    def __init__(self) -> None:
        self.apps: dict[str, object] = {}
        self.offline: set[str] = set()
        self.nodes: dict[str, Node] = {}
        self.admins: dict[str, dict] = {}

    def client(self) -> httpx.AsyncClient:
        mounts = {
            f"https://{name}.test": httpx.ASGITransport(app=app)
            for name, app in self.apps.items()
            if name not in self.offline
        }
        return httpx.AsyncClient(mounts=mounts, timeout=30)

    def federation(self, name: str) -> Federation:
        return self.apps[name].state.federation

    async def add(self, name: str, url: str, data_dir: Path) -> Node:
        settings = make_settings(url, data_dir)
        settings.node_id, settings.base_url, settings.node_name = name, f"https://{name}.test", f"Coalition {name}"
        db = Database(url)
        app = create_app(settings, db, client_factory=self.client, background=False)
        self.apps[name] = app
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url)
        node = Node(client, db, settings)
        self.nodes[name] = node
        self.admins[name] = await node.join(f"admin-{name}", "admin")
        return node

    async def peer(self, a: str, b: str) -> None:
        """Each admin adds the other and confirms the fingerprint shown."""
        for here, there in ((a, b), (b, a)):
            token = self.admins[here]["token"]
            added = await self.nodes[here].data(
                "mutation($u: String!) { addPeer(url: $u) { id fingerprint state } }",
                {"u": f"https://{there}.test"},
                token,
            )
            assert added["addPeer"]["state"] == "PENDING"
            await self.nodes[here].data(
                "mutation($id: String!, $f: String!) { confirmPeer(id: $id, fingerprint: $f) { state } }",
                {"id": there, "f": added["addPeer"]["fingerprint"]},
                token,
            )

    async def sync(self, rounds: int = 6) -> None:
        """Push and pull everywhere until nothing moves."""
        for _ in range(rounds):
            moved = 0
            for name, federation in self.federations():
                if name in self.offline:
                    continue
                moved += sum((await federation.push_once()).values())
                moved += (await federation.pull_once()).applied
            if not moved:
                return

    def federations(self):
        return [(name, app.state.federation) for name, app in self.apps.items()]

    async def close(self) -> None:
        for node in self.nodes.values():
            await node.client.aclose()
            await node.db.dispose()


@contextlib.asynccontextmanager
async def mesh_of(names: list[str], backend: str, request, tmp_path: Path) -> AsyncIterator[Mesh]:
    mesh = Mesh()
    template = migrated_template(backend, request)
    async with contextlib.AsyncExitStack() as stack:
        for name in names:
            url = await stack.enter_async_context(
                contextlib.asynccontextmanager(copy_database)(backend, template, tmp_path)
            )
            await mesh.add(name, url, tmp_path / name)
        try:
            yield mesh
        finally:
            await mesh.close()
