"""The `event_subscriptions` table: where webhook events go, which ones, and how hard to try."""

from __future__ import annotations

import dataclasses

from hubbub.server.store.columns import dump_json, load_json
from hubbub.server.store.engine import Connection, Row

SUBSCRIPTION_COLUMNS = (
    "name, endpoint, delivery_schema, event_types, subject_begins_with, subject_ends_with, max_attempts,"
    " ttl_minutes, secret, validated_at, created_at, max_events_per_batch"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    endpoint: str
    delivery_schema: str
    """`EventGridSchema` or `CloudEventSchemaV1_0` (the ARM `eventDeliverySchema` values)."""
    event_types: tuple[str, ...] | None
    """The included event types; None for every type."""
    subject_begins_with: str
    subject_ends_with: str
    max_attempts: int
    ttl_minutes: int
    secret: str
    validated_at: int | None
    created_at: int
    max_events_per_batch: int = 1
    """Events per request, at most (Event Grid's `maxEventsPerBatch`; 1 by default, as there)."""


def _subscription(row: Row) -> Subscription:
    types = row["event_types"]
    return Subscription(
        name=row["name"],
        endpoint=row["endpoint"],
        delivery_schema=row["delivery_schema"],
        event_types=None if types is None else tuple(load_json(types)),
        subject_begins_with=row["subject_begins_with"],
        subject_ends_with=row["subject_ends_with"],
        max_attempts=int(row["max_attempts"]),
        ttl_minutes=int(row["ttl_minutes"]),
        secret=row["secret"],
        validated_at=row["validated_at"],
        created_at=int(row["created_at"]),
        max_events_per_batch=int(row["max_events_per_batch"]),
    )


async def put_subscription(db: Connection, sub: Subscription) -> None:
    """Create or replace a subscription. A new endpoint or schema must validate again."""
    await db.execute(
        f"INSERT INTO event_subscriptions ({SUBSCRIPTION_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (name) DO UPDATE SET endpoint = $2, delivery_schema = $3, event_types = $4,"
        " subject_begins_with = $5, subject_ends_with = $6, max_attempts = $7, ttl_minutes = $8, secret = $9,"
        " max_events_per_batch = $12,"
        " validated_at = CASE WHEN event_subscriptions.endpoint = $2 AND event_subscriptions.delivery_schema = $3"
        " THEN event_subscriptions.validated_at ELSE NULL END",
        sub.name,
        sub.endpoint,
        sub.delivery_schema,
        None if sub.event_types is None else dump_json(list(sub.event_types)),
        sub.subject_begins_with,
        sub.subject_ends_with,
        sub.max_attempts,
        sub.ttl_minutes,
        sub.secret,
        sub.validated_at,
        sub.created_at,
        sub.max_events_per_batch,
    )


async def get_subscription(db: Connection, name: str) -> Subscription | None:
    row = await db.fetchrow(f"SELECT {SUBSCRIPTION_COLUMNS} FROM event_subscriptions WHERE name = $1", name)
    return None if row is None else _subscription(row)


async def list_subscriptions(db: Connection) -> list[Subscription]:
    rows = await db.fetch(f"SELECT {SUBSCRIPTION_COLUMNS} FROM event_subscriptions ORDER BY name")
    return [_subscription(row) for row in rows]


async def count_subscriptions(db: Connection) -> int:
    return int(await db.fetchval("SELECT COUNT(*) FROM event_subscriptions"))


async def delete_subscription(db: Connection, name: str) -> bool:
    """Delete a subscription and every delivery still waiting for it."""
    await db.execute("DELETE FROM event_deliveries WHERE subscription = $1", name)
    return await db.execute("DELETE FROM event_subscriptions WHERE name = $1", name) > 0


async def mark_validated(db: Connection, name: str, endpoint: str, now: int) -> None:
    """Record a passed handshake, unless the endpoint changed meanwhile."""
    await db.execute(
        "UPDATE event_subscriptions SET validated_at = $3 WHERE name = $1 AND endpoint = $2", name, endpoint, now
    )
