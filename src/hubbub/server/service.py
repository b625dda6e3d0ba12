"""The running service: settings plus the parts every endpoint uses, and how they are started.

Endpoints reach it through `service_of(request)`; `app.py` starts it in the lifespan. It sits below
the endpoints (they import it) and above the rules and the store (it imports them).
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from starlette.requests import HTTPConnection

from hubbub.server import datadir
from hubbub.server.events import EventBus, bus_for_settings
from hubbub.server.ratelimit import RateLimiter
from hubbub.server.rules.identities import IdentityService
from hubbub.server.rules.messages import MessageService
from hubbub.server.rules.participants import ParticipantService
from hubbub.server.rules.search import SearchService
from hubbub.server.rules.threads import ThreadService
from hubbub.server.settings import Settings
from hubbub.server.store import Database, open_database
from hubbub.server.store import subscriptions as subscription_store
from hubbub.server.tokens import TokenService
from hubbub.server.webhooks.outbox import Outbox
from hubbub.server.webhooks.worker import DeliveryWorker


@dataclasses.dataclass
class Hubbub:
    """The running service: settings plus the parts every endpoint uses."""

    settings: Settings
    db: Database
    bus: EventBus
    tokens: TokenService
    identities: IdentityService
    threads: ThreadService
    messages: MessageService
    participants: ParticipantService
    search: SearchService
    limiter: RateLimiter
    key_bytes: bytes
    outbox: Outbox
    webhooks: DeliveryWorker
    """Started by the app's lifespan when `settings.webhooks` is on."""


def service_of(conn: HTTPConnection) -> Hubbub:
    """The service of the app serving this request or WebSocket (set by the lifespan)."""
    return conn.app.state.hubbub  # type: ignore[no-any-return]


async def start_service(settings: Settings) -> Hubbub:
    """Open the database (schema up to date), start the bus, and build the rules on top of them."""
    access_key = settings.access_key or datadir.ensure_access_key(settings.data_dir)
    db = await open_database(settings)
    bus = bus_for_settings(settings)
    await bus.start()
    tokens = TokenService(access_key)
    outbox = Outbox(active=await db.read(subscription_store.count_subscriptions) > 0)
    rules: dict[str, Any] = {
        "retention_day_seconds": settings.retention_day_seconds,
        "idempotency_ttl_seconds": settings.idempotency_ttl_seconds,
        "outbox": outbox,
    }
    return Hubbub(
        settings=settings,
        db=db,
        bus=bus,
        tokens=tokens,
        identities=IdentityService(db, tokens, cache_seconds=settings.identity_cache_seconds, bus=bus),
        threads=ThreadService(db, bus, settings.limits, **rules),
        messages=MessageService(db, bus, settings.limits, **rules),
        participants=ParticipantService(db, bus, settings.limits, **rules),
        search=SearchService(db, bus, settings.limits, **rules),
        limiter=RateLimiter(settings.rate_limit),
        key_bytes=base64.b64decode(access_key),
        outbox=outbox,
        webhooks=DeliveryWorker(db, outbox, settings),
    )
