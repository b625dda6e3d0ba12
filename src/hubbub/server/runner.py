"""Run the app under uvicorn on the plain-HTTP and HTTPS ports of one process, and print how to connect."""

from __future__ import annotations

import asyncio
import logging
import sys
from types import FrameType

import uvicorn

from hubbub.server import datadir
from hubbub.server.app import create_app
from hubbub.server.settings import Settings


class _Server(uvicorn.Server):
    """A uvicorn server that also stops its sibling (the other port) on SIGINT/SIGTERM."""

    siblings: list[uvicorn.Server]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        for sibling in self.siblings:
            sibling.should_exit = True


def banner(settings: Settings, access_key: str, ca_path: str | None) -> str:
    host = settings.public_host or ("127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host)
    lines = ["", "Hubbub is running.", ""]
    if settings.https_port:
        lines.append(f"  Connection string: {datadir.connection_string(host, settings.https_port, access_key)}")
    if settings.http_port:
        lines.append(f"  Plain HTTP:        {datadir.connection_string(host, settings.http_port, access_key, 'http')}")
    engine = "PostgreSQL" if settings.uses_postgres else f"SQLite ({settings.sqlite_path})"
    lines.append(f"  Database:          {engine}")
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


async def serve(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; return the process exit code."""
    access_key = settings.access_key or datadir.ensure_access_key(settings.data_dir)
    app = create_app(settings)
    servers: list[_Server] = []
    ca_path = None
    common = {"log_level": settings.log_level, "access_log": settings.log_level == "debug",
              "server_header": False, "proxy_headers": False}
    if settings.https_port:
        ca, cert, key = datadir.ensure_certificates(settings.data_dir)
        ca_path = str(ca.resolve())
        servers.append(_Server(uvicorn.Config(app, host=settings.host, port=settings.https_port,
                                              ssl_certfile=str(cert), ssl_keyfile=str(key), **common)))
    if settings.http_port:
        servers.append(_Server(uvicorn.Config(app, host=settings.host, port=settings.http_port,
                                              lifespan="off", **common)))
    servers[0].config.lifespan = "on"
    for index, server in enumerate(servers):
        server.siblings = [s for i, s in enumerate(servers) if i != index]
        if index:
            server.config.lifespan = "off"
    primary, rest = servers[0], servers[1:]

    async def serve_primary() -> int:
        try:
            await primary.serve()
        except SystemExit as exc:  # uvicorn exits this way when the lifespan startup fails
            return int(exc.code or 1)
        return 0

    main_task = asyncio.create_task(serve_primary())
    while not primary.started:
        if main_task.done():
            return await main_task
        await asyncio.sleep(0.02)
    others = [asyncio.create_task(s._serve()) for s in rest]
    sys.stdout.write(banner(settings, access_key, ca_path))
    sys.stdout.flush()
    results = await asyncio.gather(main_task, *others)
    return int(results[0])


def run(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    code = asyncio.run(serve(settings))
    if code:
        sys.exit(code)
