"""A bounded outbox: frames wait here for the transport; when full, new
frames are dropped and counted (never blocks, never grows)."""

from __future__ import annotations

from collections import deque


class Outbox:
    def __init__(self, capacity: int = 256) -> None:
        if capacity <= 0:
            raise ValueError("outbox capacity must be positive")
        self.capacity = capacity
        self.frames: deque[bytes] = deque()
        self.pushed = 0
        self.dropped = 0  # frames dropped because the outbox was full
        self.dropped_records = 0  # telemetry records inside those frames

    def push(self, frame: bytes, records: int = 0) -> bool:
        if len(self.frames) >= self.capacity:
            self.dropped += 1
            self.dropped_records += records
            return False
        self.frames.append(frame)
        self.pushed += 1
        return True

    def push_front(self, frame: bytes) -> None:
        """Queue a control frame (HELLO) ahead of everything; evicts the newest if full."""
        if len(self.frames) >= self.capacity:
            self.frames.pop()
            self.dropped += 1
        self.frames.appendleft(frame)
        self.pushed += 1

    def drain(self, send, limit: int) -> int:
        """Hand up to ``limit`` frames to ``send`` (non-blocking: returns False
        when the channel cannot take more); returns how many were sent."""
        n = 0
        while self.frames and n < limit:
            if not send(self.frames[0]):
                break
            self.frames.popleft()
            n += 1
        return n

    def clear(self) -> int:
        n = len(self.frames)
        self.frames.clear()
        self.dropped += n
        return n

    def __len__(self) -> int:
        return len(self.frames)
