"""The chat page at `/`: two browser contexts are two users chatting live.

Alice's page is desktop-sized, Bob's phone-sized. Screenshots go to test-output/browser/ and one is
copied to docs/chat-page.png for the README when HUBBUB_UPDATE_DOCS_SCREENSHOT=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from _services import REPO_ROOT, HubbubServer

pytestmark = pytest.mark.browser

TIMEOUT = 10_000


def sign_in_new(page: Any, url: str, name: str) -> str:
    page.goto(url)
    page.get_by_role("button", name="New identity").click()
    page.locator("#chat").wait_for(state="visible", timeout=TIMEOUT)
    page.locator("#display-name").fill(name)
    page.locator("#display-name").dispatch_event("change")
    page.wait_for_function("document.getElementById('status').textContent === 'live'", timeout=TIMEOUT)
    return str(page.evaluate("document.body.dataset.userId"))


def test_two_users_chat_live(browser: Any, chat_server: HubbubServer, output_dir: Path) -> None:
    from playwright.sync_api import expect

    desktop = browser.new_context(viewport={"width": 1100, "height": 720})
    phone = browser.new_context(viewport={"width": 390, "height": 760}, is_mobile=True, has_touch=True)
    alice, bob = desktop.new_page(), phone.new_page()
    errors: list[str] = []
    for page in (alice, bob):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        url = f"{chat_server.http_url}/"
        alice_id = sign_in_new(alice, url, "Alice")
        bob_id = sign_in_new(bob, url, "Bob")
        assert alice_id != bob_id and alice_id.startswith("8:acs:")

        # Alice creates a thread and adds Bob; it shows up in Bob's list without a reload.
        alice.locator("#new-thread-topic").fill("Lunch plans")
        alice.get_by_role("button", name="Create").click()
        expect(alice.locator("#thread-topic")).to_have_text("Lunch plans", timeout=TIMEOUT)
        assert "#thread=" in alice.url
        alice.locator("#add-person-id").fill(bob_id)
        alice.get_by_role("button", name="Add", exact=True).click()
        bob_thread = bob.locator("#threads li", has_text="Lunch plans")
        expect(bob_thread).to_be_visible(timeout=TIMEOUT)
        bob_thread.click()
        expect(bob.locator("#thread-topic")).to_have_text("Lunch plans", timeout=TIMEOUT)

        # Typing indicator, then the message, live on the other side.
        alice.locator("#compose").press_sequentially("Hi Bob, noon?", delay=20)
        expect(bob.locator("#typing")).to_have_text("Alice is typing…", timeout=TIMEOUT)
        alice.locator("#compose").press("Enter")
        expect(bob.locator(".msg.theirs .body")).to_have_text(["Hi Bob, noon?"], timeout=TIMEOUT)
        expect(bob.locator("#typing")).to_have_text("", timeout=TIMEOUT)
        expect(bob.locator(".msg.theirs .meta")).to_contain_text(["Alice"])

        # Bob's page read it: Alice sees "Seen" under her message.
        expect(alice.locator(".msg.mine .seen")).to_have_text("Seen", timeout=TIMEOUT)

        bob.locator("#compose").fill("Noon works")
        bob.get_by_role("button", name="Send").click()
        expect(alice.locator(".msg.theirs .body")).to_have_text(["Noon works"], timeout=TIMEOUT)
        expect(bob.locator(".msg.mine .seen")).to_have_text("Seen", timeout=TIMEOUT)

        # Alice edits her message; Bob sees the new text.
        mine = alice.locator(".msg.mine").first
        mine.get_by_role("button", name="Edit").click()
        mine.get_by_label("Edit message").fill("Hi Bob, 12:30?")
        mine.get_by_role("button", name="Save").click()
        expect(bob.locator(".msg.theirs .body")).to_have_text(["Hi Bob, 12:30?"], timeout=TIMEOUT)
        expect(bob.locator(".msg.theirs .edited")).to_have_text(["edited"])

        alice.locator("#compose").fill("See you there")
        alice.locator("#compose").press("Enter")
        expect(bob.locator(".msg.theirs .body")).to_have_text(["Hi Bob, 12:30?", "See you there"], timeout=TIMEOUT)

        alice.screenshot(path=str(output_dir / "alice-desktop.png"))
        bob.screenshot(path=str(output_dir / "bob-phone.png"))
        if os.environ.get("HUBBUB_UPDATE_DOCS_SCREENSHOT") == "1":  # refresh the README's picture on request
            shutil.copyfile(output_dir / "alice-desktop.png", REPO_ROOT / "docs" / "chat-page.png")

        # Alice deletes her last message; it disappears from Bob's page.
        alice.locator(".msg.mine", has_text="See you there").get_by_role("button", name="Delete").click()
        expect(bob.locator(".msg.theirs .body")).to_have_text(["Hi Bob, 12:30?"], timeout=TIMEOUT)
        expect(alice.locator(".msg.mine .body")).to_have_text(["Hi Bob, 12:30?"])

        # The phone layout: Bob goes back to his thread list and returns.
        bob.get_by_role("button", name="Back to threads").click()
        expect(bob.locator("#threads-pane")).to_be_visible()
        expect(bob.locator("#thread-pane")).to_be_hidden()
        bob_thread.click()
        expect(bob.locator(".msg.theirs .body")).to_have_text(["Hi Bob, 12:30?"], timeout=TIMEOUT)
        assert errors == []
    finally:
        desktop.close()
        phone.close()


def test_pasted_token_thread_link_and_older_history(browser: Any, chat_server: HubbubServer, output_dir: Path) -> None:
    """Sign in with a pasted token, open a thread by link, scroll back through paged history."""
    from playwright.sync_api import expect

    with httpx.Client(base_url=chat_server.http_url, trust_env=False, timeout=30) as http:
        users = http.post("/create_users").json()
        u1, t1 = users["user1_id"], users["user1_token"]
        thread_id = http.post(
            "/create_thread", json={"user1_id": u1, "topic": "History"}, headers={"Authorization": f"Bearer {t1}"}
        ).json()["thread_id"]
        for i in range(45):
            response = http.post(
                "/send_message",
                json={"thread_id": thread_id, "user_id": u1, "message": f"note {i}"},
                headers={"Authorization": f"Bearer {t1}"},
            )
            assert response.status_code == 200

    context = browser.new_context(viewport={"width": 900, "height": 700})
    page = context.new_page()
    try:
        page.goto(f"{chat_server.http_url}/")
        page.locator("#token-input").fill("not a token")
        page.get_by_role("button", name="Use this token").click()
        expect(page.locator("#sign-in-error")).to_contain_text("does not look like an access token")
        page.locator("#token-input").fill(t1)
        page.get_by_role("button", name="Use this token").click()
        expect(page.locator("#threads li", has_text="History")).to_be_visible(timeout=TIMEOUT)

        page.goto(f"{chat_server.http_url}/#thread={thread_id}")  # same document: the hash opens it
        expect(page.locator("#thread-topic")).to_have_text("History", timeout=TIMEOUT)
        bodies = page.locator(".msg.mine .body")
        expect(bodies).to_have_count(30, timeout=TIMEOUT)
        expect(bodies.last).to_have_text("note 44")
        expect(page.locator("#older")).to_be_visible()
        page.locator("#older").click()
        expect(bodies).to_have_count(45, timeout=TIMEOUT)
        expect(bodies.first).to_have_text("note 0")
        expect(page.locator("#older")).to_be_hidden()
        texts = bodies.all_text_contents()
        assert texts == [f"note {i}" for i in range(45)]

        # A reload keeps the identity (localStorage) and reopens the linked thread.
        page.reload()
        expect(page.locator("#thread-topic")).to_have_text("History", timeout=TIMEOUT)
        page.screenshot(path=str(output_dir / "history.png"))
    finally:
        context.close()


def test_search_box_finds_messages_and_escapes_them(browser: Any, chat_server: HubbubServer, output_dir: Path) -> None:
    """The search box lists matches from every thread with the words marked, and nothing in a
    message (markup, a script) is ever run or rendered as HTML; a result opens its thread."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1100, "height": 720})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    try:
        sign_in_new(page, f"{chat_server.http_url}/", "Searcher")
        for topic, text in (
            ("Birds", 'A kingfisher <img src=x onerror="alert(1)"> by the river'),
            ("Other", "no birds here, only a <b>kingfisher</b> & friends"),
        ):
            page.locator("#new-thread-topic").fill(topic)
            page.get_by_role("button", name="Create").click()
            expect(page.locator("#thread-topic")).to_have_text(topic, timeout=TIMEOUT)
            page.locator("#compose").fill(text)
            page.locator("#compose").press("Enter")
            expect(page.locator(".msg.mine .body").last).to_have_text(text, timeout=TIMEOUT)

        page.get_by_label("Search messages").fill("kingfisher")
        page.get_by_role("button", name="Search").click()
        results = page.locator("#search-results li")
        expect(results).to_have_count(2, timeout=TIMEOUT)
        expect(page.locator("#search-results mark")).to_have_text(["kingfisher", "kingfisher"])
        expect(results.filter(has_text="in Birds")).to_contain_text(
            'A kingfisher <img src=x onerror="alert(1)"> by the river'
        )
        expect(results.filter(has_text="in Other")).to_contain_text("<b>kingfisher</b> & friends")
        assert page.locator("#search-results img, #search-results b").count() == 0
        page.screenshot(path=str(output_dir / "search.png"))

        results.filter(has_text="in Birds").click()
        expect(page.locator("#thread-topic")).to_have_text("Birds", timeout=TIMEOUT)

        page.get_by_label("Search messages").fill("pterodactyl")
        page.get_by_role("button", name="Search").click()
        expect(results).to_have_text(["No messages found."], timeout=TIMEOUT)
        assert errors == []
    finally:
        context.close()
