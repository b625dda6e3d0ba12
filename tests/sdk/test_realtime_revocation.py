"""Revoked tokens and deleted users on a live stream, over both transports and both APIs.

The server ends such a stream with `disconnect` / `tokenRevoked` (WebSocket close 4401) or
`identityDeleted` (4403). The SDK has the credential's `token_refresher` replace a revoked token
and resumes; a refused new token, or none, ends the stream with `ClientAuthenticationError`, as
does a deleted identity, at once (it never reconnects: no token of that user works any more).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

import hubbub.chat as sync_chat
import hubbub.chat.aio as aio_chat
from _services import HubbubServer
from hubbub._sdk.events import CONNECTED, DISCONNECTED
from hubbub.identity import CommunicationIdentityClient

from .conftest import User
from .test_realtime_transports import TIMEOUT, Recorder, participant, pump, rest_client

UserFactory = Callable[[], User]


class Refresher:
    """A `token_refresher` for `user` that counts its calls: a new token from the identity API, or,
    if `stale`, the token the credential started with (revoked by then)."""

    def __init__(self, identity: CommunicationIdentityClient, user: User, *, stale: bool = False) -> None:
        self.identity = identity
        self.user = user
        self.stale = stale
        self.calls = 0

    def __call__(self) -> AccessToken:
        self.calls += 1
        if self.stale:
            return AccessToken(self.user.token, 4_000_000_000)
        return self.identity.get_token(self.user.identifier, ["chat"])

    async def refresh_async(self) -> AccessToken:
        return await asyncio.to_thread(self)


def client_for(api: str, server: HubbubServer, user: User, transport: str, refresher: Refresher | None) -> Any:
    """A chat client of `user` whose credential has `refresher` (sync or async, as the API needs)."""
    chat = aio_chat if api == "async" else sync_chat
    options: dict[str, Any] = {}
    if refresher is not None:
        options["token_refresher"] = refresher.refresh_async if api == "async" else refresher
    credential = chat.CommunicationTokenCredential(user.token, **options)
    return chat.ChatClient(server.http_url, credential, realtime_transport=transport)


@contextlib.asynccontextmanager
async def iterating(api: str, client: Any) -> AsyncIterator[tuple[Recorder, asyncio.Future[None]]]:
    """Iterate `client.events()` into a recorder (a task or a thread); yields it and the pump, whose
    result is how the iteration ended."""
    seen = Recorder()
    stream = client.events()
    done = pump(api, stream, seen)
    try:
        yield seen, done
    finally:
        stream.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(done, TIMEOUT)
        if api == "async":
            await client.close()
        else:
            client.close()


def revoke_and_resume(
    server: HubbubServer, identity: CommunicationIdentityClient, a: User, b: User, seen: Recorder
) -> None:
    """B's token is revoked while B listens: B reconnects with a new token and misses nothing."""
    assert seen.take("connected")["resumed"] is False
    with rest_client(server, a) as client_a:
        thread_id = client_a.create_chat_thread("t", thread_participants=[participant(b)]).chat_thread.id
        assert seen.take("chatThreadCreated")["threadId"] == thread_id
        identity.revoke_tokens(b.identifier)
        assert seen.take("disconnect")["reason"] == "tokenRevoked"
        resumed = seen.take("connected")
        assert resumed["resumed"] is True
        with client_a.get_chat_thread_client(thread_id) as thread_a:
            sent = thread_a.send_message("for the new token").id
        assert seen.take("chatMessageReceived")["id"] == sent
    seen.assert_quiet()


async def test_a_revoked_token_is_replaced_and_the_stream_resumes(
    api: str,
    transport: str,
    events_server: HubbubServer,
    events_identity: CommunicationIdentityClient,
    new_user: UserFactory,
) -> None:
    a, b = new_user(), new_user()
    refresher = Refresher(events_identity, b)
    async with iterating(api, client_for(api, events_server, b, transport, refresher)) as (seen, done):
        await asyncio.to_thread(revoke_and_resume, events_server, events_identity, a, b, seen)
        assert refresher.calls == 1
        assert not done.done()


@pytest.mark.parametrize("refresher_kind", ["none", "stale"])
async def test_a_revoked_token_without_a_valid_replacement_ends_the_stream(
    api: str,
    transport: str,
    refresher_kind: str,
    events_server: HubbubServer,
    events_identity: CommunicationIdentityClient,
    new_user: UserFactory,
) -> None:
    b = new_user()
    refresher = None if refresher_kind == "none" else Refresher(events_identity, b, stale=True)
    async with iterating(api, client_for(api, events_server, b, transport, refresher)) as (seen, done):
        await asyncio.to_thread(seen.take, "connected")
        await asyncio.to_thread(events_identity.revoke_tokens, b.identifier)
        assert (await asyncio.to_thread(seen.take, "disconnect"))["reason"] == "tokenRevoked"
        with pytest.raises(ClientAuthenticationError) as refused:
            await asyncio.wait_for(done, TIMEOUT)
        assert refused.value.status_code == 401  # the server refused the token it was offered again
        assert refused.value.error is not None and refused.value.error.code == "Unauthorized"
        assert "revoked" in str(refused.value)
        assert refresher is None or refresher.calls == 1
        seen.assert_quiet()


async def test_a_deleted_identity_ends_the_stream_without_reconnecting(
    api: str,
    transport: str,
    events_server: HubbubServer,
    events_identity: CommunicationIdentityClient,
    new_user: UserFactory,
) -> None:
    b = new_user()
    refresher = Refresher(events_identity, b)
    async with iterating(api, client_for(api, events_server, b, transport, refresher)) as (seen, done):
        await asyncio.to_thread(seen.take, "connected")
        await asyncio.to_thread(events_identity.delete_user, b.identifier)
        assert (await asyncio.to_thread(seen.take, "disconnect"))["reason"] == "identityDeleted"
        with pytest.raises(ClientAuthenticationError, match="deleted") as ended:
            await asyncio.wait_for(done, TIMEOUT)
        assert ended.value.status_code is None  # raised on the frame: no reconnection was tried
        assert refresher.calls == 0
        seen.assert_quiet()


async def test_handlers_hear_a_deleted_identity_and_notifications_stop(
    api: str,
    transport: str,
    events_server: HubbubServer,
    events_identity: CommunicationIdentityClient,
    new_user: UserFactory,
) -> None:
    b = new_user()
    client = client_for(api, events_server, b, transport, None)
    seen = Recorder()
    for name in (CONNECTED, DISCONNECTED):
        client.on(name, seen)
    try:
        if api == "async":
            await client.start_realtime_notifications()
        else:
            client.start_realtime_notifications()
        await asyncio.to_thread(seen.take, "connected")
        await asyncio.to_thread(events_identity.delete_user, b.identifier)
        assert (await asyncio.to_thread(seen.take, "disconnect"))["reason"] == "identityDeleted"
        stopped = await asyncio.to_thread(seen.take, "disconnect")
        assert stopped["reason"] == "error" and "deleted" in stopped["error"]
        for _ in range(50):
            if not client._notifier.running:
                break
            await asyncio.sleep(0.05)
        assert not client._notifier.running
        seen.assert_quiet()
    finally:
        if api == "async":
            await client.close()
        else:
            client.close()
