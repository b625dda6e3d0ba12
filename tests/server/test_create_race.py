"""Idempotent thread creation under concurrency: a retried request racing its original.

Five `POST /chat/threads` with the same `repeatability-request-id`, sent at once, to one node (both
engines) and spread over two nodes on one PostgreSQL, make one thread, and every answer names it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid

import httpx
import pytest

from _services import HubbubServer, PostgresCluster, ServerFactory

from ._acs import CHAT_API_VERSION, Acs

RACERS = 5


async def _race(nodes: list[HubbubServer], token: str, *, rounds: int = 3) -> None:
    clients = [
        httpx.AsyncClient(
            base_url=node.http_url, trust_env=False, timeout=30, headers={"authorization": f"Bearer {token}"}
        )
        for node in nodes
    ]
    try:
        for _ in range(rounds):
            request_id = str(uuid.uuid4())
            body = {"topic": f"race {request_id[:8]}"}

            async def create(i: int, request_id: str = request_id, body: dict[str, str] = body) -> httpx.Response:
                return await clients[i % len(clients)].post(
                    "/chat/threads",
                    params={"api-version": CHAT_API_VERSION},
                    json=body,
                    headers={"repeatability-request-id": request_id},
                )

            answers = await asyncio.gather(*(create(i) for i in range(RACERS)))
            assert [a.status_code for a in answers] == [201] * RACERS, [a.text for a in answers]
            ids = {a.json()["chatThread"]["id"] for a in answers}
            assert len(ids) == 1, ids
            (thread_id,) = ids
            listed = await clients[0].get("/chat/threads", params={"api-version": CHAT_API_VERSION})
            mine = [t["id"] for t in listed.json()["value"] if t["topic"] == body["topic"]]
            assert mine == [thread_id]
            messages = await clients[-1].get(
                f"/chat/threads/{thread_id}/messages", params={"api-version": CHAT_API_VERSION}
            )
            created = [m for m in messages.json()["value"] if m["type"] == "topicUpdated"]
            assert len(created) == 1  # one creation, not one per racer
    finally:
        for client in clients:
            await client.aclose()


async def test_concurrent_create_one_node(server: HubbubServer, acs: Acs) -> None:
    await _race([server], acs.new_user().token)


@pytest.mark.postgres
async def test_concurrent_create_two_nodes(server_factory: ServerFactory, postgres_cluster: PostgresCluster) -> None:
    shared = {
        "HUBBUB_DATABASE_URL": postgres_cluster.create_database(),
        "HUBBUB_ACCESS_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    nodes = [server_factory("sqlite", env=shared) for _ in range(2)]
    for node in nodes:
        node.access_key = shared["HUBBUB_ACCESS_KEY"]
    await _race(nodes, Acs(nodes[0]).new_user().token)
