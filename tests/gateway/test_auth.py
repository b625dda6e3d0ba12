"""No impersonation: calls for a user_id carry that user's token (401 without, 403 with another's),
and a forged token fails whether the gateway verifies it locally or by using it upstream."""

from __future__ import annotations

import base64
import json
import subprocess

import httpx
import pytest

from _services import CABundle, HubbubServer

from ._client import Gateway, Pair, error_of
from .conftest import GatewayProcess, start_server


@pytest.fixture
def pair(gateway: Gateway) -> Pair:
    return gateway.create_users()


@pytest.fixture
def thread_id(gateway: Gateway, pair: Pair) -> str:
    return gateway.thread_for(pair)


def forged_token(real_token: str, user_id: str) -> str:
    """A token claiming `user_id`, built from a real token by editing its payload (bad signature)."""
    header, payload, signature = real_token.split(".")
    claims = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    claims["skypeid"] = user_id.removeprefix("8:")
    encoded = base64.b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{header}.{encoded}.{signature}"


def calls(thread_id: str, pair: Pair) -> list[tuple[str, str, dict[str, str]]]:
    """Every call acting for user1."""
    u1 = pair.user1_id
    return [
        ("POST", "/create_thread", {"user1_id": u1}),
        ("POST", "/send_message", {"thread_id": thread_id, "user_id": u1, "message": "as user1"}),
        ("GET", "/get_messages", {"thread_id": thread_id, "user_id": u1}),
        ("GET", "/get_all_messages", {"thread_id": thread_id, "user_id": u1}),
    ]


def call(gateway: Gateway, method: str, path: str, values: dict[str, str], token: str | None) -> httpx.Response:
    return gateway.post(path, values, token) if method == "POST" else gateway.get(path, token, **values)


def test_another_users_token_is_403(gateway: Gateway, pair: Pair, thread_id: str) -> None:
    for method, path, values in calls(thread_id, pair):
        assert "does not belong" in error_of(call(gateway, method, path, values, pair.user2_token), 403)
    history = gateway.ok(gateway.get("/get_all_messages", pair.user1_token, thread_id=thread_id, user_id=pair.user1_id))
    assert history == {"messages": []}, "nothing was sent as user1"


def test_missing_or_malformed_token_is_401(gateway: Gateway, pair: Pair, thread_id: str) -> None:
    for method, path, values in calls(thread_id, pair):
        error_of(call(gateway, method, path, values, None), 401)
        error_of(call(gateway, method, path, values, "not-a-token"), 401)
        error_of(call(gateway, method, path, values, "a.b.c"), 401)
    error_of(gateway.post("/add_user", {"thread_id": thread_id, "user2_id": pair.user2_id}), 401)
    response = gateway.http.post(
        "/send_message",
        json={"thread_id": thread_id, "user_id": pair.user1_id, "message": "x"},
        headers={"Authorization": f"Basic {pair.user1_token}"},
    )
    error_of(response, 401)


def test_forged_token_is_refused(gateway: Gateway, pair: Pair, thread_id: str) -> None:
    """user2 edits their own token to claim user1: the claim matches user_id, the signature does not."""
    forged = forged_token(pair.user2_token, pair.user1_id)
    for method, path, values in calls(thread_id, pair):
        error_of(call(gateway, method, path, values, forged), 401)
    history = gateway.ok(gateway.get("/get_all_messages", pair.user1_token, thread_id=thread_id, user_id=pair.user1_id))
    assert history == {"messages": []}


def test_outsider_cannot_read_write_or_add(gateway: Gateway, pair: Pair, thread_id: str) -> None:
    outsider = gateway.create_users()
    values = {"thread_id": thread_id, "user_id": outsider.user1_id}
    error_of(gateway.get("/get_messages", outsider.user1_token, **values), 403)
    error_of(gateway.get("/get_all_messages", outsider.user1_token, **values), 403)
    error_of(gateway.post("/send_message", {**values, "message": "let me in"}, outsider.user1_token), 403)
    error_of(
        gateway.post("/add_user", {"thread_id": thread_id, "user2_id": outsider.user1_id}, outsider.user1_token), 403
    )


def test_add_user_acting_user_id_must_match_the_token(gateway: Gateway, pair: Pair, thread_id: str) -> None:
    third = gateway.create_users()
    body = {"thread_id": thread_id, "user2_id": third.user1_id, "user_id": pair.user1_id}
    error_of(gateway.post("/add_user", body, pair.user2_token), 403)
    assert gateway.ok(gateway.post("/add_user", body, pair.user1_token)) == {"message": "User added successfully"}
    # any participant may add people: user2 adds a fourth user
    body = {"thread_id": thread_id, "user2_id": third.user2_id}
    assert gateway.ok(gateway.post("/add_user", body, pair.user2_token)) == {"message": "User added successfully"}
    gateway.send(thread_id, third.user2_id, third.user2_token, "hello from the fourth")


def test_revoked_token_is_401(gateway: Gateway, pair: Pair, thread_id: str, request: pytest.FixtureRequest) -> None:
    """Revocation is seen in both modes: locally inside serve, upstream for the standalone gateway."""
    server: HubbubServer = request.getfixturevalue("serve_process" if gateway.mode == "mounted" else "backend_process")
    from hubbub.identity import CommunicationIdentityClient, CommunicationUserIdentifier

    with CommunicationIdentityClient.from_connection_string(server.http_connection_string) as identity:
        identity.revoke_tokens(CommunicationUserIdentifier(pair.user1_id))
    error_of(gateway.get("/get_messages", pair.user1_token, thread_id=thread_id, user_id=pair.user1_id), 401)


def test_admin_key_guards_identity_creation(tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle) -> None:
    server = start_server(tmp_path_factory, ca_bundle, HUBBUB_GATEWAY_ADMIN_KEY="s3cret")
    standalone = None
    try:
        standalone = GatewayProcess(
            server.http_connection_string, server.data_dir.parent / "gw.log", "--admin-key", "s3cret"
        )
        for url in (server.http_url, standalone.url):
            gateway = Gateway(url, mode="admin")
            for path in ("/create_users", "/gateway/identity"):
                error_of(gateway.post(path), 401)
                error_of(gateway.post(path, headers={"X-Admin-Key": "wrong"}), 403)
                assert gateway.post(path, headers={"X-Admin-Key": "s3cret"}).status_code == 200
            gateway.close()
    finally:
        if standalone is not None:
            standalone.stop()
        server.stop()


def test_standalone_gateway_over_https_with_ca(
    backend_process: HubbubServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """In front of an https endpoint with a private CA: refused without the CA, works with --ca."""
    log = tmp_path_factory.mktemp("gw-https") / "gateway.log"
    untrusted = GatewayProcess(backend_process.connection_string, log)
    try:
        error_of(Gateway(untrusted.url, mode="https").post("/create_users"), 502)
    finally:
        untrusted.stop()
    trusted = GatewayProcess(backend_process.connection_string, log, "--ca", str(backend_process.ca_path))
    try:
        gateway = Gateway(trusted.url, mode="https")
        pair = gateway.create_users()
        thread_id = gateway.thread_for(pair)
        gateway.send(thread_id, pair.user1_id, pair.user1_token, "over TLS")
        received = gateway.ok(
            gateway.get("/get_messages", pair.user2_token, thread_id=thread_id, user_id=pair.user2_id)
        )
        assert [m["message"] for m in received["messages"]] == ["over TLS"]
        gateway.close()
    finally:
        trusted.stop()


def test_gateway_refuses_a_bad_connection_string() -> None:
    from _services import hubbub_command, service_env

    done = subprocess.run(
        [*hubbub_command(), "gateway", "--connection-string", "nonsense"],
        capture_output=True,
        text=True,
        env=service_env(),
        timeout=60,
    )
    assert done.returncode == 2 and "connection string" in done.stderr.lower()
