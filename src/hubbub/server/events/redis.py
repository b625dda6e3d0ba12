"""The Redis backend: one Redis Stream shared by every node.

Why a stream (see docs/events.md): `XADD` gives every event an id from one counter, so all nodes
see one total order; `MAXLEN ~` keeps a bounded backlog that any node can replay from after a
reconnect; one `XREAD BLOCK` loop per node fans events out to that node's connections. Pub/Sub would
need a second store for the backlog and has no ids.

Publishing goes through an outbox drained by one writer task, so a Redis outage never fails the
request that caused the event (its data is already committed): `publish` waits briefly for the
`XADD` while Redis is healthy, and not at all while the writer is retrying or stalled. The writer
sends what queued up meanwhile as one `MULTI`, `XADD`..., `EXEC` on a connection of its own, the
commands encoded here: redis-py's pipeline cost more CPU than the rest of a send's publishing. The
reader's `XREAD` is encoded here too, on a connection of its own, for the same reason.

Every node reads every entry back. The reader's `XREAD BLOCK` does it while the node publishes
nothing; while it publishes, the writer does it: the same write that sends the batch ends with a
non-blocking `XREAD` from the node's position, so the entries after it (the batch, and what other
nodes appended before it) come back with the batch's reply, and the reader stays off Redis until
the writer has been quiet for `READ_BACK_S`. A blocking reader would answer every batch with a
wake-up, a reply and a new `XREAD`: on a busy node that round cost about a fifth of a send's CPU.
Entries from other nodes wait at most `READ_BACK_S` longer.

Revocations (`revoke`) are entries of the same stream (field `r` instead of `e`), so every node
handles one between the events published before it and those after it. While this node's reader
follows the stream without interruption it is sure to see every revocation, and says so through
`revocation_epoch`; the identity cache then needs no expiry.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from hubbub.server.errors import Unavailable
from hubbub.server.events.bus import EventBus, cancel_task
from hubbub.server.events.hub import BUS_INTERRUPTED, Delivery, Event, Revocation
from hubbub.server.events.ids import ORIGIN, StreamId, now_ms

log = logging.getLogger("hubbub.events")

BLOCK_MS = 5_000
BATCH = 200
READ_COUNT = 1000
"""Entries one `XREAD` returns at most."""
READ_BACK_S = 0.005
"""How long after the writer's last read-back (`RedisBus._xadd`) the reader starts blocking on
Redis again; also how much later than before an entry from another node may be delivered here
while this node publishes. W1 in-process (`bench.inproc --redis`, 4 and 8 senders), the reader left
idle: Hubbub's CPU per send 96 → 76 and 67 → 55 µs."""
_FIELD = b"e"
_REVOKED_FIELD = b"r"
_ERRORS = (RedisError, OSError)


class _Wire(msgspec.Struct, frozen=True):
    """How an event is stored in a stream entry."""

    type: str
    threadId: str
    recipients: tuple[str, ...]
    data: dict[str, Any]


class _ReadWire(msgspec.Struct, frozen=True):
    """A stream entry as read: the data stays JSON until a connection on this node needs it."""

    type: str
    threadId: str
    recipients: tuple[str, ...]
    data: msgspec.Raw


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_ReadWire)
_data_decoder = msgspec.json.Decoder(dict[str, Any])


def encode_event(event: Event) -> bytes:
    return _encoder.encode(_Wire(event.type, event.thread_id, event.recipients, event.data))


def _delivery(entry_id: StreamId, wire: _ReadWire) -> Delivery:
    # The data's JSON is the payload as is: the publisher encoded it with the same encoder.
    event = Event(wire.type, wire.threadId, wire.recipients, _data_decoder.decode(wire.data))
    return Delivery(entry_id, event, bytes(wire.data))


def decode_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> Delivery:
    return _delivery(StreamId.parse(entry_id), _decoder.decode(fields[_FIELD]))


class _RevocationWire(msgspec.Struct, frozen=True):
    """How a revocation is stored in a stream entry (`generation` null: the identity was deleted)."""

    userId: str
    generation: int | None


_revocation_decoder = msgspec.json.Decoder(_RevocationWire)


def encode_revocation(revocation: Revocation) -> bytes:
    return _encoder.encode(_RevocationWire(revocation.user_id, revocation.generation))


def decode_revocation(fields: dict[bytes, bytes]) -> Revocation | None:
    """The revocation an entry carries, or None for an event entry."""
    raw = fields.get(_REVOKED_FIELD)
    if raw is None:
        return None
    wire = _revocation_decoder.decode(raw)
    return Revocation(wire.userId, wire.generation)


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


_MULTI = b"*1\r\n$5\r\nMULTI\r\n"
_EXEC = b"*1\r\n$4\r\nEXEC\r\n"


def _command(*parts: bytes, size: int | None = None) -> bytes:
    """A command of `size` parts (all of `parts` unless more follow) in RESP."""
    return b"*%d\r\n" % (len(parts) if size is None else size) + b"".join(_bulk(part) for part in parts)


def _xadd_prefix(stream: str, maxlen: int) -> bytes:
    """`XADD <stream> MAXLEN ~ <maxlen> *` in RESP, to be followed by one field and its value."""
    return _command(b"XADD", stream.encode(), b"MAXLEN", b"~", b"%d" % maxlen, b"*", size=8)


def _xread(stream: bytes, after: StreamId) -> bytes:
    """`XREAD COUNT <READ_COUNT> BLOCK <BLOCK_MS> STREAMS <stream> <after>` in RESP."""
    return _command(
        b"XREAD", b"COUNT", b"%d" % READ_COUNT, b"BLOCK", b"%d" % BLOCK_MS, b"STREAMS", stream, str(after).encode()
    )


def _xread_now(stream: bytes, after: StreamId) -> bytes:
    """`XREAD COUNT <READ_COUNT> STREAMS <stream> <after>` (answers at once) in RESP."""
    return _command(b"XREAD", b"COUNT", b"%d" % READ_COUNT, b"STREAMS", stream, str(after).encode())


_UNREAD = object()


def _client(url: str, socket_timeout: float) -> Redis:
    # No retries inside redis-py: each loop below has its own backoff, and a client connecting to
    # the events endpoint should not wait for a dead Redis longer than one connect timeout.
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=socket_timeout, retry=Retry(NoBackoff(), 0))


class RedisBus(EventBus):
    """Events through one Redis Stream; ids are the stream's entry ids."""

    def __init__(
        self,
        url: str,
        *,
        stream: str = "hubbub:events",
        backlog: int = 10_000,
        max_queue: int = 1_000,
        publish_wait: float = 1.0,
    ) -> None:
        super().__init__(backlog=backlog, max_queue=max_queue)
        self.stream = stream
        self._stream_key = stream.encode()
        self.publish_wait = publish_wait
        self._redis = _client(url, socket_timeout=5)
        self._reader = _client(url, socket_timeout=BLOCK_MS / 1000 + 5)
        self._outbox: collections.deque[tuple[bytes, bytes, asyncio.Future[None]]] = collections.deque()
        self._outbox_ready = asyncio.Event()
        self._writer_healthy = True
        self._stalled = False
        """The batch being written has taken longer than `publish_wait`: nobody waits for it now."""
        self._writing: list[tuple[bytes, bytes, asyncio.Future[None]]] = []
        self._writer_connection: Any = None
        self._reader_connection: Any = None
        self._position_known = False
        self._read_back_at = -math.inf
        """When (loop time) the writer last read back every entry after the position."""
        self._following = False
        """The reader is connected and has not lost its place since `_epoch` last changed."""
        self._epoch = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    async def start(self) -> None:
        await super().start()
        try:
            self.hub.position = await self._stream_end()
            self._position_known = True
            self._follow()
        except _ERRORS as exc:
            log.warning("events: Redis is not reachable (%s); retrying in the background", exc)
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="hubbub-events-reader"),
            asyncio.create_task(self._write_loop(), name="hubbub-events-writer"),
        ]

    async def close(self) -> None:
        await super().close()
        # A cancelled XREAD BLOCK can sit in redis-py until the block time runs out (seen with
        # redis-py 8.2 after the stream had new entries): drop the reader's socket first, so the
        # read fails at once, and never wait for a task longer than a moment.
        self._closing = True
        if self._reader_connection is not None:
            await self._reader_connection.disconnect()
        await self._reader.connection_pool.disconnect()
        for task in self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await cancel_task(task)
        if self._outbox:
            log.warning("events: %d event(s) not yet published at shutdown were dropped", len(self._outbox))
        if self._writer_connection is not None:
            await self._writer_connection.disconnect()
        await self._redis.aclose()
        await self._reader.aclose()

    @property
    def revocation_epoch(self) -> int | None:
        return self._epoch if self._following else None

    def _follow(self) -> None:
        if not self._following:
            self._following = True
            self._epoch += 1

    # -- publishing ---------------------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        self.hub.observer.published(event)
        await self._send(_FIELD, encode_event(event))

    async def ping(self) -> None:
        await self._redis.ping()

    shares_bookmarks = True

    async def save_bookmarks(self, bookmarks: dict[str, str], ttl_seconds: int) -> None:
        if not bookmarks:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name, value in bookmarks.items():
                    pipe.set(self._bookmark_key(name), value, ex=ttl_seconds)
                await pipe.execute()
        except _ERRORS as exc:
            log.warning("events: could not save %d bookmark(s) in Redis: %s", len(bookmarks), exc)

    async def load_bookmark(self, name: str) -> str | None:
        try:
            value = await self._redis.get(self._bookmark_key(name))
        except _ERRORS as exc:
            log.warning("events: could not read a bookmark from Redis: %s", exc)
            return None
        if value is None:
            return None
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    async def drop_bookmark(self, name: str) -> None:
        try:
            await self._redis.delete(self._bookmark_key(name))
        except _ERRORS as exc:
            log.warning("events: could not drop a bookmark in Redis: %s", exc)

    def _bookmark_key(self, name: str) -> str:
        return f"{self.stream}:bookmark:{name}"

    async def revoke(self, revocation: Revocation) -> None:
        self.hub.revoke(revocation)  # this node at once; the others (and this one again) from the stream
        await self._send(_REVOKED_FIELD, encode_revocation(revocation))

    async def _send(self, field: bytes, payload: bytes) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if len(self._outbox) >= self.backlog:
            _, _, dropped = self._outbox.popleft()
            _release(dropped)
            log.error("events: Redis outbox full (%d); dropping the oldest unpublished event", self.backlog)
        self._outbox.append((field, payload, done))
        self._outbox_ready.set()
        if self._writer_healthy and not self._stalled:
            # The writer settles `done` once Redis has the entry, or when the batch stalls
            # (`_stall`). A cancelled caller cancels only its wait: the event stays queued.
            await done

    def _stall(self) -> None:
        """The batch being written has not been taken within `publish_wait`: its publishers and
        those queued behind it stop waiting (their events stay queued), and new ones do not wait."""
        log.warning("events: Redis did not take events within %.1fs; they stay queued", self.publish_wait)
        self._stalled = True
        for _, _, done in self._writing:
            _release(done)
        for _, _, done in self._outbox:
            _release(done)

    async def _write_loop(self) -> None:
        backoff = 0.05
        loop = asyncio.get_running_loop()
        xadd = _xadd_prefix(self.stream, self.backlog)
        while True:
            await self._outbox_ready.wait()
            if not self._outbox:
                self._outbox_ready.clear()
                continue
            batch = self._writing = [self._outbox.popleft() for _ in range(min(BATCH, len(self._outbox)))]
            stall = loop.call_later(self.publish_wait, self._stall)
            try:
                await self._xadd(xadd, batch)
            except _ERRORS as exc:
                self._outbox.extendleft(reversed(batch))
                if self._writer_healthy:
                    log.warning(
                        "events: cannot publish to Redis (%s); %d event(s) queued, retrying", exc, len(self._outbox)
                    )
                self._writer_healthy = False
                for _, _, done in self._outbox:
                    _release(done)  # the request that caused it succeeds: its data is committed
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            finally:
                stall.cancel()
                self._writing = []
            if not self._writer_healthy:
                log.info("events: publishing to Redis again")
            self._writer_healthy, self._stalled, backoff = True, False, 0.05
            for _, _, done in batch:
                _release(done)

    async def _xadd(self, xadd: bytes, batch: list[tuple[bytes, bytes, asyncio.Future[None]]]) -> None:
        """Append the batch's entries to the stream, all or none (`MULTI`/`EXEC`), in order, and
        take the entries after this node's position, the batch's among them (see the module's
        docstring). Raises when the batch may not be in the stream; once it is, nothing raises
        (the read-back may fail: the reader then reads them)."""
        connection = self._writer_connection
        if connection is None:
            # One connection of the pool's kind, the writer's alone (it connects on first use).
            pool = self._redis.connection_pool
            connection = self._writer_connection = pool.make_connection()  # type: ignore[no-untyped-call]
        commands = [_MULTI]
        commands.extend(xadd + _bulk(field) + _bulk(payload) for field, payload, _ in batch)
        commands.append(_EXEC)
        # Only from a position the reader vouches for: not before it has one, nor while it has yet
        # to check that the stream still holds it (`_read_loop`).
        reading_back = self._following
        if reading_back:
            commands.append(_xread_now(self._stream_key, self.hub.position))
        replies: Any = _UNREAD
        read_back: Any = _UNREAD
        try:
            await connection.send_packed_command(b"".join(commands))  # connects again if it has to
            # One deadline for all the replies, not one per reply (redis-py's own per read cost 3.7
            # µs a reply: a batch of 8 took 79 µs of CPU with them, 49 without).
            async with asyncio.timeout(connection.socket_timeout):
                for _ in range(len(batch) + 1):  # OK, then QUEUED for each XADD
                    await connection.read_response(timeout=math.inf)
                replies = await connection.read_response(timeout=math.inf)
                if reading_back:
                    with contextlib.suppress(ResponseError):  # an error reply is read whole
                        read_back = await connection.read_response(timeout=math.inf)
        except _ERRORS:  # a deadline that passed is a TimeoutError, an OSError
            await connection.disconnect()
            if replies is _UNREAD:
                raise
        if not isinstance(replies, list) or len(replies) != len(batch):
            raise ResponseError(f"unexpected EXEC reply {replies!r:.200}")
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        # Caught up (fewer entries than one read returns at most): the reader may rest.
        if read_back is not _UNREAD and self._take(_entries(read_back)) < READ_COUNT:
            self._read_back_at = asyncio.get_running_loop().time()

    # -- reading ------------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        backoff, check_gap = 0.05, False
        loop = asyncio.get_running_loop()
        while True:
            resting = self._read_back_at + READ_BACK_S - loop.time()
            if resting > 0 and self._position_known and not check_gap:
                await asyncio.sleep(resting)  # the writer reads for this node meanwhile
                continue
            try:
                if not self._position_known:
                    self.hub.position = await self._stream_end()
                    self._position_known = True
                    self._follow()
                elif check_gap and not await self._covers(self.hub.position):
                    log.warning(
                        "events: events were trimmed while Redis was unreachable; "
                        "closing connections so that they resume from their last id"
                    )
                    self.hub.close_all(BUS_INTERRUPTED)
                    self.hub.position = await self._stream_end()
                check_gap = False
                reply = await self._read_after(self.hub.position)
            except _ERRORS as exc:
                if self._closing:
                    return
                if not check_gap:
                    log.warning("events: cannot read from Redis (%s); retrying", exc)
                # Revocations published meanwhile may only be read later (or never, if trimmed):
                # until then, cached token generations expire by age again.
                self._following = False
                check_gap = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            self._take(_entries(reply))
            self._follow()  # caught up with everything published before this read (revocations too)

    def _take(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> int:
        """Hand read entries to this node in stream order, skipping those already taken (the
        reader's and the writer's reads can overlap); how many there were."""
        hub = self.hub
        for entry_id, fields in entries:
            try:
                position = StreamId.parse(entry_id)
                if position <= hub.position:
                    continue
                revocation = decode_revocation(fields)
                wire = None if revocation is not None else _decoder.decode(fields[_FIELD])
                # Every event comes back to every node, most for other nodes' connections:
                # only those for a connection here are decoded further.
                delivery = None if wire is None or not hub.serves_any(wire.recipients) else _delivery(position, wire)
            except (KeyError, ValueError, msgspec.DecodeError):
                log.error("events: skipping unreadable stream entry %r", entry_id)
                hub.advance(StreamId.parse(entry_id))
                continue
            if revocation is not None:
                hub.revoke(revocation)
                hub.advance(position)
                continue
            hub.observer.bus_lag(max(0.0, now_ms() - position.ms) / 1000)
            if delivery is not None:
                hub.dispatch(delivery)
            else:
                hub.advance(position)
        return len(entries)

    async def _read_after(self, position: StreamId) -> Any:
        """The raw `XREAD` reply for the entries after `position`, waiting up to `BLOCK_MS` for one."""
        connection = self._reader_connection
        if connection is None:
            # One connection of the reader client's kind (its socket timeout outlasts the block).
            pool = self._reader.connection_pool
            connection = self._reader_connection = pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.send_packed_command(_xread(self._stream_key, position))  # connects again if it has to
            return await connection.read_response()
        except (*_ERRORS, asyncio.CancelledError):  # no half-read reply may stay on the connection
            await connection.disconnect()
            raise

    async def _stream_end(self) -> StreamId:
        try:
            info = await self._redis.xinfo_stream(self.stream)
        except ResponseError:  # no such key: nothing was ever published
            return ORIGIN
        return StreamId.parse(info["last-generated-id"])

    async def _covers(self, after: StreamId) -> bool:
        covered, _ = await self._range(after, count=1)
        return covered

    async def replay(self, user_id: str, after: StreamId) -> list[Delivery] | None:
        try:
            covered, deliveries = await self._range(after)
        except _ERRORS as exc:
            raise Unavailable("The event backlog (Redis) is not reachable.") from exc
        if not covered:
            return None
        return [d for d in deliveries if user_id in d.event.recipients]

    async def _range(self, after: StreamId, count: int | None = None) -> tuple[bool, list[Delivery]]:
        """Whether the stream still holds everything after `after`, and the entries after it.

        Trimming does not record what it removed, so the proof is that `after` itself is still
        there (or, for the origin, that nothing was ever trimmed). Both reads run in one MULTI so
        no trim can fall between them.
        """
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xinfo_stream(self.stream)
            pipe.xrange(self.stream, str(after), "+", count=count)
            info, entries = await pipe.execute(raise_on_error=False)
        if isinstance(info, ResponseError):
            return after == ORIGIN, []
        if isinstance(info, Exception):
            raise info
        if isinstance(entries, Exception):
            raise entries
        if after == ORIGIN:
            covered = int(info.get("entries-added", -1)) == int(info["length"])
        else:
            covered = bool(entries) and StreamId.parse(entries[0][0]) == after
        deliveries = []
        for entry_id, fields in entries:
            if StreamId.parse(entry_id) > after and _REVOKED_FIELD not in fields:
                try:
                    deliveries.append(decode_entry(entry_id, fields))
                except (KeyError, ValueError, msgspec.DecodeError):
                    log.error("events: skipping unreadable stream entry %r", entry_id)
        return covered, deliveries


def _release(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Entries of a raw XREAD reply for our one stream (RESP2 list or RESP3 map; nil when the
    block ran out), each entry's flat field list as a dict."""
    if not reply:
        return []
    streams = reply.values() if isinstance(reply, dict) else (entries for _, entries in reply)
    result: list[tuple[bytes, dict[bytes, bytes]]] = []
    for entries in streams:
        for entry_id, fields in entries:
            if isinstance(fields, dict):
                result.append((entry_id, fields))
            else:
                result.append((entry_id, dict(zip(fields[::2], fields[1::2], strict=True))))
    return result
