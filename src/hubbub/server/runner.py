"""Run the app under uvicorn on the plain-HTTP and HTTPS ports, in one or several worker processes.

With several workers the parent binds both sockets, applies the schema once, and spawns workers that
share the sockets (the kernel spreads connections across them); SIGINT/SIGTERM stop them all.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import ssl
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import uvicorn
from starlette.applications import Starlette

from hubbub.server import datadir, logs
from hubbub.server.app import before_shutdown, create_app
from hubbub.server.settings import Settings
from hubbub.server.store import describe_database, open_database

log = logging.getLogger("hubbub")


class _Server(uvicorn.Server):
    """A uvicorn server that also stops its sibling (the other port) on SIGINT/SIGTERM, and runs the
    app's stop hooks (`before_shutdown`: the event streams end) before uvicorn's shutdown closes
    their connections. The runner owns the process's shutdown; the app only registers hooks."""

    siblings: list[uvicorn.Server]
    app: Starlette

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        for sibling in self.siblings:
            sibling.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, without waiting on idle TLS keep-alive connections.

        Closing an idle TLS connection waits for the client's close_notify, which an idle HTTP
        client never sends until it exits (asyncio gives up after 30 s). Connections already
        closing have no request in flight, so they are aborted instead.
        """

        async def abort_closing() -> None:
            await asyncio.sleep(0.3)
            while True:
                for connection in list(self.server_state.connections):
                    transport = getattr(connection, "transport", None)
                    if transport is not None and transport.is_closing():
                        transport.abort()
                await asyncio.sleep(0.2)

        # uvicorn's shutdown starts by closing every WebSocket (1012) and then waits for open
        # responses: run the app's stop hooks first, so each event stream gets its `disconnect`
        # frame and a clean close, and no handler writes to a connection uvicorn already closed.
        # Stop accepting first: a client whose stream just ended would otherwise reconnect to this
        # dying server at once (the JS SDK's Trouter client does), and be cut off again.
        for server in self.servers:
            server.close()
        await before_shutdown(self.app)
        watcher = asyncio.create_task(abort_closing())
        try:
            await super().shutdown(sockets)
        finally:
            watcher.cancel()


def tls_files(settings: Settings) -> tuple[Path, Path, Path | None]:
    """(certificate, key, CA to tell clients about): `--certfile`/`--keyfile` when given (no CA: a
    real certificate chains to one clients already trust), else the data directory's generated ones.

    Exits with a message when the given files do not load as a certificate and its key.
    """
    if settings.certfile is None and settings.keyfile is None:
        ca, cert, key = datadir.ensure_certificates(settings.data_dir)
        return cert, key, ca
    if settings.certfile is None or settings.keyfile is None:
        sys.exit("hubbub: --certfile and --keyfile (HUBBUB_CERTFILE, HUBBUB_KEYFILE) go together")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(settings.certfile, settings.keyfile)
    except (OSError, ssl.SSLError) as exc:
        sys.exit(f"hubbub: cannot use {settings.certfile} with {settings.keyfile}: {exc}")
    return settings.certfile, settings.keyfile, None


def banner(settings: Settings, access_key: str, ca_path: str | None, workers: int) -> str:
    host = settings.connect_host
    lines = ["", f"Hubbub is running ({workers} worker{'s' if workers > 1 else ''}).", ""]
    if settings.https_port:
        lines.append(f"  Connection string: {datadir.connection_string(host, settings.https_port, access_key)}")
    if settings.http_port:
        lines.append(f"  Plain HTTP:        {datadir.connection_string(host, settings.http_port, access_key, 'http')}")
    lines.append(f"  Database:          {describe_database(settings)}")
    lines.append(f"  Real-time bus:     {'Redis' if settings.redis_url else 'in-memory'}")
    if settings.certfile:
        lines.append(f"  Certificate:       {settings.certfile}")
    if settings.metrics:
        lines.append("  Metrics:           /metrics (Prometheus)")
    if ca_path:
        lines += [
            f"  CA certificate:    {ca_path}",
            "",
            "  To make the official Azure SDKs trust it, set:",
            f"    export REQUESTS_CA_BUNDLE={ca_path}   # sync clients (requests)",
            f"    export SSL_CERT_FILE={ca_path}        # async clients (aiohttp)",
            f"    export NODE_EXTRA_CA_CERTS={ca_path}  # JavaScript SDK",
        ]
    return "\n".join(lines) + "\n"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        sys.exit(f"hubbub: cannot listen on {host}:{port}: {exc.strerror}")
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve(
    settings: Settings, sockets: dict[str, socket.socket] | None = None, announce: str | None = None
) -> int:
    """Serve until SIGINT/SIGTERM; return the process exit code."""
    app = create_app(settings)
    servers: list[_Server] = []
    bound: list[socket.socket | None] = []
    common: dict[str, Any] = {
        "log_level": settings.log_level,
        "access_log": settings.log_level == "debug",
        "server_header": False,
        "timeout_graceful_shutdown": 10,
        "proxy_headers": False,
    }
    if settings.log_format == "json":
        common["log_config"] = logs.uvicorn_json_log_config()
    if settings.https_port:
        cert, key, _ = tls_files(settings)
        servers.append(
            _Server(
                uvicorn.Config(
                    app,
                    host=settings.host,
                    port=settings.https_port,
                    ssl_certfile=str(cert),
                    ssl_keyfile=str(key),
                    **common,
                )
            )
        )
        bound.append((sockets or {}).get("https"))
    if settings.http_port:
        servers.append(_Server(uvicorn.Config(app, host=settings.host, port=settings.http_port, **common)))
        bound.append((sockets or {}).get("http"))
    for index, server in enumerate(servers):
        server.siblings = [s for i, s in enumerate(servers) if i != index]
        server.app = app
        server.config.lifespan = "on" if index == 0 else "off"
    primary = servers[0]

    async def serve_primary() -> int:
        try:
            await primary.serve(sockets=[bound[0]] if bound[0] else None)
        except SystemExit as exc:  # uvicorn exits this way when the lifespan startup fails
            return int(exc.code or 1)
        return 0

    main_task = asyncio.create_task(serve_primary())
    while not primary.started:
        if main_task.done():
            return await main_task
        await asyncio.sleep(0.02)
    others = [
        asyncio.create_task(s._serve(sockets=[b] if b else None)) for s, b in zip(servers[1:], bound[1:], strict=True)
    ]
    if announce:
        sys.stdout.write(announce)
        sys.stdout.flush()
    code = await main_task
    await asyncio.gather(*others)
    return code


def _run_to_exit(settings: Settings, sockets: dict[str, socket.socket] | None, announce: str | None) -> NoReturn:
    """Serve on uvloop when installed, then end the process.

    The exit is immediate once the app has shut down (connections drained, database closed): an idle
    TLS keep-alive client would otherwise hold the interpreter for asyncio's 30 s SSL-close timeout.
    """
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        code = runner.run(serve(settings, sockets, announce))
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)


def _worker(settings: Settings, sockets: dict[str, socket.socket]) -> None:
    logs.configure(settings.log_level, settings.log_format)
    _run_to_exit(settings, sockets, None)


async def _migrate(settings: Settings) -> None:
    db = await open_database(settings)
    await db.close()


def run(settings: Settings, workers: int = 1) -> None:
    logs.configure(settings.log_level, settings.log_format)
    access_key = settings.access_key or datadir.ensure_access_key(settings.data_dir)
    ca = tls_files(settings)[2] if settings.https_port else None
    text: str | None = banner(settings, access_key, str(ca.resolve()) if ca else None, workers)
    if settings.log_format == "json":
        # The banner holds the access key, which must never reach a log: one line without it.
        text = None
        log.info(
            "starting %d worker(s): https port %s, http port %s, %s, %s bus"
            " (the connection string: `hubbub connection-string`)",
            workers,
            settings.https_port or "off",
            settings.http_port or "off",
            describe_database(settings),
            "Redis" if settings.redis_url else "in-memory",
        )
    if workers <= 1:
        _run_to_exit(settings, None, text)
    metrics_dir = None
    if settings.metrics:
        # Every worker writes its values here and any of them answers a scrape for all (metrics.py);
        # fresh per start, so counters of a previous run are not added in.
        metrics_dir = tempfile.mkdtemp(prefix="hubbub-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    asyncio.run(_migrate(settings))
    sockets = {}
    if settings.https_port:
        sockets["https"] = _bind(settings.host, settings.https_port)
    if settings.http_port:
        sockets["http"] = _bind(settings.host, settings.http_port)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(settings, sockets), name=f"hubbub-worker-{i}") for i in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(sig: int, frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive() and process.pid:
                process.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()
    for process in processes:
        process.join()
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    codes = [p.exitcode or 0 for p in processes]
    if any(codes) and not all(c == -signal.SIGTERM for c in codes):
        sys.exit(max(abs(c) for c in codes))
