"""A toy subsystem: dispatch jobs to servers.  Used by tests and the
foundation demo to exercise the whole flow on something small.

The human-made policy sends class ``c`` to server ``c % N_SERVERS`` (a fixed
hashing rule, as a kernel might).  The cost of a job is drawn from a hidden
per-(class, server) mean plus noise.  By construction the human-made choice
is the second cheapest server of each class: a learner that watches the
published costs can do better, and a random or inverted one does worse.
Integer arithmetic only.
"""

from __future__ import annotations

import numpy as np

from ...uapi import toy as schema
from ..mllib import MLModelProxy, OpKind, ProxyConfig, Reject
from ...uapi.messages import RejectReason


def human_dispatch(job_class: int) -> int:
    return job_class % schema.N_SERVERS


def parse_table(words: np.ndarray) -> np.ndarray:
    if words.shape != (schema.N_CLASSES,):
        raise Reject(RejectReason.MALFORMED, f"need {schema.N_CLASSES} words, got {words.shape}")
    if (words < 0).any() or (words >= schema.N_SERVERS).any():
        raise Reject(RejectReason.OUT_OF_RANGE, "server id out of range")
    return words.astype(np.int64)


def apply_table(table: np.ndarray, job_class: int) -> int:
    return int(table[job_class])


class Dispatch:
    """The subsystem: draws jobs, asks the proxy, charges costs, publishes telemetry."""

    def __init__(self, proxy: MLModelProxy, seed: int = 0, mean_us: np.ndarray | None = None,
                 noise_us: int = 200, publish_every: int = 64, drift_at: int | None = None) -> None:
        self.proxy = proxy
        self.rng = np.random.default_rng(seed)
        if mean_us is None:
            mean_us = self.default_means()
        self.mean_us = np.asarray(mean_us, dtype=np.int64)
        self.noise_us = noise_us
        self.publish_every = publish_every
        self.drift_at = drift_at
        self.now = 0
        self.buf: list[tuple[int, int, int, int, int]] = []
        self.total_cost = [0, 0]
        proxy.register(OpKind(schema.OP_DISPATCH, "dispatch", human=human_dispatch, parse=parse_table,
                              apply=apply_table, efficiency={"batch_units": 64, "window": 16,
                                                             "min_batches": 4}))
        proxy.register_record(schema.REC_JOB, schema.JOB_FIELDS)

    def default_means(self) -> np.ndarray:
        k = schema.N_SERVERS
        means = np.zeros((schema.N_CLASSES, k), dtype=np.int64)
        for c in range(schema.N_CLASSES):
            costs = np.sort(self.rng.integers(500, 3000, size=k))
            human = human_dispatch(c)
            best = int(self.rng.choice([s for s in range(k) if s != human]))
            rest = [s for s in range(k) if s not in (human, best)]
            means[c, best], means[c, human] = costs[0], costs[1]
            means[c, rest] = costs[2:]
        return means

    def step(self) -> int:
        """Run one job; returns its cost."""
        if self.drift_at is not None and self.now == self.drift_at:
            self.mean_us = self.mean_us[:, ::-1].copy()  # the best server per class moves
        c = int(self.rng.integers(0, schema.N_CLASSES))
        source, server = self.proxy.decide(schema.OP_DISPATCH, c, self.now)
        noise = int(self.rng.integers(-self.noise_us, self.noise_us + 1))
        cost = max(1, int(self.mean_us[c, server]) + noise)
        self.proxy.account(schema.OP_DISPATCH, source, (cost, 1))
        self.total_cost[source] += cost
        self.buf.append((self.now, c, server, cost, source))
        self.now += 1
        if len(self.buf) >= self.publish_every:
            self.flush()
        return cost

    def flush(self) -> None:
        if self.buf:
            self.proxy.publish(schema.REC_JOB, np.array(self.buf, dtype=np.int64), self.now)
            self.buf.clear()
        self.proxy.poll(self.now)


def make_proxy(endpoint=None, **cfg) -> MLModelProxy:
    """A proxy configured for the toy's clock (one tick per job)."""
    config = ProxyConfig(agent_deadline=cfg.pop("agent_deadline", 2_000), rec_window=1_000, rec_limit=32,
                         heartbeat_interval=256, feedback_interval=1_024, **cfg)
    return MLModelProxy(schema.SUBSYSTEM_ID, schema.NAME, endpoint, config)
