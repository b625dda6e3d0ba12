"""Real-time events over both transports (WebSocket, SSE) and both APIs (sync, async), against a live server.

Every test listens one of four ways: `on()` handlers or `events()` iteration, with the sync or the
async client, over `realtime_transport="websocket"` or `"sse"`. Whatever the way, the events land in
a `Recorder`, and a scenario written once (sync, run in a worker thread so the event loop stays
free for the async listeners) drives the REST API and checks what each user received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import certifi
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

import hubbub.chat as sync_chat
import hubbub.chat.aio as aio_chat
from _services import HubbubServer
from hubbub._sdk.events import CHAT_EVENTS, CONNECTED, DISCONNECTED, ChatEvent
from hubbub._sdk.websocket import resume_url, websocket_url

from ._tokens import fake_token
from .conftest import User

TIMEOUT = 15.0
ALL_NAMES = (*CHAT_EVENTS, CONNECTED, DISCONNECTED)
#: How `Recorder` files the notifier's names, so handlers and iterators record the same kinds.
KIND = {CONNECTED: "connected", DISCONNECTED: "disconnect"}

UserFactory = Callable[[], User]


class Recorder:
    """Collects one user's events (from any thread) and hands them out in order, with a timeout."""

    def __init__(self) -> None:
        self.events: queue.Queue[ChatEvent] = queue.Queue()
        self.threads: set[str] = set()

    def __call__(self, event: ChatEvent) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.put(event)

    def take(self, kind: str, timeout: float = TIMEOUT) -> ChatEvent:
        """The next event, which must be of `kind` (`connected`/`disconnect` for either API's name)."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {kind} within {timeout}s") from None
        assert KIND.get(event.type, event.type) == kind, f"expected {kind}, got {event.type}: {event.data}"
        return event

    def assert_quiet(self) -> None:
        leftover = []
        with contextlib.suppress(queue.Empty):
            while True:
                leftover.append(self.events.get_nowait())
        assert not leftover, [(e.type, e.data) for e in leftover]


@dataclass
class Listening:
    """One user listening: its recorder, and `cut()` to interrupt its connection (from any thread)."""

    user: User
    seen: Recorder = field(default_factory=Recorder)
    cut: Callable[[], None] = lambda: None


def client_for(api: str, server_url: str, user: User, transport: str, **options: Any) -> Any:
    chat = aio_chat if api == "async" else sync_chat
    return chat.ChatClient(
        server_url, chat.CommunicationTokenCredential(user.token), realtime_transport=transport, **options
    )


@contextlib.asynccontextmanager
async def listening(
    via: str, api: str, transport: str, server: HubbubServer, *users: User
) -> AsyncIterator[list[Listening]]:
    """Each user listens through `on()` handlers (`via="handlers"`) or `events()` (`via="iterator"`)."""
    listeners = [Listening(user) for user in users]
    clients = [client_for(api, server.http_url, user, transport) for user in users]
    streams: list[Any] = []
    pumps: list[Any] = []
    for listener, client in zip(listeners, clients, strict=True):
        if via == "handlers":
            for name in ALL_NAMES:
                client.on(name, listener.seen)
            if api == "async":
                await client.start_realtime_notifications()
            else:
                client.start_realtime_notifications()
            listener.cut = lambda client=client: client._notifier._stream.interrupt()
        else:
            stream = client.events()
            streams.append(stream)
            listener.cut = stream.interrupt
            pumps.append(pump(api, stream, listener.seen))
    try:
        yield listeners
    finally:
        if via == "handlers":
            for listener, client in zip(listeners, clients, strict=True):
                # sync handlers run on the notifier's thread, async ones on the event loop
                expected = "hubbub-realtime-notifications" if api == "sync" else threading.current_thread().name
                assert listener.seen.threads == {expected}
                if api == "async":
                    await client.stop_realtime_notifications()
                else:
                    await asyncio.to_thread(client.stop_realtime_notifications)
                assert listener.seen.take("disconnect")["reason"] == "stopped"  # on the thread that stopped
        else:
            for stream in streams:
                stream.abort()  # from this thread, while the sync pumps read on theirs
            for done in pumps:
                await asyncio.wait_for(done, TIMEOUT)
        for client in clients:
            if api == "async":
                await client.close()
            else:
                client.close()


def pump(api: str, stream: Any, seen: Recorder) -> asyncio.Future[None]:
    """Iterate `stream` into `seen` until it stops: a task for the async API, a thread for the sync one."""

    async def read_async() -> None:
        async with stream:
            async for event in stream:
                seen(event)

    def read_sync() -> None:
        with stream:
            for event in stream:
                seen(event)

    if api == "async":
        return asyncio.ensure_future(read_async())
    return asyncio.ensure_future(asyncio.to_thread(read_sync))


def participant(user: User) -> sync_chat.ChatParticipant:
    return sync_chat.ChatParticipant(identifier=user.identifier, display_name=f"user-{user.identifier.raw_id[-4:]}")


def rest_client(server: HubbubServer, user: User) -> sync_chat.ChatClient:
    return sync_chat.ChatClient(server.http_url, sync_chat.CommunicationTokenCredential(user.token))


# -- scenarios (sync: they run in a worker thread) ------------------------------------------------


def every_event(server: HubbubServer, a: Listening, b: Listening, c: User) -> None:
    """A and B share a thread; each must receive every one of the ten chat events."""
    both = (a, b)
    for listener in both:
        connected = listener.seen.take("connected")
        assert connected["userId"] == listener.user.identifier.raw_id and connected["resumed"] is False
    a_id, b_id, c_id = a.user.identifier.raw_id, b.user.identifier.raw_id, c.identifier.raw_id
    with rest_client(server, a.user) as client_a, rest_client(server, b.user) as client_b:
        thread_id = client_a.create_chat_thread("topic", thread_participants=[participant(b.user)]).chat_thread.id
        for listener in both:
            assert listener.seen.take("chatThreadCreated")["threadId"] == thread_id
        with (
            client_a.get_chat_thread_client(thread_id) as thread_a,
            client_b.get_chat_thread_client(thread_id) as thread_b,
        ):
            sent = thread_a.send_message("hello")
            for listener in both:  # the sender receives its own message too
                received = listener.seen.take("chatMessageReceived")
                assert received["id"] == sent.id and received["message"] == "hello"
                assert received["sender"]["rawId"] == a_id and received["threadId"] == thread_id
                assert received["recipient"]["rawId"] == listener.user.identifier.raw_id

            thread_a.update_message(sent.id, content="edited")
            for listener in both:
                edited = listener.seen.take("chatMessageEdited")
                assert edited["id"] == sent.id and edited["message"] == "edited"

            thread_a.send_typing_notification()  # nobody receives their own typing
            assert b.seen.take("typingIndicatorReceived")["sender"]["rawId"] == a_id
            thread_b.send_typing_notification()
            assert a.seen.take("typingIndicatorReceived")["sender"]["rawId"] == b_id

            thread_b.send_read_receipt(sent.id)
            for listener in both:
                receipt = listener.seen.take("readReceiptReceived")
                assert receipt["chatMessageId"] == sent.id and receipt["sender"]["rawId"] == b_id

            thread_a.delete_message(sent.id)
            for listener in both:
                assert listener.seen.take("chatMessageDeleted")["id"] == sent.id

            thread_a.add_participants([participant(c)])
            for listener in both:
                assert c_id in json.dumps(listener.seen.take("participantsAdded")["participantsAdded"])
            thread_a.remove_participant(c.identifier)
            for listener in both:
                assert c_id in json.dumps(listener.seen.take("participantsRemoved")["participantsRemoved"])

            thread_a.update_topic("new topic")
            for listener in both:
                updated = listener.seen.take("chatThreadPropertiesUpdated")
                assert updated["properties"]["topic"] == "new topic"
        client_a.delete_chat_thread(thread_id)
        for listener in both:
            assert listener.seen.take("chatThreadDeleted")["threadId"] == thread_id
    for listener in both:
        listener.seen.assert_quiet()


def resume_after_cut(server: HubbubServer, sender: User, b: Listening) -> None:
    """B's connection is cut; what was sent meanwhile arrives after the reconnection, once, in order."""
    assert b.seen.take("connected")["resumed"] is False
    with rest_client(server, sender) as client_a:
        thread_id = client_a.create_chat_thread("t", thread_participants=[participant(b.user)]).chat_thread.id
        b.seen.take("chatThreadCreated")
        with client_a.get_chat_thread_client(thread_id) as thread_a:
            sent = [thread_a.send_message("m0").id]
            assert b.seen.take("chatMessageReceived")["id"] == sent[0]

            b.cut()  # from this thread, not the one reading
            sent += [thread_a.send_message(f"m{i}").id for i in (1, 2, 3)]
            assert b.seen.take("disconnect")["reason"] == "connectionLost"
            resumed = b.seen.take("connected")
            assert resumed["resumed"] is True and resumed.id is not None
            got = [b.seen.take("chatMessageReceived") for _ in range(3)]
            assert [event["id"] for event in got] == sent[1:]
            assert len({resumed.id, *(event.id for event in got)}) == 4
    b.seen.assert_quiet()


# -- the matrix -----------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["handlers", "iterator"])
async def test_every_event_reaches_both_users(
    via: str, api: str, transport: str, events_server: HubbubServer, new_user: UserFactory
) -> None:
    a, b, c = new_user(), new_user(), new_user()
    async with listening(via, api, transport, events_server, a, b) as (listen_a, listen_b):
        await asyncio.to_thread(every_event, events_server, listen_a, listen_b, c)


@pytest.mark.parametrize("via", ["handlers", "iterator"])
async def test_resume_after_a_cut_has_no_gaps_or_duplicates(
    via: str, api: str, transport: str, events_server: HubbubServer, new_user: UserFactory
) -> None:
    a, b = new_user(), new_user()
    async with listening(via, api, transport, events_server, b) as (listen_b,):
        await asyncio.to_thread(resume_after_cut, events_server, a, listen_b)


async def test_dead_connection_is_detected_and_resumed(
    api: str, transport: str, events_server: HubbubServer, new_user: UserFactory
) -> None:
    """A server that stops sending (frozen with SIGSTOP) counts as dead after 3 heartbeats (3 s)."""
    a, b = new_user(), new_user()
    async with listening("iterator", api, transport, events_server, b) as (listen_b,):
        await asyncio.to_thread(check_dead_connection, events_server, a, listen_b)


def check_dead_connection(server: HubbubServer, sender: User, b: Listening) -> None:
    b.seen.take("connected")
    # The SSE read timeout is fixed per request, so the first one still has the default (45 s): cut
    # once, so that the next request knows the server's 1 s heartbeat.
    b.cut()
    b.seen.take("disconnect")
    b.seen.take("connected")
    assert server.proc is not None
    frozen_at = time.monotonic()
    os.killpg(server.proc.pid, signal.SIGSTOP)
    try:
        dropped = b.seen.take("disconnect", timeout=10)
        silence = time.monotonic() - frozen_at
    finally:
        os.killpg(server.proc.pid, signal.SIGCONT)
    assert dropped["reason"] == "connectionLost"
    assert 2.5 <= silence <= 8, silence
    assert b.seen.take("connected")["resumed"] is True
    with rest_client(server, sender) as client_a:
        thread_id = client_a.create_chat_thread("t", thread_participants=[participant(b.user)]).chat_thread.id
    assert b.seen.take("chatThreadCreated")["threadId"] == thread_id
    b.seen.assert_quiet()


async def test_refused_streams_raise_azure_errors(
    api: str, transport: str, events_server: HubbubServer, new_user: UserFactory
) -> None:
    bad_token = User(new_user().identifier, fake_token(3600))  # well-formed, not signed by the server
    good = new_user()

    def first_event(user: User, **events_options: Any) -> ChatEvent:
        client = client_for("sync", events_server.http_url, user, transport)
        with client, client.events(**events_options) as stream:
            return next(iter(stream))

    async def first_event_async(user: User, **events_options: Any) -> ChatEvent:
        client = client_for("async", events_server.http_url, user, transport)
        async with client, client.events(**events_options) as stream:
            return await asyncio.wait_for(stream.__anext__(), TIMEOUT)

    read = first_event_async if api == "async" else (lambda user, **o: asyncio.to_thread(first_event, user, **o))
    with pytest.raises(ClientAuthenticationError) as refused:
        await read(bad_token)
    assert refused.value.status_code == 401
    assert refused.value.error is not None and refused.value.error.code == "Unauthorized"
    with pytest.raises(HttpResponseError) as bad_id:
        await read(good, last_event_id="not-an-id")
    assert bad_id.value.status_code == 400

    # through on(): the notifier reports the refusal as a disconnect and stops
    seen = Recorder()
    client = client_for(api, events_server.http_url, bad_token, transport)
    client.on(DISCONNECTED, seen)
    if api == "async":
        async with client:
            await client.start_realtime_notifications()
            stopped = await asyncio.to_thread(seen.take, "disconnect")
    else:
        with client:
            client.start_realtime_notifications()
            stopped = await asyncio.to_thread(seen.take, "disconnect")
    assert stopped["reason"] == "error" and "Unauthorized" in stopped["error"]


async def test_tls_is_verified_per_client_options(
    api: str, transport: str, events_server: HubbubServer, new_user: UserFactory
) -> None:
    """https -> wss for the WebSocket; `connection_verify` decides which CA is trusted, for both transports."""
    user = new_user()

    def first_event(**options: Any) -> ChatEvent:
        client = client_for("sync", events_server.https_url, user, transport, **options)
        with client, client.events(reconnect=False) as stream:
            return next(iter(stream))

    async def first_event_async(**options: Any) -> ChatEvent:
        client = client_for("async", events_server.https_url, user, transport, **options)
        async with client, client.events(reconnect=False) as stream:
            return await asyncio.wait_for(stream.__anext__(), TIMEOUT)

    async def read(**options: Any) -> ChatEvent:
        if api == "async":
            return await first_event_async(**options)
        return await asyncio.to_thread(first_event, **options)

    assert (await read(connection_verify=str(events_server.ca_path))).type == "connected"
    assert (await read(connection_verify=False)).type == "connected"
    with pytest.raises(ServiceRequestError):
        await read(connection_verify=certifi.where())  # public CAs only: Hubbub's certificate is refused


async def test_events_can_pick_another_transport_than_the_client(
    events_server: HubbubServer, new_user: UserFactory
) -> None:
    user = new_user()
    async with client_for("async", events_server.http_url, user, "sse") as client:
        stream = client.events(realtime_transport="websocket", reconnect=False)
        assert stream.realtime_transport == "websocket" and stream.url.startswith("ws://")
        async with stream:
            assert (await asyncio.wait_for(stream.__anext__(), TIMEOUT)).type == "connected"
        assert client.events().realtime_transport == "sse"
        with pytest.raises(ValueError, match="realtime_transport"):
            client.events(realtime_transport="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="realtime_transport"):
        sync_chat.ChatClient(
            events_server.http_url, sync_chat.CommunicationTokenCredential(user.token), realtime_transport="ws"
        )


def test_websocket_urls() -> None:
    assert websocket_url("http://127.0.0.1:8080/") == "ws://127.0.0.1:8080/chat/events/ws"
    assert websocket_url("https://chat.example.com/base") == "wss://chat.example.com/base/chat/events/ws"
    assert resume_url("ws://h/chat/events/ws", None) == "ws://h/chat/events/ws"
    assert resume_url("ws://h/chat/events/ws", "17-3") == "ws://h/chat/events/ws?lastEventId=17-3"
