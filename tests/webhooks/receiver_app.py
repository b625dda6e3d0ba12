"""A webhook receiver, run as its own process on loopback: what an ACS app's back end would be.

It answers both handshakes (Event Grid's SubscriptionValidationEvent and the CloudEvents OPTIONS),
parses every delivery with the azure-eventgrid package (`EventGridEvent.from_dict`,
`CloudEvent.from_dict`) and keeps what it parsed. The tests steer and read it over HTTP:
    POST /_control {"path": "/a", "status": 500, "count": 3}   answer 500 to the next 3 deliveries on /a
    POST /_control {"path": "/a", "handshake": false}           fail the handshake on /a
    POST /_control {"path": "/a", "delay": 2, "delays": 1}      answer the next delivery on /a 2 s late
    GET  /_received?path=/a                                     every event received on /a, in order
Run: python receiver_app.py PORT
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import uvicorn
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent, SystemEventNames
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

received: dict[str, list[dict[str, Any]]] = {}
failures: dict[str, dict[str, Any]] = {}
handshakes: dict[str, int] = {}
VALIDATION = SystemEventNames.EventGridSubscriptionValidationEventName


async def control(request: Request) -> Response:
    body = await request.json()
    failures[body["path"]] = body
    return JSONResponse({"ok": True})


async def read(request: Request) -> Response:
    path = request.query_params["path"]
    return JSONResponse({"events": received.get(path, []), "handshakes": handshakes.get(path, 0)})


def _headers(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.startswith("aeg-") or k.startswith("x-hubbub")}


async def hook(request: Request) -> Response:
    path = request.url.path
    rule = failures.get(path, {})
    if request.method == "OPTIONS":  # CloudEvents abuse protection
        handshakes[path] = handshakes.get(path, 0) + 1
        if rule.get("handshake") is False:
            return Response(status_code=403)
        origin = request.headers.get("webhook-request-origin", "")
        return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin, "Allow": "POST, OPTIONS"})
    body = await request.json()
    if request.headers.get("aeg-event-type") == "SubscriptionValidation":
        handshakes[path] = handshakes.get(path, 0) + 1
        event = EventGridEvent.from_dict(body[0])
        assert event.event_type == VALIDATION
        if rule.get("handshake") is False:
            return Response(status_code=403)
        return JSONResponse({"validationResponse": event.data["validationCode"]})
    if rule.get("delay") and rule.get("delays", 1) > 0:
        rule["delays"] = rule.get("delays", 1) - 1
        await asyncio.sleep(float(rule["delay"]))
    if rule.get("count", 0) > 0:
        rule["count"] -= 1
        received.setdefault(path + "#refused", []).append({"status": rule["status"]})
        return Response(status_code=int(rule["status"]))
    events: list[dict[str, Any]] = []
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/cloudevents+json", "application/cloudevents-batch+json")):
        for item in body if isinstance(body, list) else [body]:
            cloud = CloudEvent.from_dict(item)
            events.append(
                {
                    "schema": "cloudevents",
                    "id": cloud.id,
                    "type": cloud.type,
                    "source": cloud.source,
                    "subject": cloud.subject,
                    "time": cloud.time.isoformat() if cloud.time else None,
                    "data": cloud.data,
                }
            )
    else:
        for item in body:
            grid = EventGridEvent.from_dict(item)
            events.append(
                {
                    "schema": "eventgrid",
                    "id": grid.id,
                    "type": grid.event_type,
                    "topic": grid.topic,
                    "subject": grid.subject,
                    "time": grid.event_time.isoformat(),
                    "data_version": grid.data_version,
                    "data": grid.data,
                }
            )
    for event in events:
        event["headers"] = _headers(request)
        event["query"] = dict(request.query_params)
        event["batch"] = len(events)
        event["content_type"] = content_type
        event["received_at"] = time.time()
    received.setdefault(path, []).extend(events)
    return Response(status_code=200)


app = Starlette(
    routes=[
        Route("/_control", control, methods=["POST"]),
        Route("/_received", read, methods=["GET"]),
        Route("/{rest:path}", hook, methods=["POST", "OPTIONS"]),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
