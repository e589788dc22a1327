"""A deterministic in-process channel.

Frames wait ``delay`` ticks of the channel's clock before the other side can
receive them, so a slow agent can be simulated reproducibly (the clock is
advanced by whoever drives the simulation, usually once per kernel
operation).  Each direction is bounded (``capacity`` frames): a full queue
refuses the frame, as a real channel would.
"""

from __future__ import annotations

from collections import deque

from .base import Endpoint


class _Side(Endpoint):
    def __init__(self, channel: "InProcChannel", inbox: deque, outbox: deque) -> None:
        self.channel = channel
        self.inbox = inbox
        self.outbox = outbox

    def send(self, frame: bytes) -> bool:
        ch = self.channel
        if ch.closed or len(self.outbox) >= ch.capacity:
            ch.refused += 1
            return False
        self.outbox.append((ch.now + ch.delay, bytes(frame)))
        return True

    def recv(self, max_frames: int = 64) -> list[bytes]:
        out = []
        now = self.channel.now
        while self.inbox and len(out) < max_frames and self.inbox[0][0] <= now:
            out.append(self.inbox.popleft()[1])
        return out

    @property
    def connection_id(self) -> int | None:
        return None if self.channel.closed else self.channel.generation

    def close(self) -> None:
        self.channel.closed = True


class InProcChannel:
    """A pair of endpoints: ``kernel`` and ``agent``."""

    def __init__(self, delay: int = 0, capacity: int = 1024) -> None:
        if delay < 0 or capacity <= 0:
            raise ValueError("delay must be >= 0 and capacity > 0")
        self.delay = delay
        self.capacity = capacity
        self.now = 0
        self.generation = 1
        self.closed = False
        self.refused = 0
        to_kernel: deque = deque()
        to_agent: deque = deque()
        self.kernel = _Side(self, to_kernel, to_agent)
        self.agent = _Side(self, to_agent, to_kernel)

    def advance(self, ticks: int = 1) -> None:
        self.now += ticks

    def set_time(self, now: int) -> None:
        if now > self.now:
            self.now = now

    def reconnect(self) -> None:
        """Simulate a new connection (e.g. a restarted agent): queues are emptied."""
        self.kernel.inbox.clear()
        self.agent.inbox.clear()
        self.closed = False
        self.generation += 1
