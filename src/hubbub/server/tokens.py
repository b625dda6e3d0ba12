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
import uuid

import jwt

from hubbub.server.errors import BadRequest, Unauthorized

_ALGORITHM = "HS256"
# Bits real ACS tokens carry in `scp`; kept for look-alike tokens, not read by Hubbub.
_SCP = 1792


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


class TokenService:
    """Issues and verifies access tokens with a secret derived from the access key."""

    def __init__(self, access_key: str) -> None:
        key = base64.b64decode(access_key)
        self._secret = hmac.new(key, b"hubbub-access-token-signing", hashlib.sha256).digest()
        self.resource_id = resource_id_for(access_key)

    def new_user_id(self) -> str:
        """A fresh ACS-style user id: `8:acs:<resource>_<guid>`."""
        return f"8:acs:{self.resource_id}_{uuid.uuid4()}"

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
            "jti": uuid.uuid4().hex,
        }
        for value in claims.values():
            if isinstance(value, str) and (not value.isascii() or any(c in value for c in ">?~")):
                raise BadRequest("Identifier contains characters that cannot go into an access token.")
        token = jwt.encode(claims, self._secret, algorithm=_ALGORITHM, headers={"kid": "1"})
        return token, dt.datetime.fromtimestamp(claims["exp"], dt.UTC)  # type: ignore[arg-type]

    def verify(self, token: str) -> TokenClaims:
        """Check signature and expiry; raise `Unauthorized` otherwise. Revocation is checked by the caller."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "skypeid", "gen"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The access token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The access token is not valid.") from exc
        scopes = tuple(s for s in str(claims.get("acsScope", "")).split(",") if s)
        if not isinstance(claims["gen"], int):
            raise Unauthorized("The access token is not valid.")
        return TokenClaims("8:" + str(claims["skypeid"]), scopes, claims["gen"], int(claims["exp"]))
