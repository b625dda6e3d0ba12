"""One HTTP delivery or handshake to a webhook endpoint, and what its answer means.

The client never follows a redirect (a 3xx is a failed attempt), has bounded timeouts, and sends the
subscription's secret in the `X-Hubbub-Delivery-Secret` header with every request, handshakes
included, so the receiver can refuse requests that do not come from this server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import secrets

import httpx

from hubbub import wire
from hubbub.server import random_ids
from hubbub.server.store.subscriptions import Subscription
from hubbub.server.webhooks.eventgrid import CLOUD_EVENT_SCHEMA

SECRET_HEADER = "X-Hubbub-Delivery-Secret"
NO_RETRY = frozenset({400, 401, 403, 413})
"""Answers that will not change by sending again: dead-lettered at once (as Event Grid does)."""
ORIGIN = "eventgrid.azure.net"
"""The `WebHook-Request-Origin` of the CloudEvents handshake: the origin Event Grid sends."""
MAX_BACKOFF_SECONDS = 600.0


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    retry: bool
    """False when trying again is pointless (a `NO_RETRY` status)."""
    error: str = ""


def new_client(timeout_seconds: float) -> httpx.AsyncClient:
    """The delivery client: no redirects, bounded timeouts, no proxy settings from the environment."""
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
        trust_env=False,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        headers={"User-Agent": "Hubbub-Webhooks/1.0"},
    )


def backoff_seconds(attempts: int, base: float) -> float:
    """Exponential backoff with jitter: between half and all of base·2^(attempts-1), at most 10 min."""
    delay = min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempts - 1))
    return random.uniform(delay / 2, delay)


def _headers(sub: Subscription, event_type: str) -> dict[str, str]:
    return {
        "aeg-event-type": event_type,
        "aeg-subscription-name": sub.name.upper(),
        "aeg-metadata-version": "1",
        "aeg-data-version": "1.0",
        SECRET_HEADER: sub.secret,
    }


def request_for(sub: Subscription, events: list[str], attempt: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery: an array of events (Event Grid schema), one structured
    CloudEvent, or, for a subscription that batches, a CloudEvents batch (a JSON array). The events
    are already JSON text in the subscription's schema (`eventgrid.render`)."""
    headers = _headers(sub, "Notification") | {"aeg-delivery-count": str(max(0, attempt - 1))}
    if sub.delivery_schema != CLOUD_EVENT_SCHEMA:
        body = "[" + ",".join(events) + "]"
        headers["Content-Type"] = "application/json; charset=utf-8"
    elif sub.max_events_per_batch == 1 and len(events) == 1:
        body = events[0]
        headers["Content-Type"] = "application/cloudevents+json; charset=utf-8"
    else:
        body = "[" + ",".join(events) + "]"
        headers["Content-Type"] = "application/cloudevents-batch+json; charset=utf-8"
    return body.encode(), headers


def _failure(status: int) -> Outcome:
    if 300 <= status < 400:
        return Outcome(False, True, f"HTTP {status} (redirects are not followed)")
    return Outcome(False, status not in NO_RETRY, f"HTTP {status}")


async def deliver(client: httpx.AsyncClient, sub: Subscription, events: list[str], attempt: int) -> Outcome:
    body, headers = request_for(sub, events, attempt)
    try:
        response = await client.post(sub.endpoint, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(False, True, f"{type(exc).__name__}: {exc}"[:500])
    await response.aclose()
    if 200 <= response.status_code < 300:
        return Outcome(True, False)
    return _failure(response.status_code)


async def handshake(client: httpx.AsyncClient, sub: Subscription, topic: str) -> str | None:
    """Validate the endpoint as Event Grid does; None when it passed, else why not."""
    try:
        if sub.delivery_schema == CLOUD_EVENT_SCHEMA:
            response = await client.options(
                sub.endpoint,
                headers={"WebHook-Request-Origin": ORIGIN, "WebHook-Request-Rate": "120", SECRET_HEADER: sub.secret},
            )
            allowed = response.headers.get("WebHook-Allowed-Origin", "")
            if response.status_code == 200 and allowed.strip() in (ORIGIN, "*"):
                return None
            return f"abuse-protection handshake: HTTP {response.status_code}, WebHook-Allowed-Origin {allowed!r}"
        code = secrets.token_hex(16).upper()
        now = dt.datetime.now(dt.UTC)
        event = {
            "id": str(random_ids.uuid4()),
            "topic": topic,
            "subject": "",
            "data": {"validationCode": code},
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": wire.format_datetime(now),
            "metadataVersion": "1",
            "dataVersion": "2",
        }
        headers = _headers(sub, "SubscriptionValidation") | {"Content-Type": "application/json; charset=utf-8"}
        response = await client.post(sub.endpoint, content=json.dumps([event]).encode(), headers=headers)
        if response.status_code != 200:
            return f"validation handshake: HTTP {response.status_code}"
        try:
            answer = response.json()
        except ValueError:
            return "validation handshake: the answer is not JSON"
        if isinstance(answer, dict) and answer.get("validationResponse") == code:
            return None
        return "validation handshake: validationResponse does not echo the validationCode"
    except httpx.HTTPError as exc:
        return f"handshake: {type(exc).__name__}: {exc}"[:500]
