"""DAMON_RECLAIM: proactive reclamation of cold memory (mm/damon/reclaim.c).

The module's parameters and defaults, and how they become one DAMON
context with one scheme (damon_reclaim_apply_parameters,
damon_reclaim_new_scheme):

* pattern: regions of at least PAGE_SIZE, not accessed at all
  (nr_accesses 0..0), for at least ``min_age`` (120 s; ``min_age /
  aggr_interval`` aggregation intervals);
* action: pageout, every aggregation interval;
* quota: 10 ms of kdamond time and 128 MiB per 1 s window; within it,
  older regions first (weights: sz 0, nr_accesses 0, age 1);
* optional auto-tuning of the quota: ``quota_mem_pressure_us`` adds a
  DAMOS_QUOTA_SOME_MEM_PSI_US goal (stall time per window), and
  ``quota_autotune_feedback`` a DAMOS_QUOTA_USER_INPUT goal of 10000;
* watermarks on the free memory rate: high 500, mid 400, low 200 per
  mille, checked every 5 s while inactive;
* monitoring: sampling 5 ms, aggregation 100 ms, 10..1000 regions, or
  with ``autotune_monitoring_intervals`` a goal of 40 bp of the maximum
  access events every 3 aggregations, sampling between 5 ms and 10 s.

The kernel computes ``min_age_region`` once, from the aggregation interval
at parameter commit; the auto-tuner then changes the interval without
rescaling it (ages are rescaled, the threshold is not), as here.

``wmarks=False`` replaces the watermarks by DAMOS_WMARK_NONE (always
active); this is not a kernel parameter, it is the ``--watermarks off``
experiment.  ``skip_anon`` is not modelled (every page here is anonymous).
"""

from __future__ import annotations

from dataclasses import dataclass

from .attrs import DamonAttrs, IntervalsGoal
from .goals import GoalMetric, QuotaGoal
from .memory import PAGE_SIZE
from .quota import Quota
from .schemes import UINT_MAX, ULONG_MAX, AccessPattern, Action, Scheme
from .watermarks import Watermarks, WmarkMetric


@dataclass(frozen=True)
class ReclaimParams:
    min_age_us: int = 120_000_000  # 120 s
    quota_ms: int = 10  # ms of kdamond time per window
    quota_sz: int = 128 * 1024 * 1024  # bytes per window
    quota_reset_interval_ms: int = 1000
    quota_mem_pressure_us: int = 0  # 0: no PSI goal
    quota_autotune_feedback: int = 0  # 0: no user-input goal
    autotune_monitoring_intervals: bool = False
    wmarks_interval_us: int = 5_000_000
    wmarks_high: int = 500  # per mille of free memory
    wmarks_mid: int = 400
    wmarks_low: int = 200
    wmarks: bool = True
    sample_interval_us: int = 5_000
    aggr_interval_us: int = 100_000
    min_nr_regions: int = 10
    max_nr_regions: int = 1000


def monitoring_attrs(p: ReclaimParams) -> DamonAttrs:
    if p.autotune_monitoring_intervals:
        return DamonAttrs(sample_interval_us=5_000, aggr_interval_us=100_000, ops_update_interval_us=0,
                          min_nr_regions=p.min_nr_regions, max_nr_regions=p.max_nr_regions,
                          intervals_goal=IntervalsGoal(access_bp=40, aggrs=3, min_sample_us=5_000,
                                                       max_sample_us=10_000_000)).validate()
    return DamonAttrs(sample_interval_us=p.sample_interval_us, aggr_interval_us=p.aggr_interval_us,
                      ops_update_interval_us=0, min_nr_regions=p.min_nr_regions,
                      max_nr_regions=p.max_nr_regions).validate()


def new_scheme(p: ReclaimParams, aggr_interval_us: int) -> Scheme:
    """damon_reclaim_new_scheme plus the goals of damon_reclaim_apply_parameters."""
    if aggr_interval_us <= 0:
        raise ValueError("aggregation interval must be positive")
    pattern = AccessPattern(min_sz_region=PAGE_SIZE, max_sz_region=ULONG_MAX,
                            min_nr_accesses=0, max_nr_accesses=0,
                            min_age_region=p.min_age_us // aggr_interval_us, max_age_region=UINT_MAX)
    goals = []
    if p.quota_mem_pressure_us:
        goals.append(QuotaGoal(GoalMetric.SOME_MEM_PSI_US, p.quota_mem_pressure_us))
    if p.quota_autotune_feedback:
        goals.append(QuotaGoal(GoalMetric.USER_INPUT, 10000, current_value=p.quota_autotune_feedback))
    quota = Quota(ms=p.quota_ms, sz=p.quota_sz, reset_interval_ms=p.quota_reset_interval_ms,
                  weight_sz=0, weight_nr_accesses=0, weight_age=1, goals=goals)
    if p.wmarks:
        wm = Watermarks(WmarkMetric.FREE_MEM_RATE, p.wmarks_interval_us, p.wmarks_high, p.wmarks_mid,
                        p.wmarks_low)
    else:
        wm = Watermarks(WmarkMetric.NONE)
    return Scheme(pattern, Action.PAGEOUT, quota=quota, wmarks=wm)


def build(p: ReclaimParams) -> tuple[DamonAttrs, Scheme]:
    """The context DAMON_RECLAIM would commit: monitoring attributes and its scheme."""
    attrs = monitoring_attrs(p)
    return attrs, new_scheme(p, attrs.aggr_interval_us)
