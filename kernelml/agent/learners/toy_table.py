"""Learner for the toy dispatch subsystem: per (class, server) running mean
cost from the published job records, recommending the cheapest server per
class with a small optimistic bonus for servers it has rarely seen."""

from __future__ import annotations

import numpy as np

from ...uapi import toy as schema
from ..learner import Advice, Learner


class ToyTable(Learner):
    """Cheapest server per job class, learned from observed costs (UCB-style exploration)."""

    subsystem = schema.NAME

    def __init__(self, seed: int = 0, ttl: int = 4_096, explore_us: float = 4_000.0) -> None:
        super().__init__(seed)
        self.ttl = ttl
        self.explore_us = explore_us
        self.n = np.zeros((schema.N_CLASSES, schema.N_SERVERS), dtype=np.int64)
        self.sum = np.zeros((schema.N_CLASSES, schema.N_SERVERS), dtype=np.float64)

    def learn_one(self, record_kind: int, record: np.ndarray) -> None:
        self.learn_many(record_kind, record.reshape(1, -1))

    def learn_many(self, record_kind: int, records: np.ndarray) -> None:
        if record_kind != schema.REC_JOB or records.size == 0:
            return
        c, s, cost = records[:, 1], records[:, 2], records[:, 3]
        ok = (c >= 0) & (c < schema.N_CLASSES) & (s >= 0) & (s < schema.N_SERVERS)
        np.add.at(self.n, (c[ok], s[ok]), 1)
        np.add.at(self.sum, (c[ok], s[ok]), cost[ok].astype(np.float64))

    def table(self) -> np.ndarray:
        mean = np.where(self.n > 0, self.sum / np.maximum(self.n, 1), 0.0)
        bonus = self.explore_us / np.sqrt(self.n + 1.0)
        return np.argmin(mean - bonus, axis=1).astype(np.int64)

    def recommend(self, now: int) -> list[Advice]:
        if self.n.sum() == 0:
            return []
        return [Advice(schema.OP_DISPATCH, self.table(), self.ttl)]

    def describe(self) -> dict:
        return {"observations": int(self.n.sum())}


class ToyRandom(Learner):
    """Adversary: a random table each time."""

    subsystem = schema.NAME

    def __init__(self, seed: int = 0, ttl: int = 4_096) -> None:
        super().__init__(seed)
        self.ttl = ttl
        self.rng = np.random.default_rng(seed)

    def learn_one(self, record_kind: int, record: np.ndarray) -> None:
        pass

    def learn_many(self, record_kind: int, records: np.ndarray) -> None:
        pass

    def recommend(self, now: int) -> list[Advice]:
        return [Advice(schema.OP_DISPATCH, self.rng.integers(0, schema.N_SERVERS, schema.N_CLASSES), self.ttl)]


class ToyInverted(ToyTable):
    """Adversary: the real model's ranking reversed (the dearest server by the
    same optimistic estimate, so it still explores what it has not seen)."""

    def table(self) -> np.ndarray:
        mean = np.where(self.n > 0, self.sum / np.maximum(self.n, 1), 0.0)
        bonus = self.explore_us / np.sqrt(self.n + 1.0)
        return np.argmax(mean + bonus, axis=1).astype(np.int64)
