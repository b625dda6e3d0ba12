"""`--rate-limit` (spec §12: 429 + Retry-After, §7.3) and the plain-HTTP endpoint (§3.1, §3.3)."""

from __future__ import annotations

import pytest
from azure.communication.chat import ChatClient, CommunicationTokenCredential
from azure.communication.identity import CommunicationIdentityClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError

from _services import HubbubServer, ServerFactory, parse_connection_string

from ._acs import Acs, RawApi, User, assert_acs_error


def test_rate_limit_answers_429_with_retry_after(server_factory: ServerFactory) -> None:
    hubbub = server_factory("sqlite", args=["--rate-limit"])
    acs = Acs(hubbub)
    alice, bob = acs.new_users(2)
    raw = RawApi(hubbub)
    try:
        statuses = [
            raw.chat("POST", "/chat/threads", alice.token, json_body={"topic": f"t{i}"}).status_code for i in range(10)
        ]
        assert statuses == [201] * 10  # create thread: 10 per user per 10 s
        limited = raw.chat("POST", "/chat/threads", alice.token, json_body={"topic": "one too many"})
        assert_acs_error(limited, 429)
        assert float(limited.headers["Retry-After"]) > 0
        # per user: Bob is not limited by Alice's burst, and the limited create wrote nothing
        assert raw.chat("POST", "/chat/threads", bob.token, json_body={"topic": "bob"}).status_code == 201
        topics = [t["topic"] for t in raw.chat("GET", "/chat/threads", alice.token).json()["value"]]
        assert sorted(topics) == sorted(f"t{i}" for i in range(10))
    finally:
        raw.close()


def test_plain_http_endpoint(server: HubbubServer, acs: Acs) -> None:
    """Plain HTTP works when clients are built directly and bearer calls pass enforce_https=False."""
    parts = parse_connection_string(server.http_connection_string)
    assert parts["endpoint"].startswith("http://")
    identity = CommunicationIdentityClient(server.http_url, AzureKeyCredential(parts["accesskey"]))
    user_id, token = identity.create_user_and_token(["chat"])
    identity._identity_service_client.close()  # the sync identity client has no close() of its own
    user = User(user_id.properties["id"], token.token)
    with ChatClient(server.http_url, CommunicationTokenCredential(user.token)) as client:
        thread_id = client.create_chat_thread("over http", enforce_https=False).chat_thread.id
        assert [t.id for t in client.list_chat_threads(enforce_https=False)] == [thread_id]
    # and the same data is there over HTTPS
    with acs.thread(user, thread_id) as tc:
        assert tc.get_properties().topic == "over http"


def test_wrong_access_key_is_rejected(server: HubbubServer) -> None:
    identity = CommunicationIdentityClient(server.https_url, AzureKeyCredential("d3Jvbmcga2V5IHdyb25nIGtleQ=="))
    try:
        with pytest.raises(HttpResponseError) as caught:
            identity.create_user()
    finally:
        identity._identity_service_client.close()
    assert caught.value.status_code == 401
