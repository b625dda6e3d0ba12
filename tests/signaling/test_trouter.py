"""The Trouter signaling endpoints, frame by frame, with a Python client doing what the JS one does.

Mostly on one node with the memory bus: delivery and revocation order are the hub's, tested in
tests/events; `test_across_nodes` checks that the signaling WebSocket gets them from Redis too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from _services import HubbubServer, PostgresCluster, ServerFactory, cluster_nodes

from ._trouter import TrouterClient, User, identity_client, new_user, participant


@pytest.fixture
def node(server_factory: ServerFactory) -> HubbubServer:
    return server_factory("sqlite", env={"HUBBUB_EVENTS_HEARTBEAT_SECONDS": "1"})


@pytest.fixture
def client(node: HubbubServer) -> Iterator[tuple[User, TrouterClient]]:
    alice = new_user(node)
    trouter = TrouterClient(node, alice.token)
    yield alice, trouter
    trouter.close()


def test_discovery_points_at_this_origin(node: HubbubServer, client: tuple[User, TrouterClient]) -> None:
    _, trouter = client
    answer = trouter.discover()
    assert answer.status_code == 200
    assert answer.json() == {
        "trouterServiceUrl": node.http_url,
        "registrarServiceUrl": node.http_url,
        "cloudType": "public",
    }
    # An endpoint with a trailing slash: the JS client asks for `//chat/config/…`.
    double = httpx.get(
        f"{node.https_url}//chat/config/realTimeNotifications?api-version=2024-09-01",
        headers={"authorization": f"Bearer {trouter.token}"},
        verify=node.ssl_context(),
        trust_env=False,
    )
    assert double.status_code == 200
    assert double.json()["trouterServiceUrl"] == node.https_url


@pytest.mark.parametrize("token", ["", "not-a-token", "revoked"])
def test_every_step_refuses_a_bad_token(node: HubbubServer, client: tuple[User, TrouterClient], token: str) -> None:
    alice, trouter = client
    allocation = trouter.allocate().json()  # issued while the token was good
    if token == "revoked":
        identity_client(node).revoke_tokens(_identifier(alice))
        token = alice.token
    bad = TrouterClient(node, token)
    bad.epid, bad.session_id = trouter.epid, trouter.session_id
    try:
        assert bad.discover().status_code == 401
        refused = bad.allocate()
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "Unauthorized"
        assert bad.handshake(allocation).status_code == 401
        headers = {**bad.skype_header, "content-type": "application/json"}
        body = {"registrationId": trouter.epid}
        assert bad.http.post("/v3/registrations", json=body, headers=headers).status_code == 401
        assert bad.http.delete(f"/v3/registrations/{trouter.epid}", headers=headers).status_code == 401
    finally:
        bad.close()


def _identifier(user: User) -> object:
    from azure.communication.identity import CommunicationUserIdentifier

    return CommunicationUserIdentifier(user.id)


def test_allocation_and_handshake_are_well_formed(client: tuple[User, TrouterClient]) -> None:
    _, trouter = client
    allocated = trouter.allocate()
    assert allocated.status_code == 200
    assert allocated.headers["content-type"].startswith("application/json")
    allocation = allocated.json()
    assert allocation["socketio"] == trouter.server.http_url + "/"
    assert isinstance(allocation["surl"], str) and isinstance(allocation["url"], str)
    assert int(allocation["ttl"]) > 3600
    for key, value in allocation["connectparams"].items():
        assert key != "scae"
        assert not set(str(value)) & set("=&#% +"), (key, value)  # echoed into URLs without encoding
    shake = trouter.handshake(allocation)
    assert shake.status_code == 200
    assert shake.headers["content-type"].startswith("text/plain")
    sid, heartbeat, close, transports = shake.text.split(":")
    assert sid.isalnum() and int(heartbeat) >= 2 and int(close) >= 2 and transports == "websocket"


def test_registrar(client: tuple[User, TrouterClient]) -> None:
    alice, trouter = client
    headers = {"x-skypetoken": alice.token}
    body = {
        "clientDescription": {"appId": "AcsWeb", "templateKey": "AcsWeb_Chat_2.1"},
        "registrationId": trouter.epid,
        "nodeId": "",
        "transports": {"TROUTER": [{"context": "", "path": "https://x/surl/1", "ttl": 7200}]},
    }
    assert trouter.http.post("/v3/registrations", json=body, headers=headers).status_code == 202
    assert trouter.http.post("/v3/registrations", content=b"{", headers=headers).status_code == 400
    assert trouter.http.delete(f"/v3/registrations/{trouter.epid}", headers=headers).status_code == 202


async def test_forged_or_stale_connect_params_are_refused(client: tuple[User, TrouterClient]) -> None:
    _, trouter = client
    allocation = trouter.allocate().json()
    sid = trouter.handshake(allocation).text.split(":")[0]
    forged = {**allocation, "connectparams": {**allocation["connectparams"], "sig": "AAAA"}}
    for url in (
        trouter.socket_url(forged, sid),
        trouter.socket_url(allocation, "0" + sid[1:]),
        trouter.socket_url(allocation, "nothex"),
    ):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url)
        assert refused.value.response.status_code == 401
    # Another user's token cannot hand-shake with alice's connectparams.
    bob = new_user(trouter.server)
    other = TrouterClient(trouter.server, bob.token)
    try:
        assert other.handshake(allocation).status_code == 401
    finally:
        other.close()


async def test_connection_acks_and_delivers_a_message(node: HubbubServer, client: tuple[User, TrouterClient]) -> None:
    alice, trouter = client
    bob = new_user(node)
    socket = await trouter.connect()
    try:
        assert await socket.emit("user.activity", {"state": "active", "cv": "x.1"}) == "6:::1+[]"
        assert await socket.emit("ping") == "6:::2+[]"
        body = {"topic": "Lunch", "participants": [participant(alice, "Alice"), participant(bob, "Bob")]}
        thread_id = bob.rest("POST", "/chat/threads", body, expect=201)["chatThread"]["id"]
        created = await socket.request()
        assert created["method"] == "POST" and isinstance(created["id"], int)
        assert created["body"]["eventId"] == 257 and created["body"]["threadId"] == thread_id
        sent = bob.rest(
            "POST", f"/chat/threads/{thread_id}/messages", {"content": "hi", "senderDisplayName": "Bob"}, expect=201
        )
        message = bob.rest("GET", f"/chat/threads/{thread_id}/messages/{sent['id']}")
        pushed = await socket.request()
        assert pushed["id"] > created["id"]
        assert pushed["body"] == {
            "eventId": 200,
            "senderId": bob.id,
            "recipientMri": alice.id,
            "groupId": thread_id,
            "messageId": message["id"],
            "clientMessageId": "",
            "senderDisplayName": "Bob",
            "messageType": "Text",
            "version": message["version"],
            "originalArrivalTime": message["createdOn"],
            "messageBody": "hi",
            "acsChatMessageMetadata": "",
        }
        # Quiet: the server keeps the connection alive with socket.io heartbeats.
        assert await socket.recv(timeout=3) == "2::"
    finally:
        await socket.close()


async def test_revocation_closes_the_connection(node: HubbubServer, client: tuple[User, TrouterClient]) -> None:
    alice, trouter = client
    socket = await trouter.connect()
    await asyncio.to_thread(identity_client(node).revoke_tokens, _identifier(alice))
    frames = []
    with pytest.raises(ConnectionClosed):
        while True:
            frames.append(await socket.recv(timeout=5))
    assert '0:::{"reason":"unauthorized"}' in frames
    refused = trouter.allocate()
    assert refused.status_code == 401


async def test_reconnect_replays_what_was_missed(node: HubbubServer, client: tuple[User, TrouterClient]) -> None:
    alice, trouter = client
    bob = new_user(node)
    socket = await trouter.connect()
    body = {"topic": "Resume", "participants": [participant(alice, "Alice"), participant(bob, "Bob")]}
    thread_id = bob.rest("POST", "/chat/threads", body, expect=201)["chatThread"]["id"]
    assert (await socket.request())["body"]["eventId"] == 257
    await socket.close()
    await asyncio.sleep(0.2)
    sent = [
        bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": f"m{i}"}, expect=201)["id"]
        for i in range(3)
    ]
    socket = await trouter.connect()  # same epid: comes back within the backlog
    try:
        replayed = [(await socket.request())["body"] for _ in sent]
        assert [b["messageId"] for b in replayed] == sent
        assert [b["messageBody"] for b in replayed] == ["m0", "m1", "m2"]
        live = bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": "live"}, expect=201)["id"]
        assert (await socket.request())["body"]["messageId"] == live  # nothing twice
    finally:
        await socket.close()
    # A stopped client (registrar DELETE) does not get the stopped period replayed on its next start.
    trouter.http.delete(f"/v3/registrations/{trouter.epid}", headers={"x-skypetoken": alice.token})
    bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": "while stopped"}, expect=201)
    socket = await trouter.connect()
    try:
        after = bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": "after"}, expect=201)["id"]
        assert (await socket.request())["body"]["messageId"] == after
    finally:
        await socket.close()
    assert json.dumps(sent)


@pytest.mark.postgres
@pytest.mark.redis
async def test_across_nodes(server_factory: ServerFactory, postgres_cluster: PostgresCluster, redis_url: str) -> None:
    """A connection on node A gets what is written through node B, and closes when B revokes."""
    node_a, node_b = cluster_nodes(
        server_factory, postgres_cluster, redis_url, env={"HUBBUB_EVENTS_HEARTBEAT_SECONDS": "1"}
    )
    alice, bob = new_user(node_a), new_user(node_b)
    trouter = TrouterClient(node_a, alice.token)
    socket = await trouter.connect()
    try:
        body = {"topic": "Nodes", "participants": [participant(alice, "Alice"), participant(bob, "Bob")]}
        thread_id = bob.rest("POST", "/chat/threads", body, expect=201)["chatThread"]["id"]
        assert (await socket.request())["body"]["threadId"] == thread_id
        sent = bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": "via B"}, expect=201)["id"]
        assert (await socket.request())["body"]["messageId"] == sent
        await asyncio.to_thread(identity_client(node_b).revoke_tokens, _identifier(alice))
        frames = []
        with pytest.raises(ConnectionClosed):
            while True:
                frames.append(await socket.recv(timeout=5))
        assert '0:::{"reason":"unauthorized"}' in frames
    finally:
        trouter.close()


@pytest.mark.postgres
@pytest.mark.redis
async def test_reconnect_to_another_node_replays_what_was_missed(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, redis_url: str
) -> None:
    """The JS client that loses node A and comes back through node B (the same endpoint id) gets what
    was sent while it was away, from the Redis backlog, and nothing twice: A saved its bookmark."""
    node_a, node_b = cluster_nodes(
        server_factory, postgres_cluster, redis_url, env={"HUBBUB_EVENTS_HEARTBEAT_SECONDS": "1"}
    )
    alice, bob = new_user(node_a), new_user(node_b)
    on_a = TrouterClient(node_a, alice.token)
    on_b = TrouterClient(node_b, alice.token)
    on_b.epid, on_b.session_id = on_a.epid, on_a.session_id
    try:
        socket = await on_a.connect()
        body = {"topic": "Moves", "participants": [participant(alice, "Alice"), participant(bob, "Bob")]}
        thread_id = bob.rest("POST", "/chat/threads", body, expect=201)["chatThread"]["id"]
        assert (await socket.request())["body"]["threadId"] == thread_id
        first = bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": "before"}, expect=201)["id"]
        assert (await socket.request())["body"]["messageId"] == first
        await socket.close()
        await asyncio.sleep(0.3)  # node A notices the close and saves where the client got to
        sent = [
            bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": f"away {i}"}, expect=201)["id"]
            for i in range(3)
        ]
        socket = await on_b.connect()
        try:
            replayed = [(await socket.request())["body"] for _ in sent]
            assert [b["messageId"] for b in replayed] == sent
            live = bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": "live"}, expect=201)["id"]
            assert (await socket.request())["body"]["messageId"] == live  # nothing twice
        finally:
            await socket.close()
        # Stopped on purpose (registrar DELETE on node B): the bookmark is gone on every node.
        on_b.http.delete(f"/v3/registrations/{on_b.epid}", headers={"x-skypetoken": alice.token})
        bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": "while stopped"}, expect=201)
        socket = await on_a.connect()
        try:
            after = bob.rest("POST", f"/chat/threads/{thread_id}/messages", {"content": "after"}, expect=201)["id"]
            assert (await socket.request())["body"]["messageId"] == after
        finally:
            await socket.close()
    finally:
        on_a.close()
        on_b.close()
