"""The memory bus keeps the same id and backlog rules as Redis, in one process (no server needed)."""

from __future__ import annotations

from hubbub.server.events import Event, MemoryBus, StreamId
from hubbub.server.events.ids import IdClock


def event(*recipients: str) -> Event:
    return Event("chatMessageReceived", "t", recipients, {})


async def test_ids_increase_and_the_backlog_is_bounded() -> None:
    bus = MemoryBus(backlog=3, max_queue=10)
    start = bus.hub.position
    for _ in range(5):
        await bus.publish(event("a"))
    kept = await bus.replay("a", bus.hub.position)
    assert kept == []
    assert await bus.replay("a", start) is None  # two events fell out of the backlog
    ids = [kept[0] for kept in bus._kept]
    assert ids == sorted(ids) and len(set(ids)) == 3
    replayed = await bus.replay("a", ids[0])
    assert replayed is not None and [d.id for d in replayed] == ids[1:]
    assert await bus.replay("b", ids[0]) == []  # only the recipient's events
    assert await bus.replay("a", StreamId(ids[0].ms, ids[0].seq + 10_000)) is None  # never issued


def test_the_clock_never_goes_backwards() -> None:
    clock = IdClock(StreamId(1_000, 0))
    assert [clock.next(ms) for ms in (1_000, 999, 1_001, 1_001)] == [
        StreamId(1_000, 1),
        StreamId(1_000, 2),
        StreamId(1_001, 0),
        StreamId(1_001, 1),
    ]


async def test_a_full_queue_ends_only_that_connection() -> None:
    bus = MemoryBus(backlog=100, max_queue=2)
    slow, fast = bus.hub.subscribe("a"), bus.hub.subscribe("a")
    for _ in range(3):
        await bus.publish(event("a"))
        assert len(await fast.take()) == 1
    assert slow.reason == "queueOverflow" and fast.reason is None
