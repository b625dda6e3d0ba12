"""Real-time events: what the chat rules publish, and the bus that carries it to every node."""

from hubbub.server.events.bus import Event, EventBus, MemoryBus

__all__ = ["Event", "EventBus", "MemoryBus"]
