"""Helpers for talking to a Hubbub server: official-SDK clients, users, and raw signed requests.

The official SDKs are used exactly as an app would use them (endpoint + credential). Sync clients
find our CA through REQUESTS_CA_BUNDLE (set by the `ca_bundle` fixture); async clients get
`connection_verify=<ca.pem>` because aiohttp builds its default SSL context at import time.

`RawApi` sends hand-made requests with httpx for the bad-input tests: bearer tokens for chat,
HMAC-SHA256 signatures (spec §3.1) for identity.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from azure.communication.chat import ChatClient, ChatThreadClient
from azure.communication.chat import CommunicationTokenCredential as ChatCredential
from azure.communication.chat.aio import ChatClient as AsyncChatClient
from azure.communication.chat.aio import ChatThreadClient as AsyncChatThreadClient
from azure.communication.chat.aio import CommunicationTokenCredential as AsyncChatCredential
from azure.communication.identity import CommunicationIdentityClient, CommunicationUserIdentifier
from azure.communication.identity.aio import CommunicationIdentityClient as AsyncCommunicationIdentityClient

from _services import HubbubServer

CHAT_API_VERSION = "2024-03-07"
CHAT_API_VERSION_2025 = "2025-03-15"
IDENTITY_API_VERSION = "2023-10-01"


@dataclass(frozen=True)
class User:
    id: str
    token: str

    @property
    def identifier(self) -> CommunicationUserIdentifier:
        return CommunicationUserIdentifier(self.id)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Acs:
    """Official-SDK clients bound to one server."""

    def __init__(self, server: HubbubServer) -> None:
        self.server = server

    @property
    def endpoint(self) -> str:
        return self.server.https_url

    @property
    def verify(self) -> str:
        return str(self.server.ca_path)

    # -- identity ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def identity(self) -> Iterator[CommunicationIdentityClient]:
        """The sync identity client; unlike the others it has no close()/context manager of its own."""
        client = CommunicationIdentityClient.from_connection_string(self.server.connection_string)
        try:
            yield client
        finally:
            client._identity_service_client.close()

    def aidentity(self) -> AsyncCommunicationIdentityClient:
        return AsyncCommunicationIdentityClient.from_connection_string(
            self.server.connection_string, connection_verify=self.verify
        )

    def new_user(self, scopes: tuple[str, ...] = ("chat",)) -> User:
        with self.identity() as client:
            identifier, token = client.create_user_and_token(scopes=list(scopes))
        return User(identifier.properties["id"], token.token)

    def new_users(self, count: int) -> list[User]:
        return [self.new_user() for _ in range(count)]

    # -- chat -------------------------------------------------------------------------------------

    def chat(self, user: User) -> ChatClient:
        return ChatClient(self.endpoint, ChatCredential(user.token))

    def thread(self, user: User, thread_id: str) -> ChatThreadClient:
        return ChatThreadClient(self.endpoint, ChatCredential(user.token), thread_id)

    def achat(self, user: User) -> AsyncChatClient:
        return AsyncChatClient(self.endpoint, AsyncChatCredential(user.token), connection_verify=self.verify)

    def athread(self, user: User, thread_id: str) -> AsyncChatThreadClient:
        return AsyncChatThreadClient(
            self.endpoint, AsyncChatCredential(user.token), thread_id, connection_verify=self.verify
        )

    def create_thread(self, owner: User, topic: str = "topic", members: tuple[User, ...] = ()) -> str:
        """A thread made by `owner` with `members` as further participants; returns its id."""
        from azure.communication.chat import ChatParticipant

        with self.chat(owner) as client:
            result = client.create_chat_thread(
                topic, thread_participants=[ChatParticipant(identifier=m.identifier) for m in members]
            )
        assert result.errors in (None, []), result.errors
        return str(result.chat_thread.id)


# -- raw requests ----------------------------------------------------------------------------------


def sign_hmac(
    method: str,
    url: str,
    body: bytes,
    access_key: str,
    *,
    date: str | None = None,
    host: str | None = None,
) -> dict[str, str]:
    """The HMAC-SHA256 headers the official identity SDK sends (spec §3.1)."""
    parts = urlsplit(url)
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    date = date or http_date(utcnow())
    content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    to_sign = f"{method.upper()}\n{path_and_query}\n{date};{host or parts.netloc};{content_hash}"
    signature = base64.b64encode(
        hmac.new(base64.b64decode(access_key), to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": content_hash,
        "x-ms-return-client-request-id": "true",
        "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}",
    }


def http_date(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S ") + "GMT"


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a Hubbub access token, decoded the way the Python SDK does (spec §3.2)."""
    claims: dict[str, Any] = json.loads(base64.b64decode(token.split(".")[1] + "==").decode("ascii"))
    return claims


class RawApi:
    """Hand-made HTTPS requests to one server, for inputs the official SDKs never send."""

    def __init__(self, server: HubbubServer) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.https_url, verify=server.ssl_context(), timeout=30)

    def close(self) -> None:
        self.client.close()

    def chat(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        api_version: str | None = CHAT_API_VERSION,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            content = json.dumps(json_body).encode()
        if content is not None:
            all_headers.setdefault("Content-Type", content_type or "application/json")
        query = dict(params or {})
        if api_version is not None:
            query["api-version"] = api_version
        return self.client.request(method, path, params=query, content=content, headers=all_headers)

    def identity(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        api_version: str | None = IDENTITY_API_VERSION,
        sign: bool = True,
        access_key: str | None = None,
        date: str | None = None,
        tamper: dict[str, str] | None = None,
    ) -> httpx.Response:
        if json_body is not None:
            content = json.dumps(json_body).encode()
        body = content or b""
        url = path + (f"?api-version={api_version}" if api_version is not None else "")
        headers = {"Content-Type": "application/json"}
        if sign:
            netloc = urlsplit(self.server.https_url).netloc
            headers.update(
                sign_hmac(method, url, body, access_key or str(self.server.access_key), date=date, host=netloc)
            )
        headers.update(tamper or {})
        return self.client.request(method, url, content=body, headers=headers)


def assert_acs_error(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The response is a 4xx (one of `statuses` if given) with an ACS JSON error body (spec §7.1)."""
    detail = f"{response.request.method} {response.request.url} -> {response.status_code} {response.text[:300]!r}"
    if statuses:
        assert response.status_code in statuses, detail
    assert 400 <= response.status_code < 500, detail
    assert response.headers.get("content-type", "").startswith("application/json"), detail
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), detail
    assert isinstance(body["error"].get("code"), str) and body["error"]["code"], detail
    assert isinstance(body["error"].get("message"), str) and body["error"]["message"], detail
    return body["error"]  # type: ignore[no-any-return]
