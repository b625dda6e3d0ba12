"""The event bus interface and its in-memory backend (single process)."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One chat event, named and shaped as the ACS JS SDK's `events.ts`.

    `recipients` are the user ids that receive it; `data` is the JSON payload.
    """

    type: str
    thread_id: str
    recipients: tuple[str, ...]
    data: dict[str, Any]


class EventBus(abc.ABC):
    """Carries events from the node that produced them to every node's subscribers."""

    @abc.abstractmethod
    async def publish(self, event: Event) -> None: ...

    async def start(self) -> None:  # noqa: B027 - optional hook, a no-op for backends without a connection
        """Connect to the backend (no-op for memory)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, as `start`
        """Disconnect."""


class MemoryBus(EventBus):
    """In-process bus for the embedded default. Keeps the published events for local listeners."""

    def __init__(self) -> None:
        self.listeners: list[Any] = []

    async def publish(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)
