"""`samples/webhook-handler/handler.py`, written as for ACS, runs unchanged behind Hubbub."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from _services import LOOPBACK, HubbubServer, free_port, port_open, service_env, stop_process
from events._clients import new_user

from .conftest import data_args, wait_validated

HANDLER = Path(__file__).resolve().parents[2] / "samples" / "webhook-handler" / "handler.py"


@pytest.fixture
def handler(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "handler.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(HANDLER), str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=service_env({"WEBHOOK_CODE": "s3cret"}),
        )
    deadline = time.monotonic() + 30
    while not port_open(port):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    yield f"http://{LOOPBACK}:{port}/api/events", log
    stop_process(proc)


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
async def test_the_sample_handler_gets_the_chat(hub: HubbubServer, handler: tuple[str, Path], schema: str) -> None:
    url, log = handler
    name = f"sample-{schema}"
    hub.cli("subscriptions", "create", name, "--endpoint", f"{url}?code=s3cret", "--schema", schema, *data_args(hub))
    wait_validated(hub, name)
    alice, bob = new_user(hub), new_user(hub)
    thread = await alice.create_thread(bob, topic="Sample")
    await alice.call(
        "POST", f"/chat/threads/{thread}/messages", {"content": "hello", "senderDisplayName": "Alice"}, expect=201
    )
    deadline = time.monotonic() + 20
    while f"to {bob.id}: Alice wrote 'hello'" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    assert f"thread {thread} created: 'Sample'" in log.read_text()
    wrong = hub.cli("subscriptions", "create", "sample-bad-code", "--endpoint", f"{url}?code=nope", *data_args(hub))
    assert wrong.returncode == 0
    time.sleep(1.0)
    assert "not yet" in hub.cli("subscriptions", "show", "sample-bad-code", *data_args(hub)).stdout
    await alice.aclose()
    await bob.aclose()
