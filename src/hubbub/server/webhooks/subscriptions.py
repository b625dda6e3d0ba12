"""Event subscriptions as a use case: checked input, defaults, and the operator's views and actions.

The CLI (`hubbub subscriptions ...`) and the HTTP API (`api/subscriptions.py`) both go through
`SubscriptionService`, so they accept and refuse the same things. Running nodes see a change within
`webhook_poll_seconds`; a new or re-pointed subscription delivers once its endpoint validated.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import time
import urllib.parse
from typing import Any

from hubbub.server.errors import BadRequest, NotFound
from hubbub.server.store import Connection, Database
from hubbub.server.store import outbox as outbox_store
from hubbub.server.store import subscriptions as subscription_store
from hubbub.server.store.outbox import Delivery
from hubbub.server.store.subscriptions import Subscription
from hubbub.server.webhooks.delivery import SECRET_HEADER
from hubbub.server.webhooks.eventgrid import CLOUD_EVENT_SCHEMA, EVENT_GRID_SCHEMA, EVENT_TYPES, SCHEMAS

DEFAULT_MAX_ATTEMPTS = 30
DEFAULT_TTL_MINUTES = 1440
"""Event Grid's defaults: 30 attempts within 24 hours."""
SCHEMA_NAMES = {"eventgrid": EVENT_GRID_SCHEMA, "cloudevents": CLOUD_EVENT_SCHEMA}
_NAME = re.compile(r"^[A-Za-z0-9-]{3,64}$")


def check_endpoint(url: str) -> str:
    """Only absolute http(s) URLs with a host; the URL may carry a secret in its query string."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise BadRequest("The endpoint must be an absolute http:// or https:// URL.", target="endpointUrl")
    if len(url) > 2048:
        raise BadRequest("The endpoint URL is longer than 2048 characters.", target="endpointUrl")
    return url


def schema_of(value: str) -> str:
    """`eventgrid` / `cloudevents`, or the ARM names `EventGridSchema` / `CloudEventSchemaV1_0`."""
    schema = SCHEMA_NAMES.get(value.lower(), value)
    if schema not in SCHEMAS:
        raise BadRequest(
            f"Unknown delivery schema {value!r}: use eventgrid ({EVENT_GRID_SCHEMA}) or cloudevents "
            f"({CLOUD_EVENT_SCHEMA}).",
            target="eventDeliverySchema",
        )
    return schema


def check_event_types(types: list[str] | None) -> tuple[str, ...] | None:
    if types is None:
        return None
    known = {t.lower(): t for t in EVENT_TYPES}
    unknown = [t for t in types if t.lower() not in known]
    if unknown:
        raise BadRequest(f"Unknown event type(s): {', '.join(unknown)}.", target="includedEventTypes")
    return tuple(known[t.lower()] for t in types)


class SubscriptionService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_subscription(
        self,
        name: str,
        *,
        endpoint: str,
        schema: str = EVENT_GRID_SCHEMA,
        event_types: list[str] | None = None,
        subject_begins_with: str = "",
        subject_ends_with: str = "",
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        ttl_minutes: int = DEFAULT_TTL_MINUTES,
        secret: str | None = None,
        max_events_per_batch: int = 1,
    ) -> Subscription:
        """Create or replace a subscription; a new endpoint or schema must pass the handshake again."""
        if not _NAME.match(name):
            raise BadRequest("A subscription name is 3-64 letters, digits and hyphens.", target="name")
        if not 1 <= max_attempts <= 30:
            raise BadRequest("maxDeliveryAttempts must be between 1 and 30.", target="maxDeliveryAttempts")
        if not 1 <= ttl_minutes <= 1440:
            raise BadRequest("eventTimeToLiveInMinutes must be between 1 and 1440.", target="eventTimeToLiveInMinutes")
        if not 1 <= max_events_per_batch <= 5000:
            raise BadRequest("maxEventsPerBatch must be between 1 and 5000.", target="maxEventsPerBatch")
        sub = Subscription(
            name=name,
            endpoint=check_endpoint(endpoint),
            delivery_schema=schema_of(schema),
            event_types=check_event_types(event_types),
            subject_begins_with=subject_begins_with,
            subject_ends_with=subject_ends_with,
            max_attempts=max_attempts,
            ttl_minutes=ttl_minutes,
            secret=secret or secrets.token_urlsafe(32),
            validated_at=None,
            created_at=time.time_ns() // 1000,
            max_events_per_batch=max_events_per_batch,
        )

        async def body(tx: Connection) -> Subscription:
            previous = await subscription_store.get_subscription(tx, name)
            stored = sub if previous is None or secret else _keep_secret(sub, previous)
            await subscription_store.put_subscription(tx, stored)
            result = await subscription_store.get_subscription(tx, name)
            assert result is not None
            return result

        return await self._db.write(body)

    async def get_subscription(self, name: str) -> Subscription:
        sub = await self._db.read(lambda conn: subscription_store.get_subscription(conn, name))
        if sub is None:
            raise NotFound(f"Event subscription {name} does not exist.", target="name")
        return sub

    async def list_subscriptions(self) -> list[Subscription]:
        return await self._db.read(subscription_store.list_subscriptions)

    async def delete_subscription(self, name: str) -> None:
        if not await self._db.write(lambda tx: subscription_store.delete_subscription(tx, name)):
            raise NotFound(f"Event subscription {name} does not exist.", target="name")

    async def list_deliveries(self, name: str) -> list[Delivery]:
        """What is not delivered yet: pending (attempts > 0 once failed) and dead-lettered events."""
        await self.get_subscription(name)
        return await self._db.read(lambda conn: outbox_store.list_deliveries(conn, name))

    async def redeliver(self, name: str) -> int:
        """Queue the dead-lettered events of a subscription again; returns how many."""
        await self.get_subscription(name)
        now = time.time_ns() // 1000
        return await self._db.write(lambda tx: outbox_store.redeliver(tx, name, now=now))


def _keep_secret(sub: Subscription, previous: Subscription) -> Subscription:
    """An update that names no secret keeps the one the receiver already checks."""
    return dataclasses.replace(sub, secret=previous.secret)


def to_arm(sub: Subscription, topic: str) -> dict[str, Any]:
    """A subscription in the Azure Resource Manager `Microsoft.EventGrid/eventSubscriptions` shape."""
    parsed = urllib.parse.urlsplit(sub.endpoint)
    return {
        "id": f"{topic}/providers/Microsoft.EventGrid/eventSubscriptions/{sub.name}",
        "name": sub.name,
        "type": "Microsoft.EventGrid/eventSubscriptions",
        "properties": {
            "topic": topic,
            "provisioningState": "Succeeded" if sub.validated_at is not None else "Creating",
            "destination": {
                "endpointType": "WebHook",
                "properties": {
                    "endpointUrl": sub.endpoint,
                    "maxEventsPerBatch": sub.max_events_per_batch,
                    "endpointBaseUrl": urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path, "", "")),
                    "deliveryAttributeMappings": [
                        {
                            "name": SECRET_HEADER,
                            "type": "Static",
                            "properties": {"value": sub.secret, "isSecret": True},
                        }
                    ],
                },
            },
            "filter": {
                "includedEventTypes": None if sub.event_types is None else list(sub.event_types),
                "subjectBeginsWith": sub.subject_begins_with,
                "subjectEndsWith": sub.subject_ends_with,
                "isSubjectCaseSensitive": False,
            },
            "eventDeliverySchema": sub.delivery_schema,
            "retryPolicy": {"maxDeliveryAttempts": sub.max_attempts, "eventTimeToLiveInMinutes": sub.ttl_minutes},
        },
    }


def delivery_view(item: Delivery) -> dict[str, Any]:
    """One undelivered event as `hubbub subscriptions deliveries --json` prints it."""
    state = "deadLettered" if item.status == "dead" else ("failed" if item.attempts else "pending")
    return {
        "id": item.id,
        "eventId": item.event_id,
        "eventType": item.event_type,
        "subject": json.loads(item.event).get("subject"),
        "state": state,
        "attempts": item.attempts,
        "nextAttemptAt": item.next_at,
        "lastError": item.last_error,
    }
