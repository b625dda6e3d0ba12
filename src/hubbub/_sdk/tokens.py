"""User access tokens: reading the expiry out of a token, and when to refresh it.

Shared by the sync and async `CommunicationTokenCredential`. The rules are those of the official
credential (1.2.0+): refresh on demand when less than 2 minutes are left, or proactively from
10 minutes before expiry when `proactive_refresh` is on.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import time

from azure.core.credentials import AccessToken

ON_DEMAND_REFRESH_SECONDS = 2 * 60
"""Refresh when fewer seconds than this are left (no proactive refresh)."""

PROACTIVE_REFRESH_SECONDS = 10 * 60
"""With `proactive_refresh`, refresh this many seconds before expiry."""

_FORMAT_ERROR = "Token is not formatted correctly"


def now() -> int:
    """The current time in whole seconds since the epoch (UTC)."""
    return int(time.time())


def create_access_token(token: str) -> AccessToken:
    """An `AccessToken` for a JWT-shaped user token, with `expires_on` read from its `exp` claim.

    Accepts standard and URL-safe base64 in the payload (the official SDK only reads the former).
    Raises `ValueError("Token is not formatted correctly")` when the token has no readable `exp`.
    """
    parts = token.split(".")
    if len(parts) < 3:
        raise ValueError(_FORMAT_ERROR)
    payload = parts[1]
    try:
        decoded = base64.urlsafe_b64decode(payload.replace("+", "-").replace("/", "_") + "==")
        claims = json.loads(decoded.decode("ascii"))
        expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC)
    except (ValueError, binascii.Error, KeyError, TypeError, OverflowError) as exc:
        raise ValueError(_FORMAT_ERROR) from exc
    return AccessToken(token, int(expires.timestamp()))


def epoch_expiry(token: AccessToken) -> AccessToken:
    """`token` with `expires_on` in epoch seconds, as the credential needs it.

    A refresher may hand back what `CommunicationIdentityClient.get_token()` returns, whose
    `expires_on` is the ISO-8601 string of the response (identity 1.5.0 behaviour). The official
    credential then fails with a `TypeError` comparing it to an int; this one reads the string
    (or, failing that, the token's own `exp` claim) instead.
    """
    expires: object = token.expires_on
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        return token
    if isinstance(expires, str):
        try:
            parsed = dt.datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return AccessToken(token.token, int(parsed.timestamp()))
    return create_access_token(token.token)


def is_expiring_soon(token: AccessToken, *, proactive: bool) -> bool:
    """True when the token is inside its refresh window."""
    window = PROACTIVE_REFRESH_SECONDS if proactive else ON_DEMAND_REFRESH_SECONDS
    return token.expires_on - now() < window


def is_valid(token: AccessToken) -> bool:
    """True while the token has not expired."""
    return now() < token.expires_on


def next_refresh_delay(token: AccessToken, *, proactive: bool) -> float:
    """Seconds until the proactive refresher should run again for this token.

    Inside the refresh window: half the remaining lifetime (so a failing refresher is retried with
    shrinking intervals); otherwise: until the window starts.
    """
    ttl = token.expires_on - now()
    if is_expiring_soon(token, proactive=proactive):
        return max(ttl // 2, 0)
    return float(ttl - PROACTIVE_REFRESH_SECONDS)
