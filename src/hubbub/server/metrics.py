"""Prometheus metrics (`HUBBUB_METRICS`): what they are, and `GET /metrics`.

Off by default: `prometheus_client` is then not even imported and no request pays for it. When on,
`/metrics` is served on the server's own ports. With `--workers N` each worker writes its values to
memory-mapped files in `PROMETHEUS_MULTIPROC_DIR` (the runner makes a fresh one per start) and
whichever worker answers a scrape adds up every worker's files, so one scrape sees the whole server.

Request metrics are labelled with the ACS operation name (`operations.py`), never a raw path.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubbub import __version__
from hubbub.server.events.hub import Event, HubObserver
from hubbub.server.store.engine import DatabaseObserver

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TRANSPORTS = ("sse", "websocket", "signaling")
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


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
        self._request_counters: dict[tuple[str, int], Any] = {}
        self._request_durations: dict[str, Any] = {}

    def count_request(self, operation: str, status: int, seconds: float | None) -> None:
        """One answered request (`seconds`: None for an event stream, which is not timed).

        The labelled children are kept here: `labels()` validates and locks on every call, which
        was most of what metrics cost a request (W1: 10 µs of 14, measured with `bench.compare`)."""
        counter = self._request_counters.get((operation, status))
        if counter is None:
            counter = self._request_counters[(operation, status)] = self.requests.labels(operation, str(status))
        counter.inc()
        if seconds is not None:
            duration = self._request_durations.get(operation)
            if duration is None:
                duration = self._request_durations[operation] = self.duration.labels(operation)
            duration.observe(seconds)

    def exposition(self) -> bytes:
        """The text format of every metric (of every worker, in multiprocess mode)."""
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client leaves it untyped
            return generate_latest(registry)
        return generate_latest(self.registry)


class _EventCounters(HubObserver):
    """Counts what the event hub does into the metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._published = metrics.published
        self._delivered = metrics.delivered
        self._overflows = metrics.overflows
        self._bus_lag = metrics.bus_lag

    def published(self, event: Event) -> None:
        self._published.inc()

    def delivered(self, count: int) -> None:
        self._delivered.inc(count)

    def overflowed(self) -> None:
        self._overflows.inc()

    def bus_lag(self, seconds: float) -> None:
        self._bus_lag.observe(seconds)


class _DatabaseCounters(DatabaseObserver):
    """Times what the database engine does into the metrics (thread-safe: prometheus_client is)."""

    def __init__(self, metrics: Metrics) -> None:
        self._transactions = {kind: metrics.db_transactions.labels(kind) for kind in ("read", "write")}
        self._connections = metrics.db_connections
        self._batch = metrics.db_batch

    def transaction(self, kind: str, seconds: float) -> None:
        self._transactions[kind].observe(seconds)

    def batch(self, size: int) -> None:
        self._batch.observe(size)

    def connections(self, delta: int) -> None:
        self._connections.inc(delta)


async def scrape(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)


routes = [Route("/metrics", scrape, methods=["GET"])]
