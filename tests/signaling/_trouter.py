"""A Trouter client in Python, doing what `@azure/communication-signaling` does (docs/signaling.md):
discovery, allocation, socket.io 0.9 handshake, WebSocket with acks. Used to test the endpoints
frame by frame; the browser test runs the real JS client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from azure.communication.identity import CommunicationIdentityClient, CommunicationTokenScope
from azure.core.credentials import AzureKeyCredential
from websockets.asyncio.client import ClientConnection, connect

from _services import HubbubServer

API = "2024-03-07"


class User:
    """An identity with a chat token, calling one server's REST API over plain HTTP."""

    def __init__(self, server: HubbubServer, user_id: str, token: str) -> None:
        self.server = server
        self.id = user_id
        self.token = token

    def rest(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = httpx.request(
            method,
            self.server.http_url + path,
            params={"api-version": API},
            json=body,
            headers={"authorization": f"Bearer {self.token}"},
            trust_env=False,
            timeout=30,
        )
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


def identity_client(server: HubbubServer) -> CommunicationIdentityClient:
    return CommunicationIdentityClient(server.http_url, AzureKeyCredential(server.access_key or ""))


def new_user(server: HubbubServer) -> User:
    user, token = identity_client(server).create_user_and_token(scopes=[CommunicationTokenScope.CHAT])
    return User(server, user.properties["id"], token.token)


def participant(user: User, name: str) -> dict[str, Any]:
    return {"communicationIdentifier": {"rawId": user.id, "communicationUser": {"id": user.id}}, "displayName": name}


class TrouterClient:
    """One client endpoint (a stable `epid`), connecting as many times as a test wants."""

    def __init__(self, server: HubbubServer, token: str) -> None:
        self.server = server
        self.token = token
        self.epid = str(uuid.uuid4())
        self.session_id = str(uuid.uuid4())
        self.http = httpx.Client(base_url=server.http_url, trust_env=False, timeout=10)
        self.attempt = 0

    @property
    def skype_header(self) -> dict[str, str]:
        return {"x-skypetoken": self.token} if self.token else {}

    def discover(self) -> httpx.Response:
        return self.http.get(
            "/chat/config/realTimeNotifications",
            params={"api-version": "2024-09-01"},
            headers={"authorization": f"Bearer {self.token}"} if self.token else {},
        )

    def allocate(self) -> httpx.Response:
        self.attempt += 1
        query = {"cor_id": self.session_id, "con_num": f"{int(time.time() * 1000)}_{self.attempt}", "epid": self.epid}
        return self.http.post("/v4/a", params=query, headers={**self.skype_header, "content-type": "text/plain"})

    def query(self, allocation: dict[str, Any]) -> str:
        params = {**allocation["connectparams"], "v": "v4", "tc": "{}", "timeout": "40", "auth": "true"}
        params.update({"epid": self.epid, "ccid": allocation["ccid"], "cor_id": self.session_id})
        return urlencode(params)

    def handshake(self, allocation: dict[str, Any]) -> httpx.Response:
        return self.http.get(f"/socket.io/1/?{self.query(allocation)}&t=1", headers=self.skype_header)

    def socket_url(self, allocation: dict[str, Any], sid: str) -> str:
        return f"ws://{self.server.host}:{self.server.http_port}/socket.io/1/websocket/{sid}?{self.query(allocation)}"

    async def connect(self) -> TrouterSocket:
        """Allocate, hand-shake and open the WebSocket; returns once `trouter.connected` arrived."""
        allocation = self.allocate()
        assert allocation.status_code == 200, allocation.text
        shake = self.handshake(allocation.json())
        assert shake.status_code == 200, shake.text
        sid = shake.text.split(":")[0]
        socket = TrouterSocket(await connect(self.socket_url(allocation.json(), sid)))
        assert await socket.recv() == "1::"
        connected = json.loads((await socket.recv()).removeprefix("5:::"))
        assert connected["name"] == "trouter.connected" and isinstance(connected["args"][0], dict)
        return socket

    def close(self) -> None:
        self.http.close()


class TrouterSocket:
    """The WebSocket after the handshake: sends what the client sends, collects pushed requests."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.acks = 0

    async def recv(self, timeout: float = 10.0) -> str:
        async with asyncio.timeout(timeout):
            return str(await self.ws.recv())

    async def request(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next pushed request (`3:::`), answered 200 as the JS client does; the body decoded."""
        while True:
            text = await self.recv(timeout)
            if text.startswith("3:::"):
                envelope = json.loads(text[4:])
                assert isinstance(envelope["body"], str)
                answer = {"id": envelope["id"], "status": 200, "headers": {}, "body": ""}
                await self.ws.send("3:::" + json.dumps(answer))
                return {**envelope, "body": json.loads(envelope["body"])}
            assert text in ("2::",) or text.startswith("6:::"), text

    async def emit(self, name: str, *args: Any) -> str:
        """`5:<n>+::{event}`; returns the ack frame that came back."""
        self.acks += 1
        await self.ws.send(f"5:{self.acks}+::" + json.dumps({"name": name, "args": list(args)}))
        while True:
            text = await self.recv(5.0)
            if text.startswith("6:::"):
                return text

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send("0::")
        await self.ws.close()
