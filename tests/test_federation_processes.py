"""Three real `coalition serve` processes on loopback; one is killed with SIGKILL while updates
are being delivered, and restarted: every update arrives exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import tomllib
from pathlib import Path

import httpx

from conftest import copy_database, migrated_template

COALITION = str(Path(sys.executable).with_name("coalition"))
ENV = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}


async def run(directory: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        COALITION, *args, cwd=directory, env=ENV, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, out.decode()
    return out.decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port, self.process = directory, port, None
        self.url = f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            COALITION,
            "serve",
            "--port",
            str(self.port),
            cwd=self.directory,
            env=ENV,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.directory.name} did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


async def gql(url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        body = (
            await client.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        ).json()
    assert "errors" not in body, body
    return body["data"]


async def test_updates_arrive_exactly_once_through_a_sigkill(backend, request, tmp_path):
    template = migrated_template(backend, request)
    nodes: dict[str, Process] = {}
    ids: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in ("a", "b", "c"):
            url = await stack.enter_async_context(
                contextlib.asynccontextmanager(copy_database)(backend, template, tmp_path)
            )
            directory = tmp_path / name
            directory.mkdir()
            port = free_port()
            await run(
                directory,
                "init",
                "--name",
                f"Coalition {name}",
                "--base-url",
                f"http://127.0.0.1:{port}",
                "--database-url",
                url,
            )
            ids[name] = tomllib.loads((directory / "coalition.toml").read_text())["node_id"]
            nodes[name] = Process(directory, port)
        passwords = dict(re.findall(r"^\s+(\w+)\s+(\S+)\s+\w+$", await run(nodes["a"].directory, "demo"), re.MULTILINE))
        try:
            for node in nodes.values():
                await node.start()
            for here, there in (("a", "b"), ("b", "a"), ("a", "c"), ("c", "a"), ("b", "c"), ("c", "b")):
                added = await run(nodes[here].directory, "peer", "add", nodes[there].url)
                fingerprint = re.search(r"Key fingerprint: ([0-9a-f]{64})", added).group(1)
                await run(nodes[here].directory, "peer", "confirm", ids[there], fingerprint)
            listed = await run(nodes["a"].directory, "peer", "list")
            assert ids["b"] in listed and "active" in listed

            token = (
                await gql(
                    nodes["a"].url,
                    'mutation($p: String!) { login(handle: "tumaini", password: $p) { token } }',
                    {"p": passwords["tumaini"]},
                )
            )["login"]["token"]
            create = 'mutation($t: String!) { createEvent(input: {title: $t, start: "2027-03-01T10:00:00", end: "2027-03-01T11:00:00"}) { uid } }'
            total = 30
            for n in range(total):
                await gql(nodes["a"].url, create, {"t": f"Update {n:02}"}, token)
                if n == 8:
                    nodes["b"].kill()  # mid-delivery: A is pushing to B as events are made
            await nodes["b"].process.wait()
            await asyncio.sleep(0.5)
            await nodes["b"].start()

            listing = '{ events(from: "2027-01-01T00:00:00Z", to: "2027-12-31T00:00:00Z", scope: REMOTE, first: 200) { nodes { event { title origin } } } }'
            for name in ("b", "c"):
                titles: list[str] = []
                for _ in range(300):
                    titles = [o["event"]["title"] for o in (await gql(nodes[name].url, listing))["events"]["nodes"]]
                    if len(titles) >= total:
                        break
                    await asyncio.sleep(0.1)
                assert sorted(titles) == [f"Update {n:02}" for n in range(total)], name
                freshness = {
                    f["origin"]: f["seq"]
                    for f in (await gql(nodes[name].url, "{ freshness { origin seq } }"))["freshness"]
                }
                own = {
                    f["origin"]: f["seq"]
                    for f in (await gql(nodes["a"].url, "{ freshness { origin seq } }"))["freshness"]
                }
                assert freshness[ids["a"]] == own[ids["a"]]
        finally:
            for node in nodes.values():
                await node.stop()
