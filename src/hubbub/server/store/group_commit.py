"""Group commit on PostgreSQL: concurrent callers of one statement share one statement and commit.

A send costs PostgreSQL a round trip, a statement and a WAL flush, and Hubbub an asyncpg execute and
a pool checkout; under load most of that is the same work repeated for each caller. A
`StatementGroup` queues the callers' parameters and runs them as one statement taking each parameter
as an array (`unnest(...) WITH ORDINALITY`), which returns one row per caller, in queue order. One
batch is in flight at a time (per process): while it runs, the next one fills up, so a lone request
waits for nobody and a busy server writes many rows per commit, in arrival order. A drainer keeps
one connection for as long as the queue has callers (a `Session`), not one per batch.

Guarantees, the same as one statement per caller:
- A caller gets its row only after the statement (its own transaction) has committed.
- The rows of a batch are applied in queue order, which is the order in which the callers arrived;
  the batched statement must give each row the result it would have had run alone in that order.
- A batch that PostgreSQL refuses (a value it cannot store, a deadlock, ...) wrote nothing: each of
  its callers then runs its own one-row statement, so one bad request fails alone with its own error.
- A lost connection fails every caller of the batch with `Unavailable`, as it fails one caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from hubbub.server.store.engine import Row

log = logging.getLogger("hubbub.store")

IN_FLIGHT = 1
"""Batches running at once (each on its own connection). Two let the database work while a result
travels back, but halve the batches: on W1 (16 connections, server and PostgreSQL on one core) one
batch in flight gave 4,900 sends/s at 187 µs of CPU per send (Hubbub + PostgreSQL + Redis), two
3,600/s at 274 µs."""
GATHER_STEPS = 3
"""Event loop steps a new drainer waits before its first batch (`_drain`). On W1 (PostgreSQL + Redis,
1 worker) 1 and 3 steps measured +15-19 % sends/s against 0, and PostgreSQL's CPU per send fell
from 52-56 to 40-46 µs (fewer statements); 3 a little more than 1."""
MAX_BATCH = 256
"""Rows per statement at most: bounds the statement's size and one batch's share of a connection."""

RunMany = Callable[[str, list[list[Any]]], Awaitable[list[Row]]]
RunOne = Callable[[str, Sequence[Any]], Awaitable[list[Row]]]
Session = Callable[[], contextlib.AbstractAsyncContextManager[RunMany]]
"""Takes a connection and gives a `RunMany` on it, which a drainer calls for batch after batch. A
`RunMany` raises `asyncpg.PostgresError` when the statement was refused (the connection still
serves), anything else when the connection may be lost: the drainer then gives it back and takes
another for the callers left. W1, PostgreSQL + Redis, in-process with 8 senders (what one of 2
workers sees): a connection per batch from the pool cost 2.4-3.3 µs more a send."""


class StatementGroup:
    """One batched statement (`many_sql`) and the queue of callers waiting for it."""

    def __init__(
        self,
        many_sql: str,
        session: Session,
        run_one: RunOne,
        *,
        batch_seen: Callable[[int], None],
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self.many_sql = many_sql
        self._session = session
        self._run_one = run_one
        self._batch_seen = batch_seen
        self._in_flight = in_flight
        self._queue: list[tuple[str, Sequence[Any], asyncio.Future[Row]]] = []
        self._drainers: set[asyncio.Task[None]] = set()
        """The running drainers (a task must be referenced until it ends)."""
        self._draining = 0

    async def run(self, one_sql: str, args: Sequence[Any]) -> Row:
        """The caller's row once committed. `one_sql` is the same statement for one caller (the
        parameters as scalars, the first row of its result is the caller's), used when a batch fails."""
        done: asyncio.Future[Row] = asyncio.get_running_loop().create_future()
        self._queue.append((one_sql, args, done))
        if self._draining < self._in_flight:
            # Counted here and uncounted by the drainer itself in the same step in which it finds
            # the queue empty (a done callback would run later: a send queued in between would
            # find every drainer counted and none left to take it).
            self._draining += 1
            drainer = asyncio.create_task(self._drain(), name="hubbub-group-commit")
            self._drainers.add(drainer)
            drainer.add_done_callback(self._drainers.discard)
        # A cancelled caller (its client went away) does not take its row out of the batch: as with
        # a statement already sent, the row may still be committed.
        return await done

    async def _drain(self) -> None:
        # A new drainer lets the event loop run a few more steps before it takes its first batch:
        # the requests whose bytes came in the same loop step as the first one's are a few steps
        # (task start, body read, token check) from queueing their rows, and join this batch
        # instead of each starting the next one (W1, PostgreSQL + Redis, 1 worker: 5,366-5,755 →
        # 6,600-6,705 sends/s, Hubbub 108-116 → 92-94 µs and PostgreSQL 52-56 → 41-42 µs a send).
        for _ in range(GATHER_STEPS):
            await asyncio.sleep(0)
        try:
            while self._queue:
                await self._drain_on_one_connection()
        except asyncio.CancelledError:  # the loop is shutting down
            for _, _, done in self._queue:
                done.cancel()
            self._queue = []
            raise
        finally:
            self._draining -= 1

    def _take(self) -> list[tuple[str, Sequence[Any], asyncio.Future[Row]]]:
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        return batch

    async def _drain_on_one_connection(self) -> None:
        """Batches on one connection until the queue is empty or the connection may be lost."""
        entered = False
        try:
            async with self._session() as run_many:
                entered = True
                while self._queue:
                    if not await self._commit(run_many, self._take()):
                        return
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            if entered:  # giving the connection back failed, after its batches were answered
                log.warning("group commit: giving a connection back failed: %s", exc)
                return
            for _, _, done in self._take():  # no connection to be had: the next batch fails with that
                if not done.done():
                    done.set_exception(exc)

    async def _commit(self, run_many: RunMany, batch: list[tuple[str, Sequence[Any], asyncio.Future[Row]]]) -> bool:
        """Run one batch and answer its callers; False when the connection may be lost."""
        columns = [list(column) for column in zip(*(args for _, args, _ in batch), strict=True)]
        try:
            rows = await run_many(self.many_sql, columns)
        except asyncpg.PostgresError:
            # Nothing was written: every caller runs alone and gets its own result or error.
            await asyncio.gather(*(self._commit_one(one_sql, args, done) for one_sql, args, done in batch))
            return True
        except BaseException as exc:
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return False
        self._batch_seen(len(batch))
        for (_, _, done), row in zip(batch, rows, strict=True):
            if not done.done():
                done.set_result(row)
        return True

    async def _commit_one(self, one_sql: str, args: Sequence[Any], done: asyncio.Future[Row]) -> None:
        try:
            rows = await self._run_one(one_sql, args)
        except BaseException as exc:
            if not done.done():
                done.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        if not done.done():
            done.set_result(rows[0])
