"""The official JavaScript SDK (@azure/communication-chat 1.6.0, api-version 2025-03-15) against Hubbub.

`tests/js/chat-flow.mjs` calls the SDK like an app would and prints what it saw as JSON; the
assertions are here. Node.js and npm are required with CI=true; locally their absence skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from _services import REPO_ROOT, HubbubServer, service_env

from ._acs import Acs

JS_DIR = REPO_ROOT / "tests" / "js"

pytestmark = pytest.mark.node


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    """`node`, with tests/js/node_modules installed (npm ci, or npm install without a lock file)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("node/npm not found")
    if not (JS_DIR / "node_modules" / "@azure" / "communication-chat").is_dir():
        command = [npm, "ci" if (JS_DIR / "package-lock.json").exists() else "install", "--no-audit", "--no-fund"]
        done = subprocess.run(command, cwd=JS_DIR, capture_output=True, text=True, env=service_env(), timeout=600)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return Path(node)  # type: ignore[arg-type]


def run_flow(node: Path, server: HubbubServer, acs: Acs) -> dict[str, Any]:
    users = [{"id": u.id, "token": u.token} for u in acs.new_users(3)]
    env = service_env(
        {
            "NODE_EXTRA_CA_CERTS": str(server.ca_path),
            "HUBBUB_ENDPOINT": server.https_url,
            "HUBBUB_USERS": json.dumps(users),
        }
    )
    done = subprocess.run(
        [str(node), str(JS_DIR / "chat-flow.mjs")], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON from node (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    out: dict[str, Any] = json.loads(lines[-1])
    assert "fatal" not in out, f"JS SDK call failed: {out['fatal']}\n{done.stderr}"
    assert done.returncode == 0, done.stderr
    out["_users"] = users
    return out


def test_js_sdk_chat_flow(node_sdk: Path, server: HubbubServer, acs: Acs) -> None:
    out = run_flow(node_sdk, server, acs)
    alice, bob, carol = (u["id"] for u in out["_users"])

    created = out["created"]
    assert created["topic"] == "js topic"
    assert created["createdBy"] == alice
    assert created["metadata"] == {"k": "v", "k2": "v2"}
    assert created["retentionPolicy"] == {"kind": "threadCreationDate", "deleteThreadAfterDays": 40}
    assert created["invalidParticipants"] == []

    assert out["properties"] == {
        "id": created["id"],
        "topic": "js topic",
        "createdBy": alice,
        "metadata": {"k": "v", "k2": "v2"},
        "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 40},
    }
    assert out["updated"] == {
        "topic": "js topic 2",
        "metadata": {"k": "v3"},
        "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 90},
    }
    assert out["retentionNone"] == {"kind": "none"}
    assert out["retentionNull"] == {"kind": "none"}
    assert out["afterEmptyUpdate"] == "js topic 2"
    assert out["topicAfterUpdateTopic"] == "js topic 3"

    assert out["addInvalid"] == []
    participants = {p["id"]: p for p in out["participants"]}
    assert set(participants) == {alice, bob, carol}
    assert participants[bob]["displayName"] == "Bob" and participants[bob]["metadata"] == {"role": "guest"}
    assert participants[carol]["metadata"] == {"role": "late"}
    assert out["participantPages"] == [1, 1, 1]

    sent = out["sent"]
    assert out["plain"] == {"type": "text", "content": "plain", "sender": alice, "version": sent[0]}
    assert out["rich"] == {
        "type": "html",
        "content": "<b>rich</b>",
        "senderDisplayName": "Alice",
        "metadata": {"a": "b"},
    }
    assert out["edited"]["content"] == "plain, edited" and out["edited"]["editedOn"]
    assert out["edited"]["metadata"] == {"x": "y"} and out["edited"]["version"] != sent[0]

    messages = out["messages"]
    texts = [m for m in messages if m["type"] in ("text", "html")]
    assert [m["id"] for m in texts] == list(reversed(sent))
    by_id = {m["id"]: m for m in messages}
    assert by_id[sent[2]]["deletedOn"]
    assert by_id[sent[0]]["content"] == "plain, edited"
    sequence = [int(m["sequenceId"]) for m in messages]
    assert sequence == sorted(sequence, reverse=True) and len(set(sequence)) == len(sequence)
    kinds = {m["type"] for m in messages}
    assert {"participantAdded", "topicUpdated"} <= kinds
    carol_added = [
        m for m in messages if m["type"] == "participantAdded" and carol in [p["id"] for p in m["participants"]]
    ]
    assert carol_added and carol_added[0]["participants"][0]["metadata"] == {"role": "late"}
    assert next(m["topic"] for m in messages if m["type"] == "topicUpdated") == "js topic 3"

    # paging: nextLink followed verbatim by JS (no api-version or maxPageSize added, §14.2)
    assert all(1 <= len(page) <= 2 for page in out["messagePages"])
    assert [i for page in out["messagePages"] for i in page] == [m["id"] for m in messages]
    assert len(out["messagePages"]) >= 3
    assert out["continuationToken"]
    assert out["firstPage"] + out["resumed"] == [m["id"] for m in messages]

    assert out["typing"] is True and out["bobTyping"] is True
    receipts = {r["sender"]: r for r in out["receipts"]}
    assert len(out["receipts"]) == 2
    assert receipts[alice]["chatMessageId"] == sent[4] and receipts[bob]["chatMessageId"] == sent[3]
    assert all(r["readOn"] for r in out["receipts"])

    assert sorted(out["afterRemove"]) == sorted([alice, bob])
    assert out["carolSendError"] and out["carolSendError"]["statusCode"] == 403
    assert out["bobEditError"] and out["bobEditError"]["statusCode"] == 403

    assert [len(page) for page in out["threadPages"]] == [1, 1, 1]
    assert {i for page in out["threadPages"] for i in page} == {created["id"], *out["extraThreads"]}
    assert out["deletedGetError"] and out["deletedGetError"]["statusCode"] in (403, 404)
