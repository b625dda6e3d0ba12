"""Request authentication: a bearer user token (chat, AAD) or an HMAC signature (identity key)."""

from __future__ import annotations

from typing import Any

import httpx
from azure.core.credentials import AzureKeyCredential

from hubbub._sdk.signing import sign_request

COMMUNICATION_SCOPE = "https://communication.azure.com//.default"


class AsyncBearerAuth:
    """Adds `Authorization: Bearer <token>`, asking the credential for a token on every request.

    The credential decides when to refresh (see `CommunicationTokenCredential`); unlike azure-core's
    bearer policy, plain http endpoints are allowed.
    """

    def __init__(self, credential: Any, *scopes: str) -> None:
        """Authenticate with `credential.get_token(*scopes)`."""
        self._credential = credential
        self._scopes = scopes

    async def authorization(self) -> str:
        """The `Authorization` header value: `Bearer <token>` (also for the event streams' handshakes)."""
        token = await self._credential.get_token(*self._scopes)
        return f"Bearer {token.token}"

    async def refresh(self, rejected: str) -> None:
        """The service rejected the token of `rejected` (an `authorization()` value) before it expired
        (revoked): have the credential replace it, so that the next `authorization()` differs.

        Hubbub's `CommunicationTokenCredential` calls its `token_refresher` (without one, nothing
        changes and the service refuses the token again). Other credentials are only asked for a
        token again, as on every call.
        """
        replace = getattr(self._credential, "_replace_rejected_token", None)
        if callable(replace):
            await replace(rejected.removeprefix("Bearer "))

    async def apply(self, request: httpx.Request) -> None:
        """Set the Authorization header of `request`."""
        request.headers["Authorization"] = await self.authorization()


class AsyncHmacAuth:
    """Signs each request with the resource's access key (spec §3.1)."""

    def __init__(self, access_key: str | AzureKeyCredential) -> None:
        """Sign with a base64 access key, given as a string or an `AzureKeyCredential`."""
        self._access_key = access_key

    async def apply(self, request: httpx.Request) -> None:
        """Add the signature headers to `request` (its URL and body must be final)."""
        key = self._access_key.key if isinstance(self._access_key, AzureKeyCredential) else self._access_key
        request.headers.update(sign_request(request.method, str(request.url), request.content, key))


def async_auth_for(credential: Any) -> AsyncBearerAuth | AsyncHmacAuth:
    """The identity client's auth: HMAC for a key (str, AzureKeyCredential), bearer for a TokenCredential."""
    if isinstance(credential, str | AzureKeyCredential):
        return AsyncHmacAuth(credential)
    return AsyncBearerAuth(credential, COMMUNICATION_SCOPE)
