"""Values stored in a form of their own: JSON text (metadata, retention policies, the content of
system messages) and the plain text of html messages (what search indexes).

Both engines store JSON as text (see `engine.py`); these functions are the only place it is written
or read, so the store hands the layers above it decoded values (`hubbub.server.domain`). The text is
compact and keeps non-ASCII characters as they are; its keys keep the order written here.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from hubbub.server.domain import Participant, RetentionPolicy, SystemContent


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dump_metadata(metadata: dict[str, str] | None) -> str | None:
    return None if metadata is None else _dump(metadata)


def load_metadata(text: str | None) -> dict[str, str] | None:
    """The stored metadata; an empty column (NULL or "") is None."""
    return json.loads(text) if text else None


def dump_retention(policy: RetentionPolicy | None) -> str | None:
    if policy is None:
        return None
    body: dict[str, Any] = {"kind": policy.kind}
    if policy.delete_thread_after_days is not None:
        body["deleteThreadAfterDays"] = policy.delete_thread_after_days
    return _dump(body)


def load_retention(text: str | None) -> RetentionPolicy | None:
    if text is None:
        return None
    body = json.loads(text)
    return RetentionPolicy(body["kind"], body.get("deleteThreadAfterDays"))


def dump_system_content(content: SystemContent) -> str:
    body: dict[str, Any] = {}
    if content.topic is not None:
        body["topic"] = content.topic
    if content.participants is not None:
        body["participants"] = [
            {
                "id": p.user_id,
                "displayName": p.display_name,
                "shareHistoryTime": p.share_history_time,
                "metadata": p.metadata,
            }
            for p in content.participants
        ]
    body["initiator"] = content.initiator
    return _dump(body)


def load_system_content(text: str) -> SystemContent:
    body = json.loads(text)
    participants = body.get("participants")
    return SystemContent(
        initiator=body["initiator"],
        topic=body.get("topic"),
        participants=None
        if participants is None
        else tuple(
            Participant(p["id"], p.get("displayName"), p.get("shareHistoryTime"), p.get("metadata"))
            for p in participants
        ),
    )


class _TextOf(HTMLParser):
    """Collects the text of an html fragment: tags and comments dropped, entities decoded, the
    content of script/style left out, and a space where a tag stood (so `a<br>b` is two words)."""

    _HIDDEN = frozenset({"script", "style", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def dump_plain_text(type: str, content: str) -> str | None:
    """The text search indexes for an html message (its words, without markup); None for any other
    type, whose content is indexed as it is (text) or not at all (system messages)."""
    if type != "html":
        return None
    parser = _TextOf()
    parser.feed(content)
    parser.close()
    return " ".join("".join(parser.parts).split())


def dump_json(value: Any) -> str:
    """Any other JSON value the store keeps as text (the webhook outbox and deliveries)."""
    return _dump(value)


def load_json(text: str) -> Any:
    return json.loads(text)
