"""The ``coalition`` command: set up, migrate, load demo data, invite and serve a node."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from server.settings import CONFIG_ENV, CONFIG_FILE, ConfigError, Settings, load_settings

T = TypeVar("T")

app = typer.Typer(
    help="Run a coalition node: a federated GraphQL server for survivor-led coalitions.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as error:
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def _with_db(settings: Settings, work):
    from federation.identity import load_identity
    from federation.log import LogWriter
    from server.db import Database

    db = Database(settings.database_url)
    if settings.node_id and settings.key_file.exists():
        db.log = LogWriter(load_identity(settings))  # changes made here are federated like any other
    try:
        return await work(db)
    finally:
        await db.dispose()


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@app.command()
def init(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write coalition.toml and data/.")] = Path("."),
    name: Annotated[str, typer.Option(help="The coalition's name, shown to peers and members.")] = "Coalition node",
    region: Annotated[str, typer.Option(help="Region the coalition works in, e.g. 'East Africa'.")] = "",
    base_url: Annotated[
        str, typer.Option(help="Public URL members and peers reach the node at.")
    ] = "http://127.0.0.1:8000",
    language: Annotated[str, typer.Option(help="Default language (BCP 47 tag, e.g. 'en', 'sw').")] = "en",
    database_url: Annotated[str, typer.Option(help="PostgreSQL URL; empty uses SQLite in data/.")] = "",
) -> None:
    """Create coalition.toml, the data directory, the node's Ed25519 key and a first admin invitation."""
    from server.keys import create_key

    directory = directory.resolve()
    config_path = directory / CONFIG_FILE
    if config_path.exists():
        typer.secho(f"{config_path} exists already; this node is set up. Nothing was changed.", fg="yellow", err=True)
        raise typer.Exit(1)
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "# coalition-node configuration. Every setting can be overridden by COALITION_<SETTING>.",
        f"node_id = {_toml_string(secrets.token_hex(8))}",
        f"node_name = {_toml_string(name)}",
        f"region = {_toml_string(region)}",
        f"base_url = {_toml_string(base_url)}",
        'data_dir = "data"',
        f"default_language = {_toml_string(language)}",
        f"languages = [{_toml_string(language)}]",
    ]
    if database_url:
        lines.append(f"database_url = {_toml_string(database_url)}")
    config_path.write_text("\n".join(lines) + "\n")
    os.environ[CONFIG_ENV] = str(config_path)
    try:
        settings = load_settings()
    except ConfigError as error:
        config_path.unlink()
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    create_key(settings.key_file)
    applied = _run(_with_db(settings, _migrate))
    code = _run(_with_db(settings, lambda db: _invite(db, settings, "admin", "first admin")))
    typer.echo(f"Wrote {config_path} and {settings.data_dir} (key {settings.key_file}, mode 0600).")
    typer.echo(f"Applied {len(applied)} migration(s).")
    typer.echo(f"First admin invitation code: {code}")
    typer.echo("Redeem it with the acceptInvitation mutation, then run `coalition serve`.")


async def _migrate(db) -> list[str]:
    from server.migrate import upgrade

    return await upgrade(db)


async def _invite(db, settings: Settings, role: str, note: str | None) -> str:
    from server.accounts.service import create_invitation

    _, code = await create_invitation(db, settings, None, role, note, by_operator=True)
    return code


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = _settings()
    applied = _run(_with_db(settings, _migrate))
    typer.echo(f"Applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "Database is up to date.")


@app.command()
def demo() -> None:
    """Load demo members and councils, and print their logins."""
    from server.demo import load_demo

    settings = _settings()

    async def work(db):
        await _migrate(db)
        return await load_demo(db, settings)

    logins = _run(_with_db(settings, work))
    if logins is None:
        typer.echo("Demo data is loaded already; its passwords were printed when it was loaded.")
        return
    typer.echo("Demo data loaded. Logins (handle / password / role):")
    for login in logins:
        typer.echo(f"  {login.handle:<10} {login.password}  {login.role.value}")


@app.command()
def invite(
    role: Annotated[str, typer.Option(help="admin, organiser or member.")] = "member",
    note: Annotated[str | None, typer.Option(help="A reminder of whom it is for (kept on this node).")] = None,
) -> None:
    """Create a single-use invitation code."""
    from server.errors import AppError

    settings = _settings()
    try:
        code = _run(_with_db(settings, lambda db: _invite(db, settings, role, note)))
    except AppError as error:
        typer.secho(error.message, fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Invitation code ({role}, valid {settings.invitation_days} days): {code}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default from config).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default from config).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (PostgreSQL for more than one).")] = None,
) -> None:
    """Apply pending migrations, then serve GraphQL and the feeds with uvicorn."""
    import uvicorn

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None}
    settings = _settings(**overrides)
    if settings.workers > 1 and settings.is_sqlite:
        typer.secho("More than one worker needs PostgreSQL (set database_url).", fg="red", err=True)
        raise typer.Exit(2)
    applied = _run(_with_db(settings, _migrate))
    if applied:
        typer.echo(f"Applied {len(applied)} migration(s).")
    for name, value in overrides.items():
        os.environ[f"COALITION_{name.upper()}"] = str(value)
    typer.echo(f"Serving {settings.node_name} on http://{settings.host}:{settings.port}/graphql")
    uvicorn.run(
        "server.asgi:create",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        proxy_headers=True,
        log_level="info",
    )


peer_app = typer.Typer(help="Federation peers: add, confirm, list, block.", no_args_is_help=True)
keys_app = typer.Typer(help="The node's signing key.", no_args_is_help=True)
app.add_typer(peer_app, name="peer")
app.add_typer(keys_app, name="keys")


def _federation(db, settings: Settings):
    from federation.identity import load_identity
    from federation.runtime import Federation, default_client

    return Federation(db, settings, load_identity(settings), default_client)


def _fail(error: Exception) -> None:
    from server.errors import AppError

    message = error.message if isinstance(error, AppError) else str(error)
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(2)


@peer_app.command("add")
def peer_add(
    url: Annotated[str, typer.Argument(help="The peer's base URL, e.g. https://coalition.example.org")],
) -> None:
    """Fetch a peer's document and show its key fingerprint; confirm it after checking."""
    from federation.peers import add_peer
    from server.errors import AppError

    settings = _settings()
    try:
        peer = _run(_with_db(settings, lambda db: add_peer(db, _federation(db, settings), None, url, by_operator=True)))
    except AppError as error:
        _fail(error)
    typer.echo(f"Peer {peer.id} ({peer.name}, {peer.region}) is pending.")
    typer.echo(f"Key fingerprint: {peer.fingerprint}")
    typer.echo("Compare it with the peer's admin (by phone or in person), then run:")
    typer.echo(f"  coalition peer confirm {peer.id} {peer.fingerprint}")


@peer_app.command("confirm")
def peer_confirm(peer_id: str, fingerprint: str) -> None:
    """Pin a pending peer's key (by the fingerprint you checked) and start exchanging."""
    from federation.peers import confirm_peer
    from server.errors import AppError

    settings = _settings()
    try:
        peer = _run(_with_db(settings, lambda db: confirm_peer(db, None, peer_id, fingerprint, by_operator=True)))
    except AppError as error:
        _fail(error)
    typer.echo(f"Peer {peer.id} is active.")


@peer_app.command("block")
def peer_block(
    peer_id: str,
    purge: Annotated[bool, typer.Option(help="Also delete everything replicated from this peer.")] = False,
) -> None:
    """Stop all exchange with a peer, at once and both ways."""
    from federation.peers import block_peer
    from server.errors import AppError

    settings = _settings()
    try:
        _run(_with_db(settings, lambda db: block_peer(db, None, peer_id, purge, by_operator=True)))
    except AppError as error:
        _fail(error)
    typer.echo(f"Peer {peer_id} is blocked{' and purged' if purge else ''}.")


@peer_app.command("list")
def peer_list() -> None:
    """Each peer's state, last contact, and how far behind each log is."""
    from federation.peers import list_peers

    settings = _settings()
    rows = _run(_with_db(settings, list_peers))
    if not rows:
        typer.echo("No peers yet: `coalition peer add URL`.")
        return
    own = rows[0][1].get(settings.node_id, 0)
    typer.echo(f"{'peer':<20} {'state':<8} {'last contact':<20} {'we sent':>8} {'we hold':>8}  url")
    for peer, heads in rows:
        contact = peer.last_contact_at.strftime("%Y-%m-%d %H:%M") if peer.last_contact_at else "never"
        typer.echo(
            f"{peer.id:<20} {peer.state:<8} {contact:<20} {peer.push_cursor:>4}/{own:<3} {heads.get(peer.id, 0):>8}  "
            f"{peer.base_url}" + (f"  (last error: {peer.last_error[:60]})" if peer.last_error else "")
        )


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Replace the node's signing key; the new key is announced in the log, signed by the old one."""
    from federation.rotation import rotate

    settings = _settings()
    identity = _run(_with_db(settings, lambda db: rotate(db, settings)))
    typer.echo(f"New key {identity.key_id} is current; restart `coalition serve` to sign with it.")


plan_app = typer.Typer(help="The Action Plan the coalitions review.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


@plan_app.command("import")
def plan_import(
    file: Annotated[
        Path | None, typer.Argument(help="A plan TOML file; default: the 2023-2033 plan shipped with the node.")
    ] = None,
) -> None:
    """Import or revise a plan; reports on unchanged keys stay, removed items are flagged."""
    from schema.reviews.plans import default_plan, import_plan
    from server.errors import AppError

    settings = _settings()
    text = file.read_text() if file else default_plan()
    try:
        plan, counts = _run(_with_db(settings, lambda db: import_plan(db, None, text, by_operator=True)))
    except AppError as error:
        _fail(error)
    typer.echo(f"Plan {plan.id} (revision {plan.revision}): " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@app.command("export-schema")
def export_schema(
    check: Annotated[bool, typer.Option(help="Fail if the file is stale instead of writing it.")] = False,
) -> None:
    """Write the GraphQL SDL to schema/schema.graphql."""
    from schema.assembly import SDL_FILE, sdl

    text = sdl()
    if check:
        if not SDL_FILE.exists() or SDL_FILE.read_text() != text:
            typer.secho(f"{SDL_FILE} is stale; run `coalition export-schema`.", fg="red", err=True)
            raise typer.Exit(1)
        return
    SDL_FILE.write_text(text)
    typer.echo(f"Wrote {SDL_FILE}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
