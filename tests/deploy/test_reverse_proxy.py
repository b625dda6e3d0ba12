"""The nginx, Caddy and systemd configs of docs/deploy.md, run as written.

Each config block is read from the document itself, so the test and the docs cannot drift apart;
only what must differ on a test machine is replaced: the node addresses (`10.0.0.11:8080`,
`10.0.0.12:8080`), the public name and port, and the certificate paths. Two Hubbub nodes share
PostgreSQL, Redis and the access key behind the proxy, which serves HTTPS with the first node's
certificate (its CA is in the session's bundle, so the official SDKs trust it unchanged).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.communication.chat import ChatClient, ChatParticipant, CommunicationTokenCredential
from azure.communication.identity import CommunicationIdentityClient
from websockets.asyncio.client import connect

from _services import REPO_ROOT, HubbubServer, PostgresCluster, ServerFactory, cluster_nodes, free_port, port_open

DOC = REPO_ROOT / "docs" / "deploy.md"
NODES = ("10.0.0.11:8080", "10.0.0.12:8080")
PUBLIC_NAME = "chat.example.com"
HEARTBEAT_SECONDS = 1


def trusted() -> ssl.SSLContext:
    """Trust the CAs of this session's servers (the proxy serves the first node's certificate)."""
    return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def doc_block(language: str) -> str:
    """The one fenced block of `language` in docs/deploy.md."""
    blocks = re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, f"docs/deploy.md should hold one ```{language} block, not {len(blocks)}"
    return str(blocks[0])


def program(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        reason = f"{name} is not installed (scripts/test installs it from the system's packages)"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
        pytest.skip(reason)
    return found


def replaced(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"docs/deploy.md no longer says {old!r}: update this test with it"
        text = text.replace(old, new)
    return text


@contextlib.contextmanager
def running(cmd: list[str], port: int, log: Path) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{cmd[0]} did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextlib.contextmanager
def nginx(nodes: tuple[HubbubServer, HubbubServer], port: int, tmp: Path) -> Iterator[None]:
    cert, key = nodes[0].data_dir / "server.pem", nodes[0].data_dir / "server-key.pem"
    site = replaced(
        doc_block("nginx"),
        {
            f"server {NODES[0]};": f"server 127.0.0.1:{nodes[0].http_port};",
            f"server {NODES[1]};": f"server 127.0.0.1:{nodes[1].http_port};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{port} ssl http2;",
            f"server_name {PUBLIC_NAME};": "server_name localhost;",
            f"/etc/letsencrypt/live/{PUBLIC_NAME}/fullchain.pem": str(cert),
            f"/etc/letsencrypt/live/{PUBLIC_NAME}/privkey.pem": str(key),
        },
    )
    (tmp / "logs").mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'logs' / 'error.log'} warn;\n"
        f"events {{}}\nhttp {{\n access_log off;\n{site}\n}}\n"
    )
    user = ["-g", "daemon off; user root;"] if os.geteuid() == 0 else ["-g", "daemon off;"]
    with running([program("nginx"), "-p", str(tmp), "-c", str(conf), *user], port, tmp / "nginx.log"):
        yield


@contextlib.contextmanager
def caddy(nodes: tuple[HubbubServer, HubbubServer], port: int, tmp: Path) -> Iterator[None]:
    cert, key = nodes[0].data_dir / "server.pem", nodes[0].data_dir / "server-key.pem"
    site = replaced(
        doc_block("caddy"),
        {
            f"{PUBLIC_NAME} {{": f"https://localhost:{port} {{\n    tls {cert} {key}",
            f"{NODES[0]} {NODES[1]}": f"127.0.0.1:{nodes[0].http_port} 127.0.0.1:{nodes[1].http_port}",
        },
    )
    conf = tmp / "Caddyfile"
    options = f"admin off\n    auto_https disable_redirects\n    storage file_system {tmp / 'data'}"
    conf.write_text(f"{{\n    {options}\n}}\n{site}")
    home = {"HOME": str(tmp), "XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "config")}
    cmd = ["env", *(f"{k}={v}" for k, v in home.items()), program("caddy"), "run", "--config", str(conf)]
    cmd += ["--adapter", "caddyfile"]
    with running(cmd, port, tmp / "caddy.log"):
        yield


@pytest.fixture
def nodes(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster, redis_url: str
) -> tuple[HubbubServer, HubbubServer]:
    a, b = cluster_nodes(
        server_factory, postgres_cluster, redis_url, env={"HUBBUB_EVENTS_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)}
    )
    return a, b


async def sse_frames(url: str, token: str, frames: list[dict[str, Any]], ready: asyncio.Event) -> None:
    async with (
        httpx.AsyncClient(verify=trusted(), timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("GET", f"{url}/chat/events", headers={"authorization": f"Bearer {token}"}) as response,
    ):
        assert response.status_code == 200, await response.aread()
        ready.set()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                frames.append({**json.loads(line[5:]), "at": time.monotonic()})


async def ws_frames(url: str, token: str, frames: list[dict[str, Any]], ready: asyncio.Event) -> None:
    context = trusted()
    ws_url = url.replace("https://", "wss://") + "/chat/events/ws"
    async with connect(ws_url, additional_headers={"authorization": f"Bearer {token}"}, ssl=context) as ws:
        ready.set()
        async for message in ws:
            frames.append({**json.loads(message), "at": time.monotonic()})


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
async def test_two_nodes_behind_the_documented_proxy(
    proxy: str, nodes: tuple[HubbubServer, HubbubServer], tmp_path: Path
) -> None:
    port = free_port()
    url = f"https://localhost:{port}"
    start = nginx if proxy == "nginx" else caddy
    with start(nodes, port, tmp_path):
        # The Identity API through the proxy: HMAC-signed with the host and port the client used.
        connection_string = f"endpoint={url}/;accesskey={nodes[0].access_key}"
        identity = CommunicationIdentityClient.from_connection_string(connection_string)
        alice, alice_token = await asyncio.to_thread(identity.create_user_and_token, ["chat"])
        bob, bob_token = await asyncio.to_thread(identity.create_user_and_token, ["chat"])
        chat = ChatClient(url, CommunicationTokenCredential(bob_token.token))
        created = await asyncio.to_thread(
            chat.create_chat_thread,
            "Behind the proxy",
            thread_participants=[ChatParticipant(identifier=alice), ChatParticipant(identifier=bob)],
        )
        thread = chat.get_chat_thread_client(created.chat_thread.id)

        sse: list[dict[str, Any]] = []
        ws: list[dict[str, Any]] = []
        ready = (asyncio.Event(), asyncio.Event())
        readers = [
            asyncio.create_task(sse_frames(url, alice_token.token, sse, ready[0])),
            asyncio.create_task(ws_frames(url, alice_token.token, ws, ready[1])),
        ]
        try:
            deadline = time.monotonic() + 10
            while not all(event.is_set() for event in ready):
                failed = [task.exception() for task in readers if task.done()]
                assert not failed and time.monotonic() < deadline, f"streams through {proxy} did not open: {failed}"
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            sent_at = time.monotonic()
            message_id = (await asyncio.to_thread(thread.send_message, "through the proxy")).id
            for frames in (sse, ws):
                deadline = time.monotonic() + 5
                while not any(f.get("type") == "chatMessageReceived" for f in frames):
                    assert time.monotonic() < deadline, frames
                    await asyncio.sleep(0.02)
                got = next(f for f in frames if f.get("type") == "chatMessageReceived")
                assert got["data"]["id"] == message_id
                assert got["at"] - sent_at < 1.0, "the proxy held the event back (buffering)"
            # Idle streams stay open: heartbeats come through, unbuffered.
            await asyncio.sleep(HEARTBEAT_SECONDS * 2.5)
            for frames in (sse, ws):
                assert sum(f.get("type") == "heartbeat" for f in frames) >= 2, frames
            assert not any(task.done() for task in readers), [t.exception() for t in readers if t.done()]
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

        async with httpx.AsyncClient(verify=trusted()) as client:
            assert (await client.get(f"{url}/metrics")).status_code == 403
            assert (await client.get(f"{url}/admin/stats")).status_code == 403
            assert (await client.get(f"{url}/health/ready")).status_code == 200


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = program("systemd-analyze")
    hubbub = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin" / "hubbub"
    unit = replaced(doc_block("ini"), {"/opt/hubbub/.venv/bin/hubbub": str(hubbub)})
    path = tmp_path / "hubbub.service"
    path.write_text(unit)
    done = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "hubbub.service" in line and "not found" not in line.lower()  # postgresql/redis units need not exist here
    ]
    assert done.returncode == 0 or not problems, done.stdout + done.stderr
