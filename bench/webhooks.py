"""W7, webhooks: W1's send rate with and without an event subscription, delivery rate and latency.

The receiver is an aiohttp server inside the load generator (same clock as the sends, on its core).
The subscription is made through the ARM-shaped API (HMAC-signed) and includes only
`ChatMessageReceivedInThread`, one event per message: the outbox cost per send is the same for any
filter (one row per change); the user-level events would multiply the deliveries by the thread size.

Phases, on one server:
1. W1 without a subscription (the baseline; fresh users and threads).
2. Create the subscription, wait for the handshake.
3. Paced: `w7_paced` messages at `w7_paced_rate`/s; latency = webhook receipt minus the send's start.
4. W1 again with the subscription active; then the delivery rate: events received per second from
   the first send of the phase to the last receipt (bounded by the deadline).
5. The same with `maxEventsPerBatch` 20 (several waiting events share a request).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from bench.acs import hmac_headers, send_message_request
from bench.client import Connection, percentiles
from bench.workloads import Progress, Scale, Target, create_threads, create_users, send_throughput

IN_THREAD = "Microsoft.Communication.ChatMessageReceivedInThread"
NAME = "bench-w7"
BATCH = 20
_MARKER = re.compile(r"w7m:(\d+)")


class _Receiver:
    """Counts deliveries and times the marked ones; answers the Event Grid handshake."""

    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.received_at: dict[int, float] = {}

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.json()
        now = time.perf_counter()
        for event in body:
            if event["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent":
                return web.json_response({"validationResponse": event["data"]["validationCode"]})
            self.count += 1
            self.first = self.first or now
            self.last = now
            match = _MARKER.search(event["data"].get("messageBody", ""))
            if match:
                self.received_at[int(match.group(1))] = now
        return web.Response(status=200)


async def _subscribe(target: Target, endpoint: str, batch: int = 1) -> None:
    conn = Connection(target.host, target.port)
    path = f"/providers/Microsoft.EventGrid/eventSubscriptions/{NAME}"
    body = json.dumps(
        {
            "properties": {
                "destination": {
                    "endpointType": "WebHook",
                    "properties": {"endpointUrl": endpoint, "maxEventsPerBatch": batch},
                },
                "filter": {"includedEventTypes": [IN_THREAD]},
            }
        }
    ).encode()
    await conn.request("PUT", path, headers=hmac_headers(target.key, "PUT", path, target.authority, body), body=body)
    deadline = time.monotonic() + 30
    while True:
        state = await conn.request("GET", path, headers=hmac_headers(target.key, "GET", path, target.authority, b""))
        if state["properties"]["provisioningState"] == "Succeeded":
            break
        if time.monotonic() > deadline:
            raise RuntimeError("W7: the webhook subscription did not validate")
        await asyncio.sleep(0.1)
    await conn.close()


async def _unsubscribe(target: Target) -> None:
    """Delete W7's subscription, so that workloads run after it on the same server (W4) send
    without one."""
    conn = Connection(target.host, target.port)
    path = f"/providers/Microsoft.EventGrid/eventSubscriptions/{NAME}"
    await conn.request("DELETE", path, headers=hmac_headers(target.key, "DELETE", path, target.authority, b""))
    await conn.close()


async def _paced(target: Target, scale: Scale, receiver: _Receiver, progress: Progress) -> dict[str, Any]:
    users = await create_users(target, 10, progress, "W7 paced: users")
    threads = await create_threads(target, users, 1, 10, progress, "W7 paced: threads")
    thread_id, members = threads[0]
    conn = Connection(target.host, target.port)
    sent_at: dict[int, float] = {}
    interval = 1.0 / scale.w7_paced_rate
    advance = progress("W7 paced: send", scale.w7_paced)
    start = time.perf_counter()
    for n in range(scale.w7_paced):
        await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
        request = send_message_request(target.authority, thread_id, members[n % 10][1], f"w7m:{n} paced")
        sent_at[n] = time.perf_counter()
        status, _ = await conn.send(request)
        if status != 201:
            raise RuntimeError(f"W7: send answered {status}")
        advance(1)
    deadline = time.perf_counter() + 30
    while len(receiver.received_at) < len(sent_at) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    await conn.close()
    latencies = [receiver.received_at[n] - t for n, t in sent_at.items() if n in receiver.received_at]
    return {
        "messages": len(sent_at),
        "rate_per_s": scale.w7_paced_rate,
        "delivered": len(latencies),
        "latency_ms": percentiles(latencies),
    }


async def _load(
    target: Target, scale: Scale, receiver: _Receiver, progress: Progress, label: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """W1 with the subscription; then wait for its events: (W1 figures, delivery figures)."""
    before = receiver.count
    started = time.perf_counter()
    figures = await send_throughput(target, scale, progress, f"W7 W1 ({label})")
    sent = figures["requests"] + figures.get("warmup_requests", 0)
    sends_done = time.perf_counter()
    deadline = sends_done + scale.deadline
    while receiver.count - before < sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    delivered = receiver.count - before
    return figures, {
        "events_expected": sent,
        "events_delivered": delivered,
        "per_second": round(delivered / max(1e-9, receiver.last - started), 1),
        "drain_after_sends_s": round(max(0.0, receiver.last - sends_done), 2),
    }


async def webhooks(target: Target, scale: Scale, progress: Progress) -> dict[str, Any]:
    from aiohttp import web

    result: dict[str, Any] = {"event_types": [IN_THREAD]}
    result["w1_without"] = await send_throughput(target, scale, progress, "W7 W1 (no subscription)")
    receiver = _Receiver()
    app = web.Application()
    app.router.add_post("/events", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await _subscribe(target, f"http://127.0.0.1:{port}/events")
        result["paced"] = await _paced(target, scale, receiver, progress)
        result["w1_with"], result["delivery"] = await _load(target, scale, receiver, progress, "one subscription")
        without = result["w1_without"]["per_second"]
        result["w1_ratio"] = round(result["w1_with"]["per_second"] / without, 3) if without else None
        await _subscribe(target, f"http://127.0.0.1:{port}/events", batch=BATCH)
        result["w1_with_batched"], result["delivery_batched"] = await _load(
            target, scale, receiver, progress, f"maxEventsPerBatch {BATCH}"
        )
    finally:
        await _unsubscribe(target)
        await runner.cleanup()
    return result
