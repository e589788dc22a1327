"""DAMOS schemes: access pattern, action, quota, watermarks, statistics.

Follows include/linux/damon.h (struct damos, damos_access_pattern,
damos_stat) and mm/damon/core.c (__damos_valid_target).  Pattern ranges are
inclusive: size in bytes, nr_accesses per aggregation interval, age in
aggregation intervals.

Actions keep the kernel's enum values (enum damos_action); the physical
address operations (mm/damon/paddr.c damon_pa_apply_scheme) implement
pageout, lru_prio, lru_deprio and stat here.  DAMOS_COLD is the virtual
address space's MADV_COLD; on physical memory lru_deprio is its
counterpart (folio_deactivate).

``apply_interval_us`` other than 0 (every aggregation) is not supported:
schemes apply at aggregation boundaries, where the kernel's default puts
them.  Address and target filters, and the ops filters other than
pageout's built-in young filter, are not modelled.

``choose``: the function that picks the regions the action is applied to
in one apply interval (see :mod:`.choose`); None means the kernel's walk
with prioritisation under the quota.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Callable

import numpy as np

from .memory import PAGE_SHIFT
from .quota import DAMOS_MAX_SCORE, Quota, cold_scores, hot_scores
from .watermarks import Watermarks

UINT_MAX = (1 << 32) - 1
ULONG_MAX = (1 << 64) - 1


class Action(IntEnum):
    WILLNEED = 0
    COLD = 1
    PAGEOUT = 2
    HUGEPAGE = 3
    NOHUGEPAGE = 4
    LRU_PRIO = 5
    LRU_DEPRIO = 6
    MIGRATE_HOT = 7
    MIGRATE_COLD = 8
    STAT = 9


SUPPORTED_ACTIONS = (Action.PAGEOUT, Action.LRU_PRIO, Action.LRU_DEPRIO, Action.STAT)


@dataclass
class AccessPattern:
    min_sz_region: int = 0  # bytes
    max_sz_region: int = ULONG_MAX
    min_nr_accesses: int = 0
    max_nr_accesses: int = UINT_MAX
    min_age_region: int = 0  # aggregation intervals
    max_age_region: int = UINT_MAX


@dataclass
class DamosStat:
    nr_tried: int = 0
    sz_tried: int = 0
    nr_applied: int = 0
    sz_applied: int = 0
    sz_ops_filter_passed: int = 0
    qt_exceeds: int = 0

    def update(self, sz_tried: int, sz_applied: int, sz_passed: int) -> None:
        """damos_update_stat."""
        self.nr_tried += 1
        self.sz_tried += sz_tried
        if sz_applied:
            self.nr_applied += 1
        self.sz_applied += sz_applied
        self.sz_ops_filter_passed += sz_passed


@dataclass
class Scheme:
    pattern: AccessPattern
    action: Action
    quota: Quota = field(default_factory=Quota)
    wmarks: Watermarks = field(default_factory=Watermarks)
    apply_interval_us: int = 0
    choose: Callable | None = None
    stat: DamosStat = field(default_factory=DamosStat)
    rejected: int = 0  # choices from ``choose`` that failed validation

    def __post_init__(self) -> None:
        self.action = Action(self.action)
        if self.action not in SUPPORTED_ACTIONS:
            raise ValueError(f"action {self.action.name} is not supported by the physical address ops here")
        if self.apply_interval_us:
            raise ValueError("apply_interval_us must be 0 (schemes apply every aggregation interval)")


def valid_mask(start: np.ndarray, end: np.ndarray, nr_accesses: np.ndarray, age: np.ndarray,
               p: AccessPattern) -> np.ndarray:
    """__damos_valid_target for every region (regions in page numbers)."""
    sz = (end - start) << PAGE_SHIFT
    return ((p.min_sz_region <= sz) & (sz <= p.max_sz_region)
            & (p.min_nr_accesses <= nr_accesses) & (nr_accesses <= p.max_nr_accesses)
            & (p.min_age_region <= age) & (age <= p.max_age_region))


def scheme_scores(s: Scheme, nr_accesses: np.ndarray, age: np.ndarray, max_nr_accesses: int,
                  aggr_interval_us: int) -> np.ndarray:
    """damon_pa_scheme_score: the score the quota prioritises by."""
    q = s.quota
    args = (nr_accesses, age, max_nr_accesses, aggr_interval_us, q.weight_nr_accesses, q.weight_age)
    if s.action in (Action.PAGEOUT, Action.LRU_DEPRIO, Action.MIGRATE_COLD):
        return cold_scores(*args)
    if s.action in (Action.LRU_PRIO, Action.MIGRATE_HOT):
        return hot_scores(*args)
    return np.full(len(nr_accesses), DAMOS_MAX_SCORE, np.int64)
