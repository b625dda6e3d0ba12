"""The `hubbub` command: serve, gateway, connection-string, users, migrate, reindex, backup, restore,
stats, events, and subscriptions (`hubbub._cli.subscriptions`).

Options map one-to-one onto `hubbub.server.settings.Settings`; each also reads its `HUBBUB_*`
environment variable (`hubbub._cli.options`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import click
except ImportError:  # pragma: no cover - the SDK-only install has no CLI
    sys.exit('The hubbub command needs the server extra: pip install "hubbub[server]"')

from hubbub import __version__
from hubbub._cli.options import (
    DATA_DIR,
    DATABASE_URL,
    HOST,
    HTTP_PORT,
    HTTPS_PORT,
    LOG_LEVEL,
    setting,
)
from hubbub._cli.options import database_and_server as _database_and_server
from hubbub._cli.options import settings as _settings
from hubbub._cli.subscriptions import subscriptions


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hubbub")
def main() -> None:
    """Hubbub: a self-hosted chat service that speaks the Azure Communication Services Chat and
    Identity REST API. Apps written against the official ACS SDKs run against it unchanged.

    Start with `hubbub serve`; it prints the connection string to use.
    """


@main.command()
@DATA_DIR
@HOST
@HTTP_PORT
@HTTPS_PORT
@DATABASE_URL
@setting("--redis-url", field="redis_url", help="redis://host:port/0 to share real-time events between nodes")
@setting(
    "--rate-limit/--no-rate-limit",
    field="rate_limit",
    help="Enforce the ACS per-operation rate limits, answering 429 with Retry-After",
)
@click.option(
    "--workers",
    envvar="HUBBUB_WORKERS",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes sharing the ports. More than one needs --redis-url, so that real-time "
    "events reach clients on every worker (HUBBUB_WORKERS).",
)
@LOG_LEVEL
@setting(
    "--log-format",
    field="log_format",
    type=click.Choice(["text", "json"]),
    help="Log lines as text, or as one JSON object per line with the request id",
)
@setting(
    "--metrics/--no-metrics",
    field="metrics",
    help="Serve Prometheus metrics at /metrics on the server's ports (keep it from the outside)",
)
@setting(
    "--certfile",
    field="certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate (with its chain) for HTTPS instead of the generated one; needs --keyfile",
)
@setting(
    "--keyfile",
    field="keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM private key of --certfile",
)
def serve(
    data_dir: Path | None,
    host: str | None,
    http_port: int | None,
    https_port: int | None,
    database_url: str | None,
    redis_url: str | None,
    rate_limit: bool | None,
    workers: int,
    log_level: str | None,
    log_format: str | None,
    metrics: bool | None,
    certfile: Path | None,
    keyfile: Path | None,
) -> None:
    """Run the server: HTTP and HTTPS on loopback, SQLite by default.

    On first start this creates the data directory with a generated access key, a self-signed CA and
    a server certificate (for localhost and 127.0.0.1). Restarts reuse them and keep all data.
    --certfile and --keyfile serve a real certificate instead (docs/deploy.md).
    Limits are set with HUBBUB_MAX_PARTICIPANTS, HUBBUB_MAX_PARTICIPANTS_PER_BATCH,
    HUBBUB_MAX_PAGE_SIZE, HUBBUB_MAX_MESSAGE_BYTES, HUBBUB_MAX_TOPIC_LENGTH,
    HUBBUB_TYPING_PARTICIPANT_LIMIT and HUBBUB_MAX_BODY_BYTES.
    """
    from hubbub.server.runner import run

    settings = _settings(
        data_dir=data_dir,
        host=host,
        http_port=http_port,
        https_port=https_port,
        database_url=database_url,
        redis_url=redis_url,
        rate_limit=rate_limit,
        log_level=log_level,
        log_format=log_format,
        metrics=metrics,
        certfile=certfile,
        keyfile=keyfile,
    )
    if (settings.certfile is None) != (settings.keyfile is None):
        raise click.UsageError("--certfile and --keyfile (HUBBUB_CERTFILE, HUBBUB_KEYFILE) go together.")
    if settings.log_format not in ("text", "json"):
        raise click.UsageError(f"HUBBUB_LOG_FORMAT={settings.log_format!r}: use text or json.")
    if not settings.http_port and not settings.https_port:
        raise click.UsageError("At least one of --http-port and --https-port must be non-zero.")
    if workers > 1 and not settings.redis_url:
        raise click.UsageError("--workers above 1 needs --redis-url (HUBBUB_REDIS_URL) to share real-time events.")
    run(settings, workers)


@main.command()
@click.option(
    "--connection-string",
    envvar="HUBBUB_CONNECTION_STRING",
    required=True,
    help="endpoint=https://...;accesskey=... of the ACS resource or Hubbub server (HUBBUB_CONNECTION_STRING).",
)
@HOST
@click.option(
    "--port", envvar="HUBBUB_GATEWAY_PORT", type=int, default=5000, show_default=True, help="Port to listen on."
)
@click.option(
    "--ca",
    "ca_file",
    envvar="SSL_CERT_FILE",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="CA bundle to trust for an https endpoint (default: SSL_CERT_FILE, else the system CAs).",
)
@click.option(
    "--admin-key",
    envvar="HUBBUB_GATEWAY_ADMIN_KEY",
    default=None,
    help="Require this key (X-Admin-Key header) to create identities (HUBBUB_GATEWAY_ADMIN_KEY).",
)
@click.option(
    "--log-level",
    envvar="HUBBUB_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Log verbosity.",
)
def gateway(
    connection_string: str, host: str, port: int, ca_file: str | None, admin_key: str | None, log_level: str
) -> None:
    """Run the simple REST API (/create_users, /send_message, ...) alone, in front of any
    ACS-compatible endpoint, real ACS included. See docs/gateway.md.
    """
    import uvicorn

    from hubbub._sdk.signing import parse_connection_string
    from hubbub.server.gateway.standalone import create_gateway_app

    try:
        endpoint, access_key = parse_connection_string(connection_string)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    app = create_gateway_app(endpoint, access_key, admin_key=admin_key, ca_file=ca_file)
    click.echo(f"Hubbub gateway on http://{host}:{port} -> {endpoint}")
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)


@main.command("connection-string")
@DATA_DIR
@HOST
@HTTP_PORT
@HTTPS_PORT
@click.option("--http", "plain", is_flag=True, help="Print the plain-HTTP endpoint instead of HTTPS.")
def connection_string(
    data_dir: Path | None, host: str | None, http_port: int | None, https_port: int | None, plain: bool
) -> None:
    """Print the connection string (endpoint and access key) of the server using DATA_DIR.

    The key is HUBBUB_ACCESS_KEY when set (as `serve` uses it), else the data directory's.
    """
    from hubbub.server import datadir

    settings = _settings(data_dir=data_dir, host=host, http_port=http_port, https_port=https_port)
    key = settings.access_key or datadir.ensure_access_key(settings.data_dir)
    host_name = settings.connect_host
    port = settings.http_port if plain else settings.https_port
    if not port:
        raise click.UsageError(f"the {'plain-HTTP' if plain else 'HTTPS'} port is disabled (0)")
    click.echo(datadir.connection_string(host_name, port, key, "http" if plain else "https"))


@main.group()
def users() -> None:
    """Manage identities (ACS users) directly in the database, for scripts."""


@users.command("create")
@DATA_DIR
@DATABASE_URL
@click.option(
    "--scopes",
    default="chat",
    show_default=True,
    help="Comma-separated token scopes (chat, voip, chat.join, chat.join.limited, voip.join).",
)
@click.option("--token", "with_token", is_flag=True, help="Also issue an access token.")
@click.option(
    "--expires-in-minutes",
    type=click.IntRange(60, 1440),
    default=1440,
    show_default=True,
    help="Token lifetime.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON {id, token, expiresOn}.")
def users_create(
    data_dir: Path | None,
    database_url: str | None,
    scopes: str,
    with_token: bool,
    expires_in_minutes: int,
    as_json: bool,
) -> None:
    """Create a user and print its id (and, with --token, a token on the next line)."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()] if with_token else None

    async def create() -> tuple[str, Any]:
        from hubbub.server import datadir
        from hubbub.server.rules.identities import IdentityService
        from hubbub.server.store import open_database
        from hubbub.server.tokens import TokenService

        key = settings.access_key or datadir.ensure_access_key(settings.data_dir)
        db = await open_database(settings)
        try:
            return await IdentityService(db, TokenService(key)).create_identity(scope_list, expires_in_minutes)
        finally:
            await db.close()

    from hubbub.server.errors import HubbubError

    try:
        user_id, token = asyncio.run(create())
    except HubbubError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        out: dict[str, str] = {"id": user_id}
        if token is not None:
            out |= {"token": token.token, "expiresOn": token.expires_on.isoformat()}
        click.echo(json.dumps(out))
        return
    click.echo(user_id)
    if token is not None:
        click.echo(token.token)


@users.command("delete")
@click.argument("user_id")
@_database_and_server("which ends the user's open streams")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking for confirmation.")
def users_delete(
    user_id: str,
    data_dir: Path | None,
    database_url: str | None,
    host: str | None,
    http_port: int | None,
    https_port: int | None,
    endpoint: str | None,
    yes: bool,
) -> None:
    """Delete the identity USER_ID, as DELETE /identities/{id} does.

    Its access tokens stop working and no new ones can be issued for it; the messages it sent and
    its thread memberships stay, as on ACS. When the server answers at --endpoint, the deletion goes
    through it (signed with the access key), so the user's open event streams end at once, on every
    node with Redis. Otherwise it is written to the database (--data-dir or --database-url); with
    HUBBUB_REDIS_URL the running nodes still hear of it at once, and without, they refuse the tokens
    within HUBBUB_IDENTITY_CACHE_SECONDS and open streams end when they next reconnect.
    """
    from hubbub.server import datadir
    from hubbub.server import stats as server_stats
    from hubbub.server.store import DatabaseMissing, require_database

    settings = _settings(
        data_dir=data_dir, database_url=database_url, host=host, http_port=http_port, https_port=https_port
    )
    try:
        require_database(settings)
    except DatabaseMissing as exc:
        raise click.ClickException(str(exc)) from exc
    key = settings.access_key or datadir.ensure_access_key(settings.data_dir)
    target = endpoint or server_stats.default_endpoint(settings)

    async def exists() -> bool:
        from hubbub.server.store import identities, open_database

        db = await open_database(settings, migrate=False)
        try:
            return await db.read(lambda conn: identities.get_identity(conn, user_id)) is not None
        finally:
            await db.close()

    async def delete_in_database() -> None:
        from hubbub.server.events import bus_for_settings
        from hubbub.server.rules.identities import IdentityService
        from hubbub.server.store import open_database
        from hubbub.server.tokens import TokenService

        bus = bus_for_settings(settings) if settings.redis_url else None  # tells the running nodes
        if bus is not None:
            await bus.start()
        db = await open_database(settings, migrate=False)
        try:
            await IdentityService(db, TokenService(key), bus=bus).delete_identity(user_id)
        finally:
            await db.close()
            if bus is not None:
                await bus.close()

    from hubbub.server.errors import HubbubError

    try:
        if not asyncio.run(exists()):
            raise click.ClickException(f"identity {user_id} does not exist (or is already deleted)")
        if not yes:
            click.confirm(
                f"Delete identity {user_id}? Its access tokens stop working and it gets no new ones; "
                "its messages and thread memberships stay.",
                abort=True,
            )
        refused = server_stats.delete_identity_on_server(
            target, key, user_id, verify=server_stats.server_verify(settings, target)
        )
        if refused is None:
            click.echo(f"Deleted identity {user_id} through the server at {target}; its open streams ended.")
            return
        asyncio.run(delete_in_database())
    except HubbubError as exc:
        raise click.ClickException(exc.message) from exc
    reach = (
        "the nodes heard of it through Redis"
        if settings.redis_url
        else ("a running server refuses its tokens within HUBBUB_IDENTITY_CACHE_SECONDS")
    )
    click.echo(f"Deleted identity {user_id} in the database (the server at {target}: {refused}); {reach}.")


@main.command()
@DATA_DIR
@DATABASE_URL
def migrate(data_dir: Path | None, database_url: str | None) -> None:
    """Create or upgrade the database schema to this version of Hubbub, then exit."""
    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def upgrade(progress: Callable[[int, int], None]) -> tuple[int, int]:
        from hubbub.server.store import open_database
        from hubbub.server.store import search as search_store

        db = await open_database(settings, migrate=False)
        try:
            version = await db.migrate()
            return version, await search_store.backfill(db, progress)
        finally:
            await db.close()

    from hubbub.server.store import describe_database

    with _index_progress() as progress:
        version, indexed = asyncio.run(upgrade(progress))
    click.echo(f"{describe_database(settings)}: schema version {version}")
    if indexed:
        click.echo(f"Search index: {indexed:,} existing messages indexed.")


@main.command()
@DATA_DIR
@DATABASE_URL
def reindex(data_dir: Path | None, database_url: str | None) -> None:
    """Rebuild the message search index from every stored message, with progress, then exit.

    Safe while a server runs (each batch is a short transaction, and new writes keep the index
    themselves); needed only if the index was damaged, e.g. after a manual SQLite VACUUM.
    """
    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def rebuild(progress: Callable[[int, int], None]) -> int:
        from hubbub.server.store import open_database
        from hubbub.server.store import search as search_store

        db = await open_database(settings, migrate=False)
        try:
            await db.migrate()
            await search_store.restart_backfill(db)
            return await search_store.backfill(db, progress)
        finally:
            await db.close()

    with _index_progress() as progress:
        indexed = asyncio.run(rebuild(progress))
    click.echo(f"Search index rebuilt: {indexed:,} messages.")


@contextlib.contextmanager
def _index_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar (on stderr) for the search index backfill: (messages done, messages in all)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("Indexing messages for search"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed}/{task.total} messages"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("index", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@main.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@DATA_DIR
@DATABASE_URL
@click.option(
    "--pages-per-step",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Database pages copied per step of SQLite's backup API (the progress bar moves once per step).",
)
def backup(archive: Path, data_dir: Path | None, database_url: str | None, pages_per_step: int) -> None:
    """Write a consistent copy of the data directory to ARCHIVE, while the server runs.

    ARCHIVE is a tar file (gzip-compressed when it ends in .tar.gz or .tgz) holding the SQLite
    database as of the moment the backup starts, the access key and the TLS certificates and keys:
    everything `hubbub restore` needs to bring back a server that existing clients, connection
    strings and tokens keep working with. It holds private keys: keep it like the data directory.
    For PostgreSQL use pg_dump (docs/operations.md).
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from hubbub.server import backup as backups
    from hubbub.server import datadir
    from hubbub.server.store import embedded_path, uses_database_server

    settings = _settings(data_dir=data_dir, database_url=database_url)
    if uses_database_server(settings):
        raise click.UsageError("the database is PostgreSQL: back it up with pg_dump (see docs/operations.md)")
    columns = (
        TextColumn("Backing up"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed}/{task.total} pages"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("backup", total=None)
            result = backups.create_backup(
                settings.data_dir,
                archive,
                pages_per_step=pages_per_step,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except (backups.BackupError, sqlite3.Error, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Backed up {embedded_path(settings)} (schema version {result.schema_version}, {result.pages} pages,"
        f" {result.database_bytes:,} bytes) and {', '.join(result.files) or 'no key files'}"
        f" to {result.path} in {result.seconds:.2f} s."
    )
    key_file = settings.data_dir / datadir.KEY_FILE
    if settings.access_key and (not key_file.is_file() or key_file.read_text().strip() != settings.access_key):
        click.echo(
            "Warning: the server's access key comes from HUBBUB_ACCESS_KEY and is not in the backup;"
            " keep it with the backup to restore working tokens and connection strings.",
            err=True,
        )


@main.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@DATA_DIR
@click.option("--force", is_flag=True, help="Replace the database and key files already in the data directory.")
def restore(archive: Path, data_dir: Path | None, force: bool) -> None:
    """Restore the backup ARCHIVE (from `hubbub backup`) into the data directory, with no server running.

    The archive is checked first: its manifest and checksum, SQLite's integrity check, and a schema
    version this Hubbub can run (an older one is upgraded when the server starts). Refused while a
    server has the data directory's database open, and when the directory already holds a database
    or key files, unless --force. A bare SQLite file restores the database alone.
    """
    from hubbub.server import backup as backups
    from hubbub.server.store import uses_database_server

    settings = _settings(data_dir=data_dir)
    if uses_database_server(settings):
        raise click.UsageError(
            "HUBBUB_DATABASE_URL selects PostgreSQL: restore it with pg_restore (docs/operations.md)"
        )
    try:
        result = backups.restore_backup(archive, settings.data_dir, force=force)
    except (backups.BackupError, sqlite3.Error, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    made = f" made {result.created_at}" if result.created_at else ""
    click.echo(
        f"Restored {archive}{made} into {result.data_dir}: {', '.join(result.files)}"
        f" (schema version {result.schema_version}). Start it with: hubbub serve --data-dir {result.data_dir}"
    )


@main.command()
@_database_and_server("to ask for its open event streams")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats(
    data_dir: Path | None,
    database_url: str | None,
    host: str | None,
    http_port: int | None,
    https_port: int | None,
    endpoint: str | None,
    as_json: bool,
) -> None:
    """Count users, threads and messages in the database, and ask the running server for its open
    event streams (signed with the access key; with several workers, one worker's count).

    The counts need only the database, so they work with the server stopped; open streams are then
    reported as unavailable.
    """
    from hubbub.server import datadir
    from hubbub.server import stats as server_stats
    from hubbub.server.store.engines import describe_database

    settings = _settings(
        data_dir=data_dir, database_url=database_url, host=host, http_port=http_port, https_port=https_port
    )
    try:
        counts = asyncio.run(server_stats.database_counts(settings))
    except server_stats.StatsError as exc:
        raise click.ClickException(str(exc)) from exc
    target = endpoint or server_stats.default_endpoint(settings)
    key = settings.access_key or datadir.ensure_access_key(settings.data_dir)
    live = server_stats.server_stats(target, key, verify=server_stats.server_verify(settings, target))
    if as_json:
        out: dict[str, Any] = {_camel(name): value for name, value in counts.items()}
        out |= {"openStreams": live.open_streams, "endpoint": live.endpoint}
        if live.error:
            out["openStreamsError"] = live.error
        click.echo(json.dumps(out))
        return
    streams = (
        f"{live.open_streams} ({live.endpoint})" if live.error is None else f"unknown: {live.endpoint} {live.error}"
    )
    rows = [
        ("Database", describe_database(settings)),
        ("Users", f"{counts['users']} ({counts['deleted_users']} deleted)"),
        ("Threads", f"{counts['threads']} ({counts['deleted_threads']} deleted)"),
        ("Participants", f"{counts['participants']} in live memberships"),
        (
            "Messages",
            f"{counts['messages']} ({counts['deleted_messages']} deleted, {counts['system_messages']} system)",
        ),
        ("Open streams", streams),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<14} {value}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@main.command()
@click.option("--endpoint", required=True, help="The server, for example http://127.0.0.1:8080.")
@click.option("--token", default=None, help="The user's chat access token.")
@click.option(
    "--connection-string",
    default=None,
    envvar="HUBBUB_CONNECTION_STRING",
    help="endpoint=...;accesskey=... to issue a chat token for --user (HUBBUB_CONNECTION_STRING).",
)
@click.option("--user", "user_id", default=None, help="The user id (8:acs:...) to issue a token for.")
@click.option("--last-event-id", default=None, help="Resume after this event id.")
@click.option("--max-events", type=click.IntRange(min=1), default=None, help="Exit after this many events.")
@click.option(
    "--transport",
    type=click.Choice(["sse", "websocket"]),
    default="sse",
    show_default=True,
    help="Listen over Server-Sent Events or a WebSocket.",
)
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="CA bundle to verify an https endpoint with (for a self-signed Hubbub certificate).",
)
def events(
    endpoint: str,
    token: str | None,
    connection_string: str | None,
    user_id: str | None,
    last_event_id: str | None,
    max_events: int | None,
    transport: str,
    ca_bundle: str | None,
) -> None:
    """Tail one user's real-time events as JSON lines, for debugging.

    Give the user's token with --token, or --connection-string and --user to issue one (it is
    refreshed as needed). Prints every frame but heartbeats, {"id", "type", "data"}, one per line:
    `connected` after each (re)connection, the chat events, `resyncRequired`, and `disconnect`. The
    stream reconnects by itself and resumes from the last id. Stop with Ctrl-C.
    """
    from hubbub._sdk.events import check_realtime_transport
    from hubbub.chat import ChatClient, CommunicationTokenCredential

    if token is None:
        if connection_string is None or user_id is None:
            raise click.UsageError("give --token, or --connection-string and --user")
        from hubbub.identity import CommunicationIdentityClient, CommunicationUserIdentifier

        identity = CommunicationIdentityClient.from_connection_string(
            connection_string, **({"connection_verify": ca_bundle} if ca_bundle else {})
        )
        user = CommunicationUserIdentifier(user_id)
        access = identity.get_token(user, ["chat"])
        credential = CommunicationTokenCredential(
            access.token, token_refresher=lambda: identity.get_token(user, ["chat"])
        )
    else:
        credential = CommunicationTokenCredential(token)
    options: dict[str, Any] = {"connection_verify": ca_bundle} if ca_bundle else {}
    count = 0
    try:
        with (
            ChatClient(endpoint, credential, **options) as client,
            client.events(
                last_event_id=last_event_id, realtime_transport=check_realtime_transport(transport)
            ) as stream,
        ):
            for event in stream:
                click.echo(json.dumps(event.to_dict()))
                count += 1
                if max_events is not None and count >= max_events:
                    break
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


if __name__ == "__main__":  # pragma: no cover
    main()


main.add_command(subscriptions)  # webhooks (docs/webhooks.md)
