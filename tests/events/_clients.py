"""Test clients for the event streams and the chat REST API, used against real server processes.

`WsListener` and `SseListener` read one event stream each in a background task and expose the
frames in arrival order; `ChatUser` drives the REST API with plain httpx and a bearer token, and
users are created with the official azure-communication-identity client over plain HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from azure.communication.identity import CommunicationIdentityClient, CommunicationTokenScope
from azure.core.credentials import AzureKeyCredential
from websockets.asyncio.client import ClientConnection, connect

from _services import HubbubServer

API = "2024-03-07"
Frame = dict[str, Any]


class ChatUser:
    """One identity with a chat token, calling the REST API of one server (node)."""

    def __init__(self, server: HubbubServer, user_id: str, token: str) -> None:
        self.server = server
        self.id = user_id
        self.token = token
        self.http = httpx.AsyncClient(
            base_url=server.http_url, trust_env=False, timeout=30, headers={"authorization": f"Bearer {token}"}
        )

    def on(self, server: HubbubServer) -> ChatUser:
        """The same user talking to another node."""
        return ChatUser(server, self.id, self.token)

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = await self.http.request(method, path, params={"api-version": API}, json=body)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    async def create_thread(self, *members: ChatUser, topic: str = "events") -> str:
        body = {"topic": topic, "participants": [participant(u) for u in (self, *members)]}
        created = await self.call("POST", "/chat/threads", body, expect=201)
        return str(created["chatThread"]["id"])

    async def send(self, thread_id: str, content: str) -> str:
        sent = await self.call("POST", f"/chat/threads/{thread_id}/messages", {"content": content}, expect=201)
        return str(sent["id"])

    async def add(self, thread_id: str, *users: ChatUser) -> None:
        await self.call(
            "POST",
            f"/chat/threads/{thread_id}/participants/:add",
            {"participants": [participant(u) for u in users]},
            expect=201,
        )

    async def remove(self, thread_id: str, user: ChatUser) -> None:
        await self.call(
            "POST",
            f"/chat/threads/{thread_id}/participants/:remove",
            {"communicationUser": {"id": user.id}, "rawId": user.id},
            expect=204,
        )

    async def aclose(self) -> None:
        await self.http.aclose()


def participant(user: ChatUser) -> dict[str, Any]:
    return {
        "communicationIdentifier": {"rawId": user.id, "communicationUser": {"id": user.id}},
        "displayName": f"user-{user.id[-6:]}",
    }


def identity_client(server: HubbubServer) -> CommunicationIdentityClient:
    return CommunicationIdentityClient(server.http_url, AzureKeyCredential(server.access_key or ""))


def new_user(server: HubbubServer) -> ChatUser:
    user, token = identity_client(server).create_user_and_token(scopes=[CommunicationTokenScope.CHAT])
    return ChatUser(server, user.properties["id"], token.token)


# -- event stream listeners -----------------------------------------------------------------------


class Listener:
    """Frames of one stream in arrival order; `closed` is set when the stream ends."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[Frame] = asyncio.Queue()
        self.seen: list[Frame] = []
        self.closed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _got(self, frame: Frame) -> None:
        self.seen.append(frame)
        self.frames.put_nowait(frame)

    async def next(self, timeout: float = 10.0, *, control: bool = False) -> Frame:
        """The next frame; heartbeats and `connected` are skipped unless `control`."""
        while True:
            async with asyncio.timeout(timeout):
                frame = await self.frames.get()
            if control or frame["type"] not in ("heartbeat", "connected"):
                return frame

    async def events(self, count: int, timeout: float = 10.0) -> list[Frame]:
        return [await self.next(timeout) for _ in range(count)]

    async def quiet(self, seconds: float = 0.5) -> list[Frame]:
        """Chat events that arrive within `seconds` (expected: none)."""
        found = []
        with contextlib.suppress(TimeoutError):
            while True:
                found.append(await self.next(seconds))
        return found

    @property
    def last_id(self) -> str | None:
        ids = [f["id"] for f in self.seen if "id" in f]
        return ids[-1] if ids else None

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


class WsListener(Listener):
    """The WebSocket transport. `how`: header, query or subprotocol."""

    def __init__(self, server: HubbubServer, token: str, *, last_id: str | None = None, how: str = "header") -> None:
        super().__init__()
        query: dict[str, str] = {}
        headers: dict[str, str] = {}
        self.subprotocols = ["hubbub.events.v1"]
        if how == "header":
            headers["authorization"] = f"Bearer {token}"
        elif how == "query":
            query["access_token"] = token
        else:
            self.subprotocols.append(f"token.{token}")
        if last_id:
            query["lastEventId"] = last_id
        self.url = f"ws://{server.host}:{server.http_port}/chat/events/ws" + (f"?{urlencode(query)}" if query else "")
        self.headers = headers
        self.ws: ClientConnection | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def start(self) -> WsListener:
        self.ws = await connect(
            self.url, additional_headers=self.headers, subprotocols=self.subprotocols, open_timeout=10
        )  # type: ignore[arg-type]
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                self._got(json.loads(message))
        except Exception:
            pass
        finally:
            self.close_code, self.close_reason = self.ws.close_code, self.ws.close_reason
            self.closed.set()

    def kill(self) -> None:
        """Drop the TCP connection without a closing handshake (a crashed client)."""
        assert self.ws is not None
        self.ws.transport.abort()

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        await super().close()


class SseListener(Listener):
    """The Server-Sent Events transport, parsed by hand from an httpx stream."""

    def __init__(
        self,
        server: HubbubServer,
        token: str,
        *,
        last_id: str | None = None,
        how: str = "header",
        id_in_query: bool = False,
        paused: bool = False,
    ) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        """Until set, the stream is open but not read (a client that stopped reading)."""
        if not paused:
            self.reading.set()
        self.params: dict[str, str] = {}
        self.headers = {"accept": "text/event-stream"}
        if how == "header":
            self.headers["authorization"] = f"Bearer {token}"
        else:
            self.params["access_token"] = token
        if last_id and id_in_query:
            self.params["lastEventId"] = last_id
        elif last_id:
            self.headers["last-event-id"] = last_id
        self.client = httpx.AsyncClient(base_url=server.http_url, trust_env=False, timeout=httpx.Timeout(10, read=None))
        self.status: int | None = None
        self.sse_ids: list[str] = []

    async def start(self) -> SseListener:
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._read(opened))
        await opened
        return self

    async def _read(self, opened: asyncio.Future[None]) -> None:
        try:
            async with self.client.stream("GET", "/chat/events", params=self.params, headers=self.headers) as response:
                self.status = response.status_code
                assert response.headers["content-type"].startswith("text/event-stream")
                opened.set_result(None)
                await self.reading.wait()
                fields: dict[str, str] = {}
                async for line in response.aiter_lines():
                    if line == "":
                        if "data" in fields:
                            frame = json.loads(fields["data"])
                            assert frame["type"] == fields.get("event"), (frame, fields)
                            assert frame.get("id") == fields.get("id"), (frame, fields)
                            if "id" in fields:
                                self.sse_ids.append(fields["id"])
                            self._got(frame)
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value[1:] if value.startswith(" ") else value
        except Exception as exc:
            if not opened.done():
                opened.set_exception(exc)
        finally:
            self.closed.set()

    def kill(self) -> None:
        assert self.task is not None
        self.task.cancel()

    async def close(self) -> None:
        await super().close()
        await self.client.aclose()


def unique_stream() -> str:
    return f"hubbub:test:{uuid.uuid4().hex[:8]}"
