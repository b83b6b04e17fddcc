"""The `coalition` command as an admin runs it: init, migrate, demo, invite, serve and bad configuration."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import stat
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.db import Database
from server.settings import load_settings

COALITION = str(Path(sys.executable).with_name("coalition"))


async def run(*args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> tuple[int, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    environment.update(env or {})
    process = await asyncio.create_subprocess_exec(
        COALITION, *args, cwd=cwd, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    if check:
        assert process.returncode == 0, text
    return process.returncode, text


def code_in(output: str) -> str:
    found = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", output)
    assert found, output
    return found.group(0)


async def graphql(directory: Path, query: str, variables: dict | None = None) -> dict:
    """Query the node configured in ``directory`` in-process, as its server would answer."""
    settings = load_settings()
    assert settings.config_file == directory / "coalition.toml"
    db = Database(settings.database_url)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, db))
        async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as client:
            response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
        return response.json()
    finally:
        await db.dispose()


ACCEPT = """mutation($code: String!) { acceptInvitation(code: $code, handle: "first-admin",
  password: "a long passphrase") { account { role } } }"""


async def test_init_migrate_demo_and_invite(database_url, tmp_path, monkeypatch):
    _, output = await run(
        "init",
        "--name",
        "Coalición Andina",
        "--region",
        "Andes",
        "--language",
        "es",
        "--database-url",
        database_url,
        cwd=tmp_path,
    )
    config = tomllib.loads((tmp_path / "coalition.toml").read_text())
    assert config["node_name"] == "Coalición Andina"
    assert config["default_language"] == "es"
    assert len(config["node_id"]) == 16
    key = tmp_path / "data" / "keys" / "node-ed25519.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    first_code = code_in(output)

    _, output = await run("migrate", cwd=tmp_path)
    assert "up to date" in output

    # init refuses to overwrite an existing node
    status, output = await run("init", cwd=tmp_path, check=False)
    assert status == 1 and "exists already" in output
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")

    _, output = await run("demo", cwd=tmp_path)
    logins = dict(re.findall(r"^\s+(\w+)\s+(\S+)\s+admin$", output, re.MULTILINE))
    assert "amani" in logins
    _, again = await run("demo", cwd=tmp_path)
    assert "already" in again
    _, revised = await run("plan", "import", cwd=tmp_path)  # the shipped plan again: nothing changes
    assert "revision 2" in revised and "0 added" in revised and "0 removed" in revised
    (tmp_path / "bad.toml").write_text('id = "x"\ntitle = "T"\nstarts = 2023\nends = 2033\n[[themes]]\nkey = "a"\n')
    status, output = await run("plan", "import", "bad.toml", cwd=tmp_path, check=False)
    assert status == 2 and "Line" in output and "needs a title" in output

    _, output = await run("invite", "--role", "organiser", "--note", "for Rosa", cwd=tmp_path)
    organiser_code = code_in(output)
    status, output = await run("invite", "--role", "emperor", cwd=tmp_path, check=False)
    assert status == 2 and "Unknown role 'emperor'" in output

    monkeypatch.setenv("COALITION_CONFIG", str(tmp_path / "coalition.toml"))
    joined = await graphql(tmp_path, ACCEPT, {"code": first_code})
    assert joined["data"]["acceptInvitation"]["account"]["role"] == "ADMIN"
    joined = await graphql(
        tmp_path,
        ACCEPT.replace("first-admin", "rosa-organiser"),
        {"code": organiser_code},
    )
    assert joined["data"]["acceptInvitation"]["account"]["role"] == "ORGANISER"
    login = await graphql(
        tmp_path,
        'mutation($p: String!) { login(handle: "amani", password: $p) { account { role } } }',
        {"p": logins["amani"]},
    )
    assert login["data"]["login"]["account"]["role"] == "ADMIN"
    councils = await graphql(tmp_path, "{ node { name } councils { nodes { name seats { holder } } } }")
    assert councils["data"]["node"]["name"] == "Coalición Andina"
    assert councils["data"]["councils"]["nodes"][0]["name"] == "Survivor Leadership Council"


@pytest.mark.parametrize(
    ("setup", "env", "expected"),
    [
        ("", {"COALITION_BASE_URL": "ftp://example.org"}, "setting 'base_url'"),
        ("", {"COALITION_DEFAULT_LANGUAGE": "nonsense-language-tag"}, "setting 'default_language'"),
        ("colour = 'red'\n", {}, "setting 'colour'"),
        ("port = 'eighty'\n", {}, "setting 'port'"),
        ("node_name = \n", {}, "Cannot read configuration"),
        ("", {"COALITION_DATABASE_URL": "mysql://localhost/db"}, "setting 'database_url'"),
    ],
)
async def test_bad_configuration_stops_with_the_setting_and_the_fix(tmp_path, setup, env, expected):
    (tmp_path / "coalition.toml").write_text(setup)
    status, output = await run("migrate", cwd=tmp_path, env=env, check=False)
    assert status == 2
    assert expected in output
    assert "Traceback" not in output


async def test_a_missing_config_file_is_named(tmp_path):
    status, output = await run("migrate", cwd=tmp_path, env={"COALITION_CONFIG": "/nowhere/c.toml"}, check=False)
    assert status == 2 and "/nowhere/c.toml" in output and "coalition init" in output


async def test_every_command_explains_itself(tmp_path):
    _, overview = await run("--help", cwd=tmp_path)
    for command in ("init", "serve", "migrate", "demo", "invite", "export-schema", "peer", "keys", "plan"):
        assert command in overview
        _, text = await run(command, "--help", cwd=tmp_path)
        assert "Usage:" in text and len(text.splitlines()) > 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_serve_runs_a_real_node_on_loopback(database_url, tmp_path):
    await run("init", "--database-url", database_url, cwd=tmp_path)
    _, output = await run("demo", cwd=tmp_path)
    password = re.search(r"^\s+amani\s+(\S+)", output, re.MULTILINE).group(1)
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    server = await asyncio.create_subprocess_exec(
        COALITION,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=tmp_path,
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    health = await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert health.json()["status"] == "ok"
            login = await client.post(
                "/graphql",
                json={
                    "query": 'mutation($p: String!) { login(handle: "amani", password: $p) { token } }',
                    "variables": {"p": password},
                },
            )
            token = login.json()["data"]["login"]["token"]
            me = await client.post(
                "/graphql", json={"query": "{ me { handle role } }"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert me.json()["data"]["me"] == {"handle": "amani", "role": "ADMIN"}
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=20)
