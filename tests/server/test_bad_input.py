"""Bad input never yields a 500 or a text body, and never leaves a partial write.

Raw httpx requests (bearer tokens for chat, HMAC-SHA256 for identity, spec §3) carry inputs the
official SDKs refuse to send. Every case must answer a 4xx with an ACS JSON error body (spec §7.1);
after each case, a snapshot of the caller's threads, messages and participants must be unchanged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from _services import ENGINES, HubbubServer, ServerFactory

from ._acs import Acs, RawApi, User, assert_acs_error, http_date, token_claims, utcnow

UNKNOWN_ID = "8:acs:00000000-0000-4000-8000-000000000000_00000000-0000-4000-8000-000000000001"


def participant(user_id: str) -> dict[str, Any]:
    return {"communicationIdentifier": {"rawId": user_id, "communicationUser": {"id": user_id}}}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class World:
    """Alice's thread (with Bob and a message), a deleted thread, and an outsider."""

    server: HubbubServer
    raw: RawApi
    alice: User
    bob: User
    carol: User
    thread: str
    message: str
    deleted: str

    def chat(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.raw.chat(method, path, self.alice.token, **kwargs)

    def snapshot(self) -> dict[str, Any]:
        threads = self.chat("GET", "/chat/threads").json()["value"]
        messages = self.chat("GET", f"/chat/threads/{self.thread}/messages").json()["value"]
        participants = self.chat("GET", f"/chat/threads/{self.thread}/participants").json()["value"]
        return {
            "threads": sorted((t["id"], t["topic"]) for t in threads),
            "messages": [(m["id"], m["version"], m["content"].get("message"), m.get("deletedOn")) for m in messages],
            "participants": sorted(p["communicationIdentifier"]["rawId"] for p in participants),
            "topic": self.chat("GET", f"/chat/threads/{self.thread}").json()["topic"],
        }

    def mint(self, **changes: Any) -> str:
        """Re-sign Alice's token claims with the server's token secret (see hubbub.server.tokens)."""
        key = base64.b64decode(str(self.server.access_key))
        secret = hmac.new(key, b"hubbub-access-token-signing", hashlib.sha256).digest()
        return jwt.encode(
            {**token_claims(self.alice.token), **changes}, secret, algorithm="HS256", headers={"kid": "1"}
        )


@pytest.fixture
def world(acs: Acs, raw: RawApi) -> World:
    alice, bob, carol = acs.new_users(3)
    thread = acs.create_thread(alice, "stable", (bob,))
    sent = raw.chat("POST", f"/chat/threads/{thread}/messages", alice.token, json_body={"content": "original"})
    assert sent.status_code == 201, sent.text
    deleted = acs.create_thread(alice, "deleted")
    assert raw.chat("DELETE", f"/chat/threads/{deleted}", alice.token).status_code == 204
    return World(acs.server, raw, alice, bob, carol, thread, sent.json()["id"], deleted)


Case = Callable[[World], httpx.Response]


def sync_state(**state: Any) -> str:
    """A forged paging token, encoded the way the server encodes its own (see `next_link`)."""
    text = json.dumps({**state, "n": 1, "v": "2024-03-07"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def raw_sync_state(text: str) -> str:
    """A paging token around JSON text that `json.dumps` cannot write (`1e400`)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def next_page(path: str, token: str) -> Case:
    """A nextLink request as the SDKs send it: syncState and maxPageSize, no other parameter."""
    return lambda w: w.chat("GET", path.format(t=w.thread), params={"syncState": token, "maxPageSize": "1"})


def deep_json(depth: int) -> bytes:
    return b'{"topic": "deep", "extra": ' + b"[" * depth + b"]" * depth + b"}"


NUL = "a\\u0000b"  # the JSON escape, six characters: json.dumps would write it too


def forged_payload(w: World) -> str:
    header, _payload, signature = w.alice.token.split(".")
    claims = token_claims(w.alice.token)
    claims["exp"] = claims["exp"] + 3600
    return ".".join([header, base64.b64encode(json.dumps(claims).encode()).decode().rstrip("="), signature])


def as_bob_forged(w: World) -> str:
    """Alice's token with Bob's identity swapped in, signature left alone."""
    header, _, signature = w.alice.token.split(".")
    claims = token_claims(w.alice.token)
    claims.update(token_claims(w.bob.token))
    claims["exp"] = token_claims(w.alice.token)["exp"]
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


def alg_none(w: World) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(token_claims(w.alice.token)).encode())}."


def revoked_token(w: World) -> str:
    acs = Acs(w.server)
    user = acs.new_user()
    with acs.identity() as client:
        client.revoke_tokens(user.identifier)
    return user.token


def create_thread_as(token: str) -> Case:
    return lambda w: w.raw.chat("POST", "/chat/threads", token, json_body={"topic": "x", "participants": []})


CHAT_CASES: dict[str, tuple[Case, tuple[int, ...]]] = {
    # -- malformed bodies
    "create-bad-json": (lambda w: w.chat("POST", "/chat/threads", content=b'{"topic": "x",'), (400,)),
    "create-json-array": (lambda w: w.chat("POST", "/chat/threads", json_body=["topic"]), (400,)),
    "create-topic-number": (lambda w: w.chat("POST", "/chat/threads", json_body={"topic": 5}), (400,)),
    "create-no-topic": (lambda w: w.chat("POST", "/chat/threads", json_body={"participants": []}), (400,)),
    "create-empty-topic": (lambda w: w.chat("POST", "/chat/threads", json_body={"topic": ""}), (400,)),
    "create-participants-string": (
        lambda w: w.chat("POST", "/chat/threads", json_body={"topic": "x", "participants": "all"}),
        (400,),
    ),
    "create-bad-share-history-time": (
        lambda w: w.chat(
            "POST",
            "/chat/threads",
            json_body={"topic": "x", "participants": [{**participant(w.bob.id), "shareHistoryTime": "yesterday"}]},
        ),
        (400,),
    ),
    "create-participant-without-identifier": (
        lambda w: w.chat("POST", "/chat/threads", json_body={"topic": "x", "participants": [{"displayName": "?"}]}),
        (400,),
    ),
    "create-too-long-topic": (lambda w: w.chat("POST", "/chat/threads", json_body={"topic": "t" * 5000}), (400,)),
    "update-empty-topic": (
        lambda w: w.chat(
            "PATCH", f"/chat/threads/{w.thread}", json_body={"topic": ""}, content_type="application/merge-patch+json"
        ),
        (400,),
    ),
    "update-topic-number": (
        lambda w: w.chat(
            "PATCH", f"/chat/threads/{w.thread}", json_body={"topic": 1}, content_type="application/merge-patch+json"
        ),
        (400,),
    ),
    "send-bad-json": (lambda w: w.chat("POST", f"/chat/threads/{w.thread}/messages", content=b"not json"), (400,)),
    "send-empty-content": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/messages", json_body={"content": ""}),
        (400,),
    ),
    "send-content-number": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/messages", json_body={"content": 42}),
        (400,),
    ),
    "send-unknown-type": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/messages", json_body={"content": "x", "type": "video"}),
        (400,),
    ),
    "send-system-type": (
        lambda w: w.chat(
            "POST", f"/chat/threads/{w.thread}/messages", json_body={"content": "x", "type": "topicUpdated"}
        ),
        (400,),
    ),
    "send-metadata-not-strings": (
        lambda w: w.chat(
            "POST", f"/chat/threads/{w.thread}/messages", json_body={"content": "x", "metadata": {"n": 1}}
        ),
        (400,),
    ),
    "send-oversized": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/messages", json_body={"content": "x" * (29 * 1024)}),
        (400, 413),
    ),
    "send-huge-body": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/messages", json_body={"content": "y" * (2 * 1024 * 1024)}),
        (400, 413),
    ),
    "edit-empty-content": (
        lambda w: w.chat(
            "PATCH",
            f"/chat/threads/{w.thread}/messages/{w.message}",
            json_body={"content": ""},
            content_type="application/merge-patch+json",
        ),
        (400,),
    ),
    "edit-content-list": (
        lambda w: w.chat(
            "PATCH",
            f"/chat/threads/{w.thread}/messages/{w.message}",
            json_body={"content": ["x"]},
            content_type="application/merge-patch+json",
        ),
        (400,),
    ),
    "add-participants-not-list": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/participants/:add", json_body={"participants": {}}),
        (400,),
    ),
    "add-participants-missing": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/participants/:add", json_body={}),
        (400,),
    ),
    "remove-participant-empty": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/participants/:remove", json_body={}),
        (400,),
    ),
    "read-receipt-no-id": (lambda w: w.chat("POST", f"/chat/threads/{w.thread}/readReceipts", json_body={}), (400,)),
    "read-receipt-unknown-message": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/readReceipts", json_body={"chatMessageId": "nope"}),
        (400, 404),
    ),
    "typing-bad-json": (lambda w: w.chat("POST", f"/chat/threads/{w.thread}/typing", content=b"{"), (400,)),
    # -- paging parameters
    "list-max-page-size-text": (lambda w: w.chat("GET", "/chat/threads", params={"maxPageSize": "many"}), (400,)),
    "list-skip-negative": (
        lambda w: w.chat("GET", f"/chat/threads/{w.thread}/participants", params={"skip": "-1"}),
        (400,),
    ),
    "list-start-time-garbage": (
        lambda w: w.chat("GET", f"/chat/threads/{w.thread}/messages", params={"startTime": "last tuesday"}),
        (400,),
    ),
    # -- integers past what a store column holds (skip is int32 in the swagger)
    **{
        f"{name}-skip-{label}": (
            lambda w, path=path, value=value: w.chat("GET", f"/chat/threads/{w.thread}/{path}", params={"skip": value}),
            (400,),
        )
        for name, path in (("participants", "participants"), ("receipts", "readReceipts"))
        for label, value in (("1e30", str(10**30)), ("2e63", str(2**63)), ("2e31", str(2**31)))
    },
    "list-max-page-size-1e30": (
        lambda w: w.chat("GET", f"/chat/threads/{w.thread}/participants", params={"maxPageSize": str(10**30)}),
        (400,),
    ),
    # -- forged paging tokens (syncState): untrusted input, like any other parameter
    **{
        f"sync-state-{name}-{label}": (next_page(path, token), (400,))
        for name, path, field in (
            ("participants", "/chat/threads/{t}/participants", "k"),
            ("receipts", "/chat/threads/{t}/readReceipts", "k"),
            ("messages", "/chat/threads/{t}/messages", "s"),
            ("messages-id", "/chat/threads/{t}/messages", "m"),
            ("messages-time", "/chat/threads/{t}/messages", "t"),
            ("threads-after", "/chat/threads", "a"),
        )
        for label, token in (
            ("string", sync_state(**{field: "ten", "i": "19:x@thread.v2"})),
            ("1e30", sync_state(**{field: 10**30, "i": "19:x@thread.v2"})),
            ("2e63", sync_state(**{field: 2**63, "i": "19:x@thread.v2"})),
            ("1e400", raw_sync_state(f'{{"{field}":1e400,"i":"19:x@thread.v2","n":1,"v":"2024-03-07"}}')),
            ("float", sync_state(**{field: 1.5, "i": "19:x@thread.v2"})),
            ("bool", sync_state(**{field: True, "i": "19:x@thread.v2"})),
        )
    },
    **{
        f"sync-state-{name}-null": (next_page(path, sync_state(**{field: None, "i": "19:x@thread.v2"})), (400,))
        for name, path, field in (
            ("participants", "/chat/threads/{t}/participants", "k"),
            ("receipts", "/chat/threads/{t}/readReceipts", "k"),
            ("messages", "/chat/threads/{t}/messages", "s"),
            ("messages-id", "/chat/threads/{t}/messages", "m"),
            ("threads-after", "/chat/threads", "a"),
        )
    },
    "sync-state-threads-string-time": (next_page("/chat/threads", sync_state(t="2024-01-01T00:00:00Z")), (400,)),
    "sync-state-threads-after-without-id": (next_page("/chat/threads", sync_state(a=1)), (400,)),
    "sync-state-threads-id-number": (next_page("/chat/threads", sync_state(a=1, i=5)), (400,)),
    "sync-state-threads-id-nul": (next_page("/chat/threads", sync_state(a=1, i="19:\x00@thread.v2")), (400,)),
    "sync-state-page-size-string": (next_page("/chat/threads", raw_sync_state('{"n":"many"}')), (400,)),
    "sync-state-page-size-1e30": (
        next_page("/chat/threads", raw_sync_state('{"n":1000000000000000000000000000000}')),
        (400,),
    ),
    "sync-state-version-number": (next_page("/chat/threads", raw_sync_state('{"n":1,"v":20240307}')), (400,)),
    "sync-state-unknown-field": (next_page("/chat/threads", sync_state(x=1)), (400,)),
    "sync-state-array": (next_page("/chat/threads", raw_sync_state("[1,2]")), (400,)),
    "sync-state-deep": (next_page("/chat/threads", raw_sync_state("[" * 5000 + "]" * 5000)), (400,)),
    "sync-state-not-base64": (next_page("/chat/threads", "!!!"), (400,)),
    # -- U+0000: PostgreSQL cannot store it in text; both engines refuse it alike
    "nul-in-content": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/messages", content=f'{{"content": "{NUL}"}}'.encode()),
        (400,),
    ),
    "nul-in-sender-display-name": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/messages",
            content=f'{{"content": "x", "senderDisplayName": "{NUL}"}}'.encode(),
        ),
        (400,),
    ),
    "nul-in-message-metadata-value": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/messages",
            content=f'{{"content": "x", "metadata": {{"k": "{NUL}"}}}}'.encode(),
        ),
        (400,),
    ),
    "nul-in-message-metadata-key": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/messages",
            content=f'{{"content": "x", "metadata": {{"{NUL}": "v"}}}}'.encode(),
        ),
        (400,),
    ),
    "nul-in-edited-content": (
        lambda w: w.chat(
            "PATCH",
            f"/chat/threads/{w.thread}/messages/{w.message}",
            content=f'{{"content": "{NUL}"}}'.encode(),
            content_type="application/merge-patch+json",
        ),
        (400,),
    ),
    "nul-in-topic": (lambda w: w.chat("POST", "/chat/threads", content=f'{{"topic": "{NUL}"}}'.encode()), (400,)),
    "nul-in-updated-topic": (
        lambda w: w.chat(
            "PATCH",
            f"/chat/threads/{w.thread}",
            content=f'{{"topic": "{NUL}"}}'.encode(),
            content_type="application/merge-patch+json",
        ),
        (400,),
    ),
    "nul-in-thread-metadata": (
        lambda w: w.chat(
            "POST",
            "/chat/threads",
            content=f'{{"topic": "x", "metadata": {{"k": "{NUL}"}}}}'.encode(),
            api_version="2025-03-15",
        ),
        (400,),
    ),
    "nul-in-participant-display-name": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/participants/:add",
            content=json.dumps({"participants": [{**participant(w.carol.id), "displayName": "a\x00b"}]}).encode(),
        ),
        (400,),
    ),
    "nul-in-participant-id": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/participants/:add",
            content=json.dumps({"participants": [participant(w.carol.id + "\x00")]}).encode(),
        ),
        (400,),
    ),
    "nul-in-removed-id": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/participants/:remove",
            content=json.dumps({"rawId": w.bob.id + "\x00"}).encode(),
        ),
        (400,),
    ),
    "nul-in-typing-name": (
        lambda w: w.chat(
            "POST", f"/chat/threads/{w.thread}/typing", content=f'{{"senderDisplayName": "{NUL}"}}'.encode()
        ),
        (400,),
    ),
    "nul-in-read-receipt-id": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/readReceipts", content=b'{"chatMessageId": "1\\u0000"}'),
        (400,),
    ),
    "nul-in-thread-id-path": (lambda w: w.chat("GET", "/chat/threads/19:a%00b@thread.v2"), (400,)),
    "nul-in-thread-id-path-send": (
        lambda w: w.chat("POST", "/chat/threads/%00/messages", json_body={"content": "x"}),
        (400,),
    ),
    "nul-in-thread-id-path-participants": (lambda w: w.chat("GET", "/chat/threads/%00/participants"), (400,)),
    "nul-in-message-id-path": (lambda w: w.chat("GET", f"/chat/threads/{w.thread}/messages/1%00"), (400,)),
    # -- more inputs that used to reach a traceback
    "message-id-unicode-digits": (lambda w: w.chat("GET", f"/chat/threads/{w.thread}/messages/%C2%B2"), (404,)),
    "read-receipt-unicode-digits": (
        lambda w: w.chat("POST", f"/chat/threads/{w.thread}/readReceipts", json_body={"chatMessageId": "\u00b2"}),
        (404,),
    ),
    "deeply-nested-body": (
        lambda w: w.chat(
            "PATCH",
            f"/chat/threads/{w.thread}",
            content=deep_json(100_000),
            content_type="application/merge-patch+json",
        ),
        (400,),
    ),
    "share-history-time-before-year-1": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/participants/:add",
            json_body={"participants": [{**participant(w.carol.id), "shareHistoryTime": "0001-01-01T00:00:00+14:00"}]},
        ),
        (400,),
    ),
    "share-history-time-after-year-9999": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/participants/:add",
            json_body={"participants": [{**participant(w.carol.id), "shareHistoryTime": "9999-12-31T23:59:59-14:00"}]},
        ),
        (400,),
    ),
    # -- bad ids
    "thread-id-garbage": (lambda w: w.chat("GET", "/chat/threads/not-a-thread"), (400, 403, 404)),
    "thread-id-unknown": (lambda w: w.chat("GET", "/chat/threads/19:0000000000000000@thread.v2"), (403, 404)),
    "message-id-garbage": (lambda w: w.chat("GET", f"/chat/threads/{w.thread}/messages/abc"), (400, 404)),
    "message-id-unknown": (lambda w: w.chat("GET", f"/chat/threads/{w.thread}/messages/1"), (404,)),
    "edit-unknown-message": (
        lambda w: w.chat(
            "PATCH",
            f"/chat/threads/{w.thread}/messages/1",
            json_body={"content": "x"},
            content_type="application/merge-patch+json",
        ),
        (404,),
    ),
    # -- foreign and deleted threads
    "foreign-thread-send": (
        lambda w: w.raw.chat("POST", f"/chat/threads/{w.thread}/messages", w.carol.token, json_body={"content": "x"}),
        (403,),
    ),
    "foreign-thread-topic": (
        lambda w: w.raw.chat(
            "PATCH",
            f"/chat/threads/{w.thread}",
            w.carol.token,
            json_body={"topic": "mine"},
            content_type="application/merge-patch+json",
        ),
        (403,),
    ),
    "foreign-thread-add-self": (
        lambda w: w.raw.chat(
            "POST",
            f"/chat/threads/{w.thread}/participants/:add",
            w.carol.token,
            json_body={"participants": [participant(w.carol.id)]},
        ),
        (403,),
    ),
    "foreign-thread-delete": (lambda w: w.raw.chat("DELETE", f"/chat/threads/{w.thread}", w.carol.token), (403,)),
    "foreign-thread-delete-message": (
        lambda w: w.raw.chat("DELETE", f"/chat/threads/{w.thread}/messages/{w.message}", w.carol.token),
        (403,),
    ),
    "deleted-thread-get": (lambda w: w.chat("GET", f"/chat/threads/{w.deleted}"), (403, 404)),
    "deleted-thread-send": (
        lambda w: w.chat("POST", f"/chat/threads/{w.deleted}/messages", json_body={"content": "x"}),
        (403, 404),
    ),
    "deleted-thread-add": (
        lambda w: w.chat(
            "POST", f"/chat/threads/{w.deleted}/participants/:add", json_body={"participants": [participant(w.bob.id)]}
        ),
        (403, 404),
    ),
    # -- too many participants (batch limit 200, spec §12)
    "create-201-participants": (
        lambda w: w.chat(
            "POST",
            "/chat/threads",
            json_body={
                "topic": "crowd",
                "participants": [participant(f"{UNKNOWN_ID[:-3]}{i:03d}") for i in range(201)],
            },
        ),
        (400,),
    ),
    "add-201-participants": (
        lambda w: w.chat(
            "POST",
            f"/chat/threads/{w.thread}/participants/:add",
            json_body={"participants": [participant(f"{UNKNOWN_ID[:-3]}{i:03d}") for i in range(201)]},
        ),
        (400,),
    ),
    # -- credentials
    "no-token": (lambda w: w.raw.chat("GET", "/chat/threads", None), (401,)),
    "garbage-token": (lambda w: w.raw.chat("GET", "/chat/threads", "garbage"), (401,)),
    "three-part-garbage-token": (lambda w: w.raw.chat("GET", "/chat/threads", "a.b.c"), (401,)),
    "forged-payload": (lambda w: create_thread_as(forged_payload(w))(w), (401,)),
    "forged-identity": (lambda w: w.raw.chat("GET", f"/chat/threads/{w.thread}", as_bob_forged(w)), (401,)),
    "alg-none": (lambda w: create_thread_as(alg_none(w))(w), (401,)),
    "expired-token": (
        lambda w: create_thread_as(w.mint(exp=int(utcnow().timestamp()) - 120, iat=int(utcnow().timestamp()) - 7200))(
            w
        ),
        (401,),
    ),
    "revoked-token": (lambda w: create_thread_as(revoked_token(w))(w), (401,)),
    "hmac-on-chat": (
        lambda w: w.raw.client.get(
            "/chat/threads?api-version=2024-03-07",
            headers={"Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=AAAA"},
        ),
        (401,),
    ),
    "basic-auth-on-chat": (
        lambda w: w.raw.client.get("/chat/threads?api-version=2024-03-07", headers={"Authorization": "Basic eDp5"}),
        (401,),
    ),
    # -- api-version
    "chat-unknown-api-version": (
        lambda w: w.chat("POST", "/chat/threads", json_body={"topic": "x"}, api_version="1999-01-01"),
        (400,),
    ),
    "chat-garbage-api-version": (lambda w: w.chat("GET", "/chat/threads", api_version="latest"), (400,)),
    # -- routing
    "unknown-path": (lambda w: w.chat("GET", "/chat/nothing-here"), (404,)),
    "wrong-method": (lambda w: w.chat("PUT", "/chat/threads", json_body={"topic": "x"}), (404, 405)),
    # the routes `api/direct.py` answers itself: what they do not take still gets the router's answer
    "wrong-method-on-messages": (lambda w: w.chat("PUT", f"/chat/threads/{w.thread}/messages", json_body={}), (405,)),
    "wrong-method-on-typing": (lambda w: w.chat("GET", f"/chat/threads/{w.thread}/typing"), (404, 405)),
    "path-below-a-message": (lambda w: w.chat("GET", f"/chat/threads/{w.thread}/messages/1/more"), (404,)),
    "send-empty-thread-segment": (
        lambda w: w.chat("POST", "/chat/threads//messages", json_body={"content": "x"}),
        (404, 405),
    ),
}


@pytest.mark.parametrize("case", list(CHAT_CASES))
def test_chat_bad_input(world: World, case: str) -> None:
    call, statuses = CHAT_CASES[case]
    before = world.snapshot()
    assert_acs_error(call(world), *statuses)
    assert world.snapshot() == before


IDENTITY_CASES: dict[str, tuple[Case, tuple[int, ...]]] = {
    "no-auth": (lambda w: w.raw.identity("POST", "/identities", sign=False), (401,)),
    "wrong-key": (
        lambda w: w.raw.identity("POST", "/identities", access_key=base64.b64encode(b"k" * 32).decode()),
        (401,),
    ),
    "tampered-signature": (
        lambda w: w.raw.identity(
            "POST",
            "/identities",
            tamper={
                "Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="
                + base64.b64encode(b"\0" * 32).decode()
            },
        ),
        (401,),
    ),
    "body-hash-mismatch": (
        lambda w: w.raw.identity(
            "POST",
            "/identities",
            json_body={"createTokenWithScopes": ["chat"]},
            tamper={"x-ms-content-sha256": base64.b64encode(hashlib.sha256(b"").digest()).decode()},
        ),
        (401,),
    ),
    "replayed-old-date": (
        lambda w: w.raw.identity("POST", "/identities", date=http_date(utcnow() - dt.timedelta(minutes=30))),
        (401,),
    ),
    "skewed-future-date": (
        lambda w: w.raw.identity("POST", "/identities", date=http_date(utcnow() + dt.timedelta(minutes=30))),
        (401,),
    ),
    "garbage-date": (lambda w: w.raw.identity("POST", "/identities", date="yesterday-ish"), (401,)),
    "bearer-on-identity": (
        lambda w: w.raw.client.post(
            "/identities?api-version=2023-10-01", headers={"Authorization": f"Bearer {w.alice.token}"}
        ),
        (401,),
    ),
    "bad-json": (lambda w: w.raw.identity("POST", "/identities", content=b"{oops"), (400,)),
    "scopes-not-list": (
        lambda w: w.raw.identity("POST", "/identities", json_body={"createTokenWithScopes": "chat"}),
        (400,),
    ),
    "unknown-scope": (
        lambda w: w.raw.identity("POST", "/identities", json_body={"createTokenWithScopes": ["admin"]}),
        (400,),
    ),
    "expires-as-string": (
        lambda w: w.raw.identity(
            "POST", "/identities", json_body={"createTokenWithScopes": ["chat"], "expiresInMinutes": "60"}
        ),
        (400,),
    ),
    "issue-token-empty-scopes": (
        lambda w: w.raw.identity("POST", f"/identities/{w.bob.id}/:issueAccessToken", json_body={"scopes": []}),
        (400,),
    ),
    "issue-token-unknown-user": (
        lambda w: w.raw.identity("POST", f"/identities/{UNKNOWN_ID}/:issueAccessToken", json_body={"scopes": ["chat"]}),
        (404,),
    ),
    "issue-token-garbage-user": (
        lambda w: w.raw.identity("POST", "/identities/not-an-id/:issueAccessToken", json_body={"scopes": ["chat"]}),
        (400, 404),
    ),
    "revoke-unknown-user": (lambda w: w.raw.identity("POST", f"/identities/{UNKNOWN_ID}/:revokeAccessTokens"), (404,)),
    "identity-unknown-api-version": (lambda w: w.raw.identity("POST", "/identities", api_version="1999-01-01"), (400,)),
    "nul-in-identity-id-path": (
        lambda w: w.raw.identity("POST", "/identities/8:acs:a%00b/:issueAccessToken", json_body={"scopes": ["chat"]}),
        (400,),
    ),
    "nul-in-revoked-identity-id": (lambda w: w.raw.identity("POST", "/identities/%00/:revokeAccessTokens"), (400,)),
    "nul-in-deleted-identity-id": (lambda w: w.raw.identity("DELETE", "/identities/8:acs:%00"), (400,)),
    "nul-in-scope": (
        lambda w: w.raw.identity("POST", "/identities", content=b'{"createTokenWithScopes": ["chat\\u0000"]}'),
        (400,),
    ),
    "expires-in-minutes-1e30": (
        lambda w: w.raw.identity(
            "POST", "/identities", json_body={"createTokenWithScopes": ["chat"], "expiresInMinutes": 10**30}
        ),
        (400,),
    ),
    "teams-exchange-bad-json": (
        lambda w: w.raw.identity("POST", "/teamsUser/:exchangeAccessToken", content=b"["),
        (400,),
    ),
}


@pytest.mark.parametrize("case", list(IDENTITY_CASES))
def test_identity_bad_input(world: World, case: str) -> None:
    call, statuses = IDENTITY_CASES[case]
    before = world.snapshot()
    assert_acs_error(call(world), *statuses)
    assert world.snapshot() == before
    # nothing broke for the good callers
    assert world.chat("GET", f"/chat/threads/{world.thread}").status_code == 200


def test_escaped_backslash_before_u0000_is_no_nul(world: World) -> None:
    """The NUL check looks at decoded strings: `\\u0000` in JSON is a backslash and `u0000`."""
    sent = world.chat("POST", f"/chat/threads/{world.thread}/messages", content=b'{"content": "C:\\\\u0000"}')
    assert sent.status_code == 201, sent.text
    got = world.chat("GET", f"/chat/threads/{world.thread}/messages/{sent.json()['id']}")
    assert got.json()["content"]["message"] == "C:\\u0000"


@pytest.mark.parametrize("engine", ENGINES)
def test_forged_paging_tokens_on_each_engine(server_factory: ServerFactory, engine: str) -> None:
    """A real nextLink works; the same link with its numbers forged is a 400 on every page."""
    hubbub = server_factory(engine)
    acs = Acs(hubbub)
    alice, bob, carol = acs.new_users(3)
    raw = RawApi(hubbub)
    try:
        thread = acs.create_thread(alice, "paged", (bob, carol))
        first = raw.chat("GET", f"/chat/threads/{thread}/participants", alice.token, params={"maxPageSize": "1"})
        link = first.json()["nextLink"]
        second = raw.client.get(link, headers={"Authorization": f"Bearer {alice.token}"})
        assert second.status_code == 200, second.text
        for forged in (sync_state(k=10**30), sync_state(k="1"), sync_state(k=None), raw_sync_state('{"k":1e400}')):
            assert_acs_error(
                raw.chat(
                    "GET",
                    f"/chat/threads/{thread}/participants",
                    alice.token,
                    params={"syncState": forged, "maxPageSize": "1"},
                ),
                400,
            )
    finally:
        raw.close()


def test_minted_token_assumption_holds(world: World) -> None:
    """`expired-token` relies on re-signing claims; an unexpired re-signed token must work."""
    response = world.raw.chat("GET", "/chat/threads", world.mint())
    assert response.status_code == 200, response.text


def test_bad_requests_do_not_break_signed_identity_calls(world: World) -> None:
    good = world.raw.identity("POST", "/identities", json_body={"createTokenWithScopes": ["chat"]})
    assert good.status_code == 201, good.text
    assert good.json()["identity"]["id"].startswith("8:acs:")
    assert good.json()["accessToken"]["token"]


@pytest.mark.parametrize("engine", ENGINES)
def test_over_participant_limit_writes_nothing(server_factory: ServerFactory, engine: str) -> None:
    """With HUBBUB_MAX_PARTICIPANTS=3: a create or add that would pass it is a 400 and changes nothing."""
    hubbub = server_factory(engine, env={"HUBBUB_MAX_PARTICIPANTS": "3"})
    acs = Acs(hubbub)
    alice, bob, carol, dave = acs.new_users(4)
    raw = RawApi(hubbub)
    try:
        crowd = {"topic": "crowd", "participants": [participant(u.id) for u in (bob, carol, dave)]}
        assert_acs_error(raw.chat("POST", "/chat/threads", alice.token, json_body=crowd), 400)
        assert raw.chat("GET", "/chat/threads", alice.token).json()["value"] == []
        for user in (bob, carol, dave):
            assert raw.chat("GET", "/chat/threads", user.token).json()["value"] == []

        thread = acs.create_thread(alice, "small", (bob,))
        add = {"participants": [participant(carol.id), participant(dave.id)]}
        assert_acs_error(raw.chat("POST", f"/chat/threads/{thread}/participants/:add", alice.token, json_body=add), 400)
        members = raw.chat("GET", f"/chat/threads/{thread}/participants", alice.token).json()["value"]
        assert sorted(p["communicationIdentifier"]["rawId"] for p in members) == sorted([alice.id, bob.id])
        ok = raw.chat(
            "POST",
            f"/chat/threads/{thread}/participants/:add",
            alice.token,
            json_body={"participants": [participant(carol.id)]},
        )
        assert ok.status_code == 201, ok.text
    finally:
        raw.close()
