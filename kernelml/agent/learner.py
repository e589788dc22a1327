"""The learner contract (river-style): small, the constructor is the
configuration, randomness only from an explicit ``seed``.

A learner belongs to one subsystem's schema (``uapi/<subsystem>.py``).  It
sees only what the kernel side publishes: the HELLO (operation kinds, feature
names), TELEMETRY records and FEEDBACK.  It answers with :class:`Advice`:
payloads for RECOMMENDATION messages that the agent stamps with an epoch and
an expiry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..uapi.messages import Feedback, Hello


@dataclass(frozen=True)
class Advice:
    op_kind: int
    words: np.ndarray  # int64 payload, laid out as the op kind's uapi schema says
    ttl: int  # kernel clock ticks the recommendation stays valid
    model_id: int = 0


class Learner:
    """Base class.  Subclasses set ``subsystem`` and override the hooks they need."""

    subsystem = "?"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def hello(self, hello: Hello) -> None:
        """A (re)connected kernel side described itself."""

    def learn_one(self, record_kind: int, record: np.ndarray) -> None:
        """Learn from one telemetry record (int64 vector).  Must not modify it."""
        raise NotImplementedError

    def learn_many(self, record_kind: int, records: np.ndarray) -> None:
        """Learn from a batch (records x fields).  Default: one by one."""
        for row in records:
            self.learn_one(record_kind, row)

    def recommend(self, now: int) -> list[Advice]:
        """What to recommend now (may be empty).  ``now`` is the kernel clock."""
        return []

    def on_feedback(self, feedback: Feedback) -> None:
        """The proxy's view of how ML is doing (mode, per-source costs, rejects)."""

    def describe(self) -> dict:
        """A few numbers about the model for logs and metrics."""
        return {}
