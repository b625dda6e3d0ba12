"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a real `hubbub serve`.

Without Chromium the browser tests skip, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from _services import REPO_ROOT, CABundle, HubbubServer, ServiceFailed

CHROMIUM = os.environ.get("HUBBUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT_DIR = REPO_ROOT / "test-output" / "browser"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def chat_server(tmp_path_factory: pytest.TempPathFactory, ca_bundle: CABundle) -> Iterator[HubbubServer]:
    server = HubbubServer(tmp_path_factory.mktemp("browser-serve") / "data", ca_bundle=ca_bundle)
    try:
        server.start()
    except ServiceFailed as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Package-scoped: Playwright's sync API keeps an event loop running in this thread while it is
    open, which would break `asyncio.run` in every test that runs after it."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR
