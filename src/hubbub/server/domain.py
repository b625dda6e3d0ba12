"""What the chat is made of, as small frozen values: threads, messages, participants, receipts.

The store reads rows into these (decoding the JSON it keeps in text columns) and takes them back
when it writes; the rules pass them around; `api/shapes.py` and `events/shapes.py` render them. So
no layer above the store sees a row or a JSON string. Times are integer microseconds since the epoch,
as stored; raw identifier ids are the ACS `rawId` strings. This module imports nothing of the server.
"""

from __future__ import annotations

import dataclasses

SYSTEM_MESSAGE_TYPES = ("topicUpdated", "participantAdded", "participantRemoved")
"""Message types that the server writes itself; their content is a `SystemContent`."""


@dataclasses.dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """When a thread is deleted: `kind` "none", or "threadCreationDate" with a number of days."""

    kind: str
    delete_thread_after_days: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Thread:
    id: str
    topic: str
    created_at: int
    created_by: str
    deleted_at: int | None = None
    metadata: dict[str, str] | None = None
    retention_policy: RetentionPolicy | None = None
    delete_after: int | None = None
    """The retention deadline, when the policy sets one."""


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadItem:
    """A thread as a caller's thread list shows it, ordered by its latest message."""

    id: str
    topic: str
    deleted_at: int | None
    last_message_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class Participant:
    """A participant as a request names it and as the API lists it."""

    user_id: str
    display_name: str | None = None
    share_history_time: int | None = None
    metadata: dict[str, str] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Membership:
    """A participant's place in a thread, current or past: its history window decides what it reads."""

    participant: Participant
    visible_from: int
    """The share-history time, or the moment it was added."""
    removed_at: int | None = None

    @property
    def display_name(self) -> str | None:
        return self.participant.display_name


@dataclasses.dataclass(frozen=True, slots=True)
class InvalidParticipant:
    """A participant that a create or add request named but that could not join (spec: a 403 entry)."""

    code: str
    message: str
    target: str


@dataclasses.dataclass(frozen=True, slots=True)
class SystemContent:
    """What a system message records: who did it, and the new topic or the participants."""

    initiator: str
    topic: str | None = None
    participants: tuple[Participant, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    id: int
    seq: int
    type: str
    created_at: int
    version: int
    content: str = ""
    """The text of a user message; empty for a system message and for a deleted one."""
    sender_id: str | None = None
    """None for a system message."""
    sender_display_name: str | None = None
    metadata: dict[str, str] | None = None
    edited_at: int | None = None
    deleted_at: int | None = None
    system: SystemContent | None = None
    """The content of a system message (`SYSTEM_MESSAGE_TYPES`); None for a user message."""


@dataclasses.dataclass(frozen=True, slots=True)
class SearchHit:
    """A message a search found, with the text the index holds for it (an html message's plain text)."""

    thread_id: str
    message: Message
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryWindow:
    """The messages of one thread a caller may read: created from `visible_from` to `visible_until`."""

    thread_id: str
    visible_from: int
    visible_until: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class ReadReceipt:
    user_id: str
    message_id: int
    read_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """A live ACS user and the generation its tokens must carry (revocation bumps it)."""

    id: str
    token_generation: int
