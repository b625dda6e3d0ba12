"""Fixtures for the webhook tests: a real receiver process, and servers with fast webhook timings.

Every test runs on both engines (`engine`, over `ENGINES`); servers come from `server_factory`, so
a missing PostgreSQL skips, or with CI=true fails, as everywhere else.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from _services import ENGINES, HubbubServer, ServerFactory

from ._receiver import Receiver

FAST = {
    "HUBBUB_WEBHOOK_POLL_SECONDS": "0.2",
    "HUBBUB_WEBHOOK_RETRY_SECONDS": "0.2",
    "HUBBUB_WEBHOOK_TIMEOUT_SECONDS": "5",
}


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    hook = Receiver(tmp_path_factory.mktemp("receiver") / "receiver.log")
    hook.start()
    yield hook
    hook.stop()


@pytest.fixture
def hub(server_factory: ServerFactory, engine: str) -> HubbubServer:
    """A server with webhook timings short enough for tests."""
    return server_factory(engine, env=FAST)


def data_args(server: HubbubServer) -> list[str]:
    """Where the CLI finds the server's database (HUBBUB_DATABASE_URL is in its environment)."""
    return ["--data-dir", str(server.data_dir)]


Subscribe = Callable[..., str]


@pytest.fixture
def subscribe(receiver: Receiver) -> Subscribe:
    """`subscribe(server, *cli_options, schema="eventgrid")` -> the receiver path of a new,
    validated subscription (created with `hubbub subscriptions create`)."""

    def make(server: HubbubServer, *options: str, schema: str = "eventgrid", validate: bool = True) -> str:
        path = f"/hook-{uuid.uuid4().hex[:10]}"
        server.cli(
            "subscriptions",
            "create",
            path.strip("/"),
            "--endpoint",
            receiver.url(path),
            "--schema",
            schema,
            *options,
            *data_args(server),
        )
        if validate:
            wait_validated(server, path.strip("/"))
        return path

    return make


def wait_validated(server: HubbubServer, name: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = server.cli("subscriptions", "show", name, *data_args(server)).stdout
        if "validated:    yes" in shown:
            return
        time.sleep(0.2)
    raise AssertionError(f"subscription {name} not validated after {timeout} s:\n{shown}")
