"""DAMOS watermarks: activate a scheme only while free memory is in a band.

Follows mm/damon/core.c damos_wmark_wait_us and kdamond_wait_activation.
The metric DAMOS_WMARK_FREE_MEM_RATE is free memory per mille of total
(damos_get_wmark_metric_value: NR_FREE_PAGES * 1000 / totalram_pages).

* metric above ``high`` or below ``low``: deactivate, check again after
  ``interval_us``;
* inactive and between ``mid`` and ``high``: stay inactive;
* otherwise (below ``mid`` and at least ``low``): activate.

With metric NONE the scheme is always active.  When every scheme is
inactive, kdamond neither samples nor aggregates: it sleeps the smallest
wait and checks again.

The table form used by the monitor's numba loop is one int64 row per
scheme: ``[metric, interval_us, high, mid, low, activated]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numba import njit

from .memory import P_TOTAL, free_pages


class WmarkMetric(IntEnum):
    NONE = 0
    FREE_MEM_RATE = 1


W_METRIC = 0
W_INTERVAL = 1
W_HIGH = 2
W_MID = 3
W_LOW = 4
W_ACTIVATED = 5
W_FIELDS = 6


@dataclass
class Watermarks:
    """Watermarks of one scheme; thresholds in per mille, interval in us."""

    metric: WmarkMetric = WmarkMetric.NONE
    interval_us: int = 0
    high: int = 0
    mid: int = 0
    low: int = 0

    def row(self) -> np.ndarray:
        # damon_new_scheme starts every scheme activated
        return np.array([int(self.metric), self.interval_us, self.high, self.mid, self.low, 1], np.int64)


def table(wmarks: list[Watermarks]) -> np.ndarray:
    if not wmarks:
        return np.zeros((0, W_FIELDS), np.int64)
    return np.stack([w.row() for w in wmarks])


@njit(cache=True)
def wmark_wait_us(row, metric_value):
    """damos_wmark_wait_us for one scheme; updates row[W_ACTIVATED]."""
    if row[W_METRIC] == 0:
        return 0
    if metric_value > row[W_HIGH] or row[W_LOW] > metric_value:
        row[W_ACTIVATED] = 0
        return row[W_INTERVAL]
    if row[W_HIGH] >= metric_value and metric_value >= row[W_MID] and row[W_ACTIVATED] == 0:
        return row[W_INTERVAL]
    row[W_ACTIVATED] = 1
    return 0


@njit(cache=True)
def free_mem_rate(ctr, prm):
    """Free memory per mille of the machine's total."""
    return free_pages(ctr, prm) * 1000 // prm[P_TOTAL]


@njit(cache=True)
def min_wait_us(wm, ctr, prm):
    """kdamond_wait_activation's one round: the smallest wait over schemes
    (0: at least one scheme is active, or there are no schemes)."""
    if wm.shape[0] == 0:
        return 0
    value = free_mem_rate(ctr, prm)
    best = -1
    for s in range(wm.shape[0]):
        w = wmark_wait_us(wm[s], value)
        if best < 0 or w < best:
            best = w
    return best
