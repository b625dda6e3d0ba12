"""Real-time events in the SDK (`on()`/`start_realtime_notifications()`, `events()`) against a live server."""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

import hubbub.chat as sync_chat
import hubbub.chat.aio as aio_chat
from _services import HubbubServer
from hubbub._sdk.events import CHAT_EVENTS, ChatEvent, SseParser

from .conftest import User

UserFactory = Callable[[], User]
TIMEOUT = 15.0


class Recorder:
    """Collects events from handlers (any thread) and waits for them with a timeout."""

    def __init__(self) -> None:
        self.events: queue.Queue[ChatEvent] = queue.Queue()

    def __call__(self, event: ChatEvent) -> None:
        self.events.put(event)

    def _take(self, wanted: str, timeout: float) -> ChatEvent:
        event = self.events.get(timeout=timeout)
        assert event.type == wanted, f"expected {wanted}, got {event.type}: {event.data}"
        return event

    async def next(self, wanted: str, timeout: float = TIMEOUT) -> ChatEvent:
        return await asyncio.to_thread(self._take, wanted, timeout)

    def next_sync(self, wanted: str, timeout: float = TIMEOUT) -> ChatEvent:
        return self._take(wanted, timeout)


def participant(module: Any, user: User) -> Any:
    return module.ChatParticipant(identifier=user.identifier, display_name="B")


def test_sse_parser_and_event() -> None:
    parser = SseParser()
    frames = [
        parser.feed(line)
        for line in ["retry: 1000", "", "id: 1-0", "event: connected", 'data: {"id": "1-0", "type": "connected",', "x"]
    ]
    assert frames == [None] * 6
    parser = SseParser()
    lines = ["id: 5-1", "event: chatMessageReceived", 'data: {"type": "chatMessageReceived", "data": {"a": 1}}', ""]
    *_, event = [parser.feed(line) for line in lines]
    assert event == ChatEvent("chatMessageReceived", "5-1", {"a": 1})
    assert event["a"] == 1 and event.get("b") is None


async def test_async_handlers_receive_every_chat_event(sdk_server: HubbubServer, make_user: UserFactory) -> None:
    a, b, c = make_user(), make_user(), make_user()
    async with (
        aio_chat.ChatClient(sdk_server.http_url, aio_chat.CommunicationTokenCredential(a.token)) as client_a,
        aio_chat.ChatClient(sdk_server.http_url, aio_chat.CommunicationTokenCredential(b.token)) as client_b,
    ):
        seen_b, seen_a = Recorder(), Recorder()
        async_calls: list[str] = []

        async def async_handler(event: ChatEvent) -> None:
            async_calls.append(event.type)

        for name in (*CHAT_EVENTS, "realTimeNotificationConnected", "realTimeNotificationDisconnected"):
            client_b.on(name, seen_b)
        client_b.on("chatMessageReceived", async_handler)
        client_a.on("realTimeNotificationConnected", seen_a)
        client_a.on("chatMessageReceived", seen_a)
        with pytest.raises(ValueError):
            client_b.on("noSuchEvent", seen_b)

        await client_b.start_realtime_notifications()
        await client_a.start_realtime_notifications()
        connected = await seen_b.next("realTimeNotificationConnected")
        assert connected.data["userId"] == b.identifier.raw_id
        await seen_a.next("realTimeNotificationConnected")

        created = await client_a.create_chat_thread("topic", thread_participants=[participant(sync_chat, b)])
        thread_id = created.chat_thread.id
        assert (await seen_b.next("chatThreadCreated"))["threadId"] == thread_id
        thread_a = client_a.get_chat_thread_client(thread_id)
        thread_b = client_b.get_chat_thread_client(thread_id)

        sent = await thread_a.send_message("hello")
        received = await seen_b.next("chatMessageReceived")
        assert received["id"] == sent.id and received["message"] == "hello"
        assert received["recipient"]["rawId"] == b.identifier.raw_id
        assert (await seen_a.next("chatMessageReceived"))["id"] == sent.id  # the sender gets its own
        assert async_calls == ["chatMessageReceived"]

        await thread_a.update_message(sent.id, content="edited")
        assert (await seen_b.next("chatMessageEdited"))["message"] == "edited"
        await thread_a.send_typing_notification()
        assert (await seen_b.next("typingIndicatorReceived"))["threadId"] == thread_id
        await thread_a.send_read_receipt(sent.id)
        assert (await seen_b.next("readReceiptReceived"))["chatMessageId"] == sent.id
        await thread_a.delete_message(sent.id)
        assert (await seen_b.next("chatMessageDeleted"))["id"] == sent.id
        await thread_a.add_participants([participant(sync_chat, c)])
        added = await seen_b.next("participantsAdded")
        assert c.identifier.raw_id in json.dumps(added["participantsAdded"])
        await thread_a.remove_participant(c.identifier)
        await seen_b.next("participantsRemoved")
        await thread_a.update_topic("new topic")
        assert (await seen_b.next("chatThreadPropertiesUpdated"))["properties"]["topic"] == "new topic"

        client_b.off("chatMessageReceived", async_handler)
        await thread_a.send_message("after off")
        await seen_b.next("chatMessageReceived")
        assert async_calls == ["chatMessageReceived"]

        await client_a.delete_chat_thread(thread_id)
        assert (await seen_b.next("chatThreadDeleted"))["threadId"] == thread_id

        await client_b.stop_realtime_notifications()
        assert (await seen_b.next("realTimeNotificationDisconnected"))["reason"] == "stopped"
        await thread_a.close()
        await thread_b.close()
    assert seen_b.events.empty()


def test_sync_handlers_run_on_a_background_thread(sdk_server: HubbubServer, make_user: UserFactory) -> None:
    import threading

    a, b = make_user(), make_user()
    with (
        sync_chat.ChatClient(sdk_server.http_url, sync_chat.CommunicationTokenCredential(a.token)) as client_a,
        sync_chat.ChatClient(sdk_server.http_url, sync_chat.CommunicationTokenCredential(b.token)) as client_b,
    ):
        seen = Recorder()
        threads: list[threading.Thread] = []
        client_b.on("realTimeNotificationConnected", seen)
        client_b.on("chatThreadCreated", seen)
        client_b.on("chatMessageReceived", lambda e: (threads.append(threading.current_thread()), seen(e)))
        client_b.on("realTimeNotificationDisconnected", seen)
        client_b.start_realtime_notifications()
        seen.next_sync("realTimeNotificationConnected")
        thread_id = client_a.create_chat_thread("t", thread_participants=[participant(sync_chat, b)]).chat_thread.id
        seen.next_sync("chatThreadCreated")
        with client_a.get_chat_thread_client(thread_id) as thread_a:
            sent = thread_a.send_message("from a sync client")
        assert seen.next_sync("chatMessageReceived")["id"] == sent.id
        assert threads and threads[0] is not threading.current_thread()
        client_b.stop_realtime_notifications()
        assert seen.next_sync("realTimeNotificationDisconnected")["reason"] == "stopped"


async def test_async_iterator_resumes_without_duplicates_or_gaps(
    sdk_server: HubbubServer, make_user: UserFactory
) -> None:
    a, b = make_user(), make_user()
    async with (
        aio_chat.ChatClient(sdk_server.http_url, aio_chat.CommunicationTokenCredential(a.token)) as client_a,
        aio_chat.ChatClient(sdk_server.http_url, aio_chat.CommunicationTokenCredential(b.token)) as client_b,
        client_b.events() as stream,
    ):

        async def next_event(*skip: str) -> ChatEvent:
            while True:
                event = await asyncio.wait_for(stream.__anext__(), TIMEOUT)
                if event.type not in skip:
                    return event

        first = await next_event()
        assert first.type == "connected" and first.data["resumed"] is False
        thread_id = (
            await client_a.create_chat_thread("t", thread_participants=[participant(sync_chat, b)])
        ).chat_thread.id
        assert (await next_event()).type == "chatThreadCreated"
        thread_a = client_a.get_chat_thread_client(thread_id)
        sent = [(await thread_a.send_message("m0")).id]
        m0 = await next_event()
        assert m0.type == "chatMessageReceived" and m0["id"] == sent[0]

        stream.interrupt()  # cut the connection under the iterator
        sent += [(await thread_a.send_message(f"m{i}")).id for i in (1, 2, 3)]
        dropped = await next_event()
        assert dropped.type == "disconnect" and dropped["reason"] in ("connectionLost", "streamEnded")
        resumed = await next_event()
        assert resumed.type == "connected" and resumed.data["resumed"] is True and resumed.id == m0.id
        got = [await next_event() for _ in range(3)]
        assert [e["id"] for e in got] == sent[1:]
        ids = [m0.id, *(e.id for e in got)]
        assert len(set(ids)) == 4
        await thread_a.close()


def test_sync_iterator(sdk_server: HubbubServer, make_user: UserFactory) -> None:
    b = make_user()
    with sync_chat.ChatClient(sdk_server.http_url, sync_chat.CommunicationTokenCredential(b.token)) as client_b:
        with client_b.events(reconnect=False) as stream:
            event = next(iter(stream))
        assert event.type == "connected" and event.data["userId"] == b.identifier.raw_id


def test_cli_events_tails_a_user(sdk_server: HubbubServer, make_user: UserFactory) -> None:
    b = make_user()
    command = [sys.executable, "-m", "hubbub.cli", "events", "--endpoint", sdk_server.http_url, "--max-events", "1"]
    by_token = subprocess.run([*command, "--token", b.token], capture_output=True, text=True, timeout=TIMEOUT)
    assert by_token.returncode == 0, by_token.stderr
    frame = json.loads(by_token.stdout)
    assert frame["type"] == "connected" and frame["data"]["userId"] == b.identifier.raw_id
    by_key = subprocess.run(
        [*command, "--connection-string", sdk_server.http_connection_string, "--user", b.identifier.raw_id],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert by_key.returncode == 0, by_key.stderr
    assert json.loads(by_key.stdout)["data"]["userId"] == b.identifier.raw_id
    usage = subprocess.run([*command], capture_output=True, text=True, timeout=TIMEOUT)
    assert usage.returncode == 2 and "--token" in usage.stderr
