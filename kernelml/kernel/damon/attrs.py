"""Monitoring attributes and their auto-tuning (mm/damon/core.c).

Defaults are damon_new_ctx's: sampling 5 ms, aggregation 100 ms, ops
update 60 s, 10 to 1000 regions; all intervals in microseconds.
:meth:`DamonAttrs.validate` is damon_set_attrs' checks.

Intervals auto-tuning (kdamond_tune_intervals): every ``aggrs``
aggregations the *access events* observed, ``sum(size * nr_accesses)``,
are compared with the goal ``access_bp`` of the maximum
``sum(size * aggr_samples)`` (damon_get_intervals_score, in 1/10000 of the
goal); the feedback loop (damon_feed_loop_next_input from 10^8) gives an
adaptation factor in basis points, reductions softened to [5000, 10000]
(damon_get_intervals_adaptation_bp).  The sampling interval is scaled by it
within [min_sample_us, max_sample_us] and the aggregation interval keeps
``aggr_samples`` samples.  Regions' nr_accesses and age are then converted
to the new intervals (damon_update_monitoring_results).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .goals import feed_loop_next_input
from .regions import AGE, END, NR, START


@dataclass(frozen=True)
class IntervalsGoal:
    access_bp: int = 0
    aggrs: int = 0  # 0: tuning disabled
    min_sample_us: int = 0
    max_sample_us: int = 0


@dataclass(frozen=True)
class DamonAttrs:
    sample_interval_us: int = 5_000
    aggr_interval_us: int = 100_000
    ops_update_interval_us: int = 60_000_000
    min_nr_regions: int = 10
    max_nr_regions: int = 1000
    intervals_goal: IntervalsGoal = field(default_factory=IntervalsGoal)
    aggr_samples: int = 0  # 0: aggr_interval / sample_interval (set by damon_set_attrs)

    def validate(self) -> "DamonAttrs":
        """damon_set_attrs' checks; returns the attrs with aggr_samples set."""
        g = self.intervals_goal
        if g.aggrs and (g.min_sample_us > g.max_sample_us
                        or not g.min_sample_us <= self.sample_interval_us <= g.max_sample_us):
            raise ValueError("sample interval outside the intervals goal's range")
        if self.min_nr_regions < 3:
            raise ValueError("min_nr_regions must be at least 3")
        if self.min_nr_regions > self.max_nr_regions:
            raise ValueError("min_nr_regions must not exceed max_nr_regions")
        if self.sample_interval_us <= 0 or self.sample_interval_us > self.aggr_interval_us:
            raise ValueError("need 0 < sample interval <= aggregation interval")
        if self.aggr_samples:
            return self
        return replace(self, aggr_samples=self.aggr_interval_us // self.sample_interval_us)

    @property
    def max_nr_accesses(self) -> int:
        """damon_max_nr_accesses."""
        return max(self.aggr_interval_us // max(self.sample_interval_us, 1), 1)


def nr_accesses_for_new_attrs(nr: np.ndarray, old: DamonAttrs, new: DamonAttrs) -> np.ndarray:
    """damon_nr_accesses_for_new_attrs: through an access ratio in bp."""
    bp = nr * 10000 // old.max_nr_accesses
    return bp * new.max_nr_accesses // 10000


def update_monitoring_results(R: np.ndarray, nr: int, old: DamonAttrs, new: DamonAttrs) -> None:
    """damon_update_monitoring_result for regions outside an aggregation."""
    R[NR, :nr] = nr_accesses_for_new_attrs(R[NR, :nr], old, new)
    R[AGE, :nr] = R[AGE, :nr] * old.aggr_interval_us // new.aggr_interval_us


def intervals_score(R: np.ndarray, nr: int, attrs: DamonAttrs) -> int:
    """damon_get_intervals_score (sizes in pages: the ratio is unchanged)."""
    sz = R[END, :nr] - R[START, :nr]
    max_events = int((sz * attrs.aggr_samples).sum())
    events = int((sz * R[NR, :nr]).sum())
    target = max_events * attrs.intervals_goal.access_bp // 10000
    target = target or 1
    return events * 10000 // target


def intervals_adaptation_bp(R: np.ndarray, nr: int, attrs: DamonAttrs) -> int:
    score = intervals_score(R, nr, attrs)
    adaptation = feed_loop_next_input(100000000, score) // 10000
    if adaptation <= 10000:
        adaptation = 5000 + adaptation // 2
    return adaptation


def tune_intervals(R: np.ndarray, nr: int, attrs: DamonAttrs) -> DamonAttrs | None:
    """kdamond_tune_intervals: the new attrs, or None when unchanged.  The
    caller converts the regions with :func:`update_monitoring_results`."""
    adaptation = intervals_adaptation_bp(R, nr, attrs)
    if adaptation == 10000:
        return None
    g = attrs.intervals_goal
    sample = min(g.max_sample_us, attrs.sample_interval_us * adaptation // 10000)
    sample = max(g.min_sample_us, sample, 1)
    return replace(attrs, sample_interval_us=sample, aggr_interval_us=sample * attrs.aggr_samples)
