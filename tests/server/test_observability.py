"""Health probes, Prometheus metrics, JSON logs and a real certificate, on real server processes
driven by the official Azure SDKs."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.communication.chat import ChatClient, ChatParticipant, CommunicationTokenCredential
from azure.communication.identity import CommunicationIdentityClient
from azure.core.exceptions import HttpResponseError
from prometheus_client.parser import text_string_to_metric_families

from _services import CABundle, HubbubServer, PostgresCluster, RedisServer, ServerFactory, ServiceUnavailable
from hubbub.server.datadir import ensure_certificates


def _until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def _ready(server: HubbubServer) -> httpx.Response:
    return httpx.get(f"{server.http_url}/health/ready", timeout=10, trust_env=False)


def _chat_traffic(server: HubbubServer, messages: int = 3, **options: Any) -> dict[str, Any]:
    """Create two users, a thread, send and list messages with the official SDK."""
    identity = CommunicationIdentityClient.from_connection_string(server.connection_string)
    alice, token = identity.create_user_and_token(["chat"])
    bob = identity.create_user()
    chat = ChatClient(server.https_url, CommunicationTokenCredential(token.token))
    created = chat.create_chat_thread("metrics", thread_participants=[ChatParticipant(identifier=bob)], **options)
    thread = chat.get_chat_thread_client(created.chat_thread.id)
    for index in range(messages):
        thread.send_message(f"secret message body {index}", **options)
    listed = list(thread.list_messages(**options))
    return {"token": token.token, "alice": alice, "thread": thread, "listed": listed, "chat": chat}


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    try:
        redis = RedisServer()
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    redis.start()
    yield redis
    redis.stop()


# -- 1. health ----------------------------------------------------------------------------------------


def test_live_and_ready_on_sqlite(server_factory: ServerFactory) -> None:
    server = server_factory("sqlite")
    assert httpx.get(f"{server.http_url}/health/live", trust_env=False).json() == {"status": "ok"}
    assert httpx.get(f"{server.http_url}/health", trust_env=False).status_code == 200
    ready = _ready(server)
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert "redis" not in ready.json()["checks"]


@pytest.mark.postgres
@pytest.mark.redis
def test_ready_follows_postgres_and_redis(tmp_path: Path, ca_bundle: CABundle, own_redis: RedisServer) -> None:
    """A stopped PostgreSQL or Redis makes /health/ready answer 503 naming it; once it is back the
    same server process answers 200 again."""
    try:
        cluster = PostgresCluster()
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    cluster.start()
    server = HubbubServer(
        tmp_path / "data",
        engine="postgres",
        database_url=cluster.create_database(),
        redis_url=own_redis.url,
        env={"HUBBUB_HEALTH_TIMEOUT_SECONDS": "2"},
        ca_bundle=ca_bundle,
    )
    try:
        server.start()
        pid = server.proc.pid if server.proc else None
        assert _ready(server).status_code == 200

        cluster.pause()
        assert _until(lambda: _ready(server).status_code == 503)
        failed = _ready(server).json()
        assert failed["status"] == "failed"
        assert failed["checks"]["database"]["status"] == "failed" and failed["checks"]["database"]["error"]
        assert failed["checks"]["redis"]["status"] == "ok"
        assert httpx.get(f"{server.http_url}/health/live", trust_env=False).status_code == 200
        cluster.resume()
        assert _until(lambda: _ready(server).status_code == 200)

        own_redis.pause()
        assert _until(lambda: _ready(server).status_code == 503)
        failed = _ready(server).json()
        assert failed["checks"]["redis"]["status"] == "failed"
        assert failed["checks"]["database"]["status"] == "ok"
        own_redis.start()
        assert _until(lambda: _ready(server).status_code == 200)
        assert server.running and server.proc is not None and server.proc.pid == pid  # never restarted
    finally:
        server.stop()
        cluster.stop()


# -- 2. metrics ---------------------------------------------------------------------------------------


def _scrape(server: HubbubServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{server.http_url}/metrics", timeout=10, trust_env=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def test_metrics_off_by_default(server_factory: ServerFactory) -> None:
    server = server_factory("sqlite")
    assert httpx.get(f"{server.http_url}/metrics", trust_env=False).status_code == 404


@pytest.mark.redis
def test_metrics_with_two_workers(server_factory: ServerFactory) -> None:
    server = server_factory("sqlite", redis=True, args=["--workers", "2", "--metrics"])
    traffic = _chat_traffic(server, messages=5)
    token = traffic["token"]
    # An open SSE stream is counted while it is open, and receives the next message.
    with httpx.stream(
        "GET", f"{server.http_url}/chat/events", headers={"Authorization": f"Bearer {token}"}, trust_env=False
    ) as stream:
        assert stream.status_code == 200
        assert _until(lambda: _value(_scrape(server), "hubbub_event_streams", transport="sse") == 1)
        traffic["thread"].send_message("one more")
        assert _until(lambda: _value(_scrape(server), "hubbub_events_delivered_total") >= 1)
    assert _until(lambda: _value(_scrape(server), "hubbub_event_streams", transport="sse") == 0)

    def counted(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> bool:
        # Each worker hands its request counts to the shared files at most 0.25 s late (metrics.py).
        return (
            _value(samples, "hubbub_http_requests_total", operation="SendChatMessage", status="201") == 6
            and _value(samples, "hubbub_http_requests_total", operation="ChatEventsSse", status="200") == 1
        )

    assert _until(lambda: counted(_scrape(server)))
    samples = _scrape(server)
    names = {name for name, _ in samples}
    assert _value(samples, "hubbub_http_requests_total", operation="SendChatMessage", status="201") == 6
    assert _value(samples, "hubbub_http_requests_total", operation="CreateChatThread", status="201") == 1
    assert _value(samples, "hubbub_http_requests_total", operation="ListChatMessages", status="200") >= 1
    assert _value(samples, "hubbub_http_requests_total", operation="CreateIdentity", status="201") == 2
    assert _value(samples, "hubbub_http_requests_total", operation="ChatEventsSse", status="200") == 1
    assert _value(samples, "hubbub_http_request_duration_seconds_count", operation="SendChatMessage") == 6
    assert _value(samples, "hubbub_http_request_duration_seconds_bucket", operation="SendChatMessage", le="+Inf") == 6
    assert _value(samples, "hubbub_http_request_duration_seconds_sum", operation="SendChatMessage") > 0
    assert _value(samples, "hubbub_events_published_total") >= 6
    assert _value(samples, "hubbub_event_stream_overflows_total") == 0
    assert "hubbub_event_stream_overflows_total" in names
    assert _value(samples, "hubbub_build_info", version="0.1.0") == 1
    for transport in ("sse", "websocket", "signaling"):
        assert ("hubbub_event_streams", (("transport", transport),)) in samples
    # The database: every write is a transaction, SQLite commits them in groups, none is open now.
    writes = _value(samples, "hubbub_db_transaction_duration_seconds_count", kind="write")
    assert writes >= 9  # 2 identities, 1 thread, 6 messages (and the read receipts, if any)
    assert _value(samples, "hubbub_db_transaction_duration_seconds_count", kind="read") >= 1
    assert 1 <= _value(samples, "hubbub_db_group_commit_size_count") <= writes
    assert _value(samples, "hubbub_db_group_commit_size_sum") >= 9
    assert _value(samples, "hubbub_db_connections_in_use") == 0
    # Each worker reads every event back from Redis: the bus lag has a sample per event per worker.
    assert _value(samples, "hubbub_event_bus_lag_seconds_count") >= 6
    # Operation names only: no raw path (thread ids) in any label.
    assert not any("/" in value or "19:" in value for _, labels in samples for _, value in labels)


@pytest.mark.postgres
def test_database_metrics_on_postgres(server_factory: ServerFactory) -> None:
    server = server_factory("postgres", args=["--metrics"])
    _chat_traffic(server, messages=3)
    samples = _scrape(server)
    assert _value(samples, "hubbub_db_transaction_duration_seconds_count", kind="write") >= 6
    assert _value(samples, "hubbub_db_transaction_duration_seconds_sum", kind="write") > 0
    assert _value(samples, "hubbub_db_connections_in_use") == 0  # every connection went back to the pool
    # PostgreSQL groups sends only (store/group_commit.py): 3 sends, in 1 to 3 statements.
    assert 1 <= _value(samples, "hubbub_db_group_commit_size_count") <= 3
    assert _value(samples, "hubbub_db_group_commit_size_sum") == 3
    assert _value(samples, "hubbub_event_bus_lag_seconds_count") == 0  # the in-memory bus has no lag


def test_routes_answered_outside_the_router_keep_their_operation_names(server_factory: ServerFactory) -> None:
    """`api/direct.py` answers the message and activity routes before Starlette's router: their
    requests, answers and errors alike, are still counted under their ACS operation names."""
    server = server_factory("sqlite", args=["--metrics"])
    traffic = _chat_traffic(server, messages=1)
    thread = traffic["thread"]
    message_id = thread.send_message("to edit").id
    thread.get_message(message_id)
    thread.update_message(message_id, content="edited")
    thread.send_typing_notification()
    thread.send_read_receipt(message_id)
    list(thread.list_read_receipts())
    thread.delete_message(message_id)
    identity = CommunicationIdentityClient.from_connection_string(server.connection_string)
    _, outsider_token = identity.create_user_and_token(["chat"])
    outsider = ChatClient(server.https_url, CommunicationTokenCredential(outsider_token.token))
    with pytest.raises(HttpResponseError) as refused:
        outsider.get_chat_thread_client(thread.thread_id).send_message("not a participant")
    assert refused.value.status_code == 403
    samples = _scrape(server)
    for operation, status in (
        ("SendChatMessage", "201"),
        ("SendChatMessage", "403"),
        ("GetChatMessage", "200"),
        ("UpdateChatMessage", "204"),
        ("DeleteChatMessage", "204"),
        ("ListChatMessages", "200"),
        ("SendTypingNotification", "200"),
        ("SendChatReadReceipt", "200"),
        ("ListChatReadReceipts", "200"),
    ):
        assert _value(samples, "hubbub_http_requests_total", operation=operation, status=status) >= 1, operation
    assert _value(samples, "hubbub_http_requests_total", operation="Unmatched") == 0


# -- 3. logs ------------------------------------------------------------------------------------------


def test_json_logs_carry_the_sdk_request_id_and_no_secrets(server_factory: ServerFactory) -> None:
    server = server_factory("sqlite", env={"HUBBUB_LOG_FORMAT": "json"})
    sent: list[tuple[str, str | None, str]] = []

    def hook(response: Any) -> None:
        request_id = response.http_request.headers["x-ms-client-request-id"]
        sent.append(
            (request_id, response.http_response.headers.get("x-ms-client-request-id"), response.http_request.method)
        )

    traffic = _chat_traffic(server, messages=2, raw_response_hook=hook)
    server.stop()  # flush everything to the log

    records = []
    for line in server.log.read_text().splitlines():
        if not line.strip() or line.startswith("===== start"):
            continue
        records.append(json.loads(line))  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)

    assert sent and all(echoed == request_id for request_id, echoed, _ in sent)
    send_id = next(request_id for request_id, _, method in sent if method == "POST")
    lines = [record for record in records if record.get("requestId") == send_id]
    assert lines, f"no log line with request id {send_id}"
    access = [record for record in lines if record["logger"] == "hubbub.access"]
    assert len(access) == 1
    assert access[0]["operation"] in {"CreateChatThread", "SendChatMessage"}
    assert access[0]["status"] == 201 and access[0]["duration"] > 0
    assert access[0]["userId"] == traffic["alice"].properties["id"]

    text = server.log.read_text()
    assert traffic["token"] not in text
    assert server.access_key and server.access_key not in text
    assert "secret message body" not in text


# -- 4. certificates ----------------------------------------------------------------------------------


def _certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for chat.test and 127.0.0.1 signed by it, made outside any server's
    data dir (the generator the server uses for its own, pointed elsewhere): (ca, cert, key)."""
    return ensure_certificates(directory / "deployment-pki", hosts=("chat.test", "127.0.0.1"))


def test_serves_a_given_certificate(tmp_path: Path, server_factory: ServerFactory) -> None:
    ca, cert, key = _certificate(tmp_path)
    server = server_factory("sqlite", env={"HUBBUB_KEYFILE": str(key)}, args=["--certfile", str(cert)])
    context = ssl.create_default_context(cafile=str(ca))
    response = httpx.get(f"{server.https_url}/health/live", verify=context, trust_env=False)
    assert response.status_code == 200
    assert not server.ca_path.exists(), "no CA is generated when a certificate is given"
    # The official SDK works against it once told to trust its CA.
    identity = CommunicationIdentityClient.from_connection_string(server.connection_string, connection_verify=str(ca))
    assert identity.create_user().properties["id"].startswith("8:acs:")


def test_certfile_needs_keyfile(tmp_path: Path, server_factory: ServerFactory) -> None:
    _, cert, _ = _certificate(tmp_path)
    server = server_factory("sqlite", start=False)
    done = server.cli("serve", "--data-dir", str(server.data_dir), "--certfile", str(cert), check=False)
    assert done.returncode != 0 and "--keyfile" in done.stderr
