"""One frozen `Settings` object, built from `HUBBUB_*` environment variables and CLI flags."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Service limits (spec §12). Every field has a `HUBBUB_<NAME>` environment variable."""

    max_participants: int = 250
    max_participants_per_batch: int = 200
    max_page_size: int = 200
    default_page_size: int = 100
    max_message_bytes: int = 28 * 1024
    max_topic_length: int = 250
    max_metadata_bytes: int = 1024
    typing_participant_limit: int = 20
    max_body_bytes: int = 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to know, passed explicitly (no global settings object)."""

    data_dir: Path = Path(".hubbub")
    host: str = "127.0.0.1"
    http_port: int | None = 8080
    https_port: int | None = 8443
    database_url: str | None = None
    """A database server's URL; unset: the embedded database file in the data directory (README,
    Configuration). Which engine a URL selects is the store's business (`store.engines`)."""
    redis_url: str | None = None
    access_key: str | None = None
    """Base64 HMAC key. Default: generated once and kept in the data directory."""
    public_host: str | None = None
    """Host name written into connection strings (default: `host`)."""
    rate_limit: bool = False
    hmac_clock_skew_seconds: int = 15 * 60
    identity_cache_seconds: float = 1.0
    """How long a node trusts its cached token generation of an identity when revocations on other
    nodes do not reach it through the bus (memory bus, or Redis unreachable); see docs/events.md."""
    idempotency_ttl_seconds: int = 24 * 3600
    retention_interval_seconds: float = 60.0
    retention_day_seconds: int = 86_400
    """Length of one retention-policy "day". Tests shorten it to see threads expire."""
    database_synchronous: str = "NORMAL"
    """The embedded database's durability: NORMAL survives a process crash (kill -9); FULL also
    survives power loss. A database server has its own setting for this."""
    log_level: str = "info"
    log_format: str = "text"
    """`text` (human-readable) or `json`: one JSON object per line, with the request id (docs/deploy.md)."""
    metrics: bool = False
    """Serve `GET /metrics` (Prometheus text format) on the server's ports (docs/deploy.md)."""
    health_timeout_seconds: float = 2.0
    """How long `GET /health/ready` waits for the database and Redis before it answers 503."""
    certfile: Path | None = None
    """PEM certificate (chain) for HTTPS instead of the generated one; needs `keyfile`."""
    keyfile: Path | None = None
    """PEM private key of `certfile`."""
    events_backlog: int = 10_000
    """Events kept for replay after a reconnect (per deployment: one Redis stream, or per process)."""
    events_heartbeat_seconds: float = 15.0
    """Idle seconds before an event stream sends a heartbeat frame."""
    events_queue_size: int = 1_000
    """Events queued per connection before a slow client is disconnected (it resumes from the backlog)."""
    events_stream: str = "hubbub:events"
    """Redis Stream key; give deployments that share one Redis different keys."""
    gateway: bool = True
    """Mount the simple REST API (/create_users, ...) and the chat page at `/` (docs/gateway.md)."""
    gateway_admin_key: str | None = None
    """When set, creating identities through the gateway needs it in an `X-Admin-Key` header."""
    cors_origins: str = "*"
    """Browser origins allowed to call the APIs cross-origin: `*`, or a comma-separated list."""
    webhooks: bool = True
    """Deliver webhook events from this process (docs/webhooks.md); every node may. Off, the node
    still records its changes in the outbox while subscriptions exist, for the others to deliver."""
    webhook_concurrency: int = 8
    """Webhook requests in flight at once per process. httpx's CPU cost per request grows with the
    connections in its pool (about 0.7 ms at 1-4, 1 ms at 8, 2 ms at 32 on the bench machine), so
    more is only worth it for slow endpoints."""
    webhook_timeout_seconds: float = 30.0
    """How long one webhook request (or handshake) may take before it counts as failed."""
    webhook_retry_seconds: float = 10.0
    """First retry delay of a failed delivery; doubles per attempt (with jitter), at most 10 minutes."""
    webhook_poll_seconds: float = 1.0
    """How often a node re-reads the subscriptions and looks for work committed by other nodes."""
    events_topic: str = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/hubbub"
        "/providers/Microsoft.Communication/communicationServices/hubbub"
    )
    """The `topic` (Event Grid) / `source` (CloudEvents) of the webhook events: an ACS resource id."""
    limits: Limits = dataclasses.field(default_factory=Limits)

    @property
    def connect_host(self) -> str:
        """The host clients connect to: `public_host`, else `host` (loopback for a wildcard address)."""
        return self.public_host or ("127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host)


_ENV_FIELDS: dict[str, str] = {
    "HUBBUB_DATA_DIR": "data_dir",
    "HUBBUB_HOST": "host",
    "HUBBUB_HTTP_PORT": "http_port",
    "HUBBUB_HTTPS_PORT": "https_port",
    "HUBBUB_DATABASE_URL": "database_url",
    "HUBBUB_REDIS_URL": "redis_url",
    "HUBBUB_ACCESS_KEY": "access_key",
    "HUBBUB_PUBLIC_HOST": "public_host",
    "HUBBUB_RATE_LIMIT": "rate_limit",
    "HUBBUB_HMAC_CLOCK_SKEW_SECONDS": "hmac_clock_skew_seconds",
    "HUBBUB_IDENTITY_CACHE_SECONDS": "identity_cache_seconds",
    "HUBBUB_IDEMPOTENCY_TTL_SECONDS": "idempotency_ttl_seconds",
    "HUBBUB_RETENTION_INTERVAL_SECONDS": "retention_interval_seconds",
    "HUBBUB_RETENTION_DAY_SECONDS": "retention_day_seconds",
    "HUBBUB_DATABASE_SYNCHRONOUS": "database_synchronous",
    "HUBBUB_LOG_LEVEL": "log_level",
    "HUBBUB_LOG_FORMAT": "log_format",
    "HUBBUB_METRICS": "metrics",
    "HUBBUB_HEALTH_TIMEOUT_SECONDS": "health_timeout_seconds",
    "HUBBUB_CERTFILE": "certfile",
    "HUBBUB_KEYFILE": "keyfile",
    "HUBBUB_GATEWAY": "gateway",
    "HUBBUB_GATEWAY_ADMIN_KEY": "gateway_admin_key",
    "HUBBUB_CORS_ORIGINS": "cors_origins",
    "HUBBUB_EVENTS_BACKLOG": "events_backlog",
    "HUBBUB_EVENTS_HEARTBEAT_SECONDS": "events_heartbeat_seconds",
    "HUBBUB_EVENTS_QUEUE_SIZE": "events_queue_size",
    "HUBBUB_EVENTS_STREAM": "events_stream",
    "HUBBUB_WEBHOOKS": "webhooks",
    "HUBBUB_WEBHOOK_CONCURRENCY": "webhook_concurrency",
    "HUBBUB_WEBHOOK_TIMEOUT_SECONDS": "webhook_timeout_seconds",
    "HUBBUB_WEBHOOK_RETRY_SECONDS": "webhook_retry_seconds",
    "HUBBUB_WEBHOOK_POLL_SECONDS": "webhook_poll_seconds",
    "HUBBUB_EVENTS_TOPIC": "events_topic",
}
SETTINGS_ENV_VARS: dict[str, str] = {name: var for var, name in _ENV_FIELDS.items()}
"""Settings field -> its `HUBBUB_*` variable (the CLI names it in each option's help)."""


def _convert(value: str, target: Any) -> Any:
    kind = str(target)
    if "bool" in kind:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if "int" in kind:
        return int(value) if value.strip() else None
    if "float" in kind:
        return float(value)
    if "Path" in kind:
        return Path(value)
    return value or None


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build `Settings` from `HUBBUB_*` variables; keyword overrides (CLI flags) win when not None.

    Raises `ValueError` with the variable's name when a value does not parse.
    """
    env = os.environ if environ is None else environ
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for var, name in _ENV_FIELDS.items():
        if var in env:
            try:
                values[name] = _convert(env[var], fields[name])
            except ValueError as exc:
                raise ValueError(f"{var}={env[var]!r} is not valid: {exc}") from exc
    limit_values: dict[str, Any] = {}
    for field in dataclasses.fields(Limits):
        var = "HUBBUB_" + field.name.upper()
        if var in env:
            try:
                limit_values[field.name] = int(env[var])
            except ValueError as exc:
                raise ValueError(f"{var}={env[var]!r} is not an integer") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    if limit_values:
        values["limits"] = Limits(**limit_values)
    return Settings(**values)
