"""The webhook outbox (`event_outbox`) and what it becomes (`event_deliveries`).

A change writes one compact `event_outbox` row in its own transaction (`record`), so an event
exists exactly when its change committed. The delivery worker then turns rows into one delivery per
(subscription, event) and claims due deliveries under a lease, in one transaction per pass
(`delivery_pass`):
a claimed row is invisible to other claimers until its lease runs out, so with several nodes each
delivery is attempted by one of them, and a node that dies mid-delivery leaves it to another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from hubbub.server.store.columns import dump_json, load_json
from hubbub.server.store.engine import Connection, Database, Row
from hubbub.server.store.subscriptions import SUBSCRIPTION_COLUMNS, Subscription, _subscription


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxRow:
    """One change: its kind, thread, who made it, when, the members then, and its own data."""

    id: int
    kind: str
    thread_id: str
    actor: str
    created_at: int
    recipients: list[str]
    data: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class NewDelivery:
    subscription: str
    event_id: str
    event_type: str
    event: str
    """The event as JSON text, in the subscription's schema: sent as it is."""
    created_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription: str
    event_id: str
    event_type: str
    event: str
    """JSON text, in the subscription's schema."""
    created_at: int
    status: str
    """`pending` (not yet delivered; `attempts` > 0 once it failed) or `dead` (dead-lettered)."""
    attempts: int
    next_at: int
    last_error: str | None


Expand = Callable[[list[OutboxRow], list[Subscription]], list[NewDelivery]]

_DELIVERY_COLUMNS = "id, subscription, event_id, event_type, event, created_at, status, attempts, next_at, last_error"


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=int(row["id"]),
        subscription=row["subscription"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        event=row["event"],
        created_at=int(row["created_at"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        next_at=int(row["next_at"]),
        last_error=row["last_error"],
    )


async def record(
    tx: Connection,
    *,
    kind: str,
    thread_id: str,
    actor: str,
    created_at: int,
    recipients: Sequence[str],
    data: dict[str, Any],
) -> None:
    """Write one change to the outbox; call it inside the transaction that makes the change."""
    await tx.execute(
        "INSERT INTO event_outbox (kind, thread_id, actor, created_at, recipients, data)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        kind,
        thread_id,
        actor,
        created_at,
        dump_json(list(recipients)),
        dump_json(data),
    )


def _outbox_row(row: Row) -> OutboxRow:
    return OutboxRow(
        id=int(row["id"]),
        kind=row["kind"],
        thread_id=row["thread_id"],
        actor=row["actor"],
        created_at=int(row["created_at"]),
        recipients=load_json(row["recipients"]),
        data=load_json(row["data"]),
    )


@dataclasses.dataclass(slots=True)
class Outcomes:
    """What the sends since the last pass ended with, written in the next pass's transaction."""

    delivered: list[int] = dataclasses.field(default_factory=list)
    retry: list[tuple[int, int, str]] = dataclasses.field(default_factory=list)
    """(delivery id, next attempt time, error)."""
    dead: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    """(delivery id, error)."""
    released: list[int] = dataclasses.field(default_factory=list)
    """Leased but not sent (no free slot): due again at once, the attempt not counted."""

    def __bool__(self) -> bool:
        return bool(self.delivered or self.retry or self.dead or self.released)


async def _write_outcomes(tx: Connection, outcomes: Outcomes) -> None:
    for start in range(0, len(outcomes.delivered), 500):
        chunk = outcomes.delivered[start : start + 500]
        marks = ", ".join(f"${i}" for i in range(1, len(chunk) + 1))
        await tx.execute(f"DELETE FROM event_deliveries WHERE id IN ({marks})", *chunk)
    if outcomes.retry:
        await tx.executemany(
            "UPDATE event_deliveries SET next_at = $2, lease_until = 0, last_error = $3 WHERE id = $1", outcomes.retry
        )
    if outcomes.dead:
        await tx.executemany(
            "UPDATE event_deliveries SET status = 'dead', lease_until = 0, last_error = $2 WHERE id = $1",
            outcomes.dead,
        )
    if outcomes.released:
        await tx.executemany(
            "UPDATE event_deliveries SET lease_until = 0, attempts = attempts - 1 WHERE id = $1",
            [(i,) for i in outcomes.released],
        )


async def _expand(tx: Connection, db: Database, expand: Expand, *, now: int, limit: int) -> int:
    rows = await tx.fetch(
        f"SELECT id, kind, thread_id, actor, created_at, recipients, data FROM event_outbox"
        f" ORDER BY id LIMIT $1{db.skip_locked}",
        limit,
    )
    if not rows:
        return 0
    subscriptions = [
        _subscription(row)
        for row in await tx.fetch(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM event_subscriptions WHERE validated_at IS NOT NULL"
        )
    ]
    deliveries = expand([_outbox_row(row) for row in rows], subscriptions)
    if deliveries:
        await tx.executemany(
            "INSERT INTO event_deliveries (subscription, event_id, event_type, event, created_at, next_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(d.subscription, d.event_id, d.event_type, d.event, d.created_at, now) for d in deliveries],
        )
    await tx.executemany("DELETE FROM event_outbox WHERE id = $1", [(int(row["id"]),) for row in rows])
    return len(rows)


async def _claim(tx: Connection, db: Database, *, now: int, lease_until: int, limit: int) -> list[Delivery]:
    rows = await tx.fetch(
        "UPDATE event_deliveries SET lease_until = $2, attempts = attempts + 1 WHERE id IN ("
        "SELECT id FROM event_deliveries WHERE status = 'pending' AND next_at <= $1 AND lease_until <= $1"
        f" ORDER BY next_at, id LIMIT $3{db.skip_locked}) RETURNING {_DELIVERY_COLUMNS}",
        now,
        lease_until,
        limit,
    )
    return sorted((_delivery(row) for row in rows), key=lambda d: (d.next_at, d.id))


async def delivery_pass(
    db: Database,
    *,
    outcomes: Outcomes,
    expand: Expand | None,
    expand_limit: int,
    claim_limit: int,
    now: int,
    lease_until: int,
) -> tuple[int, list[Delivery]]:
    """One transaction of the delivery worker: record the outcomes of finished sends, turn up to
    `expand_limit` outbox rows into deliveries for the validated subscriptions (when `expand` is
    given; it is pure), and lease up to `claim_limit` due deliveries, oldest first, counting the
    attempt. Returns (outbox rows taken, deliveries leased).
    """

    async def body(tx: Connection) -> tuple[int, list[Delivery]]:
        await _write_outcomes(tx, outcomes)
        taken = 0 if expand is None else await _expand(tx, db, expand, now=now, limit=expand_limit)
        claimed = [] if claim_limit <= 0 else await _claim(tx, db, now=now, lease_until=lease_until, limit=claim_limit)
        return taken, claimed

    return await db.write(body)


async def dead_letter(db: Connection, delivery_id: int, *, error: str) -> None:
    await _write_outcomes(db, Outcomes(dead=[(delivery_id, error)]))


async def list_deliveries(db: Connection, subscription: str, *, limit: int = 1000) -> list[Delivery]:
    """The deliveries not yet done for a subscription: pending (failed ones with attempts) and dead."""
    rows = await db.fetch(
        f"SELECT {_DELIVERY_COLUMNS} FROM event_deliveries WHERE subscription = $1 ORDER BY id LIMIT $2",
        subscription,
        limit,
    )
    return [_delivery(row) for row in rows]


async def redeliver(db: Connection, subscription: str, *, now: int) -> int:
    """Send a subscription's dead-lettered deliveries again, with a fresh retry budget."""
    return await db.execute(
        "UPDATE event_deliveries SET status = 'pending', attempts = 0, next_at = $2, lease_until = 0,"
        " created_at = $2 WHERE subscription = $1 AND status = 'dead'",
        subscription,
        now,
    )


async def outbox_size(db: Connection) -> int:
    return int(await db.fetchval("SELECT COUNT(*) FROM event_outbox"))


QUEUE_STATES = ("outbox", "pending", "dead")


async def queue_depth(db: Connection) -> dict[str, int]:
    """What waits, in one statement: changes not yet turned into deliveries (`outbox`), deliveries
    waiting or in flight (`pending`) and dead-lettered ones (`dead`)."""
    row = await db.fetchrow(
        "SELECT (SELECT COUNT(*) FROM event_outbox) AS outbox,"
        " (SELECT COUNT(*) FROM event_deliveries WHERE status = 'pending') AS pending,"
        " (SELECT COUNT(*) FROM event_deliveries WHERE status = 'dead') AS dead"
    )
    assert row is not None
    return {state: int(row[state]) for state in QUEUE_STATES}
