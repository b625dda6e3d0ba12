"""Two ways to reach the simple REST API, both against real processes:

* `mounted`: the gateway inside `hubbub serve`, at the server's root paths;
* `standalone`: `hubbub gateway --connection-string ...` in front of a second `hubbub serve`.

The servers run with a small maximum page size, so that reading a conversation needs many pages.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _services import CABundle, HubbubServer, ServiceFailed, free_port, hubbub_command, service_env, stop_process

from ._client import Gateway

PAGE_ENV = {"HUBBUB_MAX_PAGE_SIZE": "7"}


def start_server(tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle, **env: str) -> HubbubServer:
    server = HubbubServer(
        tmp_path_factory.mktemp("gateway-serve") / "data", env={**PAGE_ENV, **env}, ca_bundle=ca_bundle
    )
    try:
        server.start()
    except ServiceFailed as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    return server


class GatewayProcess:
    """`hubbub gateway` on a free port; stopped by its PID."""

    def __init__(self, connection_string: str, log: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    *hubbub_command(),
                    "gateway",
                    "--connection-string",
                    connection_string,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=service_env(),
            )
        self._wait()

    def _wait(self) -> None:
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceFailed(f"hubbub gateway exited ({self.proc.returncode}):\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ServiceFailed(f"hubbub gateway not ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture(scope="session")
def serve_process(tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle) -> Iterator[HubbubServer]:
    server = start_server(tmp_path_factory, ca_bundle)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def backend_process(tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle) -> Iterator[HubbubServer]:
    """The second `hubbub serve`, which only the standalone gateway talks to."""
    server = start_server(tmp_path_factory, ca_bundle)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway_process(
    tmp_path_factory: pytest.TempPathFactory, backend_process: HubbubServer
) -> Iterator[GatewayProcess]:
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    try:
        process = GatewayProcess(backend_process.http_connection_string, log)
    except ServiceFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    yield process
    process.stop()


@pytest.fixture(scope="session", params=["mounted", "standalone"])
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    if request.param == "mounted":
        url = request.getfixturevalue("serve_process").http_url
    else:
        url = request.getfixturevalue("gateway_process").url
    client = Gateway(url, mode=request.param)
    yield client
    client.close()
