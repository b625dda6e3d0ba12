"""The streams accept the token as a header, query parameter or subprotocol, and refuse bad ones.

Memory bus only: tokens and `lastEventId` are checked before a stream reaches the bus (revoked
tokens, which the bus does concern, are in test_revocation.py)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from _services import HubbubServer, ServerFactory

from ._clients import ChatUser, SseListener, WsListener
from .conftest import HEARTBEAT


@pytest.fixture
def node(server_factory: ServerFactory) -> HubbubServer:
    """Overrides the bus-parametrized `node` (and so `users`): one server with the memory bus."""
    return server_factory("sqlite", env={"HUBBUB_EVENTS_HEARTBEAT_SECONDS": HEARTBEAT})


@pytest.mark.parametrize("how", ["header", "query", "subprotocol"])
async def test_websocket_token_forms(node: HubbubServer, users: Callable[[], ChatUser], how: str) -> None:
    alice = users()
    listener = await WsListener(node, alice.token, how=how).start()
    try:
        assert listener.ws is not None and listener.ws.subprotocol == "hubbub.events.v1"
        hello = await listener.next(control=True)
        assert hello["data"]["userId"] == alice.id
    finally:
        await listener.close()


@pytest.mark.parametrize("how", ["header", "query"])
async def test_sse_token_forms(node: HubbubServer, users: Callable[[], ChatUser], how: str) -> None:
    alice = users()
    listener = await SseListener(node, alice.token, how=how).start()
    try:
        assert listener.status == 200
        assert (await listener.next(control=True))["data"]["userId"] == alice.id
    finally:
        await listener.close()


async def ws_status(node: HubbubServer, query: str = "", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    url = f"ws://{node.host}:{node.http_port}/chat/events/ws{query}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers or {}, open_timeout=10):
            pass
    return refused.value.response.status_code, refused.value.response.body or b""


async def test_missing_or_bad_tokens_get_401_before_the_stream(node: HubbubServer) -> None:
    async with httpx.AsyncClient(base_url=node.http_url, trust_env=False) as http:
        for headers in ({}, {"authorization": "Bearer not-a-token"}):
            response = await http.get("/chat/events", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "Unauthorized"
    for query, headers in (("", {}), ("?access_token=garbage", {})):
        status, body = await ws_status(node, query, headers)
        assert status == 401 and b'"Unauthorized"' in body


async def test_malformed_last_event_id_is_a_400(node: HubbubServer, users: Callable[[], ChatUser]) -> None:
    alice = users()
    async with httpx.AsyncClient(base_url=node.http_url, trust_env=False) as http:
        response = await http.get(
            "/chat/events", headers={"authorization": f"Bearer {alice.token}", "last-event-id": "yesterday"}
        )
    assert response.status_code == 400 and response.json()["error"]["target"] == "lastEventId"
