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
from hubbub._sdk.events import ChatEvent, SseParser

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


async def test_async_handlers_may_be_coroutines_and_off_stops_them(
    sdk_server: HubbubServer, make_user: UserFactory
) -> None:
    """The basics of `on()`/`off()` (every event, on every transport and API: test_realtime_transports.py)."""
    a, b = make_user(), make_user()
    async with (
        aio_chat.ChatClient(sdk_server.http_url, aio_chat.CommunicationTokenCredential(a.token)) as client_a,
        aio_chat.ChatClient(sdk_server.http_url, aio_chat.CommunicationTokenCredential(b.token)) as client_b,
    ):
        seen_b = Recorder()
        async_calls: list[str] = []

        async def async_handler(event: ChatEvent) -> None:
            async_calls.append(event.type)

        for name in ("chatMessageReceived", "chatThreadCreated", "realTimeNotificationConnected"):
            client_b.on(name, seen_b)
        client_b.on("chatMessageReceived", async_handler)
        with pytest.raises(ValueError):
            client_b.on("noSuchEvent", seen_b)

        await client_b.start_realtime_notifications()
        await client_b.start_realtime_notifications()  # a no-op: still one stream
        await seen_b.next("realTimeNotificationConnected")
        created = await client_a.create_chat_thread("topic", thread_participants=[participant(sync_chat, b)])
        await seen_b.next("chatThreadCreated")
        async with client_a.get_chat_thread_client(created.chat_thread.id) as thread_a:
            await thread_a.send_message("hello")
            await seen_b.next("chatMessageReceived")
            assert async_calls == ["chatMessageReceived"]
            client_b.off("chatMessageReceived", async_handler)
            await thread_a.send_message("after off")
            await seen_b.next("chatMessageReceived")
            assert async_calls == ["chatMessageReceived"]
        await client_b.stop_realtime_notifications()
    assert seen_b.events.empty()


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
    by_websocket = subprocess.run(
        [*command, "--token", b.token, "--transport", "websocket"], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert by_websocket.returncode == 0, by_websocket.stderr
    assert json.loads(by_websocket.stdout)["data"]["userId"] == b.identifier.raw_id
    usage = subprocess.run([*command], capture_output=True, text=True, timeout=TIMEOUT)
    assert usage.returncode == 2 and "--token" in usage.stderr
