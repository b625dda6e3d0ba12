"""Prometheus metrics (`HUBBUB_METRICS`): what they are, and `GET /metrics`.

Off by default: `prometheus_client` is then not even imported and no request pays for it. When on,
`/metrics` is served on the server's own ports. With `--workers N` each worker writes its values to
memory-mapped files in `PROMETHEUS_MULTIPROC_DIR` (the runner makes a fresh one per start) and
whichever worker answers a scrape adds up every worker's files, so one scrape sees the whole server.

Request metrics are labelled with the ACS operation name (`operations.py`), never a raw path.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub import __version__
from hubbub.server.events.hub import Event, HubObserver
from hubbub.server.store import outbox as outbox_store
from hubbub.server.store.engine import Database, DatabaseObserver
from hubbub.server.webhooks.worker import DeliveryObserver

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TRANSPORTS = ("sse", "websocket", "signaling")
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
FLUSH_SECONDS = 0.25
"""How stale a request count may be in another worker's scrape (this worker's is always current)."""
QUEUE_READ_SECONDS = 1.0
"""How long a scrape waits for the webhook queue's counts; past it the gauge keeps its last value."""
WEBHOOK_OUTCOMES = ("delivered", "retried", "dead_lettered")
log = logging.getLogger("hubbub.metrics")


def multiprocess() -> bool:
    """Whether this process writes its values for a multi-worker scrape (set by the runner)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """The server's metrics, in their own registry (one per app: tests run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "hubbub_http_requests_total",
            "Requests and WebSocket connections answered, by ACS operation and HTTP status.",
            ["operation", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "hubbub_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by ACS operation (event streams,"
            " which last as long as their connection, are left out).",
            ["operation"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.streams = Gauge(
            "hubbub_event_streams",
            "Open event streams by transport: sse, websocket (/chat/events) and signaling (Trouter).",
            ["transport"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        for transport in TRANSPORTS:
            self.streams.labels(transport)
        self.published = Counter(
            "hubbub_events_published_total", "Chat events published by this server.", registry=registry
        )
        self.delivered = Counter(
            "hubbub_events_delivered_total",
            "Chat events handed to a connected stream (one per event per connection).",
            registry=registry,
        )
        self.overflows = Counter(
            "hubbub_event_stream_overflows_total",
            "Event streams closed because the client fell a full queue behind (it resumes from the backlog).",
            registry=registry,
        )
        self.bus_lag = Histogram(
            "hubbub_event_bus_lag_seconds",
            "Time from the shared bus (Redis) taking an event to this node reading it back; no samples"
            " with the in-memory bus.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.db_transactions = Histogram(
            "hubbub_db_transaction_duration_seconds",
            "Database transactions, from taking a connection to giving it back, by kind (read, write;"
            " on the embedded database one write is a whole group-commit batch).",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        for kind in ("read", "write"):
            self.db_transactions.labels(kind)
        self.db_connections = Gauge(
            "hubbub_db_connections_in_use",
            "Database connections in use (a database server: taken from the pool; the embedded database: its"
            " writer and readers at work).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.db_batch = Histogram(
            "hubbub_db_group_commit_size",
            "Write transactions made durable by one commit (the embedded database's group commit; a database"
            " server commits each alone).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.webhook_events = Counter(
            "hubbub_webhook_events_total",
            "Webhook events by how their delivery attempt ended: delivered, retried (the receiver failed"
            " and it will be sent again) or dead_lettered (no more attempts).",
            ["outcome"],
            registry=registry,
        )
        for outcome in WEBHOOK_OUTCOMES:
            self.webhook_events.labels(outcome)
        self.webhook_requests = Histogram(
            "hubbub_webhook_request_duration_seconds",
            "Webhook delivery requests (one batch of events each), from sending to the receiver's answer or failure.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.webhook_queue = Gauge(
            "hubbub_webhook_queue_depth",
            "Webhook work waiting, read from the database at each scrape: outbox (changes not yet turned into"
            " deliveries), pending (deliveries waiting for their first or next attempt, or in flight), dead"
            " (dead-lettered, kept until redelivered or the subscription is deleted).",
            ["state"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.build_info = Gauge(
            "hubbub_build_info",
            "Always 1; the version label says which Hubbub runs.",
            ["version"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.build_info.labels(__version__).set(1)
        self.observer = _EventCounters(self)
        self.database = _DatabaseCounters(self)
        self.webhooks = _WebhookCounters(self)
        self._request_counters: dict[tuple[str, int], Any] = {}
        self._request_durations: dict[str, Any] = {}
        self._pending_counts: dict[tuple[str, int], int] = {}
        self._pending_times: dict[str, list[float]] = {}

    def count_request(self, operation: str, status: int, seconds: float | None) -> None:
        """One answered request (`seconds`: None for an event stream, which is not timed).

        Counted in plain dicts and handed to prometheus_client by `flush` (at each scrape, and
        every `FLUSH_SECONDS` for the other workers' scrapes): its `inc`/`observe` validate and
        take a lock per call, and were most of what metrics cost a request (`bench.compare --env
        HUBBUB_METRICS=1`)."""
        key = (operation, status)
        self._pending_counts[key] = self._pending_counts.get(key, 0) + 1
        if seconds is not None:
            times = self._pending_times.get(operation)
            if times is None:
                self._pending_times[operation] = [seconds]
            else:
                times.append(seconds)

    def flush(self) -> None:
        """Move the requests counted since the last flush into the prometheus_client metrics."""
        self.observer.flush()
        self.database.flush()
        counts, self._pending_counts = self._pending_counts, {}
        times, self._pending_times = self._pending_times, {}
        for (operation, status), count in counts.items():
            counter = self._request_counters.get((operation, status))
            if counter is None:
                counter = self._request_counters[(operation, status)] = self.requests.labels(operation, str(status))
            counter.inc(count)
        for operation, values in times.items():
            duration = self._request_durations.get(operation)
            if duration is None:
                duration = self._request_durations[operation] = self.duration.labels(operation)
            _observe_all(duration, values)

    async def flush_periodically(self) -> None:
        """`flush` every `FLUSH_SECONDS` until cancelled (the app's lifespan runs it)."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()

    async def read_queue(self, db: Database) -> None:
        """Set the webhook queue gauge from the database (a bounded wait; on failure it keeps its value)."""
        try:
            depth = await asyncio.wait_for(db.read(outbox_store.queue_depth), QUEUE_READ_SECONDS)
        except Exception as exc:  # the database is down or slow: /health/ready reports that; the scrape goes on
            log.warning("metrics: webhook queue depth not read: %s", exc)
            return
        for state, count in depth.items():
            self.webhook_queue.labels(state).set(count)

    def exposition(self) -> bytes:
        """The text format of every metric (of every worker, in multiprocess mode)."""
        self.flush()
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client leaves it untyped
            return generate_latest(registry)
        return generate_latest(self.registry)


def _observe_all(histogram: Any, values: list[float]) -> None:
    """`histogram.observe(v)` for every value, with one increment per bucket instead of one per value.

    Uses the child's bucket values as prometheus_client 0.x lays them out (`_upper_bounds`,
    `_buckets`, `_sum`: what its own `observe` updates); observes one by one if that ever changes.
    """
    bounds, buckets, total = (getattr(histogram, name, None) for name in ("_upper_bounds", "_buckets", "_sum"))
    if not (isinstance(bounds, list) and isinstance(buckets, list) and total is not None):
        for value in values:
            histogram.observe(value)
        return
    counts: dict[int, int] = {}
    for value in values:
        index = bisect.bisect_left(bounds, value)
        counts[index] = counts.get(index, 0) + 1
    for index, count in counts.items():
        buckets[index].inc(count)
    total.inc(sum(values))


class _EventCounters(HubObserver):
    """Counts what the event hub does into the metrics: the per-event figures in plain integers and
    a list that `flush` hands on (all on the event loop's thread), the rare overflows at once."""

    def __init__(self, metrics: Metrics) -> None:
        self._published = metrics.published
        self._delivered = metrics.delivered
        self._overflows = metrics.overflows
        self._bus_lag = metrics.bus_lag
        self.pending_published = 0
        self.pending_delivered = 0
        self.pending_lags: list[float] = []
        """One per event read back from the shared bus: with several workers, every worker reads every event."""

    def published(self, event: Event) -> None:
        self.pending_published += 1

    def delivered(self, count: int) -> None:
        self.pending_delivered += count

    def overflowed(self) -> None:
        self._overflows.inc()

    def bus_lag(self, seconds: float) -> None:
        self.pending_lags.append(seconds)

    def flush(self) -> None:
        published, delivered, lags = self.pending_published, self.pending_delivered, self.pending_lags
        self.pending_published = self.pending_delivered = 0
        self.pending_lags = []
        if published:
            self._published.inc(published)
        if delivered:
            self._delivered.inc(delivered)
        if lags:
            _observe_all(self._bus_lag, lags)


class _DatabaseCounters(DatabaseObserver):
    """Times what the database engine does into the metrics.

    The engine calls it from its own threads (the embedded database's writer and readers) once per
    transaction: each call appends to a deque (thread-safe, lock-free, no validation) and
    `flush` hands what came to prometheus_client, whose calls each take a lock."""

    def __init__(self, metrics: Metrics) -> None:
        self._transactions = {kind: metrics.db_transactions.labels(kind) for kind in ("read", "write")}
        self._connections = metrics.db_connections
        self._batch = metrics.db_batch
        self._pending: collections.deque[tuple[str, float]] = collections.deque()
        self._sizes: collections.deque[int] = collections.deque()
        self._deltas: collections.deque[int] = collections.deque()

    def transaction(self, kind: str, seconds: float) -> None:
        self._pending.append((kind, seconds))

    def batch(self, size: int) -> None:
        self._sizes.append(size)

    def connections(self, delta: int) -> None:
        self._deltas.append(delta)

    def flush(self) -> None:
        pending, sizes, deltas = self._pending, self._sizes, self._deltas
        times: dict[str, list[float]] = {}
        for _ in range(len(pending)):  # what came before this flush; later calls wait for the next
            kind, seconds = pending.popleft()
            times.setdefault(kind, []).append(seconds)
        for kind, values in times.items():
            _observe_all(self._transactions[kind], values)
        if sizes:
            _observe_all(self._batch, [float(sizes.popleft()) for _ in range(len(sizes))])
        delta = sum(deltas.popleft() for _ in range(len(deltas)))
        if delta:
            self._connections.inc(delta)


class _WebhookCounters(DeliveryObserver):
    """Counts how webhook sends end into the metrics (event-loop thread only; a send is rarer than a request)."""

    def __init__(self, metrics: Metrics) -> None:
        self._events = {outcome: metrics.webhook_events.labels(outcome) for outcome in WEBHOOK_OUTCOMES}
        self._requests = metrics.webhook_requests

    def sent(self, seconds: float) -> None:
        self._requests.observe(seconds)

    def events(self, outcome: str, count: int) -> None:
        self._events[outcome].inc(count)


async def scrape(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    service = getattr(request.app.state, "hubbub", None)
    if service is not None:
        await metrics.read_queue(service.db)
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)


routes = [Route("/metrics", scrape, methods=["GET"])]
