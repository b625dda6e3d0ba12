"""The ChatComposite sample (samples/chat-composite) shows another user's messages live.

The sample is Microsoft's UI Library (`@azure/communication-react`: `ChatComposite` with
`createAzureCommunicationChatAdapter`) with its npm dependencies exactly as its package-lock.json
pins them (installed by scripts/test). The test bundles `src/app.jsx` with the sample's own esbuild
into a temp dir, serves it on its own origin (`http://127.0.0.1:<port>/`, as `npm run serve` does)
and opens it as Alice through the URL fragment the README documents (`#endpoint=…&user=…&token=…&thread=…`).
Bob, on the official Python SDK, then sends messages; each must be in the composite's DOM within
2 s of `send_message` returning. The page's screenshot is copied to docs/chat-composite.png for the
README when HUBBUB_UPDATE_DOCS_SCREENSHOT=1.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _services import REPO_ROOT, HubbubServer, free_port

from .conftest import CHROMIUM, CHROMIUM_ARGS, _unavailable
from .test_realtime import spki_hash

pytestmark = [pytest.mark.browser, pytest.mark.node]

SAMPLE_DIR = REPO_ROOT / "samples" / "chat-composite"
ESBUILD = SAMPLE_DIR / "node_modules" / ".bin" / "esbuild"
TIMEOUT = 20_000
LIVE_WITHIN_MS = 2_000

# Records, in the page's clock, when `text` first shows as a message: a text node that is exactly
# `text`, outside the screen-reader announcer (an aria-live region that says "Message from Bob …").
WATCH_JS = """text => {
  window.seen = window.seen || {};
  const shown = () => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeValue.trim() === text && !node.parentElement.closest("[aria-live]")) return true;
    }
    return false;
  };
  const check = () => {
    if (!(text in window.seen) && shown()) window.seen[text] = Date.now();
    return text in window.seen;
  };
  if (check()) return;
  const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
}"""


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """public/index.html and a fresh esbuild bundle of src/app.jsx (production React), in a temp dir."""
    if not ESBUILD.exists() or shutil.which("node") is None:
        _unavailable("samples/chat-composite has no node_modules (run `npm ci` there, as scripts/test does)")
    out = tmp_path_factory.mktemp("chat-composite")
    subprocess.run(
        [str(ESBUILD), "src/app.jsx", "--bundle", "--format=esm", "--platform=browser", "--jsx=automatic",
         "--minify", '--define:process.env.NODE_ENV="production"', f"--outfile={out / 'app.js'}",
         "--log-level=warning"],
        cwd=SAMPLE_DIR, check=True, timeout=120,
    )  # fmt: skip
    shutil.copy(SAMPLE_DIR / "public" / "index.html", out / "index.html")
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def sample_url(sample_dir: Path) -> Iterator[str]:
    """The sample, served as `npm run serve` would: plain HTTP on loopback, another origin than Hubbub."""
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(_QuietHandler, directory=str(sample_dir))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_composite_shows_sdk_messages_live(browser: Any, chat_server: HubbubServer, sample_url: str) -> None:
    from azure.communication.chat import ChatClient, ChatParticipant, CommunicationTokenCredential
    from azure.communication.identity import CommunicationIdentityClient
    from playwright.sync_api import expect

    identity = CommunicationIdentityClient.from_connection_string(chat_server.connection_string)
    alice, alice_token = identity.create_user_and_token(["chat"])
    bob, bob_token = identity.create_user_and_token(["chat"])
    chat = ChatClient(chat_server.https_url, CommunicationTokenCredential(bob_token.token))
    thread_id = chat.create_chat_thread(
        f"Composite {uuid.uuid4().hex[:6]}",
        thread_participants=[
            ChatParticipant(identifier=bob, display_name="Bob"),
            ChatParticipant(identifier=alice, display_name="Alice"),
        ],
    ).chat_thread.id
    thread = chat.get_chat_thread_client(thread_id)
    before = f"Sent before the page opened {uuid.uuid4().hex[:8]}"
    thread.send_message(before, sender_display_name="Bob")

    # A Chromium that trusts the key of this server's certificate, and nothing else extra.
    trusting = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            f"--ignore-certificate-errors-spki-list={spki_hash(chat_server.data_dir / 'server.pem')}",
        ],
        headless=True,
    )
    try:
        page = trusting.new_page(viewport={"width": 1000, "height": 700})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # The adapter's real-time channel is up once the server says so on the WebSocket.
        connected = threading.Event()
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived", lambda frame: connected.set() if "trouter.connected" in str(frame) else None
            ),
        )
        fragment = urllib.parse.urlencode(
            {"endpoint": chat_server.https_url, "user": alice.properties["id"], "token": alice_token.token,
             "thread": thread_id}
        )  # fmt: skip
        opened = time.monotonic()
        page.goto(f"{sample_url}#{fragment}")

        # The composite loads the history over REST…
        expect(page.get_by_text(before, exact=True)).to_be_visible(timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT / 1000
        while not connected.is_set() and time.monotonic() < deadline:
            page.wait_for_timeout(50)  # lets Playwright deliver the frame events
        assert connected.is_set(), f"no trouter.connected on the page's WebSocket; page errors: {errors}"
        print(f"\ncomposite loaded and connected in {time.monotonic() - opened:.2f} s")

        # …and shows each new message live.
        latencies = []
        for n in range(3):
            text = f"Live message {n} {uuid.uuid4().hex[:8]}"
            page.evaluate(WATCH_JS, text)
            thread.send_message(text, sender_display_name="Bob")
            sent_ms = time.time() * 1000  # the SDK's send has returned
            page.wait_for_function("t => window.seen && t in window.seen", arg=text, timeout=TIMEOUT)
            latencies.append(page.evaluate("t => window.seen[t]", text) - sent_ms)
            expect(page.get_by_text(text, exact=True)).to_be_visible()
        print("send returned -> text in the composite's DOM: " + ", ".join(f"{ms:.0f} ms" for ms in latencies))
        assert max(latencies) < LIVE_WITHIN_MS, latencies
        assert errors == []
        if os.environ.get("HUBBUB_UPDATE_DOCS_SCREENSHOT") == "1":  # refresh the README's picture on request
            page.screenshot(path=str(REPO_ROOT / "docs" / "chat-composite.png"))
    finally:
        trusting.close()
