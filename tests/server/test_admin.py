"""`hubbub stats` and `hubbub users delete` against a running server's database, on every engine."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from azure.communication.chat import ChatMessageType
from azure.communication.identity import CommunicationUserIdentifier
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError

from _services import ENGINES, HubbubServer, ServerFactory, hubbub_command

from ._acs import Acs, User


def stats(server: HubbubServer) -> dict[str, object]:
    done = server.cli("stats", "--json", "--data-dir", str(server.data_dir), "--http-port", str(server.http_port))
    result: dict[str, object] = json.loads(done.stdout)
    return result


@contextmanager
def event_stream(server: HubbubServer, user: User) -> Iterator[list[str]]:
    """An open SSE stream of `user` (its first frame received); yields the lines read so far."""
    lines: list[str] = []
    connected = threading.Event()
    with (
        httpx.Client(base_url=server.http_url, timeout=30, trust_env=False) as client,
        client.stream("GET", "/chat/events", headers={"authorization": f"Bearer {user.token}"}) as response,
    ):
        assert response.status_code == 200

        def read() -> None:
            try:
                for line in response.iter_lines():
                    lines.append(line)
                    connected.set()
            except httpx.HTTPError:
                pass
            lines.append("<closed>")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert connected.wait(10)
        yield lines


@pytest.mark.parametrize("engine", ENGINES)
def test_stats_counts_the_database_and_asks_the_server_for_open_streams(
    server_factory: ServerFactory, engine: str
) -> None:
    # A server notices a client went away when it next writes to it: heartbeats make that soon.
    hubbub = server_factory(engine, env={"HUBBUB_EVENTS_HEARTBEAT_SECONDS": "0.5"})
    acs = Acs(hubbub)
    alice, bob, gone = acs.new_user(), acs.new_user(), acs.new_user()
    with acs.identity() as identity:
        identity.delete_user(CommunicationUserIdentifier(gone.id))
    thread_id = acs.create_thread(alice, "counted", members=(bob,))
    acs.create_thread(alice, "to delete")
    with acs.chat(alice) as client:
        doomed = [t.id for t in client.list_chat_threads() if t.topic == "to delete"]
        client.delete_chat_thread(doomed[0])
    with acs.thread(alice, thread_id) as client:
        for n in range(5):
            last = client.send_message(f"message {n}").id
        client.delete_message(last)

    counts = stats(hubbub)
    assert counts == {
        "users": 2,
        "deletedUsers": 1,
        "threads": 1,
        "deletedThreads": 1,
        "participants": 2,
        "messages": 4,
        "deletedMessages": 1,
        "systemMessages": 2,  # the thread's participantAdded and topicUpdated
        "openStreams": 0,
        "endpoint": hubbub.http_url,
    }
    with event_stream(hubbub, alice), event_stream(hubbub, bob):
        assert stats(hubbub)["openStreams"] == 2
    deadline = time.monotonic() + 10
    while stats(hubbub)["openStreams"] != 0:
        assert time.monotonic() < deadline, "closed streams are still counted"
        time.sleep(0.2)

    text = hubbub.cli("stats", "--data-dir", str(hubbub.data_dir), "--http-port", str(hubbub.http_port)).stdout
    assert "Users:         2 (1 deleted)" in text and "Open streams:  0 (http://127.0.0.1:" in text

    hubbub.stop()  # the counts need only the database; the streams need the server
    stopped = stats(hubbub)
    assert stopped["messages"] == 4 and stopped["openStreams"] is None
    assert "not reachable" in str(stopped["openStreamsError"])


def test_stats_needs_the_access_key_of_the_server(server_factory: ServerFactory) -> None:
    hubbub = server_factory("sqlite")
    wrong = {"HUBBUB_ACCESS_KEY": "d3Jvbmcga2V5IGZvciB0aGlzIHNlcnZlcg=="}
    done = subprocess.run(
        [
            *hubbub_command(),
            "stats",
            "--json",
            "--data-dir",
            str(hubbub.data_dir),
            "--http-port",
            str(hubbub.http_port),
        ],
        capture_output=True,
        text=True,
        env={**hubbub.env, **wrong},
        timeout=60,
    )
    result = json.loads(done.stdout)
    assert result["openStreams"] is None and "answered 401" in result["openStreamsError"]


def delete_user(
    server: HubbubServer, user_id: str, *args: str, answer: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*hubbub_command(), "users", "delete", user_id, "--data-dir", str(server.data_dir), *args],
        capture_output=True,
        text=True,
        input=answer,
        env=server.env,
        timeout=60,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_users_delete_revokes_the_identity_and_keeps_its_messages(server_factory: ServerFactory, engine: str) -> None:
    hubbub = server_factory(engine)
    acs = Acs(hubbub)
    alice, bob = acs.new_user(), acs.new_user()
    thread_id = acs.create_thread(alice, "kept", members=(bob,))
    with acs.thread(bob, thread_id) as client:
        sent = client.send_message("from bob").id

    declined = delete_user(hubbub, bob.id, answer="n\n")
    assert declined.returncode == 1 and "Delete identity" in declined.stdout and "Aborted" in declined.stderr
    with acs.thread(bob, thread_id) as client:
        client.send_message("still here")

    # The server is not where the command looks (no --http-port): the deletion goes to the database.
    done = delete_user(hubbub, bob.id, "--endpoint", "http://127.0.0.1:9", answer="y\n")
    assert done.returncode == 0 and f"Deleted identity {bob.id} in the database" in done.stdout, done.stderr
    deadline = time.monotonic() + 10  # a running server trusts its cached generation for a moment
    while True:
        try:
            with acs.thread(bob, thread_id) as client:
                client.send_message("after delete")
        except ClientAuthenticationError:
            break
        assert time.monotonic() < deadline, "the deleted user's token still works"
        time.sleep(0.2)
    with acs.identity() as identity, pytest.raises(ResourceNotFoundError):
        identity.get_token(CommunicationUserIdentifier(bob.id), ["chat"])
    with acs.thread(alice, thread_id) as client:  # what bob sent stays, as on ACS
        texts = {m.id: m.content.message for m in client.list_messages() if m.type == ChatMessageType.TEXT}
        assert texts[sent] == "from bob"
        assert {p.identifier.properties["id"] for p in client.list_participants()} == {alice.id, bob.id}

    again = delete_user(hubbub, bob.id, "--yes")
    assert again.returncode == 1 and "does not exist" in again.stderr
    assert stats(hubbub)["deletedUsers"] == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_users_delete_through_the_running_server_ends_open_streams(server_factory: ServerFactory, engine: str) -> None:
    hubbub = server_factory(engine)
    acs = Acs(hubbub)
    bob = acs.new_user()
    with event_stream(hubbub, bob) as lines:
        done = delete_user(hubbub, bob.id, "--yes", "--http-port", str(hubbub.http_port))
        assert done.returncode == 0, done.stderr
        assert f"Deleted identity {bob.id} through the server at http://127.0.0.1:{hubbub.http_port}" in done.stdout
        deadline = time.monotonic() + 10
        while "<closed>" not in lines:
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
    assert any("identityDeleted" in line for line in lines), lines
    with acs.identity() as identity, pytest.raises(ResourceNotFoundError):
        identity.get_token(CommunicationUserIdentifier(bob.id), ["chat"])
