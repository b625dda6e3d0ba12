"""Identity rules: create and delete identities, issue and revoke tokens. No HTTP in here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from hubbub import wire
from hubbub.server.errors import BadRequest, NotFound
from hubbub.server.events import EventBus, Revocation
from hubbub.server.store import Connection, Database
from hubbub.server.store import identities as store
from hubbub.server.tokens import TokenService

MIN_TOKEN_MINUTES = 60
_CACHE_LIMIT = 100_000
MAX_TOKEN_MINUTES = 1440


@dataclasses.dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_on: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_scopes(scopes: list[str]) -> None:
    unknown = [s for s in scopes if s not in wire.TOKEN_SCOPES]
    if unknown:
        raise BadRequest(f"Unknown scope(s) {unknown}; valid scopes are {list(wire.TOKEN_SCOPES)}.")


def _check_minutes(minutes: int | None) -> int:
    if minutes is None:
        return MAX_TOKEN_MINUTES
    if not MIN_TOKEN_MINUTES <= minutes <= MAX_TOKEN_MINUTES:
        raise BadRequest(
            f"expiresInMinutes must be between {MIN_TOKEN_MINUTES} and {MAX_TOKEN_MINUTES}; got {minutes}.",
            target="expiresInMinutes",
        )
    return minutes


@dataclasses.dataclass(frozen=True, slots=True)
class _Cached:
    generation: int
    at: float
    """`time.monotonic()` when it was read."""
    epoch: int | None
    """The bus's `revocation_epoch` before it was read: while that is still current, no revocation
    can have been missed, so the entry needs no expiry."""


class IdentityService:
    """Identities and their tokens. With a `bus`, revocations and deletions reach every node's
    streams and generation caches through it (`EventBus.revoke`)."""

    def __init__(
        self, db: Database, tokens: TokenService, *, cache_seconds: float = 1.0, bus: EventBus | None = None
    ) -> None:
        self._db = db
        self._tokens = tokens
        self._cache_seconds = cache_seconds
        self._bus = bus
        self._generations: dict[str, _Cached] = {}
        self._forgotten = 0
        """Counts revocations seen: a read that a revocation overtook is not cached (it may be stale)."""
        if bus is not None:
            bus.hub.on_revocation(self._forget)

    def _forget(self, revocation: Revocation) -> None:
        self._drop(revocation.user_id)

    def _drop(self, user_id: str) -> None:
        self._forgotten += 1
        self._generations.pop(user_id, None)

    async def token_generation(self, user_id: str) -> int | None:
        """The identity's current token generation, or None when it does not exist.

        Cached so that every request does not read the identity row. While the bus carries every
        revocation to this node (Redis, reader connected: `EventBus.revocation_epoch`), an entry
        stays until a revocation of that identity drops it, which happens within milliseconds of the
        revocation's commit on any node. Otherwise (no shared bus, or Redis unreachable) an entry is
        trusted for `cache_seconds` (0: always read): revocations through this process still take
        effect at once, through another process within `cache_seconds`.
        """
        now = time.monotonic()
        epoch = self._bus.revocation_epoch if self._bus is not None else None
        hit = self._generations.get(user_id)
        if hit is not None and (now - hit.at < self._cache_seconds or (epoch is not None and hit.epoch == epoch)):
            return hit.generation
        forgotten = self._forgotten
        identity = await self._db.read(lambda conn: store.get_identity(conn, user_id))
        if identity is None:
            self._generations.pop(user_id, None)
            return None
        generation = identity.token_generation
        if forgotten == self._forgotten:  # no revocation arrived while reading: not stale
            if len(self._generations) >= _CACHE_LIMIT:
                self._generations.clear()
            self._generations[user_id] = _Cached(generation, now, epoch)
        return generation

    async def create_identity(
        self, scopes: list[str] | None = None, minutes: int | None = None
    ) -> tuple[str, IssuedToken | None]:
        """Create a user; with scopes, also a token for it."""
        minutes = _check_minutes(minutes)
        _check_scopes(scopes or [])
        user_id = self._tokens.new_user_id()
        now = _now()
        await store.insert_identity(self._db, user_id, wire.to_micros(now))  # one statement: no transaction
        if not scopes:
            return user_id, None
        token, expires = self._tokens.issue(user_id, scopes, 0, minutes=minutes, now=now)
        return user_id, IssuedToken(token, expires)

    async def issue_token(self, user_id: str, scopes: list[str] | None, minutes: int | None) -> IssuedToken:
        minutes = _check_minutes(minutes)
        if not scopes:
            raise BadRequest("At least one scope is required.", target="scopes")
        _check_scopes(scopes)
        identity = await self._db.read(lambda conn: store.get_identity(conn, user_id))
        if identity is None:
            raise NotFound(f"Identity {user_id} does not exist.", target="id")
        token, expires = self._tokens.issue(user_id, scopes, identity.token_generation, minutes=minutes, now=_now())
        return IssuedToken(token, expires)

    async def revoke_tokens(self, user_id: str) -> None:
        """Invalidate every token issued so far, on every node, and end the streams opened with them.

        Returns once the revocation is committed and handed to the bus (see `_revoked`).
        """

        async def revoke(tx: Connection) -> int | None:
            if not await store.revoke_tokens(tx, user_id):
                return None
            identity = await store.get_identity(tx, user_id)
            return None if identity is None else identity.token_generation

        self._drop(user_id)  # reads racing the change are not cached
        generation = await self._db.write(revoke)
        if generation is None:
            raise NotFound(f"Identity {user_id} does not exist.", target="id")
        await self._revoked(Revocation(user_id, generation))

    async def delete_identity(self, user_id: str) -> None:
        """Delete a user (idempotent); its tokens stop working at once and its streams end."""
        deleted_at = wire.to_micros(_now())
        self._drop(user_id)  # reads racing the change are not cached
        await store.delete_identity(self._db, user_id, deleted_at)
        await self._revoked(Revocation(user_id, None))

    async def _revoked(self, revocation: Revocation) -> None:
        """After the commit (a node that hears of it and reads the row must see the change): tell
        every node through the bus, this one at once (its hub calls `_forget`)."""
        if self._bus is not None:
            await self._bus.revoke(revocation)
        else:
            self._forget(revocation)
