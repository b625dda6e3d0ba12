"""`/providers/Microsoft.EventGrid/eventSubscriptions`: webhook subscriptions over HTTP, signed with the
access key (HMAC-SHA256, as the Identity API), in the Azure Resource Manager shape.

    PUT    .../eventSubscriptions/{name}   create or replace: properties.destination.properties.endpointUrl,
                                           properties.filter, eventDeliverySchema, retryPolicy
    GET    .../eventSubscriptions/{name}   one subscription
    GET    .../eventSubscriptions          {"value": [...]}
    DELETE .../eventSubscriptions/{name}   delete it and the events still waiting for it
    GET    .../eventSubscriptions/{name}/deliveries   pending, failed and dead-lettered events
    POST   .../eventSubscriptions/{name}/redeliver    queue the dead-lettered events again
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub.server.api.http import decode, empty_response, json_response, read_body, service_of, verify_hmac
from hubbub.server.errors import BadRequest
from hubbub.server.webhooks.delivery import SECRET_HEADER
from hubbub.server.webhooks.eventgrid import EVENT_GRID_SCHEMA
from hubbub.server.webhooks.subscriptions import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TTL_MINUTES,
    SubscriptionService,
    delivery_view,
    to_arm,
)

BASE = "/providers/Microsoft.EventGrid/eventSubscriptions"


class _Mapping(msgspec.Struct, omit_defaults=True):
    name: str = ""
    type: str = ""
    properties: dict[str, Any] = {}


class _DestinationProperties(msgspec.Struct, rename="camel", omit_defaults=True):
    endpoint_url: str | None = None
    max_events_per_batch: int = 1
    delivery_attribute_mappings: list[_Mapping] = []


class _Destination(msgspec.Struct, rename="camel", omit_defaults=True):
    endpoint_type: str = "WebHook"
    properties: _DestinationProperties = msgspec.field(default_factory=_DestinationProperties)


class _Filter(msgspec.Struct, rename="camel", omit_defaults=True):
    included_event_types: list[str] | None = None
    subject_begins_with: str = ""
    subject_ends_with: str = ""


class _RetryPolicy(msgspec.Struct, rename="camel", omit_defaults=True):
    max_delivery_attempts: int = DEFAULT_MAX_ATTEMPTS
    event_time_to_live_in_minutes: int = DEFAULT_TTL_MINUTES


class _Properties(msgspec.Struct, rename="camel", omit_defaults=True):
    destination: _Destination | None = None
    filter: _Filter = msgspec.field(default_factory=_Filter)
    event_delivery_schema: str = EVENT_GRID_SCHEMA
    retry_policy: _RetryPolicy = msgspec.field(default_factory=_RetryPolicy)


class EventSubscriptionRequest(msgspec.Struct, omit_defaults=True):
    properties: _Properties


async def _authorised(request: Request) -> tuple[bytes, SubscriptionService]:
    body = await read_body(request)
    await verify_hmac(request, body)
    return body, SubscriptionService(service_of(request).db)


def _secret(destination: _Destination) -> str | None:
    for mapping in destination.properties.delivery_attribute_mappings:
        if mapping.name.lower() == SECRET_HEADER.lower() and mapping.type == "Static":
            value = mapping.properties.get("value")
            return value if isinstance(value, str) and value else None
    return None


async def put_subscription(request: Request) -> Response:
    raw, subscriptions = await _authorised(request)
    props = decode(raw, EventSubscriptionRequest).properties
    destination = props.destination
    if destination is None or not destination.properties.endpoint_url:
        raise BadRequest("properties.destination.properties.endpointUrl is required.", target="endpointUrl")
    if destination.endpoint_type != "WebHook":
        raise BadRequest("Only WebHook destinations are supported.", target="endpointType")
    name = request.path_params["name"]
    existed = name in {s.name for s in await subscriptions.list_subscriptions()}
    sub = await subscriptions.put_subscription(
        name,
        endpoint=destination.properties.endpoint_url,
        schema=props.event_delivery_schema,
        event_types=props.filter.included_event_types,
        subject_begins_with=props.filter.subject_begins_with,
        subject_ends_with=props.filter.subject_ends_with,
        max_attempts=props.retry_policy.max_delivery_attempts,
        ttl_minutes=props.retry_policy.event_time_to_live_in_minutes,
        secret=_secret(destination),
        max_events_per_batch=destination.properties.max_events_per_batch,
    )
    service = service_of(request)
    service.outbox.active = True  # record from now on; the worker handshakes at its next poll
    return json_response(to_arm(sub, service.settings.events_topic), 200 if existed else 201)


async def get_subscription(request: Request) -> Response:
    _, subscriptions = await _authorised(request)
    sub = await subscriptions.get_subscription(request.path_params["name"])
    return json_response(to_arm(sub, service_of(request).settings.events_topic))


async def list_subscriptions(request: Request) -> Response:
    _, subscriptions = await _authorised(request)
    topic = service_of(request).settings.events_topic
    return json_response({"value": [to_arm(s, topic) for s in await subscriptions.list_subscriptions()]})


async def delete_subscription(request: Request) -> Response:
    _, subscriptions = await _authorised(request)
    await subscriptions.delete_subscription(request.path_params["name"])
    return empty_response(200)


async def list_deliveries(request: Request) -> Response:
    _, subscriptions = await _authorised(request)
    items = await subscriptions.list_deliveries(request.path_params["name"])
    return json_response({"value": [delivery_view(item) for item in items]})


async def redeliver(request: Request) -> Response:
    _, subscriptions = await _authorised(request)
    count = await subscriptions.redeliver(request.path_params["name"])
    service_of(request).outbox.wake.set()
    return json_response({"redelivered": count})


routes = [
    Route(BASE, list_subscriptions, methods=["GET"]),
    Route(BASE + "/{name}", put_subscription, methods=["PUT"]),
    Route(BASE + "/{name}", get_subscription, methods=["GET"]),
    Route(BASE + "/{name}", delete_subscription, methods=["DELETE"]),
    Route(BASE + "/{name}/deliveries", list_deliveries, methods=["GET"]),
    Route(BASE + "/{name}/redeliver", redeliver, methods=["POST"]),
]
