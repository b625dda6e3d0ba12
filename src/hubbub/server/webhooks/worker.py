"""The delivery worker: one asyncio task per server process that empties the outbox into webhooks.

Each pass: refresh the subscriptions (every poll interval), handshake the ones not yet validated,
expand outbox rows into deliveries, and lease due deliveries into free sending slots. Sends run as
their own tasks (at most `webhook_concurrency` at once), each bounded by the timeout, so a slow or
dead endpoint holds a slot, never the chat API and never the other sends. Outcomes are written as
each send ends; a send cut short by a crash or a stop is retried once its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Coroutine
from typing import Any

import httpx

from hubbub.server.settings import Settings
from hubbub.server.store import Database
from hubbub.server.store import outbox as outbox_store
from hubbub.server.store import subscriptions as subscription_store
from hubbub.server.store.outbox import Delivery, Outcomes
from hubbub.server.store.subscriptions import Subscription
from hubbub.server.webhooks import delivery, eventgrid
from hubbub.server.webhooks.outbox import Outbox

log = logging.getLogger("hubbub.webhooks")
EXPAND_BATCH = 256
HANDSHAKE_RETRY_SECONDS = 5.0
DRAIN_POLLS = 5
PASS_GAP_SECONDS = 0.005
"""The shortest time between two passes (see `_run`)."""
MAX_CLAIM = 1000
"""Deliveries leased in one pass, at most (batching subscriptions take up to a batch per slot)."""


def now_micros() -> int:
    return time.time_ns() // 1000


class DeliveryObserver:
    """Told how webhook sends end, for metrics (`server/metrics.py`). This one ignores it all."""

    def sent(self, seconds: float) -> None:
        """One delivery request (a batch of events) was answered or failed after `seconds`."""

    def events(self, outcome: str, count: int) -> None:
        """`count` events were `delivered`, will be `retried`, or were `dead_lettered`."""


IGNORED = DeliveryObserver()


class DeliveryWorker:
    def __init__(self, db: Database, outbox: Outbox, settings: Settings) -> None:
        self._db = db
        self._outbox = outbox
        self._settings = settings
        self._delivers = settings.webhooks
        """False (`HUBBUB_WEBHOOKS=false`): only keep `outbox.active` current; other nodes deliver."""
        self._subscriptions: dict[str, Subscription] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._handshakes: dict[str, float] = {}
        """Subscription name -> monotonic time of its last handshake attempt."""
        self._outcomes = Outcomes()
        self._draining = 0
        """Finished sends not yet written: the next pass writes them (a crash before it resends them)."""
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.observer: DeliveryObserver = IGNORED
        """Set by the app when metrics are on."""

    @property
    def _slots(self) -> int:
        return self._settings.webhook_concurrency

    def start(self) -> None:
        self._client = delivery.new_client(self._settings.webhook_timeout_seconds)
        self._task = asyncio.create_task(self._run(), name="hubbub-webhooks")

    async def stop(self) -> None:
        """Stop claiming; cut the sends in flight short (their leases expire and they are retried)."""
        for task in [self._task, *self._inflight]:
            if task is not None:
                task.cancel()
        for task in [self._task, *self._inflight]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._client is not None:
            await self._client.aclose()
        if self._outcomes:  # what finished before the stop is not sent again
            with contextlib.suppress(Exception):
                await outbox_store.delivery_pass(
                    self._db, outcomes=self._outcomes, expand=None, expand_limit=0, claim_limit=0, now=0, lease_until=0
                )

    async def _run(self) -> None:
        poll = self._settings.webhook_poll_seconds
        next_refresh = 0.0
        last_pass = 0.0
        while True:
            busy = False
            try:
                if time.monotonic() >= next_refresh:
                    await self._refresh()
                    next_refresh = time.monotonic() + poll
                    self._outbox.pending = True  # other nodes' changes are found by polling
                if self._delivers and (self._subscriptions or self._inflight or self._outcomes or self._draining):
                    last_pass = time.monotonic()
                    busy = await self._pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery pass failed; retrying")
                await asyncio.sleep(poll)
                continue
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._outbox.wake.wait(), max(0.01, next_refresh - time.monotonic()))
                self._outbox.wake.clear()
            # Under load the sends poke the worker all the time: at most one pass per gap lets each
            # pass take the changes of a few milliseconds in one transaction (on the engine with a
            # connection pool, about a third less CPU per send with a subscription, W7). An idle
            # worker passes at once.
            gap = last_pass + PASS_GAP_SECONDS - time.monotonic()
            if gap > 0:
                await asyncio.sleep(gap)

    async def _refresh(self) -> None:
        subs = await self._db.read(subscription_store.list_subscriptions)
        # After the last subscription is gone, keep passing a few polls: rows recorded meanwhile
        # (here or on nodes that had not noticed yet) are dropped, not kept for a future subscription.
        self._draining = DRAIN_POLLS if self._subscriptions else max(0, self._draining - 1)
        self._subscriptions = {s.name: s for s in subs}
        self._outbox.active = bool(subs)
        for sub in subs if self._delivers else []:
            last = self._handshakes.get(sub.name, 0.0)
            if sub.validated_at is None and time.monotonic() - last >= HANDSHAKE_RETRY_SECONDS:
                self._handshakes[sub.name] = time.monotonic()
                self._spawn(self._validate(sub))

    async def _validate(self, sub: Subscription) -> None:
        assert self._client is not None
        problem = await delivery.handshake(self._client, sub, self._settings.events_topic)
        if problem is not None:
            log.warning("event subscription %s: endpoint not validated: %s", sub.name, problem)
            return
        await self._db.write(lambda tx: subscription_store.mark_validated(tx, sub.name, sub.endpoint, now_micros()))
        log.info("event subscription %s: endpoint validated", sub.name)
        self._handshakes.pop(sub.name, None)
        self._outbox.wake.set()

    async def _pass(self) -> bool:
        """One transaction: write finished sends, expand new outbox rows, lease due deliveries into
        free slots. True when there is probably more to do right away."""
        topic = self._settings.events_topic
        now = now_micros()
        expand: outbox_store.Expand | None = None
        if self._outbox.pending:
            self._outbox.pending = False
            expand = functools.partial(eventgrid.fan_out, topic=topic)
        outcomes, self._outcomes = self._outcomes, Outcomes()
        free = self._slots - len(self._inflight)
        widest = max((s.max_events_per_batch for s in self._subscriptions.values()), default=1)
        limit = 0 if free <= 0 else min(free * widest, MAX_CLAIM)
        lease = int((self._settings.webhook_timeout_seconds * 2 + 5) * 1_000_000)
        taken, claimed = await outbox_store.delivery_pass(
            self._db,
            outcomes=outcomes,
            expand=expand,
            expand_limit=EXPAND_BATCH,
            claim_limit=limit,
            now=now,
            lease_until=now + lease,
        )
        batches = self._batches(claimed)
        for batch in batches[:free]:
            self._spawn(self._send(batch))
        for batch in batches[free:]:  # no slot for them: give them back rather than hold their lease
            self._outcomes.released.extend(item.id for item in batch)
        if taken == EXPAND_BATCH:
            self._outbox.pending = True
        return taken == EXPAND_BATCH or (limit > 0 and len(claimed) == limit)

    def _batches(self, claimed: list[Delivery]) -> list[list[Delivery]]:
        """Claimed deliveries as requests: per subscription, in order, at most its batch size each."""
        by_subscription: dict[str, list[Delivery]] = {}
        for item in claimed:
            by_subscription.setdefault(item.subscription, []).append(item)
        batches: list[list[Delivery]] = []
        for name, items in by_subscription.items():
            sub = self._subscriptions.get(name)
            size = 1 if sub is None else sub.max_events_per_batch
            batches.extend(items[i : i + size] for i in range(0, len(items), size))
        batches.sort(key=lambda batch: (batch[0].next_at, batch[0].id))
        return batches

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if len(self._inflight) <= self._slots // 2:  # refill the slots in bulk, not one pass per send
            self._outbox.wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook task failed", exc_info=task.exception())

    async def _send(self, batch: list[Delivery]) -> None:
        assert self._client is not None
        name = batch[0].subscription
        sub = self._subscriptions.get(name)
        if sub is None:  # deleted since (its deliveries went with it) or not yet seen: look again
            sub = await self._db.read(lambda conn: subscription_store.get_subscription(conn, name))
            if sub is None:
                return
        ttl = sub.ttl_minutes * 60_000_000
        now = now_micros()
        live = [item for item in batch if now <= item.created_at + ttl]
        if len(live) < len(batch):
            self._outcomes.dead.extend((item.id, "TimeToLiveExceeded") for item in batch if item not in live)
            self.observer.events("dead_lettered", len(batch) - len(live))
        if not live:
            return
        attempt = max(item.attempts for item in live)
        started = time.perf_counter()
        outcome = await delivery.deliver(self._client, sub, [item.event for item in live], attempt)
        self.observer.sent(time.perf_counter() - started)
        if outcome.delivered:
            self._outcomes.delivered.extend(item.id for item in live)
            self.observer.events("delivered", len(live))
            return
        next_at = now_micros() + int(delivery.backoff_seconds(attempt, self._settings.webhook_retry_seconds) * 1e6)
        dead = 0
        for item in live:
            if not outcome.retry or item.attempts >= sub.max_attempts or next_at > item.created_at + ttl:
                reason = outcome.error if not outcome.retry else f"MaxDeliveryAttemptsOrTtl: {outcome.error}"
                self._outcomes.dead.append((item.id, reason))
                log.warning("event %s to %s dead-lettered: %s", item.event_id, sub.name, reason)
                dead += 1
            else:
                self._outcomes.retry.append((item.id, next_at, outcome.error))
        if dead:
            self.observer.events("dead_lettered", dead)
        if dead < len(live):
            self.observer.events("retried", len(live) - dead)
