"""The unchanged ACS JS SDK in a browser gets every real-time event from Hubbub (docs/signaling.md).

A page on another origin (`https://localhost:<port>`, served here) bundles `@azure/communication-chat`
1.6.0 with esbuild and calls `startRealtimeNotifications()` against Hubbub's HTTPS endpoint
(`https://127.0.0.1:<port>/`, with the trailing slash apps get from a connection string). A second
user, on the official Python SDK, then causes all ten chat events; the page must get each one, in
order, with the values the REST API reports. Then again after a server restart (the page
reconnects by itself), and with two nodes on PostgreSQL + Redis (page on one, writer on the other).
The same scenario runs with 1.5.4, the oldest version that discovers its signaling URLs.

Chromium trusts the servers' generated certificate by its public key
(`--ignore-certificate-errors-spki-list`), so certificate checking stays on for everything else.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import http.server
import os
import shutil
import ssl
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _services import REPO_ROOT, HubbubServer, PostgresCluster, ServerFactory, free_port

from .conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.node]

JS_DIR = REPO_ROOT / "tests" / "js"
ESBUILD = JS_DIR / "node_modules" / ".bin" / "esbuild"
TIMEOUT = 20_000
PAGE_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>realtime</title></head>
<body><script type="module" src="/bundle.js"></script></body></html>
"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


SDK_PACKAGES = {"1.6.0": "@azure/communication-chat", "1.5.4": "chat-1.5.4"}
"""The `@azure/communication-chat` versions the page is bundled with (tests/js/package.json; 1.5.4
under an npm alias). 1.6.0 is the latest; 1.5.4 is the oldest that discovers its signaling URLs."""


@pytest.fixture(scope="module")
def page_dirs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`page_dirs(version)`: index.html and the esbuild bundle of tests/js/realtime-page.mjs with
    that version of the SDK from npm, unchanged (built once per version)."""
    if not ESBUILD.exists() or shutil.which("node") is None:
        _unavailable("esbuild is not installed in tests/js (run `npm ci` there, as scripts/test does)")
    built: dict[str, Path] = {}

    def build(version: str) -> Path:
        if version not in built:
            out = tmp_path_factory.mktemp(f"realtime-page-{version}")
            subprocess.run(
                [str(ESBUILD), "realtime-page.mjs", "--bundle", "--format=esm", "--platform=browser",
                 f"--alias:@azure/communication-chat={SDK_PACKAGES[version]}",
                 f"--outfile={out / 'bundle.js'}", "--log-level=warning"],
                cwd=JS_DIR, check=True, timeout=120,
            )  # fmt: skip
            (out / "index.html").write_bytes(PAGE_HTML)
            built[version] = out
        return built[version]

    return build


class PageServer:
    """A static HTTPS server for the page, on its own origin, with a Hubbub server's certificate."""

    def __init__(self, directory: Path, data_dir: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(data_dir / "server.pem", data_dir / "server-key.pem")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def spki_hash(cert_path: Path) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def open_page(browser: Any, page_dirs: Callable[[str], Path]) -> Iterator[Any]:
    """`open_page(server, token, sdk=version)` → a page on its own origin, trusting `server`'s
    certificate, listening with that version of the SDK."""
    opened: list[Any] = []

    def start(server: HubbubServer, token: str, sdk: str = "1.6.0") -> Any:
        if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
            pytest.skip(f"Chromium not found at {CHROMIUM}")
        trusting = browser.browser_type.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki_hash(server.data_dir / 'server.pem')}"],
            headless=True,
        )
        site = PageServer(page_dirs(sdk), server.data_dir)
        opened.append((trusting, site))
        page = trusting.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(site.url)
        page.wait_for_function("typeof window.startRealtime === 'function'", timeout=TIMEOUT)
        assert server.https_url.startswith("https://127.0.0.1:")  # another origin than the page's
        page.evaluate("([endpoint, token]) => window.startRealtime(endpoint, token)", [server.https_url + "/", token])
        page.wait_for_function("window.hubbub.connection.includes('connected')", timeout=TIMEOUT)
        page.errors = errors
        return page

    yield start
    for trusting, site in opened:
        trusting.close()
        site.close()


# -- the scenario ---------------------------------------------------------------------------------


class People:
    """Alice (the page), Bob (official Python SDK) and Carol (added and removed), on one endpoint."""

    def __init__(self, server: HubbubServer) -> None:
        from azure.communication.identity import CommunicationIdentityClient

        identity = CommunicationIdentityClient.from_connection_string(
            f"endpoint={server.https_url}/;accesskey={server.access_key}"
        )
        self.alice, alice_token = identity.create_user_and_token(["chat"])
        self.bob, bob_token = identity.create_user_and_token(["chat"])
        self.carol = identity.create_user()
        self.alice_token, self.bob_token = alice_token.token, bob_token.token


def _ms(value: str | dt.datetime) -> int:
    """An instant to the millisecond (JS Dates have no more)."""
    instant = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return int(instant.timestamp() * 1000)


def _user(identifier: dict[str, Any]) -> str:
    assert identifier["kind"] == "communicationUser", identifier
    return str(identifier["communicationUserId"])


def run_ten_events(page: Any, people: People, writer: HubbubServer, sdk: str = "1.6.0") -> None:
    """Bob causes the ten events through `writer`; the page must get each, in order, as REST says."""
    from azure.communication.chat import ChatClient, ChatParticipant, CommunicationTokenCredential
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    alice, bob, carol = people.alice.properties["id"], people.bob.properties["id"], people.carol.properties["id"]
    chat = ChatClient(writer.https_url, CommunicationTokenCredential(people.bob_token))
    seen = int(page.evaluate("window.hubbub.events.length"))

    def next_event(name: str) -> dict[str, Any]:
        nonlocal seen
        try:
            page.wait_for_function("n => window.hubbub.events.length > n", arg=seen, timeout=TIMEOUT)
        except PlaywrightTimeout as exc:
            state = page.evaluate("({connection: window.hubbub.connection, errors: window.hubbub.errors})")
            raise AssertionError(f"no {name} after {seen} events; page state {state}") from exc
        got = page.evaluate("n => window.hubbub.events[n]", seen)
        seen += 1
        assert got["name"] == name, got
        event: dict[str, Any] = got["event"]
        assert event["threadId"] == thread_id
        if "recipient" in event:
            assert _user(event["recipient"]) == alice
        return event

    topic = f"Lunch {uuid.uuid4().hex[:6]}"
    created = chat.create_chat_thread(
        topic,
        thread_participants=[
            ChatParticipant(identifier=people.bob, display_name="Bob"),
            ChatParticipant(identifier=people.alice, display_name="Alice"),
        ],
    )
    thread_id = created.chat_thread.id
    thread = chat.get_chat_thread_client(thread_id)
    properties = thread.get_properties()

    event = next_event("chatThreadCreated")
    assert _ms(event["createdOn"]) == _ms(properties.created_on)
    assert _user(event["createdBy"]["id"]) == bob and event["createdBy"]["displayName"] == "Bob"
    assert event["properties"]["topic"] == topic
    if sdk == "1.5.4":  # it predates thread metadata and hands the wire's properties through as they are
        assert event["properties"] == {"topic": topic}
    else:
        assert event["properties"]["metadata"] == {}
    members = {_user(p["id"]): p["displayName"] for p in event["participants"]}
    assert members == {bob: "Bob", alice: "Alice"}

    message_id = thread.send_message("Hello Alice", sender_display_name="Bob", metadata={"tag": "x"}).id
    message = thread.get_message(message_id)
    event = next_event("chatMessageReceived")
    assert (event["id"], event["version"], event["message"]) == (message.id, message.version, "Hello Alice")
    assert _ms(event["createdOn"]) == _ms(message.created_on)
    assert (event["type"], event["senderDisplayName"], event["metadata"]) == ("Text", "Bob", {"tag": "x"})
    assert _user(event["sender"]) == bob and event["attachments"] == []

    thread.update_message(message_id, content="Hello again")
    message = thread.get_message(message_id)
    event = next_event("chatMessageEdited")
    assert (event["id"], event["version"], event["message"]) == (message.id, message.version, "Hello again")
    assert _ms(event["editedOn"]) == _ms(message.edited_on) and _ms(event["createdOn"]) == _ms(message.created_on)

    thread.send_typing_notification(sender_display_name="Bob")
    event = next_event("typingIndicatorReceived")
    assert _user(event["sender"]) == bob and event["senderDisplayName"] == "Bob" and event["receivedOn"]

    thread.send_read_receipt(message_id)
    receipt = next(r for r in thread.list_read_receipts() if r.sender.properties["id"] == bob)
    event = next_event("readReceiptReceived")
    assert event["chatMessageId"] == message_id and _user(event["sender"]) == bob
    assert _ms(event["readOn"]) == _ms(receipt.read_on)

    thread.delete_message(message_id)
    message = thread.get_message(message_id)
    event = next_event("chatMessageDeleted")
    assert (event["id"], event["version"]) == (message.id, message.version)
    assert _ms(event["deletedOn"]) == _ms(message.deleted_on)

    thread.update_topic("Dinner")
    event = next_event("chatThreadPropertiesUpdated")
    assert event["properties"]["topic"] == "Dinner" and _user(event["updatedBy"]["id"]) == bob

    thread.add_participants([ChatParticipant(identifier=people.carol, display_name="Carol")])
    event = next_event("participantsAdded")
    assert [(_user(p["id"]), p["displayName"]) for p in event["participantsAdded"]] == [(carol, "Carol")]
    assert _user(event["addedBy"]["id"]) == bob

    thread.remove_participant(people.carol)
    event = next_event("participantsRemoved")
    assert [_user(p["id"]) for p in event["participantsRemoved"]] == [carol]
    assert _user(event["removedBy"]["id"]) == bob

    chat.delete_chat_thread(thread_id)
    event = next_event("chatThreadDeleted")
    assert _user(event["deletedBy"]["id"]) == bob and event["deletedOn"]

    page.wait_for_timeout(300)
    assert page.evaluate("window.hubbub.events.length") == seen  # nothing twice, nothing else
    assert page.errors == []


def test_every_event_reaches_the_js_sdk(open_page: Any, server_factory: ServerFactory) -> None:
    server = server_factory("sqlite")
    people = People(server)
    page = open_page(server, people.alice_token)
    run_ten_events(page, people, server)

    # The server restarts: the page reconnects by itself and keeps getting everything.
    before = page.evaluate("window.hubbub.connection.length")
    server.restart()
    # Reconnected to the new process: disconnected since the restart began, and connected last.
    page.wait_for_function(
        "n => { const c = window.hubbub.connection;"
        " return c.slice(n).includes('disconnected') && c[c.length - 1] === 'connected'; }",
        arg=before,
        timeout=60_000,
    )
    run_ten_events(page, people, server)


def test_every_event_reaches_chat_1_5_4(open_page: Any, server_factory: ServerFactory) -> None:
    """The oldest version that asks the chat endpoint for its signaling URLs (README, versions)."""
    server = server_factory("sqlite")
    people = People(server)
    page = open_page(server, people.alice_token, sdk="1.5.4")
    run_ten_events(page, people, server, sdk="1.5.4")


@pytest.mark.postgres
@pytest.mark.redis
def test_every_event_across_nodes(
    open_page: Any, server_factory: ServerFactory, postgres_cluster: PostgresCluster, redis_url: str
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    shared = {
        "HUBBUB_DATABASE_URL": postgres_cluster.create_database(),
        "HUBBUB_REDIS_URL": redis_url,
        "HUBBUB_ACCESS_KEY": key,
        "HUBBUB_EVENTS_STREAM": f"hubbub:test:{uuid.uuid4().hex}",
    }
    node_a, node_b = (server_factory("sqlite", env=shared) for _ in range(2))
    for node in (node_a, node_b):
        node.access_key = key
    people = People(node_b)
    page = open_page(node_a, people.alice_token)  # the page listens on node A
    run_ten_events(page, people, node_b)  # Bob writes through node B
