"""Wire details the SDKs depend on (spec §2.1, §2.4, §4, §5.2, §6, §9.13), checked on raw responses."""

from __future__ import annotations

import re
from urllib.parse import quote

from ._acs import RawApi, User

ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def identifier_ok(identifier: dict[str, object], user_id: str) -> None:
    """Python reads rawId, JS reads communicationUser.id: both must be there (spec §4, §14.3)."""
    assert identifier["rawId"] == user_id
    assert identifier["communicationUser"] == {"id": user_id}
    assert identifier.get("kind", "communicationUser") == "communicationUser"


def test_response_shapes(raw: RawApi, alice: User, bob: User) -> None:
    created = raw.chat("POST", "/chat/threads", alice.token, json_body={"topic": "wire", "participants": []})
    assert created.status_code == 201
    assert created.headers["content-type"].startswith("application/json")
    thread = created.json()["chatThread"]
    assert ISO_WITH_OFFSET.fullmatch(thread["createdOn"]), thread["createdOn"]
    identifier_ok(thread["createdByCommunicationIdentifier"], alice.id)
    tid = thread["id"]

    # both percent-encoded (requests) and raw (aiohttp) ids in the path (spec §2.1)
    for path in (f"/chat/threads/{quote(tid, safe='')}", f"/chat/threads/{tid}"):
        assert raw.chat("GET", path, alice.token).json()["id"] == tid

    sent = raw.chat("POST", f"/chat/threads/{tid}/messages", alice.token, json_body={"content": "x", "type": "text"})
    assert sent.status_code == 201 and sent.json()["id"].isdigit()
    message = raw.chat("GET", f"/chat/threads/{tid}/messages/{sent.json()['id']}", alice.token).json()
    assert ISO_WITH_OFFSET.fullmatch(message["createdOn"])
    assert isinstance(message["sequenceId"], str) and isinstance(message["version"], str)
    identifier_ok(message["senderCommunicationIdentifier"], alice.id)

    add = raw.chat(
        "POST",
        f"/chat/threads/{tid}/participants/:add",
        alice.token,
        json_body={
            "participants": [{"communicationIdentifier": {"rawId": bob.id, "communicationUser": {"id": bob.id}}}]
        },
    )
    assert add.status_code == 201
    assert not add.content or not add.json().get("invalidParticipants")

    for path, body in (
        (f"/chat/threads/{tid}/typing", {}),
        (f"/chat/threads/{tid}/readReceipts", {"chatMessageId": sent.json()["id"]}),
    ):
        response = raw.chat("POST", path, alice.token, json_body=body)
        assert response.status_code == 200, response.text  # §9.13: 200, not 204
        assert response.content == b""

    receipts = raw.chat("GET", f"/chat/threads/{tid}/readReceipts", alice.token).json()
    identifier_ok(receipts["value"][0]["senderCommunicationIdentifier"], alice.id)
    assert ISO_WITH_OFFSET.fullmatch(receipts["value"][0]["readOn"])

    first = raw.chat("GET", f"/chat/threads/{tid}/participants", alice.token, params={"maxPageSize": "1"}).json()
    assert len(first["value"]) == 1
    link = first["nextLink"]
    assert link.startswith("/chat/threads/"), link  # relative (spec §6)
    assert "maxPageSize=1" in link and "api-version=" in link
    last = raw.client.get(link, headers={"Authorization": f"Bearer {alice.token}"}).json()
    assert len(last["value"]) == 1 and not last.get("nextLink")  # look-ahead: no trailing empty page

    deleted = raw.chat("DELETE", f"/chat/threads/{tid}", alice.token)
    assert deleted.status_code == 204 and deleted.content == b""


def test_unauthorized_chat_body_is_json(raw: RawApi) -> None:
    response = raw.chat("GET", "/chat/threads", "x.y.z")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"]
