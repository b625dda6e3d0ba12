"""Identity rules: create and delete identities, issue and revoke tokens. No HTTP in here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from hubbub import wire
from hubbub.server.errors import BadRequest, NotFound
from hubbub.server.store import Database
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


class IdentityService:
    def __init__(self, db: Database, tokens: TokenService, *, cache_seconds: float = 1.0) -> None:
        self._db = db
        self._tokens = tokens
        self._cache_seconds = cache_seconds
        self._generations: dict[str, tuple[int, float]] = {}

    async def token_generation(self, user_id: str) -> int | None:
        """The identity's current token generation, or None when it does not exist.

        Kept for `cache_seconds` so that every request does not read the identity row. Revocation and
        deletion through this process take effect at once; through another node, within
        `cache_seconds` (set 0 to always read).
        """
        now = time.monotonic()
        hit = self._generations.get(user_id)
        if hit is not None and now - hit[1] < self._cache_seconds:
            return hit[0]
        row = await self._db.read(lambda conn: store.get_identity(conn, user_id))
        if row is None:
            self._generations.pop(user_id, None)
            return None
        if len(self._generations) >= _CACHE_LIMIT:
            self._generations.clear()
        generation = int(row["token_gen"])
        self._generations[user_id] = (generation, now)
        return generation

    async def create_identity(
        self, scopes: list[str] | None = None, minutes: int | None = None
    ) -> tuple[str, IssuedToken | None]:
        """Create a user; with scopes, also a token for it."""
        minutes = _check_minutes(minutes)
        _check_scopes(scopes or [])
        user_id = self._tokens.new_user_id()
        now = _now()
        await self._db.write(lambda tx: store.insert_identity(tx, user_id, wire.to_micros(now)))
        if not scopes:
            return user_id, None
        token, expires = self._tokens.issue(user_id, scopes, 0, minutes=minutes, now=now)
        return user_id, IssuedToken(token, expires)

    async def issue_token(self, user_id: str, scopes: list[str] | None, minutes: int | None) -> IssuedToken:
        minutes = _check_minutes(minutes)
        if not scopes:
            raise BadRequest("At least one scope is required.", target="scopes")
        _check_scopes(scopes)
        row = await self._db.read(lambda conn: store.get_identity(conn, user_id))
        if row is None:
            raise NotFound(f"Identity {user_id} does not exist.", target="id")
        token, expires = self._tokens.issue(user_id, scopes, int(row["token_gen"]), minutes=minutes, now=_now())
        return IssuedToken(token, expires)

    async def revoke_tokens(self, user_id: str) -> None:
        self._generations.pop(user_id, None)
        revoked = await self._db.write(lambda tx: store.revoke_tokens(tx, user_id))
        self._generations.pop(user_id, None)
        if not revoked:
            raise NotFound(f"Identity {user_id} does not exist.", target="id")

    async def delete_identity(self, user_id: str) -> None:
        """Delete a user (idempotent); its tokens stop working at once."""
        deleted_at = wire.to_micros(_now())
        self._generations.pop(user_id, None)
        await self._db.write(lambda tx: store.delete_identity(tx, user_id, deleted_at))
        self._generations.pop(user_id, None)
