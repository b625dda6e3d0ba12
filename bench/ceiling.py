"""Ceiling servers. `app`: a bare Starlette JSON endpoint (run under uvicorn like Hubbub), and a
bare endpoint of a send's shape: `POST /chat/threads/{id}/messages` reads the JSON body, decodes it
with msgspec into a struct and answers 201 with `{"id": "<n>"}`, as a send does, and nothing else
(no token, no database). What a send costs beyond it is Hubbub's own work.
`python -m bench.ceiling PORT`: a raw asyncio server answering every request with canned bytes,
to measure how fast the load generator itself can go.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def json_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class _Send(msgspec.Struct):
    content: str
    senderDisplayName: str | None = None
    type: str | None = None


_encoder = msgspec.json.Encoder()
_sent = 0


async def send_endpoint(request: Request) -> Response:
    global _sent
    msgspec.json.decode(await request.body(), type=_Send)
    _sent += 1
    return Response(_encoder.encode({"id": str(_sent)}), 201, media_type="application/json; charset=utf-8")


app = Starlette(
    routes=[
        Route("/json", json_endpoint, methods=["GET"]),
        Route("/chat/threads/{thread_id}/messages", send_endpoint, methods=["POST"]),
    ]
)

_CANNED = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"status":"ok"}'


class _Canned(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(_CANNED * count)  # type: ignore[attr-defined]


async def _serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Canned, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(_serve(int(sys.argv[1])))
