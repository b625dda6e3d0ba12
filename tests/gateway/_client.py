"""A thin test client for the simple REST API (plain httpx: the tests read raw statuses and bodies)."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx


@dataclasses.dataclass
class Pair:
    user1_id: str
    user2_id: str
    user1_token: str
    user2_token: str


class Gateway:
    def __init__(self, url: str, mode: str) -> None:
        self.url = url
        self.mode = mode
        self.http = httpx.Client(base_url=url, timeout=30, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, body: Any = None, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        if body is not None and "content" not in kwargs:
            kwargs["json"] = body
        return self.http.post(path, headers=headers, **kwargs)

    def get(self, path: str, token: str | None = None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.get(path, params=params, headers=headers)

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json")
        return response.json()  # type: ignore[no-any-return]

    def create_users(self) -> Pair:
        return Pair(**self.ok(self.post("/create_users")))

    def create_thread(self, user_id: str, token: str, topic: str | None = None) -> str:
        body = {"user1_id": user_id} | ({"topic": topic} if topic else {})
        return str(self.ok(self.post("/create_thread", body, token))["thread_id"])

    def thread_for(self, pair: Pair) -> str:
        thread_id = self.create_thread(pair.user1_id, pair.user1_token, "Lunch")
        self.ok(self.post("/add_user", {"thread_id": thread_id, "user2_id": pair.user2_id}, pair.user1_token))
        return thread_id

    def send(self, thread_id: str, user_id: str, token: str, message: str) -> str:
        body = self.ok(
            self.post("/send_message", {"thread_id": thread_id, "user_id": user_id, "message": message}, token)
        )
        assert body["message"] == "Message sent successfully"
        return str(body["message_id"])


def error_of(response: httpx.Response, status: int) -> str:
    """The `{"error": "..."}` message of a refusal with `status`."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return str(body["error"])
