"""The ACS endpoint the gateway is a client of, and how the gateway knows who is calling.

The gateway never touches the database: every request becomes one or more calls to an
ACS-compatible endpoint through Hubbub's own async SDK. Identities are created with the resource's
access key (HMAC); everything done *for a user* is sent with that user's own access token, so the
endpoint enforces membership, scopes, expiry and revocation exactly as it would for the user.

Who is calling (see docs/gateway.md, "How tokens are checked"):

* Inside `hubbub serve` the token is verified locally with `authenticate_token` (signature,
  expiry, revocation), before anything else happens.
* In front of another endpoint (`hubbub gateway`) there is no token secret. The gateway reads the
  user id the token *claims* (`skypeid` claim, as "8:" + skypeid) only to refuse impersonation
  early (403), and the claim is then *proven* by the upstream call itself: it carries the token, and
  a forged or edited token fails there with 401, which the gateway passes on.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError

from hubbub.chat.aio import ChatClient, CommunicationTokenCredential
from hubbub.identity.aio import CommunicationIdentityClient

LocalAuth = Callable[[str], Awaitable[str]]
"""Verifies a token locally and returns its user id; raises `GatewayError` (401/403) otherwise."""


class GatewayError(Exception):
    """A request the gateway refuses or could not complete; becomes `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_PASSED_ON = {400, 401, 403, 404, 409, 413, 429}


def translate(exc: AzureError) -> GatewayError:
    """An SDK error as the gateway's answer: client errors keep their status, the rest is a 502."""
    if isinstance(exc, HttpResponseError) and exc.status_code in _PASSED_ON:
        error = getattr(exc, "model", None)
        detail = (getattr(error, "error", None) or {}).get("message") if error is not None else None
        return GatewayError(exc.status_code, str(detail or exc.reason or "The request was refused."))
    if isinstance(exc, ServiceRequestError):
        return GatewayError(502, "The chat service cannot be reached.")
    return GatewayError(502, "The chat service failed to handle the request.")


def claimed_user_id(token: str) -> str:
    """The user id a token claims ("8:" + its `skypeid`), read without checking the signature.

    Raises `GatewayError(401)` when the token is not a JWT with a `skypeid` claim.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise GatewayError(401, "The access token is not valid.")
    payload = parts[1].replace("-", "+").replace("_", "/")
    try:
        claims = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise GatewayError(401, "The access token is not valid.") from exc
    skype_id = claims.get("skypeid") if isinstance(claims, dict) else None
    if not isinstance(skype_id, str) or not skype_id:
        raise GatewayError(401, "The access token does not name a user.")
    return "8:" + skype_id


class _SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool for every per-request SDK client; closing a client leaves it open."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Clients call this when they close; the pool lives until `Upstream.close()`."""


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """Verification for an https endpoint: the system CAs, or `ca_file` (`--ca`/`SSL_CERT_FILE`)."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


@dataclasses.dataclass
class Upstream:
    """The endpoint (`http(s)://host:port`) and access key the gateway works against."""

    endpoint: str
    access_key: str
    ca_file: str | None = None
    local_auth: LocalAuth | None = None
    timeout: float = 30.0
    _transport: _SharedTransport | None = None

    def _options(self) -> dict[str, Any]:
        if self._transport is None:
            verify: ssl.SSLContext | bool = ssl_context(self.ca_file) if self.endpoint.startswith("https") else True
            self._transport = _SharedTransport(httpx.AsyncHTTPTransport(verify=verify))
        return {"transport": self._transport, "connection_timeout": self.timeout, "read_timeout": self.timeout}

    def identity_client(self) -> CommunicationIdentityClient:
        return CommunicationIdentityClient(self.endpoint, self.access_key, **self._options())

    def chat_client(self, token: str) -> ChatClient:
        """A chat client acting as the owner of `token` (a static credential: no refresh)."""
        try:
            credential = CommunicationTokenCredential(token)
        except ValueError as exc:
            raise GatewayError(401, "The access token is not valid.") from exc
        return ChatClient(self.endpoint, credential, **self._options())

    async def caller(self, token: str | None) -> str:
        """The user id `token` stands for: verified here inside `hubbub serve`, claimed otherwise
        (and then proven by the upstream call made with it). 401 when missing or unreadable."""
        if not token:
            raise GatewayError(401, "An access token is required (Authorization: Bearer <token>).")
        if self.local_auth is not None:
            return await self.local_auth(token)
        return claimed_user_id(token)

    async def close(self) -> None:
        if self._transport is not None:
            await self._transport.inner.aclose()
            self._transport = None
