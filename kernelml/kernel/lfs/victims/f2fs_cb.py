"""F2FS cost-benefit victim selection (background GC).

Kernel source: ``fs/f2fs/gc.c``: ``get_cb_cost()``, called from
``get_gc_cost()`` for ``GC_CB`` inside the ``f2fs_get_victim()`` scan;
``fs/f2fs/segment.c``: ``update_segment_mtime()``, ``init_min_max_mtime()``.

Cost of a segment (sections are single segments here)::

    mtime = se->mtime                      # SIT mean write time, see below
    u     = (vblocks * 100) >> log_blocks_per_seg          # 0..100
    if (mtime < sit_i->min_mtime) sit_i->min_mtime = mtime;
    if (mtime > sit_i->max_mtime) sit_i->max_mtime = mtime;
    age   = 0
    if (max_mtime != min_mtime)
        age = 100 - 100 * (mtime - min_mtime) / (max_mtime - min_mtime)
    cost  = UINT_MAX - ((100 * (100 - u) * age) / (100 + u))

and the scan keeps the first segment with ``cost < p.min_cost``, starting at
``p.min_cost = get_max_cost() = UINT_MAX``: a segment whose benefit is 0
(age 0, i.e. the youngest, or u = 100, i.e. full) can never be chosen, and
if every scanned segment has benefit 0 there is no victim (-1, the kernel's
``-ENODATA``).  The min/max update happens per segment *during* the scan, so
a segment's age uses the bounds as widened by the segments scanned before it;
this is reproduced with running minima/maxima in scan order.  The scan order,
cursor and the 4096-segment cap of a background pass are those of
:class:`~kernelml.kernel.lfs.victims.greedy.F2FSScan`.

How the kernel maintains the inputs (the simulator core must do the same for
``view.mtime``):

* ``se->mtime`` (``update_segment_mtime(sbi, blkaddr, old_mtime)`` in
  ``segment.c``): with ``t = get_mtime()`` (the current time) and ``valid`` the
  segment's valid blocks *before* the change,
  ``mtime = mtime ? (mtime * valid + t) / (valid + 1) : t``.  It is applied to
  the segment receiving a block and, for an overwrite, first to the segment
  of the old copy (``f2fs_allocate_data_block``), and to the segment of a
  block being discarded (``f2fs_invalidate_blocks``): invalidations pull a
  segment's mtime towards now too.  Without ATGC a GC move is an ordinary
  write (both segments take ``t``); with ATGC (``from_gc``) the destination
  folds in the source segment's mtime instead of ``t`` and the source is not
  updated.  A freed segment keeps its stale mtime (harmless: with
  ``valid = 0`` the next append overwrites it).
* ``sit_i->max_mtime`` is raised to ``t`` by every ``update_segment_mtime``
  call; ``sit_i->min_mtime`` is set at mount by ``init_min_max_mtime()`` to the
  smallest mtime over *all* segments (0 on a fresh file system) and only
  lowered afterwards (by the scans above).  Here "mount" is the first
  ``select`` after :meth:`reset`: ``min_mtime = min(view.mtime)`` over all
  segments, ``max_mtime = view.now``; later calls raise ``max_mtime`` to
  ``view.now`` (the time of the latest SIT update).

Units.  The kernel's times are seconds since mkfs (``get_mtime`` adds the
checkpointed elapsed time to the seconds since mount); ours are the logical
clock (user block writes).  The cost only depends on time through the
normalised age, so no scale parameter is needed; only the granularity
differs (ties are rarer with a finer clock).

Foreground GC.  ``select_gc_type()`` uses greedy for ``FG_GC`` whatever the
background mode.  This policy scores every call with cost-benefit by
default (the composite ``f2fs`` victim policy pairs greedy foreground GC with
it, as a mount does); with ``foreground_greedy=True`` a foreground call is
delegated to a :class:`Greedy` with its own cursor
(``last_victim[GC_GREEDY]``) instead.  Note that cost-benefit can return -1
while candidates exist (every benefit 0, see above), which the kernel never
meets in the foreground.

Departure: ``blocks_per_seg`` need not be a power of two here; when it is not,
``u = vblocks * 100 // blocks_per_seg`` replaces the shift (same value when it
is a power of two).
"""

from __future__ import annotations

import numpy as np

from ..intmath import UINT_MAX
from ..view import SegmentView, VictimPolicy
from .greedy import DEF_MAX_VICTIM_SEARCH, F2FSScan, Greedy, max_search_for


def cb_costs(
    valid: np.ndarray, mtime: np.ndarray, blocks_per_seg: int, min_mtime: int, max_mtime: int
) -> tuple[np.ndarray, int, int]:
    """``get_cb_cost()`` for segments in scan order.

    Returns the costs (int64) and the updated ``(min_mtime, max_mtime)``.
    Each segment's age uses the bounds widened by itself and every segment
    before it, as the kernel's in-loop update does.
    """
    mt = np.asarray(mtime, dtype=np.int64)
    v = np.asarray(valid, dtype=np.int64)
    lo, hi = int(mt.min()), int(mt.max())
    if lo >= min_mtime and hi <= max_mtime:  # the usual case: no bound moves
        rmin = np.full(mt.shape, min_mtime, dtype=np.int64)
        rmax = np.full(mt.shape, max_mtime, dtype=np.int64)
    else:
        rmin = np.minimum.accumulate(np.minimum(mt, min_mtime))
        rmax = np.maximum.accumulate(np.maximum(mt, max_mtime))
    if blocks_per_seg & (blocks_per_seg - 1) == 0:
        u = (v * 100) >> (blocks_per_seg.bit_length() - 1)
    else:
        u = (v * 100) // blocks_per_seg
    span = rmax - rmin
    flat = span == 0
    age = np.where(flat, 0, 100 - (100 * (mt - rmin)) // np.where(flat, 1, span))
    cost = UINT_MAX - (100 * (100 - u) * age) // (100 + u)
    return cost, int(rmin[-1]), int(rmax[-1])


class F2FSCostBenefit(VictimPolicy):
    """F2FS background cost-benefit (fs/f2fs/gc.c get_cb_cost): minimise
    UINT_MAX - 100*(100-u)*age/(100+u) with age normalised between the SIT's
    min_mtime and max_mtime, in the kernel's scan order.
    """

    name = "f2fs-cb"

    def __init__(self, foreground_greedy: bool = False, max_victim_search: int = DEF_MAX_VICTIM_SEARCH) -> None:
        if max_victim_search < 1:
            raise ValueError("max_victim_search must be >= 1")
        self.foreground_greedy = foreground_greedy
        self.max_victim_search = max_victim_search
        self.scan = F2FSScan()  # last_victim[GC_CB]
        self.greedy = Greedy(max_victim_search)  # last_victim[GC_GREEDY]
        self.min_mtime: int | None = None  # sit_i->min_mtime (None: not mounted yet)
        self.max_mtime = 0  # sit_i->max_mtime

    def reset(self) -> None:
        self.scan.reset()
        self.greedy.reset()
        self.min_mtime = None
        self.max_mtime = 0

    def _mount(self, view: SegmentView) -> None:
        """``init_min_max_mtime()`` over all segments, ``max_mtime = get_mtime()``."""
        self.min_mtime = int(view.mtime.min()) if view.mtime.size else 0
        self.max_mtime = int(view.now)

    def select(self, view: SegmentView) -> int:
        if self.foreground_greedy and view.foreground:
            return self.greedy.select(view)
        if self.min_mtime is None:
            self._mount(view)
        self.max_mtime = max(self.max_mtime, int(view.now))
        visited = self.scan.visit(view.candidate, max_search_for(view, self.max_victim_search))
        if visited.size == 0:
            return -1
        cost, self.min_mtime, self.max_mtime = cb_costs(
            view.valid[visited], view.mtime[visited], view.blocks_per_seg, self.min_mtime, self.max_mtime
        )
        best = int(np.argmin(cost))
        if int(cost[best]) >= UINT_MAX:  # p.min_cost starts at UINT_MAX, strict '<'
            return -1
        return int(visited[best])
