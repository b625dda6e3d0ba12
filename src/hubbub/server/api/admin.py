"""`GET /admin/stats`: what only the running process knows, for `hubbub stats`.

Counts of users, threads and messages come from the database (the command reads it directly); the
open event streams live in the server process, so it answers for them. Authenticated like the
Identity API: HMAC-SHA256 with the access key, so only the operator can ask.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.server.api.http import json_response, read_body, service_of, verify_hmac


async def get_stats(request: Request) -> Response:
    await verify_hmac(request, await read_body(request))
    service = service_of(request)
    # One worker answers: with --workers N each process counts only its own streams.
    return json_response({"openStreams": service.bus.hub.connection_count, "pid": os.getpid()})


routes = [Route("/admin/stats", get_stats, methods=["GET"])]
