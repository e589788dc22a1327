"""Greedy victim selection, as F2FS does it for foreground GC, and the F2FS
victim scan shared by every F2FS policy.

Kernel source: ``fs/f2fs/gc.c`` (mainline, checked on the 6.x tree):
``f2fs_get_victim()`` (``get_victim_by_default()`` before 6.1),
``select_policy()``, ``get_max_cost()`` and ``get_gc_cost()``.

Cost.  For ``GC_GREEDY`` in LFS allocation mode ``get_gc_cost()`` returns
``get_valid_blocks(sbi, segno, true)``: the valid blocks of the section.  The
scan keeps the first segment with ``p.min_cost > cost`` (strict), starting
from ``p.min_cost = get_max_cost() = 2 * blocks_per_seg * segs_per_sec``, so
every dirty segment can win, full ones included.

Scan order (how ties are broken).  The scan does not start at segment 0: it
starts at ``p.offset = SIT_I(sbi)->last_victim[gc_mode]`` (``select_policy``),
walks the dirty bitmap upwards with ``find_next_bit``, and when it reaches
the end wraps once to 0 and continues up to the old ``last_victim``.  It stops
after ``p.max_search`` dirty segments (``nsearched``), and then moves the
cursor (the ``next:`` block of the loop)::

    if (!sm->last_victim[gc_mode] && segno <= last_victim)
        sm->last_victim[gc_mode] = last_victim + ofs_unit;
    else
        sm->last_victim[gc_mode] = segno + ofs_unit;
    sm->last_victim[gc_mode] %= MAIN_SECS * segs_per_sec;

(``sm->last_victim`` is 0 once the scan has wrapped, so a scan that wrapped
leaves the cursor one past where it started.)  Ties in cost therefore go to
the first segment at or after the cursor in cyclic order, and the cursor is
per GC mode (greedy, cost-benefit and age-threshold each keep their own).
:class:`F2FSScan` reproduces this exactly.

``p.max_search`` is the number of dirty segments, capped at
``sbi->max_victim_search`` (``DEF_MAX_VICTIM_SEARCH`` = 4096 in
``fs/f2fs/gc.h``) unless the GC is foreground (``FG_GC``) or the mode is
age-threshold: a background greedy or cost-benefit pass looks at no more
than 4096 segments from the cursor.

Departures (documented, deliberate):

* sections are single segments (``segs_per_sec = 1``, the F2FS default), so
  ``ofs_unit = 1`` and section averages are the segment's own values;
* the view's ``candidate`` mask is the dirty bitmap after the checks the scan
  applies (``sec_usage_check``: not a current segment, not the victim being
  collected); the kernel counts the segments it skips for those reasons in
  ``nsearched`` and we do not, which matters only with the 4096 cap;
* ``check_bg_victims()`` (foreground GC first takes sections that background
  GC already chose and left in ``victim_secmap``) is not modelled: our
  background GC migrates its victim at once instead of marking its pages
  dirty for later writeback, so ``victim_secmap`` is always empty;
* the ``NOHEAP``/random-segment offset variants (``f2fs_need_rand_seg``) are
  not modelled (default mount options).
"""

from __future__ import annotations

import numpy as np

from ..view import SegmentView, VictimPolicy

DEF_MAX_VICTIM_SEARCH = 4096  # fs/f2fs/gc.h: dirty segments one background pass examines


class F2FSScan:
    """``SIT_I(sbi)->last_victim[gc_mode]`` and the visiting order of one
    victim scan in ``f2fs_get_victim()`` (see the module docstring)."""

    __slots__ = ("last_victim",)

    def __init__(self) -> None:
        self.last_victim = 0

    def reset(self) -> None:
        self.last_victim = 0

    def visit(self, candidate: np.ndarray, max_search: int | None) -> np.ndarray:
        """Segment numbers in the order the kernel scan visits them (at most
        ``max_search``; None = all dirty segments), and advance the cursor
        as the kernel does.  Returns an empty array (cursor untouched) when
        there is nothing to scan (``p.max_search == 0 -> -ENODATA``)."""
        idx = np.flatnonzero(candidate)
        n = idx.size
        limit = n if max_search is None else min(n, max_search)
        if limit == 0:
            return idx[:0]
        total = candidate.size
        off = self.last_victim
        if off:
            split = int(np.searchsorted(idx, off))
            order = np.concatenate((idx[split:], idx[:split])) if split else idx
        else:
            split = 0
            order = idx
        visited = order[:limit]
        segno = int(visited[-1])
        wrapped = off == 0 or limit > n - split  # sm->last_victim is 0 at the stop
        if wrapped and segno <= off:
            nxt = off + 1
        else:
            nxt = segno + 1
        self.last_victim = nxt % total
        return visited


def max_search_for(view: SegmentView, cap: int) -> int | None:
    """``select_policy()``: every dirty segment for foreground GC, at most
    ``cap`` (``max_victim_search``) otherwise."""
    return None if view.foreground else cap


class Greedy(VictimPolicy):
    """F2FS greedy: the dirty segment with the fewest valid blocks (fs/f2fs/gc.c
    get_gc_cost, GC_GREEDY), ties to the first at or after the per-mode scan
    cursor, as f2fs_get_victim scans.

    ``max_victim_search`` caps a background pass (kernel default 4096);
    foreground passes scan every candidate.
    """

    name = "greedy"

    def __init__(self, max_victim_search: int = DEF_MAX_VICTIM_SEARCH) -> None:
        if max_victim_search < 1:
            raise ValueError("max_victim_search must be >= 1")
        self.max_victim_search = max_victim_search
        self.scan = F2FSScan()

    def reset(self) -> None:
        self.scan.reset()

    def select(self, view: SegmentView) -> int:
        visited = self.scan.visit(view.candidate, max_search_for(view, self.max_victim_search))
        if visited.size == 0:
            return -1
        cost = view.valid[visited]
        return int(visited[int(np.argmin(cost))])
