"""Small integer counters with bounded memory used by the proxy's health checks."""

from __future__ import annotations


class DecayingShare:
    """Counts good and bad events; when their sum reaches ``2 * span`` both are
    halved, so the share follows roughly the last ``span``..``2 * span`` events
    in O(1) memory.  ``share_pm()`` is bad per mille, or None below ``min_events``."""

    __slots__ = ("span", "min_events", "good", "bad")

    def __init__(self, span: int = 64, min_events: int = 16) -> None:
        self.span = span
        self.min_events = min_events
        self.good = 0
        self.bad = 0

    def add(self, bad: bool, n: int = 1) -> None:
        if bad:
            self.bad += n
        else:
            self.good += n
        while self.good + self.bad >= 2 * self.span:
            self.good //= 2
            self.bad //= 2

    def share_pm(self) -> int | None:
        total = self.good + self.bad
        if total < self.min_events:
            return None
        return self.bad * 1000 // total

    def reset(self) -> None:
        self.good = self.bad = 0


class RateWindow:
    """At most ``limit`` events per ``window`` clock ticks (fixed windows)."""

    __slots__ = ("limit", "window", "start", "count")

    def __init__(self, limit: int, window: int) -> None:
        self.limit = limit
        self.window = max(1, window)
        self.start = 0
        self.count = 0

    def allow(self, now: int) -> bool:
        if now - self.start >= self.window or now < self.start:
            self.start = now
            self.count = 0
        if self.count >= self.limit:
            return False
        self.count += 1
        return True
