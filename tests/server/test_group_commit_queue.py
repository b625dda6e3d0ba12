"""The queue of `store/group_commit.py` on its own: every caller is answered, whatever the timing.

The statement is a stand-in here (it echoes its parameters back after a few event-loop turns): what
is tested is the asyncio logic of handing out batches, whose races depend on the order in which the
loop runs callbacks and which a real database cannot reproduce on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest

from hubbub.server.store.group_commit import RunMany, StatementGroup


class _Lost(Exception):
    """The connection went away."""


class _Echo:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.batches: list[int] = []
        self.sessions = 0
        self.open = 0
        """Sessions opened and not yet given back."""
        self.refuse_sessions = 0
        """How many of the next sessions cannot be opened."""
        self.losing = asyncio.Event()
        self.lose = asyncio.Event()
        """A batch with 1000 in it sets `losing`, waits for `lose`, and loses its connection."""

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[RunMany]:
        await asyncio.sleep(0)
        if self.refuse_sessions:
            self.refuse_sessions -= 1
            raise _Lost("no connection")
        self.sessions += 1
        self.open += 1
        lost = False

        async def many(sql: str, columns: list[list[Any]]) -> list[Any]:
            nonlocal lost
            assert not lost, "a batch ran on a connection that was lost"
            for _ in range(self.random.randrange(3)):
                await asyncio.sleep(0)
            if any(value < 0 for value in columns[0]):
                raise asyncpg.exceptions.DataError("refused")
            if 1000 in columns[0]:
                self.losing.set()
                await self.lose.wait()
                lost = True
                raise _Lost("connection lost")
            self.batches.append(len(columns[0]))
            return [{"n": n} for n in columns[0]]

        try:
            yield many
        finally:
            self.open -= 1

    async def one(self, sql: str, args: Sequence[Any]) -> list[Any]:
        await asyncio.sleep(0)
        if args[0] < 0:
            raise ValueError(args[0])
        return [{"n": args[0]}]


async def test_every_caller_is_answered_whatever_the_timing() -> None:
    """A send queued just as the last drainer found the queue empty (its done callback not yet run)
    was left with no drainer: the caller waited for ever."""
    for seed in range(20):
        echo = _Echo(seed)
        group = StatementGroup("many", echo.session, echo.one, batch_seen=lambda size: None, in_flight=2)
        calls: list[asyncio.Task[Any]] = []
        for n in range(400):
            calls.append(asyncio.create_task(group.run("one", (n,))))
            for _ in range(echo.random.randrange(4)):
                await asyncio.sleep(0)
        async with asyncio.timeout(5):
            rows = await asyncio.gather(*calls)
        assert [row["n"] for row in rows] == list(range(400))
        assert sum(echo.batches) == 400 and max(echo.batches) > 1
        assert echo.open == 0


async def test_a_refused_batch_is_run_again_row_by_row() -> None:
    echo = _Echo(0)
    group = StatementGroup("many", echo.session, echo.one, batch_seen=lambda size: None, in_flight=1)
    results = await asyncio.gather(*(group.run("one", (n,)) for n in (1, 2, -3, 4)), return_exceptions=True)
    answers = [r if isinstance(r, BaseException) else r["n"] for r in results]
    assert answers[:2] == [1, 2] and isinstance(answers[2], ValueError) and answers[3] == 4


async def test_a_drainer_keeps_one_connection_while_callers_queue() -> None:
    """Batch after batch on the connection the drainer took, given back when the queue is empty."""
    echo = _Echo(1)
    group = StatementGroup("many", echo.session, echo.one, batch_seen=lambda size: None, in_flight=1)

    async def caller(n: int) -> int:
        await asyncio.sleep(0.001 * (n % 7))
        return int((await group.run("one", (n,)))["n"])

    assert await asyncio.gather(*(caller(n) for n in range(300))) == list(range(300))
    assert len(echo.batches) > 3 and echo.sessions < len(echo.batches)
    assert echo.open == 0


async def test_a_lost_connection_fails_its_batch_and_the_rest_go_on_another() -> None:
    echo = _Echo(2)
    group = StatementGroup("many", echo.session, echo.one, batch_seen=lambda size: None, in_flight=1)
    lost = [asyncio.create_task(group.run("one", (n,))) for n in (2, 1000, 3)]
    await echo.losing.wait()
    later = [asyncio.create_task(group.run("one", (n,))) for n in (4, 5)]  # queued behind that batch
    await asyncio.sleep(0)
    echo.lose.set()
    for call in lost:
        with pytest.raises(_Lost):
            await call
    assert [(await call)["n"] for call in later] == [4, 5]
    assert echo.sessions == 2 and echo.open == 0


async def test_no_connection_to_be_had_fails_the_next_batch_only() -> None:
    echo = _Echo(3)
    echo.refuse_sessions = 1
    group = StatementGroup("many", echo.session, echo.one, batch_seen=lambda size: None, in_flight=1)
    refused = await asyncio.gather(*(group.run("one", (n,)) for n in (1, 2)), return_exceptions=True)
    assert all(isinstance(r, _Lost) for r in refused)
    assert (await group.run("one", (3,)))["n"] == 3
    assert echo.open == 0
