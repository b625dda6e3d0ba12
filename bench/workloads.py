"""The workloads (W1-W5) and the ceilings, each a function of a `Target` returning a JSON-able dict.

Each result dict holds the figures that go into the results JSON; keys starting with "_" hold raw
series for the plots and are dropped before the JSON is written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from bench import ceiling, processes
from bench.acs import CHAT_API, AcsSession, bearer, create_identity_request, send_message_request
from bench.client import Connection, LoadResult, encode_request, percentiles, run_closed_loop

TOKEN_LENGTH = 461
"""Characters in a chat access token Hubbub issues (the send-shaped ceiling sends one this long)."""

Progress = Callable[..., Any]
"""`progress(description, total)` returns an `advance(n)` callable (a rich progress task)."""


@dataclasses.dataclass(frozen=True)
class Scale:
    """Counts per workload; `quick()` is about a tenth of `full()`."""

    ceiling_requests: int = 30_000
    canned_requests: int = 60_000
    sqlite_rows: int = 20_000
    w1_users: int = 100
    w1_threads: int = 10
    w1_connections: int = 16
    connect_stagger_ms: float = 0.0
    """W1's, W4's and W5's connections open this far apart (0: all at once, the default)."""
    w1_messages: int = 20_000
    w2_subscribers: int = 1_000
    w2_threads: int = 4
    w2_paced_per_thread: int = 50
    w2_paced_rate: float = 10.0
    """Messages per second per thread in the paced (latency) phase."""
    w2_burst_per_thread: int = 100
    w2s_clients: int = 200
    """W2S: clients per transport (SSE and Trouter), over `w2_threads` threads, W2's pacing."""
    w2s_rounds: int = 2
    """W2S: SSE, Trouter, SSE, Trouter, ... (alternating, fresh users each time)."""
    w3_messages: int = 100_000
    w3_samples: int = 1_000
    w3_page_through: int = 10_000
    w4_threads: int = 10_000
    w4_messages: int = 1_000_000
    w5_calls: int = 3_000
    w6_samples: int = 200
    """W6: searches per case (rare/common word x one thread/every thread), one connection."""
    w7_paced: int = 300
    """W7: messages sent at `w7_paced_rate` per second to time send -> webhook."""
    w7_paced_rate: float = 20.0
    deadline: float = 120.0
    """Upper bound in seconds for any one load loop."""

    @classmethod
    def full(cls) -> Scale:
        return cls()

    @classmethod
    def quick(cls) -> Scale:
        return cls(
            ceiling_requests=3_000,
            canned_requests=6_000,
            sqlite_rows=2_000,
            w1_messages=2_000,
            w2_subscribers=100,
            w2_paced_per_thread=10,
            w2_burst_per_thread=20,
            w2s_clients=40,
            w2s_rounds=1,
            w3_messages=10_000,
            w3_samples=200,
            w3_page_through=1_000,
            w4_threads=1_000,
            w4_messages=100_000,
            w5_calls=300,
            w6_samples=50,
            w7_paced=60,
            deadline=30.0,
        )


@dataclasses.dataclass
class Target:
    """The running server the workloads talk to."""

    host: str
    port: int
    key: bytes
    """The HMAC access key (decoded)."""
    pid: int | None = None
    """The server process, to measure its CPU time per request."""

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    async def session(self) -> AcsSession:
        conn = Connection(self.host, self.port)
        await conn.open()
        return AcsSession(conn, self.key)


def cpu_meter() -> Callable[[], float]:
    """Start measuring this process's CPU use; the returned function gives the fraction of one core."""
    wall, cpu = time.perf_counter(), time.process_time()
    return lambda: round((time.process_time() - cpu) / max(1e-9, time.perf_counter() - wall), 3)


def load_figures(result: LoadResult, client_cpu: float) -> dict[str, Any]:
    return {
        "requests": result.requests,
        "errors": result.errors,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "seconds": round(result.elapsed, 3),
        "per_second": round(result.rate, 1),
        "latency_ms": percentiles(result.latencies),
        "client_cpu": client_cpu,
        "_latencies": result.latencies,
        "_completions": result.completions,
    }


async def closed_loop(
    target: Target,
    requests: list[bytes],
    *,
    connections: int,
    deadline: float,
    progress: Progress,
    label: str,
    warmup: int = 200,
    stagger: float = 0.0,
) -> dict[str, Any]:
    """Warm up on the first requests, then run the rest closed-loop and measure."""
    warm, measured = requests[:warmup], requests[warmup:]
    if warm:
        await run_closed_loop(
            target.host, target.port, warm.__getitem__, total=len(warm), connections=connections, deadline=deadline
        )
    advance = progress(label, len(measured))
    meter = cpu_meter()
    server_before = processes.cpu_by_thread(target.pid) if target.pid else None
    services_before = processes.services_cpu(target.pid) if target.pid else {}
    split: list[int] = []
    pid = target.pid
    result = await run_closed_loop(
        target.host,
        target.port,
        measured.__getitem__,
        total=len(measured),
        connections=connections,
        deadline=deadline,
        stagger=stagger,
        progress=advance,
        before_close=None if pid is None else lambda: split.extend(processes.connections_by_worker(pid, target.port)),
    )
    figures = load_figures(result, meter())
    if split:
        figures["connections_by_worker"] = split
    if target.pid and server_before is not None and result.requests:
        figures["server_cpu_us"] = processes.cpu_per_request(
            server_before, processes.cpu_by_thread(target.pid), result.requests
        )
        services = {
            name: round((seconds - services_before.get(name, 0.0)) * 1e6 / result.requests, 1)
            for name, seconds in processes.services_cpu(target.pid).items()
        }
        if any(services.values()):
            figures["services_cpu_us"] = services
    figures["connections"] = connections
    figures["warmup_requests"] = len(warm)
    return figures


# -- ceilings ---------------------------------------------------------------------------------------


async def get_ceiling(
    target: Target, path: str, scale: Scale, progress: Progress, label: str, total: int | None = None
) -> dict[str, Any]:
    request = encode_request("GET", path, target.authority)
    return await _ceiling_run(target, [request] * ((total or scale.ceiling_requests) + 500), scale, progress, label)


async def _ceiling_run(
    target: Target, requests: list[bytes], scale: Scale, progress: Progress, label: str
) -> dict[str, Any]:
    """A ceiling's closed loop: W1's connections, the first 500 requests a warm-up."""
    return await closed_loop(
        target,
        requests,
        connections=scale.w1_connections,
        deadline=scale.deadline,
        progress=progress,
        label=label,
        warmup=500,
    )


async def send_shaped_ceiling(target: Target, scale: Scale, progress: Progress, label: str) -> dict[str, Any]:
    """W1's requests (the same bytes but for the ids: 10 threads, tokens as long as Hubbub's) against
    the bare send-shaped endpoint of `ceiling.py`."""
    token = "t" * TOKEN_LENGTH
    threads = ceiling.stored_thread_ids(scale.w1_threads)
    requests = [
        send_message_request(target.authority, threads[i % len(threads)], token, f"W1 message {i}: hello there")
        for i in range(scale.ceiling_requests + 500)
    ]
    return await _ceiling_run(target, requests, scale, progress, label)


# -- seeding over the API ---------------------------------------------------------------------------


async def create_users(
    target: Target, count: int, progress: Progress, label: str, connections: int = 8
) -> list[tuple[str, str]]:
    """(user id, chat token) pairs, created with POST /identities over several connections."""
    advance = progress(label, count)
    users: list[tuple[str, str]] = []
    remaining = iter(range(count))

    async def worker() -> None:
        session = await target.session()
        for _ in remaining:
            users.append(await session.create_user())
            advance(1)
        await session.conn.close()

    await asyncio.gather(*(worker() for _ in range(min(connections, count))))
    return users


async def create_threads(
    target: Target, users: list[tuple[str, str]], groups: int, size: int, progress: Progress, label: str
) -> list[tuple[str, list[tuple[str, str]]]]:
    """`groups` threads of `size` members each (member 0 creates it); at most 200 per request."""
    session = await target.session()
    advance = progress(label, groups)
    threads = []
    for g in range(groups):
        members = users[g * size : (g + 1) * size]
        ids = [u for u, _ in members]
        creator_token = members[0][1]
        thread_id = await session.create_thread(creator_token, f"bench thread {g}", ids[:200])
        for start in range(200, len(ids), 200):
            await session.add_participants(creator_token, thread_id, ids[start : start + 200])
        threads.append((thread_id, members))
        advance(1)
    await session.conn.close()
    return threads


# -- W1 / W4: send throughput -----------------------------------------------------------------------


async def send_throughput(target: Target, scale: Scale, progress: Progress, label: str) -> dict[str, Any]:
    users = await create_users(target, scale.w1_users, progress, f"{label}: users")
    size = scale.w1_users // scale.w1_threads
    threads = await create_threads(target, users, scale.w1_threads, size, progress, f"{label}: threads")
    warmup = 200
    requests = []
    for i in range(scale.w1_messages + warmup):
        thread_id, members = threads[i % len(threads)]
        _, token = members[(i // len(threads)) % len(members)]
        requests.append(send_message_request(target.authority, thread_id, token, f"{label} message {i}: hello there"))
    figures = await closed_loop(
        target,
        requests,
        connections=scale.w1_connections,
        deadline=scale.deadline,
        stagger=scale.connect_stagger_ms / 1000,
        progress=progress,
        label=f"{label}: send_message",
        warmup=warmup,
    )
    figures |= {"users": len(users), "threads": len(threads), "participants_per_thread": size}
    return figures


# -- W5: identity -----------------------------------------------------------------------------------


async def identity_throughput(target: Target, scale: Scale, progress: Progress) -> dict[str, Any]:
    requests = [create_identity_request(target.key, target.authority) for _ in range(scale.w5_calls + 100)]
    return await closed_loop(
        target,
        requests,
        connections=scale.w1_connections,
        deadline=scale.deadline,
        stagger=scale.connect_stagger_ms / 1000,
        progress=progress,
        label="W5: create user + token",
        warmup=100,
    )


# -- W3: history ------------------------------------------------------------------------------------


def _relative(link: str) -> str:
    parts = urlsplit(link)
    query = dict(parse_qsl(parts.query))
    query["api-version"] = CHAT_API
    return f"{parts.path}?{urlencode(query)}"


async def history(target: Target, scale: Scale, progress: Progress, thread_id: str, token: str) -> dict[str, Any]:
    conn = Connection(target.host, target.port)
    await conn.open()
    headers = bearer(token)
    first = f"/chat/threads/{thread_id}/messages?maxPageSize=50&api-version={CHAT_API}"
    request = encode_request("GET", first, target.authority, headers)
    page = await conn.request("GET", first, headers=headers)
    if len(page["value"]) != 50:
        raise RuntimeError(f"newest page has {len(page['value'])} messages, expected 50")
    for _ in range(20):
        await conn.send(request)
    advance = progress("W3: newest page (1 connection)", scale.w3_samples)
    latencies = []
    clock = time.perf_counter
    stop_at = clock() + scale.deadline / 2
    for _ in range(scale.w3_samples):
        t0 = clock()
        status, _ = await conn.send(request)
        latencies.append(clock() - t0)
        if status != 200:
            raise RuntimeError(f"list_messages answered {status}")
        advance(1)
        if clock() > stop_at:
            break

    stop_at = clock() + scale.deadline
    advance = progress(f"W3: page through {scale.w3_page_through:,}", scale.w3_page_through)
    page_latencies: list[float] = []
    seen = 0
    target_path: str | None = first
    start = clock()
    while target_path and seen < scale.w3_page_through and clock() < stop_at:
        t0 = clock()
        page = await conn.request("GET", target_path, headers=headers | {"Accept": "*/*"})
        page_latencies.append(clock() - t0)
        seen += len(page["value"])
        advance(len(page["value"]))
        link = page.get("nextLink")
        target_path = _relative(link) if link else None
    paging_seconds = clock() - start
    await conn.close()
    return {
        "thread_messages": scale.w3_messages,
        "newest_page": {"samples": len(latencies), "page_size": 50, "latency_ms": percentiles(latencies)},
        "page_through": {
            "messages": seen,
            "pages": len(page_latencies),
            "page_size": 50,
            "seconds": round(paging_seconds, 3),
            "messages_per_s": round(seen / paging_seconds, 1),
            "page_latency_ms": percentiles(page_latencies),
        },
        "_latencies": latencies,
        "_page_latencies": page_latencies,
    }


# -- W6: search -------------------------------------------------------------------------------------

W6_CASES = (("rare", "thread"), ("rare", "all"), ("common", "thread"), ("common", "all"))


async def search(
    target: Target, scale: Scale, progress: Progress, *, user_id: str, thread_id: str, words: dict[str, str]
) -> dict[str, Any]:
    """Search p50/p99 over the W4 database, as one of its users (a member of 1 thread in 100): a rare
    and a common word, in one of the user's threads and across all of them, first page of 50 by
    relevance, one connection, `w6_samples` searches per case (and a deadline)."""
    session = await target.session()
    token = await session.issue_token(user_id)
    conn = session.conn
    headers = bearer(token)
    figures: dict[str, Any] = {"words": words, "page_size": 50}
    clock = time.perf_counter
    for frequency, scope in W6_CASES:
        query = urlencode({"q": words[frequency], "maxPageSize": 50, "api-version": CHAT_API})
        path = (
            f"/chat/threads/{thread_id}/messages:search?{query}"
            if scope == "thread"
            else f"/chat/messages:search?{query}"
        )
        first = await conn.request("GET", path, headers=headers)
        request = encode_request("GET", path, target.authority, headers)
        for _ in range(5):
            await conn.send(request)
        advance = progress(
            f"W6: search, {frequency} word, {'one thread' if scope == 'thread' else 'all threads'}", scale.w6_samples
        )
        latencies: list[float] = []
        stop_at = clock() + scale.deadline / 4
        for _ in range(scale.w6_samples):
            t0 = clock()
            status, _ = await conn.send(request)
            latencies.append(clock() - t0)
            if status != 200:
                raise RuntimeError(f"search answered {status}")
            advance(1)
            if clock() > stop_at:
                break
        figures[f"{frequency}_{scope}"] = {
            "samples": len(latencies),
            "first_page_results": len(first["value"]),
            "more_pages": "nextLink" in first,
            "latency_ms": percentiles(latencies),
            "_latencies": latencies,
        }
    await conn.close()
    return figures


# -- W2: fan-out ------------------------------------------------------------------------------------


async def probe_events(target: Target, token: str) -> str | None:
    """Which real-time endpoint the server offers: "sse", "ws" or None."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://{target.authority}"
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        try:
            async with http.get(f"{base}/chat/events?api-version={CHAT_API}", headers=headers) as reply:
                if reply.status == 200 and reply.headers.get("content-type", "").startswith("text/event-stream"):
                    return "sse"
        except (TimeoutError, aiohttp.ClientError):
            pass
        try:
            async with http.ws_connect(f"{base}/chat/events/ws?api-version={CHAT_API}", headers=headers):
                return "ws"
        except (TimeoutError, aiohttp.ClientError):
            pass
    return None


_MARKER = re.compile(rb"w2m:(\d+) ")


def _markers(data: bytes) -> list[int]:
    return [int(m) for m in _MARKER.findall(data)]


_TROUTER_ID = re.compile(r'^3:::\{"id":(\d+)')


async def probe_trouter(target: Target, token: str) -> bool:
    """Whether the server answers the Trouter discovery (`GET /chat/config/realTimeNotifications`)."""
    import aiohttp

    url = f"http://{target.authority}/chat/config/realTimeNotifications?api-version=2024-09-01"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        try:
            async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as reply:
                return reply.status == 200 and "trouterServiceUrl" in await reply.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return False


async def fan_out(
    target: Target,
    scale: Scale,
    progress: Progress,
    *,
    clients: int | None = None,
    kind: str | None = None,
    label: str = "W2",
) -> dict[str, Any]:
    """W2 (and each W2S round): `clients` subscribers (default W2's) over `scale.w2_threads` threads, a paced
    phase for delivery latency and a burst phase for deliveries/s.

    `kind` None probes ("sse", else "ws"); "sse" or "trouter" forces the transport. A Trouter
    client does what `@azure/communication-signaling` does (docs/signaling.md): allocate
    (`POST /v4/a`), socket.io handshake, WebSocket, wait for `trouter.connected`, then answer each
    pushed `3:::` request with a 200 response, as the JS client does.
    """
    import aiohttp
    import yarl

    count = clients or scale.w2_subscribers
    users = await create_users(target, count, progress, f"{label}: users")
    if kind is None:
        kind = await probe_events(target, users[0][1])
        if kind is None:
            return {"available": False, "reason": "GET /chat/events (SSE) and /chat/events/ws answer no stream"}
    elif kind == "trouter" and not await probe_trouter(target, users[0][1]):
        return {"available": False, "reason": "GET /chat/config/realTimeNotifications answers no Trouter service"}
    size = count // scale.w2_threads
    threads = await create_threads(target, users, scale.w2_threads, size, progress, f"{label}: threads")

    sent_at: dict[int, float] = {}
    delivery_latencies: list[float] = []
    received = 0
    clock = time.perf_counter
    last_receipt = 0.0

    def on_data(data: bytes) -> None:
        nonlocal received, last_receipt
        now = clock()
        for marker in _markers(data):
            t0 = sent_at.get(marker)
            if t0 is not None:
                delivery_latencies.append(now - t0)
                received += 1
                last_receipt = now

    connector = aiohttp.TCPConnector(limit=0)
    http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
    base = f"http://{target.authority}"
    ready = 0
    advance_connect = progress(f"{label}: {count} {kind} subscribers", count)
    cor_id = str(uuid.uuid4())

    async def subscribe(token: str) -> None:
        nonlocal ready
        headers = {"Authorization": f"Bearer {token}"}
        if kind == "sse":
            async with http.get(f"{base}/chat/events?api-version={CHAT_API}", headers=headers) as reply:
                if reply.status != 200:
                    raise RuntimeError(f"SSE subscribe answered {reply.status}")
                ready += 1
                advance_connect(1)
                # Whole chunks, not lines: the generator must not be the bottleneck. A chunk may end
                # inside an event, so the tail after the last blank line waits for the next chunk.
                pending = b""
                async for chunk in reply.content.iter_any():
                    pending += chunk
                    cut = pending.rfind(b"\n\n") + 2
                    if cut > 1:
                        on_data(pending[:cut])
                        pending = pending[cut:]
        elif kind == "trouter":
            epid = str(uuid.uuid4())
            skype = {"X-Skypetoken": token}
            query = {"cor_id": cor_id, "con_num": f"{int(time.time() * 1000)}_1", "epid": epid}
            async with http.post(f"{base}/v4/a", params=query, headers=skype | {"Content-Type": "text/plain"}) as reply:
                if reply.status != 200:
                    raise RuntimeError(f"Trouter allocation answered {reply.status}")
                allocation = await reply.json(content_type=None)
            params = {**allocation["connectparams"], "v": "v4", "tc": "{}", "timeout": "40", "auth": "true"}
            params |= {"epid": epid, "ccid": allocation["ccid"], "cor_id": cor_id}
            encoded = urlencode(params)
            url = yarl.URL(f"{base}/socket.io/1/?{encoded}&t=1", encoded=True)
            async with http.get(url, headers=skype) as reply:
                if reply.status != 200:
                    raise RuntimeError(f"socket.io handshake answered {reply.status}")
                sid = (await reply.text()).split(":")[0]
            url = yarl.URL(f"ws://{target.authority}/socket.io/1/websocket/{sid}?{encoded}", encoded=True)
            async with http.ws_connect(url, autoping=True, max_msg_size=0) as ws:
                first = await asyncio.wait_for(ws.receive_str(), 10)
                second = await asyncio.wait_for(ws.receive_str(), 10)
                if first != "1::" or "trouter.connected" not in second:
                    raise RuntimeError(f"Trouter WebSocket opened with {first!r}, {second[:80]!r}")
                ready += 1
                advance_connect(1)
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    text = msg.data
                    if not text.startswith("3:::"):
                        continue  # heartbeats (2::), acks
                    on_data(text.encode())
                    found = _TROUTER_ID.match(text)
                    if found:
                        await ws.send_str(f'3:::{{"id":{found.group(1)},"status":200,"headers":{{}},"body":""}}')
        else:
            async with http.ws_connect(f"{base}/chat/events/ws?api-version={CHAT_API}", headers=headers) as ws:
                ready += 1
                advance_connect(1)
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        on_data(msg.data.encode())

    subscribers = []
    for i, (_, token) in enumerate(users[: size * scale.w2_threads]):
        subscribers.append(asyncio.create_task(subscribe(token)))
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    connect_started = clock()
    deadline = clock() + 60
    while ready < len(subscribers) and clock() < deadline:
        if any(t.done() for t in subscribers):
            break
        await asyncio.sleep(0.05)
    failed = [t for t in subscribers if t.done()]
    if failed:
        exc = failed[0].exception()
        for t in subscribers:
            t.cancel()
        await http.close()
        raise RuntimeError(f"{label} subscriber failed: {exc!r}")
    if ready < len(subscribers):
        for t in subscribers:
            t.cancel()
        await http.close()
        raise RuntimeError(f"{label}: only {ready}/{len(subscribers)} subscribers connected in 60 s")
    connect_seconds = clock() - connect_started
    await asyncio.sleep(1.0)

    marker_counter = iter(range(1, 10**9))

    async def sender(
        thread_id: str,
        members: list[tuple[str, str]],
        count: int,
        interval: float,
        offset: float,
        advance: Callable[[int], None],
    ) -> None:
        conn = Connection(target.host, target.port)
        await conn.open()
        next_at = clock() + offset
        for k in range(count):
            marker = next(marker_counter)
            _, token = members[k % len(members)]
            request = send_message_request(target.authority, thread_id, token, f"fan-out w2m:{marker} ")
            if interval:
                await asyncio.sleep(max(0.0, next_at - clock()))
                next_at += interval
            sent_at[marker] = clock()
            status, body = await conn.send(request)
            if status != 201:
                raise RuntimeError(f"send_message answered {status}: {body[:200]!r}")
            advance(1)
        await conn.close()

    async def phase(name: str, per_thread: int, interval: float) -> dict[str, Any]:
        nonlocal received, last_receipt
        delivery_latencies.clear()
        received = 0
        expected = per_thread * len(threads) * size
        advance = progress(f"{label} {name}: send", per_thread * len(threads))
        meter = cpu_meter()
        start = clock()
        await asyncio.wait_for(
            asyncio.gather(
                # the threads take turns, so the combined rate is steady rather than in bursts of four
                *(
                    sender(t, m, per_thread, interval, i * interval / len(threads), advance)
                    for i, (t, m) in enumerate(threads)
                )
            ),
            timeout=scale.deadline,
        )
        sent_done = clock()
        wait_until = sent_done + 30
        while received < expected and clock() < wait_until:
            await asyncio.sleep(0.05)
        elapsed = (last_receipt or clock()) - start
        return {
            "messages": per_thread * len(threads),
            "send_interval_s": interval,
            "deliveries_expected": expected,
            "deliveries_received": received,
            "seconds": round(elapsed, 3),
            "send_seconds": round(sent_done - start, 3),
            "deliveries_per_s": round(received / elapsed, 1) if elapsed else 0.0,
            "delivery_latency_ms": percentiles(list(delivery_latencies)),
            "client_cpu": meter(),
            "_latencies": list(delivery_latencies),
        }

    try:
        paced = await phase("paced", scale.w2_paced_per_thread, 1.0 / scale.w2_paced_rate)
        burst = await phase("burst", scale.w2_burst_per_thread, 0.0)
    finally:
        for t in subscribers:
            t.cancel()
        await asyncio.gather(*subscribers, return_exceptions=True)
        await http.close()
    return {
        "available": True,
        "transport": kind,
        "subscribers": len(subscribers),
        "connect_seconds": round(connect_seconds, 3),
        "threads": len(threads),
        "participants_per_thread": size,
        "paced": paced,
        "burst": burst,
    }


async def signaling_fan_out(target: Target, scale: Scale, progress: Progress) -> dict[str, Any]:
    """W2S: W2 with `w2s_clients` subscribers, once over SSE (`/chat/events`) and once over the ACS
    browser channel (Trouter), alternating for `w2s_rounds` rounds in one server run; fresh users
    and threads each round. Per transport: the rounds, and the paced/burst figures pooled over them."""
    rounds: list[dict[str, Any]] = []
    for i in range(scale.w2s_rounds):
        for kind in ("sse", "trouter"):
            label = f"W2S {kind} {i + 1}/{scale.w2s_rounds}"
            figures = await fan_out(target, scale, progress, clients=scale.w2s_clients, kind=kind, label=label)
            if not figures.get("available"):
                return figures | {"transport": kind}
            rounds.append(figures | {"round": i + 1})
    pooled: dict[str, Any] = {}
    for kind in ("sse", "trouter"):
        mine = [r for r in rounds if r["transport"] == kind]
        entry: dict[str, Any] = {"subscribers": mine[0]["subscribers"], "threads": mine[0]["threads"]}
        for name in ("paced", "burst"):
            latencies = [x for r in mine for x in r[name]["_latencies"]]
            entry[name] = {
                "deliveries_expected": sum(r[name]["deliveries_expected"] for r in mine),
                "deliveries_received": sum(r[name]["deliveries_received"] for r in mine),
                "deliveries_per_s_by_round": [r[name]["deliveries_per_s"] for r in mine],
                "p99_ms_by_round": [r[name]["delivery_latency_ms"]["p99"] for r in mine],
                "delivery_latency_ms": percentiles(latencies),
                "client_cpu_by_round": [r[name]["client_cpu"] for r in mine],
                "_latencies": latencies,
            }
        entry["connect_seconds_by_round"] = [r["connect_seconds"] for r in mine]
        pooled[kind] = entry
    return {
        "available": True,
        "clients": scale.w2s_clients,
        "threads": scale.w2_threads,
        "order": [f"{r['transport']} {r['round']}" for r in rounds],
        "paced_rate_per_thread": scale.w2_paced_rate,
        "sse": pooled["sse"],
        "trouter": pooled["trouter"],
        "rounds": rounds,
    }


def strip_private(value: Any) -> Any:
    """The result without the raw series (keys starting with "_")."""
    if isinstance(value, dict):
        return {k: strip_private(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [strip_private(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(strip_private(value), indent=2, default=str)
