"""Real-time events: what the chat rules publish, and the bus that carries it to every node.

chat rules ──publish(Event)──▶ EventBus (MemoryBus | RedisBus): ids, backlog
                                    └─▶ Hub of every node ──▶ one EventSession per connection
identity rules ──revoke(Revocation)──▶ the same path, in order with the events: every node drops
                                    its cached token generation and ends the user's streams
"""

from __future__ import annotations

from hubbub.server.events.bus import EventBus, MemoryBus
from hubbub.server.events.hub import Delivery, Event, Hub, Revocation
from hubbub.server.events.ids import StreamId
from hubbub.server.settings import Settings

__all__ = ["Delivery", "Event", "EventBus", "Hub", "MemoryBus", "Revocation", "StreamId", "bus_for_settings"]


def bus_for_settings(settings: Settings) -> EventBus:
    """MemoryBus for one process; RedisBus when `settings.redis_url` is set (several nodes)."""
    if settings.redis_url:
        from hubbub.server.events.redis import RedisBus  # redis is only imported when configured

        return RedisBus(
            settings.redis_url,
            stream=settings.events_stream,
            backlog=settings.events_backlog,
            max_queue=settings.events_queue_size,
        )
    return MemoryBus(backlog=settings.events_backlog, max_queue=settings.events_queue_size)
