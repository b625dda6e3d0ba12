"""The ACS wire API as the benchmark speaks it: HMAC-signed identity calls, bearer-token chat calls.

HMAC-SHA256 signing follows the wire spec §3.1 byte for byte (the string to sign is the verb, the
on-wire request target, x-ms-date, host with port, and the base64 SHA-256 of the body).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from typing import Any

from bench.client import Connection, Request, encode_request

CHAT_API = "2024-03-07"
IDENTITY_API = "2023-10-01"


def hmac_headers(key: bytes, method: str, target: str, authority: str, body: bytes) -> dict[str, str]:
    date = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S ") + "GMT"
    content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    to_sign = f"{method}\n{target}\n{date};{authority};{content_hash}"
    signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "x-ms-date": date,
        "x-ms-content-sha256": content_hash,
        "x-ms-return-client-request-id": "true",
        "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}",
    }


def create_identity_request(key: bytes, authority: str) -> Request:
    """POST /identities with a chat token, as `create_user_and_token(["chat"])` sends it."""
    target = f"/identities?api-version={IDENTITY_API}"
    body = b'{"createTokenWithScopes": ["chat"]}'
    return encode_request("POST", target, authority, hmac_headers(key, "POST", target, authority, body), body)


def identifier(user_id: str) -> dict[str, Any]:
    return {"rawId": user_id, "communicationUser": {"id": user_id}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def send_message_request(authority: str, thread_id: str, token: str, content: str) -> Request:
    body = json.dumps({"content": content, "type": "text"}).encode()
    return encode_request(
        "POST", f"/chat/threads/{thread_id}/messages?api-version={CHAT_API}", authority, bearer(token), body
    )


class AcsSession:
    """Seeding helpers over one keep-alive connection."""

    def __init__(self, conn: Connection, key: bytes) -> None:
        self.conn = conn
        self.key = key

    async def create_user(self) -> tuple[str, str]:
        status, data = await self.conn.send(create_identity_request(self.key, self.conn.authority))
        if status != 201:
            raise RuntimeError(f"create identity failed: {status} {data[:200]!r}")
        reply = json.loads(data)
        return reply["identity"]["id"], reply["accessToken"]["token"]

    async def issue_token(self, user_id: str) -> str:
        target = f"/identities/{user_id}/:issueAccessToken?api-version={IDENTITY_API}"
        body = b'{"scopes": ["chat"]}'
        reply = await self.conn.request(
            "POST",
            target,
            body=body,
            expect=200,
            headers=hmac_headers(self.key, "POST", target, self.conn.authority, body),
        )
        return str(reply["token"])

    async def create_thread(self, token: str, topic: str, members: list[str]) -> str:
        body = json.dumps(
            {
                "topic": topic,
                "participants": [{"communicationIdentifier": identifier(m), "displayName": m[-6:]} for m in members],
            }
        ).encode()
        headers = bearer(token) | {"repeatability-request-id": str(uuid.uuid4())}
        reply = await self.conn.request(
            "POST", f"/chat/threads?api-version={CHAT_API}", headers=headers, body=body, expect=201
        )
        if reply.get("invalidParticipants"):
            raise RuntimeError(f"invalid participants: {reply['invalidParticipants'][:3]}")
        return str(reply["chatThread"]["id"])

    async def add_participants(self, token: str, thread_id: str, members: list[str]) -> None:
        body = json.dumps(
            {"participants": [{"communicationIdentifier": identifier(m), "displayName": m[-6:]} for m in members]}
        ).encode()
        await self.conn.request(
            "POST",
            f"/chat/threads/{thread_id}/participants/:add?api-version={CHAT_API}",
            headers=bearer(token),
            body=body,
            expect=201,
        )
