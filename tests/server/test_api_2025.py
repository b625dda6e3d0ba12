"""api-version 2025-03-15 (spec §14): thread metadata, retention policy, participant metadata."""

from __future__ import annotations

import time
from typing import Any

import pytest

from _services import ENGINES, ServerFactory

from ._acs import CHAT_API_VERSION_2025, Acs, RawApi, User, assert_acs_error

V2025 = CHAT_API_VERSION_2025


def participant(user: User, **extra: Any) -> dict[str, Any]:
    return {"communicationIdentifier": {"rawId": user.id, "communicationUser": {"id": user.id}}, **extra}


def create(raw: RawApi, owner: User, body: dict[str, Any]) -> dict[str, Any]:
    response = raw.chat("POST", "/chat/threads", owner.token, json_body=body, api_version=V2025)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def test_create_with_metadata_and_retention_is_echoed(raw: RawApi, alice: User, bob: User) -> None:
    policy = {"kind": "threadCreationDate", "deleteThreadAfterDays": 40}
    body = create(
        raw,
        alice,
        {
            "topic": "t1",
            "participants": [participant(bob, displayName="Bob", metadata={"role": "guest"})],
            "metadata": {"k": "v", "k2": "v2"},
            "retentionPolicy": policy,
        },
    )
    thread = body["chatThread"]
    assert thread["metadata"] == {"k": "v", "k2": "v2"}
    assert thread["retentionPolicy"] == policy
    assert not body.get("invalidParticipants")
    got = raw.chat("GET", f"/chat/threads/{thread['id']}", alice.token, api_version=V2025).json()
    assert got["metadata"] == {"k": "v", "k2": "v2"}
    assert got["retentionPolicy"] == policy
    assert got["topic"] == "t1"

    members = raw.chat("GET", f"/chat/threads/{thread['id']}/participants", alice.token, api_version=V2025).json()
    by_id = {p["communicationIdentifier"]["rawId"]: p for p in members["value"]}
    assert by_id[bob.id]["metadata"] == {"role": "guest"}
    assert by_id[bob.id]["communicationIdentifier"]["communicationUser"]["id"] == bob.id

    listed = raw.chat("GET", "/chat/threads", alice.token, api_version=V2025).json()["value"]
    item = next(t for t in listed if t["id"] == thread["id"])
    assert "retentionPolicy" not in item and "metadata" not in item  # §14.4.2


def test_thread_without_extras_omits_them(raw: RawApi, alice: User) -> None:
    thread = create(raw, alice, {"topic": "plain"})["chatThread"]
    got = raw.chat("GET", f"/chat/threads/{thread['id']}", alice.token, api_version=V2025).json()
    assert got.get("metadata") in (None, {})
    assert got.get("retentionPolicy") is None


def test_update_properties_merge_patch(raw: RawApi, alice: User) -> None:
    thread = create(raw, alice, {"topic": "p", "metadata": {"a": "1"}})["chatThread"]
    path = f"/chat/threads/{thread['id']}"

    def patch(body: dict[str, Any]) -> None:
        response = raw.chat(
            "PATCH", path, alice.token, json_body=body, content_type="application/merge-patch+json", api_version=V2025
        )
        assert response.status_code == 204, response.text
        assert response.content == b""

    patch({"metadata": {"b": "2"}, "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 90}})
    got = raw.chat("GET", path, alice.token, api_version=V2025).json()
    assert got["metadata"] == {"b": "2"}  # whole-map replacement (spec §14.1)
    assert got["retentionPolicy"] == {"kind": "threadCreationDate", "deleteThreadAfterDays": 90}
    assert got["topic"] == "p"

    patch({})
    assert raw.chat("GET", path, alice.token, api_version=V2025).json() == got

    patch({"retentionPolicy": {"kind": "none"}, "topic": "p2"})
    got = raw.chat("GET", path, alice.token, api_version=V2025).json()
    assert got["retentionPolicy"] == {"kind": "none"}
    assert got["topic"] == "p2"
    assert got["metadata"] == {"b": "2"}

    # The JS SDK's own test: setting null removes the policy, which then reads as kind "none",
    # and the thread no longer expires.
    patch({"retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 30}})
    patch({"retentionPolicy": None})
    got = raw.chat("GET", path, alice.token, api_version=V2025).json()
    assert got["retentionPolicy"] == {"kind": "none"}


@pytest.mark.parametrize(
    "policy",
    [
        {"kind": "bogus"},
        {"deleteThreadAfterDays": 40},
        {"kind": "threadCreationDate"},
        {"kind": "threadCreationDate", "deleteThreadAfterDays": 29},
        {"kind": "threadCreationDate", "deleteThreadAfterDays": 91},
        {"kind": "threadCreationDate", "deleteThreadAfterDays": "40"},
    ],
    ids=["unknown-kind", "no-kind", "no-days", "29-days", "91-days", "string-days"],
)
def test_invalid_retention_policy_is_400(raw: RawApi, alice: User, policy: dict[str, Any]) -> None:
    before = raw.chat("GET", "/chat/threads", alice.token).json()["value"]
    response = raw.chat(
        "POST", "/chat/threads", alice.token, json_body={"topic": "bad", "retentionPolicy": policy}, api_version=V2025
    )
    assert_acs_error(response, 400)
    assert raw.chat("GET", "/chat/threads", alice.token).json()["value"] == before
    thread = create(raw, alice, {"topic": "ok"})["chatThread"]
    patched = raw.chat(
        "PATCH",
        f"/chat/threads/{thread['id']}",
        alice.token,
        json_body={"retentionPolicy": policy},
        content_type="application/merge-patch+json",
        api_version=V2025,
    )
    assert_acs_error(patched, 400)


def test_metadata_over_1kb_is_400(raw: RawApi, alice: User) -> None:
    response = raw.chat(
        "POST",
        "/chat/threads",
        alice.token,
        json_body={"topic": "big", "metadata": {"k": "x" * 1100}},
        api_version=V2025,
    )
    assert_acs_error(response, 400)


def test_message_without_type_defaults_to_text(raw: RawApi, alice: User) -> None:
    thread = create(raw, alice, {"topic": "js style"})["chatThread"]
    sent = raw.chat(
        "POST", f"/chat/threads/{thread['id']}/messages", alice.token, json_body={"content": "hi"}, api_version=V2025
    )
    assert sent.status_code == 201, sent.text
    message = raw.chat("GET", f"/chat/threads/{thread['id']}/messages/{sent.json()['id']}", alice.token).json()
    assert message["type"] == "text"
    assert message["content"]["message"] == "hi"


def test_next_link_carries_paging_state(raw: RawApi, alice: User) -> None:
    """JS follows nextLink verbatim: it must hold api-version and maxPageSize (spec §6, §14.2)."""
    thread = create(raw, alice, {"topic": "links"})["chatThread"]
    for i in range(3):
        raw.chat("POST", f"/chat/threads/{thread['id']}/messages", alice.token, json_body={"content": f"n{i}"})
    page = raw.chat(
        "GET", f"/chat/threads/{thread['id']}/messages", alice.token, api_version=V2025, params={"maxPageSize": "1"}
    ).json()
    seen = []
    while True:
        assert len(page["value"]) == 1
        seen.append(page["value"][0]["id"])
        link = page.get("nextLink")
        if not link:
            break
        assert "maxPageSize=1" in link and "api-version=" in link, link
        follow = raw.client.get(link, headers={"Authorization": f"Bearer {alice.token}", "Accept": "*/*"})
        assert follow.status_code == 200, follow.text
        page = follow.json()
    assert len(seen) == len(set(seen)) >= 4  # 3 texts + at least one system message


@pytest.mark.parametrize("engine", ENGINES)
def test_retention_policy_deletes_thread(server_factory: ServerFactory, engine: str) -> None:
    """A thread past `deleteThreadAfterDays` is deleted by the background task (one "day" = 1 s here)."""
    hubbub = server_factory(
        engine, env={"HUBBUB_RETENTION_DAY_SECONDS": "1", "HUBBUB_RETENTION_INTERVAL_SECONDS": "0.5"}
    )
    acs = Acs(hubbub)
    alice = acs.new_user()
    raw = RawApi(hubbub)
    try:
        expiring = create(
            raw,
            alice,
            {"topic": "expires", "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 30}},
        )["chatThread"]["id"]
        forever = create(raw, alice, {"topic": "stays", "retentionPolicy": {"kind": "none"}})["chatThread"]["id"]
        plain = create(raw, alice, {"topic": "plain"})["chatThread"]["id"]
        created = time.monotonic()
        assert raw.chat("GET", f"/chat/threads/{expiring}", alice.token).status_code == 200
        deadline = created + 75
        while time.monotonic() < deadline:
            status = raw.chat("GET", f"/chat/threads/{expiring}", alice.token).status_code
            if status != 200:
                break
            time.sleep(1)
        elapsed = time.monotonic() - created
        gone = raw.chat("GET", f"/chat/threads/{expiring}", alice.token)
        assert_acs_error(gone, 403, 404)
        assert elapsed >= 25, f"deleted after {elapsed:.1f} s, before its 30 one-second days were up"
        listed = {t["id"]: t for t in raw.chat("GET", "/chat/threads", alice.token).json()["value"]}
        assert expiring not in listed or listed[expiring].get("deletedOn")
        for kept in (forever, plain):
            assert raw.chat("GET", f"/chat/threads/{kept}", alice.token).status_code == 200
    finally:
        raw.close()
