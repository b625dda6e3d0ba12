"""The queue of `store/group_commit.py` on its own: every caller is answered, whatever the timing.

The statement is a stand-in here (it echoes its parameters back after a few event-loop turns): what
is tested is the asyncio logic of handing out batches, whose races depend on the order in which the
loop runs callbacks and which a real database cannot reproduce on demand.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import asyncpg

from hubbub.server.store.group_commit import StatementGroup


class _Echo:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.batches: list[int] = []

    async def many(self, sql: str, columns: list[list[Any]]) -> list[Any]:
        for _ in range(self.random.randrange(3)):
            await asyncio.sleep(0)
        if any(value < 0 for value in columns[0]):
            raise asyncpg.exceptions.DataError("refused")
        self.batches.append(len(columns[0]))
        return [{"n": n} for n in columns[0]]

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
        group = StatementGroup("many", echo.many, echo.one, batch_seen=lambda size: None, in_flight=2)
        calls: list[asyncio.Task[Any]] = []
        for n in range(400):
            calls.append(asyncio.create_task(group.run("one", (n,))))
            for _ in range(echo.random.randrange(4)):
                await asyncio.sleep(0)
        async with asyncio.timeout(5):
            rows = await asyncio.gather(*calls)
        assert [row["n"] for row in rows] == list(range(400))
        assert sum(echo.batches) == 400 and max(echo.batches) > 1


async def test_a_refused_batch_is_run_again_row_by_row() -> None:
    echo = _Echo(0)
    group = StatementGroup("many", echo.many, echo.one, batch_seen=lambda size: None, in_flight=1)
    results = await asyncio.gather(*(group.run("one", (n,)) for n in (1, 2, -3, 4)), return_exceptions=True)
    answers = [r if isinstance(r, BaseException) else r["n"] for r in results]
    assert answers[:2] == [1, 2] and isinstance(answers[2], ValueError) and answers[3] == 4
