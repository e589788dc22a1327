"""Which regions a scheme acts on: the view, and the kernel's default choice.

Once per apply interval (every aggregation here) and scheme, kdamond calls
``choose(view) -> [(region index, bytes), ...]``: apply the action to the
first ``bytes`` of each listed region, in increasing region order.  An
entry may carry a third element, the *source* of the decision (0
human-made, 1 ML; default 0); pageouts record it as the lineage of the
pages they reclaim.  The caller may replace ``choose`` (the ML proxy wraps
it); :func:`damos_choose` is the kernel's behaviour.

What the view exposes is what DAMON exposes to user space (the regions'
monitoring results, the scheme's quota state) plus the refaults the memory
model reported per region since the previous aggregation.

Validation (in the monitor, :meth:`~.monitor.Kdamond.apply_scheme`):
entries out of range, not increasing, of non-positive or unaligned size or
larger than the region are dropped and counted (``Scheme.rejected``);
entries beyond the quota are cut at the quota, as damos_apply_scheme cuts
a region (damon_split_region_at).  Whether a region matches the scheme's
access pattern is the chooser's business: the default honours it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .memory import PAGE_SHIFT, PAGE_SIZE


@dataclass
class RegionsView:
    """Read-only snapshot for one scheme at one apply interval.

    Addresses are bytes of the dense page space (page number << 12).
    ``eligible``: the region matches the access pattern and, under a
    quota, scores at least ``min_score`` (damos_valid_target).
    ``first``: index of the first region the kernel's walk may use (regions
    before it were charged in the previous window; damos_skip_charged_region).
    ``quota_esz`` is 0 when the scheme has no quota (unlimited).
    """

    now_us: int
    start: np.ndarray  # int64 bytes
    end: np.ndarray  # int64 bytes
    nr_accesses: np.ndarray  # int64
    age: np.ndarray  # int64, aggregation intervals
    last_nr_accesses: np.ndarray  # int64
    refaults: np.ndarray  # int64, refaults per region since the previous aggregation
    refaults_ml: np.ndarray  # int64, of which charged to ML-made pageouts
    scores: np.ndarray  # int64, the scheme's priority score per region (0..99)
    eligible: np.ndarray  # bool
    first: int
    action: int
    min_score: int
    quota_esz: int  # bytes, 0: unlimited
    quota_charged: int  # bytes charged in the current window
    sample_interval_us: int
    aggr_interval_us: int
    max_nr_accesses: int
    free_rate_pm: int  # machine free memory per mille

    @property
    def nr_regions(self) -> int:
        return int(self.start.shape[0])

    @property
    def sizes(self) -> np.ndarray:
        return self.end - self.start

    @property
    def remaining(self) -> int | None:
        """Bytes the quota still allows in this window (None: unlimited)."""
        if not self.quota_esz:
            return None
        return max(self.quota_esz - self.quota_charged, 0)


def damos_choose(view: RegionsView) -> list[tuple[int, int]]:
    """The kernel's walk (damon_do_apply_schemes / damos_apply_scheme):
    regions in address order from ``first``, those that are eligible, until
    the quota is used up; the last one is cut at the quota, aligned down to
    a page (if nothing is left after alignment, it is skipped)."""
    out: list[tuple[int, int]] = []
    esz = view.quota_esz
    charged = view.quota_charged
    idx = np.flatnonzero(view.eligible[view.first:]) + view.first
    sizes = view.end - view.start
    for i in idx.tolist():
        if esz and charged >= esz:
            break
        sz = int(sizes[i])
        if esz and charged + sz > esz:
            sz = ((esz - charged) >> PAGE_SHIFT) << PAGE_SHIFT
            if not sz:
                continue
        out.append((i, sz))
        charged += sz
    return out


def validate_choices(choices, view: RegionsView) -> tuple[list[tuple[int, int, int]], int]:
    """Turn a chooser's answer into ``(index, bytes, source)`` triples that
    are safe to apply; returns them and the number rejected."""
    good: list[tuple[int, int, int]] = []
    rejected = 0
    last = -1
    n = view.nr_regions
    for entry in choices or ():
        try:
            if len(entry) == 2:
                i, sz = entry
                src = 0
            else:
                i, sz, src = entry
            i, sz, src = int(i), int(sz), int(src)
        except (TypeError, ValueError):
            rejected += 1
            continue
        region_sz = int(view.end[i] - view.start[i]) if 0 <= i < n else 0
        if not (last < i < n) or sz <= 0 or sz % PAGE_SIZE or sz > region_sz or src not in (0, 1):
            rejected += 1
            continue
        good.append((i, sz, src))
        last = i
    return good, rejected
