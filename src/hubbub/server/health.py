"""Health probes: `GET /health/live` (the process answers) and `GET /health/ready` (it can serve).

`/health/ready` asks the database for `SELECT 1` and, when `HUBBUB_REDIS_URL` is set, Redis for a
PING, each within `HUBBUB_HEALTH_TIMEOUT_SECONDS`. It answers 200 when both answer, else 503 with
what failed, so a load balancer stops sending traffic to a node that lost its database and sends it
again when the database is back (connections are re-established by the pool; nothing restarts).
`/health` stays as before: the process is up and the app started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.server.api.http import json_response
from hubbub.server.service import service_of

log = logging.getLogger("hubbub.health")


async def live(request: Request) -> Response:
    return json_response({"status": "ok"})


async def _check(name: str, probe: Callable[[], Awaitable[None]], timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await probe()
    except TimeoutError:
        return {"name": name, "status": "failed", "error": f"no answer within {timeout:g} s"}
    except Exception as exc:  # any driver error means "not ready"; the reason goes to the caller
        return {"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}".strip()}
    return {"name": name, "status": "ok", "seconds": round(time.perf_counter() - started, 4)}


async def ready(request: Request) -> Response:
    service = service_of(request)
    timeout = service.settings.health_timeout_seconds
    checks = [_check("database", service.db.ping, timeout)]
    if service.settings.redis_url:
        checks.append(_check("redis", service.bus.ping, timeout))
    results = await asyncio.gather(*checks)
    failed = [result for result in results if result["status"] != "ok"]
    if failed:
        log.warning("not ready: %s", "; ".join(f"{r['name']}: {r['error']}" for r in failed))
    body = {"status": "failed" if failed else "ok", "checks": {r.pop("name"): r for r in results}}
    return json_response(body, status=503 if failed else 200)


routes = [
    Route("/health/live", live, methods=["GET"]),
    Route("/health/ready", ready, methods=["GET"]),
]
