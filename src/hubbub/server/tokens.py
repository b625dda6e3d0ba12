"""User access tokens: signed JWTs the official SDKs can read (spec §3.2).

The client decodes the payload with *standard* base64 and needs a numeric `exp`; so claim values
stay ASCII and free of `>`, `?` and `~`, which are the only characters whose base64url form
contains `-` or `_`. The server checks the HS256 signature, `exp`, the scope and the token's
generation against the identity row (revocation bumps it).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping

import jwt
import msgspec

from hubbub.server import random_ids
from hubbub.server.errors import BadRequest, Unauthorized

_ALGORITHM = "HS256"
_json = msgspec.json.Decoder()
# Bits real ACS tokens carry in `scp`; kept for look-alike tokens, not read by Hubbub.
_SCP = 1792
VERIFIED_TOKENS = 10_000
"""Checked tokens remembered by `TokenService.verify` (about 4 MB at most)."""


@dataclasses.dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    scopes: tuple[str, ...]
    generation: int
    expires_at: int


def resource_id_for(access_key: str) -> str:
    """A stable resource id (GUID form) derived from the access key; it prefixes user ids."""
    digest = hashlib.sha256(b"hubbub-resource:" + access_key.encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parse_claims(header_b64: str, payload_b64: str) -> TokenClaims | None:
    """The claims of a token in the form `issue` writes, or None. Only called once the signature
    has been checked."""
    try:
        header = _json.decode(_b64decode(header_b64))
        claims = _json.decode(_b64decode(payload_b64))
    except (ValueError, msgspec.DecodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != _ALGORITHM or not isinstance(claims, dict):
        return None
    expires, generation, skypeid = claims.get("exp"), claims.get("gen"), claims.get("skypeid")
    if not isinstance(expires, int | float) or not isinstance(generation, int) or not isinstance(skypeid, str):
        return None
    scopes = tuple(s for s in str(claims.get("acsScope", "")).split(",") if s)
    return TokenClaims("8:" + skypeid, scopes, generation, int(expires))


class TokenService:
    """Issues and verifies access tokens with a secret derived from the access key."""

    def __init__(self, access_key: str) -> None:
        key = base64.b64decode(access_key)
        self._secret = hmac.new(key, b"hubbub-access-token-signing", hashlib.sha256).digest()
        self.resource_id = resource_id_for(access_key)
        self._verified: dict[str, TokenClaims] = {}
        """Tokens whose signature and form have been checked: a client sends one token with many
        requests. Only checked tokens go in, so a forged one is never found here."""

    def new_user_id(self) -> str:
        """A fresh ACS-style user id: `8:acs:<resource>_<guid>`."""
        return f"8:acs:{self.resource_id}_{random_ids.uuid4()}"

    def issue(
        self, user_id: str, scopes: list[str], generation: int, *, minutes: int, now: dt.datetime
    ) -> tuple[str, dt.datetime]:
        """Sign a token for `user_id`; returns the token and its expiry."""
        expires = now + dt.timedelta(minutes=minutes)
        iat = int(now.timestamp())
        claims = {
            "skypeid": user_id.removeprefix("8:"),
            "scp": _SCP,
            "csi": str(iat),
            "exp": int(expires.timestamp()),
            "acsScope": ",".join(scopes),
            "resourceId": self.resource_id,
            "iat": iat,
            "gen": generation,
            "jti": random_ids.uuid4().hex,
        }
        for value in claims.values():
            if isinstance(value, str) and (not value.isascii() or any(c in value for c in ">?~")):
                raise BadRequest("Identifier contains characters that cannot go into an access token.")
        token = jwt.encode(claims, self._secret, algorithm=_ALGORITHM, headers={"kid": "1"})
        return token, dt.datetime.fromtimestamp(claims["exp"], dt.UTC)  # type: ignore[arg-type]

    def verify(self, token: str) -> TokenClaims:
        """Check signature and expiry; raise `Unauthorized` otherwise. Revocation is checked by the caller.

        The signature is checked once per token (`_verified` then knows it; the HMAC and the parse
        were 4 µs of every send), the expiry on every request.
        """
        claims = self._verified.get(token)
        if claims is None:
            claims = self._check(token)
            if len(self._verified) >= VERIFIED_TOKENS:
                self._verified.clear()  # rare (that many users at once): start over, not an LRU's upkeep
            self._verified[token] = claims
        if claims.expires_at <= time.time():
            raise Unauthorized("The access token has expired.")
        return claims

    def _check(self, token: str) -> TokenClaims:
        """The claims of a token with a valid HS256 signature, in the exact form `issue` writes:
        header `alg` HS256, `exp`, `skypeid` and `gen` present. It checks the signature directly with
        the prepared secret (PyJWT's generic `decode` costs ~40 µs a call, this ~6 µs)."""
        parts = token.split(".")
        if len(parts) != 3:
            raise Unauthorized("The access token is not valid.")
        header_b64, payload_b64, signature_b64 = parts
        expected = hmac.new(self._secret, f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
        try:
            signature = _b64decode(signature_b64)
        except ValueError as exc:
            raise Unauthorized("The access token is not valid.") from exc
        if not hmac.compare_digest(signature, expected):
            raise Unauthorized("The access token is not valid.")
        claims = _parse_claims(header_b64, payload_b64)
        if claims is None:
            raise Unauthorized("The access token is not valid.")
        return claims


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or None."""
    header = headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None
