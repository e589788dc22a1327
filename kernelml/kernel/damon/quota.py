"""DAMOS quotas and prioritisation (mm/damon/core.c, mm/damon/ops-common.c).

A quota caps how much memory a scheme's action may be applied to per
charge window (``reset_interval_ms``), by time (``ms``), by size (``sz``
bytes) and by feedback goals.  :meth:`Quota.adjust` is damos_adjust_quota:

* when a window ends, ``total_charged_sz`` absorbs the window's charge and
  damos_set_effective_quota recomputes the effective size quota ``esz``:
  the goals' tuner output ``esz_bp / 10000``; the time quota converted to
  bytes with the measured throughput, ``total_charged_sz * 1000000 /
  total_charged_ns`` bytes per ms (PAGE_SIZE * 1024 before anything was
  charged), times ``ms``; and ``sz``; the smallest wins;
* every apply interval, the regions that match the access pattern are
  scored (:func:`scores`), their sizes summed in a histogram by score, and
  ``min_score`` is the highest score at which the cumulated size, from the
  best score down, reaches ``esz``: only regions scoring at least that are
  applied to (damos_valid_target).

Scores (DAMOS_MAX_SCORE = 99): damon_hot_score mixes a frequency subscore
(``nr_accesses * 100 / max_nr_accesses``) and an age subscore (log2 of the
age in seconds, negated when the region was not accessed, scaled to
0..100) with ``weight_nr_accesses`` and ``weight_age``; ``weight_sz`` is
accepted but, as in the kernel, unused.  damon_cold_score is ``99 - hot``.
Pageout and lru_deprio use the cold score, lru_prio the hot score, stat
scores every region 99 (damon_pa_scheme_score).

Units: sizes in bytes, times in us (the window start) and ns (charged
time).  ``charge_addr_from`` is kept as the page number of the end of the
last region charged (the kernel's ``r->ar.end + 1`` byte address), -1 if
unset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .goals import QuotaGoal, feed_loop_next_input, quota_score
from .memory import PAGE_SHIFT, PAGE_SIZE

DAMOS_MAX_SCORE = 99
DAMON_MAX_SUBSCORE = 100
DAMON_MAX_AGE_IN_LOG = 32
ULONG_MAX = (1 << 64) - 1


@dataclass
class Quota:
    ms: int = 0  # time quota per window, ms (0: none)
    sz: int = 0  # size quota per window, bytes (0: none)
    reset_interval_ms: int = 0
    weight_sz: int = 0
    weight_nr_accesses: int = 0
    weight_age: int = 0
    goals: list[QuotaGoal] = field(default_factory=list)
    # state (damos_quota_init)
    esz: int = 0
    esz_bp: int = 0
    charged_sz: int = 0
    charged_from_us: int | None = None  # None: no window started yet
    total_charged_sz: int = 0
    total_charged_ns: int = 0
    charge_addr_from: int = -1
    min_score: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.ms or self.sz or self.goals)

    def exhausted(self) -> bool:
        return bool(self.esz) and self.charged_sz >= self.esz

    def set_effective_quota(self, env) -> None:
        """damos_set_effective_quota."""
        if not self.ms and not self.goals:
            self.esz = self.sz
            return
        esz = ULONG_MAX
        if self.goals:
            score = quota_score(self.goals, env)
            self.esz_bp = feed_loop_next_input(max(self.esz_bp, 10000), score)
            esz = self.esz_bp // 10000
        if self.ms:
            if self.total_charged_ns:
                throughput = self.total_charged_sz * 1000000 // self.total_charged_ns
            else:
                throughput = PAGE_SIZE * 1024
            esz = min(throughput * self.ms, esz)
        if self.sz and self.sz < esz:
            esz = self.sz
        self.esz = esz

    def new_window(self, now_us: int, env) -> bool:
        """Start a charge window if the last one ended; returns True if the
        quota was exceeded in the ending window (stat qt_exceeds)."""
        if self.charged_from_us is not None and now_us < self.charged_from_us + self.reset_interval_ms * 1000:
            return False
        exceeded = self.exhausted()
        self.total_charged_sz += self.charged_sz
        self.charged_from_us = now_us
        self.charged_sz = 0
        self.set_effective_quota(env)
        return exceeded

    def set_min_score(self, region_scores: np.ndarray, sizes_bytes: np.ndarray, valid: np.ndarray) -> None:
        """The histogram cut of damos_adjust_quota over the valid regions."""
        hist = np.zeros(DAMOS_MAX_SCORE + 1, np.int64)
        if valid.any():
            np.add.at(hist, region_scores[valid], sizes_bytes[valid])
            max_score = int(region_scores[valid].max())
        else:
            max_score = 0
        cumulated = 0
        score = max_score
        while True:
            cumulated += int(hist[score])
            if cumulated >= self.esz or score == 0:
                break
            score -= 1
        self.min_score = score


def hot_scores(nr_accesses: np.ndarray, age: np.ndarray, max_nr_accesses: int, aggr_interval_us: int,
               weight_nr_accesses: int, weight_age: int) -> np.ndarray:
    """damon_hot_score for every region (int64 array in 0..99)."""
    nr_accesses = np.asarray(nr_accesses, np.int64)
    freq = nr_accesses * DAMON_MAX_SUBSCORE // max(max_nr_accesses, 1)
    age_in_sec = (np.asarray(age, np.int64) * aggr_interval_us // 1000000) & 0xFFFFFFFF
    age_in_log = np.zeros_like(age_in_sec)
    x = age_in_sec.copy()
    for _ in range(DAMON_MAX_AGE_IN_LOG):
        nz = x != 0
        if not nz.any():
            break
        age_in_log += nz
        x >>= 1
    age_in_log = np.where(freq == 0, -age_in_log, age_in_log) + DAMON_MAX_AGE_IN_LOG
    age_sub = age_in_log * DAMON_MAX_SUBSCORE // DAMON_MAX_AGE_IN_LOG // 2
    hot = weight_nr_accesses * freq + weight_age * age_sub
    if weight_nr_accesses + weight_age:
        hot = hot // (weight_nr_accesses + weight_age)
    return hot * DAMOS_MAX_SCORE // DAMON_MAX_SUBSCORE


def cold_scores(*args, **kwargs) -> np.ndarray:
    """damon_cold_score: DAMOS_MAX_SCORE minus the hot score."""
    return DAMOS_MAX_SCORE - hot_scores(*args, **kwargs)


def sizes_bytes(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return (np.asarray(end, np.int64) - np.asarray(start, np.int64)) << PAGE_SHIFT
