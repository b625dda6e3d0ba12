"""Ceiling servers. `app`: a bare Starlette JSON endpoint (run under uvicorn like Hubbub), and a
bare endpoint of a send's shape: `POST /chat/threads/{id}/messages` reads the JSON body, decodes it
with msgspec into a struct and answers 201 with `{"id": "<n>"}`, as a send does, and nothing else
(no token, no database). What a send costs beyond it is Hubbub's own work.
`stored_app`: the same endpoint, which also stores the message with Hubbub's own store function
(`store.messages.send_message`: the membership check, the thread's next slot and the insert, in the
embedded database's group commit, as a send runs them), still with no token, no rules, no event and
no other middleware. `raw_stored_app`: the least a stored send can be on this stack: the same
endpoint, which runs the two statements of a send (`UPDATE threads ... RETURNING`, `INSERT INTO
messages`) with plain sqlite3 in a group commit on a writer thread, on a
database with Hubbub's schema (no membership check, no search index, SQLite's own checkpoints).
`python -m bench.ceiling PORT`: a raw asyncio server answering every request with canned bytes,
to measure how fast the load generator itself can go.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hubbub.server.domain import Participant
from hubbub.server.store import messages, participants, search, threads
from hubbub.server.store.engine import Connection
from hubbub.server.store.sqlite import SqliteDatabase


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

STORED_DB = "HUBBUB_BENCH_STORED_DB"
"""The environment variable naming the database file of `stored_app` (created, with its threads)."""
STORED_THREADS = "HUBBUB_BENCH_STORED_THREADS"
"""How many threads `stored_app` creates: the ids `workloads.send_shaped_ceiling` sends to."""
STORED_SENDER = "8:acs:00000000-0000-0000-0000-000000000000_bench"


def stored_thread_ids(count: int) -> list[str]:
    return [f"19:{i:032x}@thread.v2" for i in range(count)]


@contextlib.asynccontextmanager
async def _stored_lifespan(app: Starlette) -> AsyncIterator[None]:
    """A new database with Hubbub's schema and the threads, opened by Hubbub's SQLite engine."""
    db = await SqliteDatabase.connect(Path(os.environ[STORED_DB]))
    try:
        await db.migrate()
        await search.start_indexing(db)  # the search index's new rows, after the sends, as the server does
        now = time.time_ns() // 1000

        async def create(tx: Connection) -> None:
            for thread_id in stored_thread_ids(int(os.environ[STORED_THREADS])):
                await threads.insert_thread(
                    tx,
                    thread_id=thread_id,
                    topic="stored ceiling",
                    created_at=now,
                    created_by=STORED_SENDER,
                    metadata=None,
                    retention_policy=None,
                    delete_after=None,
                )
                await participants.upsert_participant(tx, thread_id, Participant(user_id=STORED_SENDER), now=now)

        await db.write(create)
        app.state.db = db
        gc.collect()  # as Hubbub's lifespan does
        gc.freeze()
        yield
    finally:
        await db.close()


async def stored_send_endpoint(request: Request) -> Response:
    body = msgspec.json.decode(await request.body(), type=_Send)
    sent = await messages.send_message(
        request.app.state.db,
        request.path_params["thread_id"],
        STORED_SENDER,
        type="text",
        sender_display_name=body.senderDisplayName,
        content=body.content,
        metadata=None,
        now=time.time_ns() // 1000,
    )
    if sent is None:
        return Response(b"", 403)
    return Response(_encoder.encode({"id": str(sent.message_id)}), 201, media_type="application/json; charset=utf-8")


class _RawStore:
    """Group commit on a writer thread, as Hubbub's SQLite engine does it (on one core too, that
    beat committing on the event loop: 16,140 against 14,854 sends/s, 3 rounds in turns): the thread
    takes every send waiting, runs the two statements of each and commits them together, then hands
    the ids back to the event loop in one call."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.queue: queue.SimpleQueue[_RawSend | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._write_loop, name="raw-writer", daemon=True)
        self.thread.start()

    async def send(self, thread_id: str, content: str, display_name: str | None) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self.queue.put(_RawSend(thread_id, content, display_name, future, loop))
        return await future

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.conn.close()

    def _write_loop(self) -> None:
        conn = self.conn
        while (first := self.queue.get()) is not None:
            batch = [first]
            with contextlib.suppress(queue.Empty):
                while len(batch) < 256:
                    more = self.queue.get_nowait()
                    if more is None:
                        self.queue.put(None)
                        break
                    batch.append(more)
            try:
                ids = self._commit(batch)
            except (sqlite3.Error, TypeError) as exc:  # an unknown thread (no row to update), a locked file
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                batch[0].loop.call_soon_threadsafe(_settle_raw, batch, exc)
            else:
                batch[0].loop.call_soon_threadsafe(_settle_raw, batch, ids)

    def _commit(self, batch: list[_RawSend]) -> list[int]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        ids = []
        for send in batch:
            now = time.time_ns() // 1000
            seq, message_id, created_at = conn.execute(_RAW_SLOT, (now // 1000, now, send.thread_id)).fetchone()
            conn.execute(
                _RAW_INSERT,
                (send.thread_id, message_id, seq, STORED_SENDER, send.display_name, send.content, created_at),
            )
            ids.append(message_id)
        conn.execute("COMMIT")
        return ids


class _RawSend(NamedTuple):
    thread_id: str
    content: str
    display_name: str | None
    future: asyncio.Future[int]
    loop: asyncio.AbstractEventLoop


def _settle_raw(batch: list[_RawSend], outcome: list[int] | Exception) -> None:
    for i, send in enumerate(batch):
        if isinstance(outcome, Exception):
            send.future.set_exception(outcome)
        else:
            send.future.set_result(outcome[i])


_RAW_SLOT = (
    "UPDATE threads SET last_seq = last_seq + 1,"
    " last_message_id = CASE WHEN last_message_id >= ?1 THEN last_message_id + 1 ELSE ?1 END,"
    " last_message_at = CASE WHEN last_message_at >= ?2 THEN last_message_at + 1 ELSE ?2 END"
    " WHERE id = ?3 RETURNING last_seq, last_message_id, last_message_at"
)
_RAW_INSERT = (
    "INSERT INTO messages (thread_id, id, seq, type, sender_id, sender_display_name, content, metadata,"
    " created_at, version) VALUES (?1, ?2, ?3, 'text', ?4, ?5, ?6, NULL, ?7, ?2)"
)


@contextlib.asynccontextmanager
async def _raw_stored_lifespan(app: Starlette) -> AsyncIterator[None]:
    async with _stored_lifespan(app):  # the schema and the threads, by Hubbub's store
        pass
    app.state.raw = _RawStore(Path(os.environ[STORED_DB]))
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        app.state.raw.close()


async def raw_stored_send_endpoint(request: Request) -> Response:
    body = msgspec.json.decode(await request.body(), type=_Send)
    message_id = await request.app.state.raw.send(
        request.path_params["thread_id"], body.content, body.senderDisplayName
    )
    return Response(_encoder.encode({"id": str(message_id)}), 201, media_type="application/json; charset=utf-8")


raw_stored_app = Starlette(
    routes=[
        Route("/json", json_endpoint, methods=["GET"]),
        Route("/chat/threads/{thread_id}/messages", raw_stored_send_endpoint, methods=["POST"]),
    ],
    lifespan=_raw_stored_lifespan,
)


stored_app = Starlette(
    routes=[
        Route("/json", json_endpoint, methods=["GET"]),
        Route("/chat/threads/{thread_id}/messages", stored_send_endpoint, methods=["POST"]),
    ],
    lifespan=_stored_lifespan,
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
