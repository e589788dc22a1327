"""F2FS age-threshold GC (ATGC) victim selection, the ``GC_AT`` mode of
background GC (mount option ``atgc``, or ``gc_idle=3``).

Kernel source: ``fs/f2fs/gc.c``: ``f2fs_get_victim()`` (the ``is_atgc`` path),
``add_victim_entry()``, ``__insert_victim_entry()``, ``atgc_lookup_victim()``,
``init_atgc_management()``; defaults in ``fs/f2fs/gc.h``.

1. Candidates.  The scan (order and cursor ``last_victim[GC_AT]`` as in
   :class:`~kernelml.kernel.lfs.victims.greedy.F2FSScan`, never capped for
   GC_AT) calls ``add_victim_entry()`` for every dirty segment.  It widens
   ``sit_i->dirty_min_mtime`` (reset to ULLONG_MAX at the start of every
   pass) and ``sit_i->dirty_max_mtime`` (never reset: it persists across
   passes), then skips "young" sections::

       if (sit_i->dirty_max_mtime - mtime < p->age_threshold) return;

   using ``dirty_max_mtime`` *as widened so far in the scan*; the others go
   into an rb-tree keyed by mtime (equal keys go right, so they keep scan
   order).  ``victim_count`` is the number of entries.

2. Scoring (``atgc_lookup_victim()``)::

       max_mtime = dirty_max_mtime + 1;  min_mtime = dirty_min_mtime
       total_time = max_mtime - min_mtime
       accu = min(ULLONG_MAX / total_time / 100, DEFAULT_ACCURACY_CLASS)
       dirty_threshold = max(max_candidate_count,
                             candidate_ratio * victim_count / 100)
       walk the tree from the oldest (rb_first), entries with mtime in
       [min_mtime, max_mtime) count towards dirty_threshold; for each:
         age  = accu * (max_mtime - mtime) / total_time * age_weight
         u    = accu * (sec_blocks - vblocks) / sec_blocks * (100 - age_weight)
         cost = UINT_MAX - (age + u)
         keep it if cost < min_cost, or cost == min_cost and age > oldest_age

   with ``min_cost = UINT_MAX`` and ``oldest_age = 0`` to start.  Note that
   ``dirty_threshold`` is a *max* in the code although ``gc.h`` describes
   the ratio as "select 20% oldest" and the count as "at most 10": the
   walk examines the ``max(10, 20% of the entries)`` oldest entries.  We
   follow the code.

3. Retry.  If no victim was found and ``sm->elapsed_time < age_threshold``
   the whole scan is repeated with ``age_threshold = 0``.  ``elapsed_time``
   is the file system's age at mount (seconds since mkfs, from the
   checkpoint).  Since ``init_atgc_management()`` enables the ``atgc`` mount
   option only when ``elapsed_time >= DEF_GC_THREAD_AGE_THRESHOLD``, the retry
   only fires with sysfs-tuned thresholds or ``gc_idle=3``; here
   ``elapsed_time`` is a parameter, default 0 (a fresh file system), so the
   retry is active.

Defaults (``gc.h``): ``DEF_GC_THREAD_AGE_THRESHOLD`` = 7 days (604800 s),
``DEF_GC_THREAD_CANDIDATE_RATIO`` = 20, ``DEF_GC_THREAD_MAX_CANDIDATE_COUNT`` = 10,
``DEF_GC_THREAD_AGE_WEIGHT`` = 60, ``DEFAULT_ACCURACY_CLASS`` = 10000.

Time scale.  Kernel times are seconds; ours are logical ticks (user block
writes).  ``ticks_per_second`` converts the seconds-valued threshold:
``age_threshold = 604800 * ticks_per_second`` ticks unless ``age_threshold``
is given directly.  The default 1 tick per second makes the threshold
604800 block writes (2.3 GiB of 4 KiB blocks); on shorter runs nothing
qualifies, the retry fires, and ATGC ranks the oldest entries without a
threshold.  The scores themselves are scale-free (normalised by
``total_time``).

Foreground GC is greedy in the kernel (``select_gc_type``), and so it is
here by default (``foreground_greedy=True``): ATGC ranks by age first and is
meant for the background thread; used for foreground GC it picks old, full
segments and write amplification explodes (34-176 measured on the golden
workloads).  ``foreground_greedy=False`` scores every call with ATGC.  The SSR side of
ATGC (``atssr_lookup_victim``: choosing the destination of migrated blocks)
is a placement decision, not victim selection, and is not modelled here; the
core keeps the source segment's mtime for migrated blocks when ATGC is on
(``from_gc`` in ``f2fs_allocate_data_block``).  Sections are single segments.
"""

from __future__ import annotations

import numpy as np

from ..intmath import UINT_MAX, ULLONG_MAX
from ..view import SegmentView, VictimPolicy
from .greedy import DEF_MAX_VICTIM_SEARCH, F2FSScan, Greedy

DEF_GC_THREAD_AGE_THRESHOLD = 60 * 60 * 24 * 7  # seconds: candidates must be older than 7 days
DEF_GC_THREAD_CANDIDATE_RATIO = 20  # percent of the oldest entries examined
DEF_GC_THREAD_MAX_CANDIDATE_COUNT = 10  # entries examined at least (max() in the code)
DEF_GC_THREAD_AGE_WEIGHT = 60  # percent weight of age; valid blocks weigh 100 - 60
DEFAULT_ACCURACY_CLASS = 10000  # fixed-point scale of age and u


def atgc_scores(
    mtime: np.ndarray, vblocks: np.ndarray, sec_blocks: int, min_mtime: int, max_mtime: int, age_weight: int
) -> tuple[np.ndarray, np.ndarray]:
    """``atgc_lookup_victim()`` arithmetic for the examined entries.

    ``min_mtime``/``max_mtime`` are ``dirty_min_mtime``/``dirty_max_mtime``
    (before the ``+ 1``).  Returns ``(cost, age)`` int64 arrays.
    """
    top = max_mtime + 1
    total = top - min_mtime
    accu = min(ULLONG_MAX // total // 100, DEFAULT_ACCURACY_CLASS)
    mt = np.asarray(mtime, dtype=np.int64)
    vb = np.asarray(vblocks, dtype=np.int64)
    age = (accu * (top - mt)) // total * age_weight
    u = (accu * (sec_blocks - vb)) // sec_blocks * (100 - age_weight)
    return UINT_MAX - (age + u), age


def oldest_first(pos: np.ndarray, keys: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` entries of the rb-tree's in-order walk: ascending
    ``keys`` (mtime), equal keys in insertion order (``pos`` is increasing).

    Uses one composite integer key and a partial sort (O(n + k log k)) when
    it fits in int64, a full lexicographic sort otherwise.
    """
    n = pos.size
    if count <= 0 or n == 0:
        return pos[:0]
    rel = keys - keys.min()
    span = int(rel.max()) + 1
    if span.bit_length() + n.bit_length() < 62:
        comp = rel * n + np.arange(n, dtype=np.int64)
        if count < n:
            part = np.argpartition(comp, count - 1)[:count]
        else:
            part = np.arange(n)
        return pos[part[np.argsort(comp[part])]]
    return pos[np.lexsort((pos, keys))][:count]


class F2FSAgeThreshold(VictimPolicy):
    """F2FS ATGC (fs/f2fs/gc.c atgc_lookup_victim): among the oldest
    max(10, 20%) sections older than the age threshold, maximise
    60% normalised age + 40% invalid ratio; retry without threshold.
    """

    name = "f2fs-atgc"

    def __init__(
        self,
        ticks_per_second: int = 1,
        age_threshold: int | None = None,
        candidate_ratio: int = DEF_GC_THREAD_CANDIDATE_RATIO,
        max_candidate_count: int = DEF_GC_THREAD_MAX_CANDIDATE_COUNT,
        age_weight: int = DEF_GC_THREAD_AGE_WEIGHT,
        elapsed_time: int = 0,
        foreground_greedy: bool = True,
    ) -> None:
        if ticks_per_second < 1:
            raise ValueError("ticks_per_second must be >= 1")
        if not 0 <= age_weight <= 100:
            raise ValueError("age_weight is a percentage")
        if candidate_ratio < 0 or max_candidate_count < 0:
            raise ValueError("candidate_ratio and max_candidate_count must be >= 0")
        self.age_threshold = (
            DEF_GC_THREAD_AGE_THRESHOLD * ticks_per_second if age_threshold is None else int(age_threshold)
        )
        if self.age_threshold < 0:
            raise ValueError("age_threshold must be >= 0")
        self.candidate_ratio = candidate_ratio
        self.max_candidate_count = max_candidate_count
        self.age_weight = age_weight
        self.elapsed_time = elapsed_time  # sm->elapsed_time, ticks
        self.foreground_greedy = foreground_greedy
        self.scan = F2FSScan()  # last_victim[GC_AT]
        self.greedy = Greedy(DEF_MAX_VICTIM_SEARCH)  # last_victim[GC_GREEDY]
        self.dirty_max_mtime = 0  # sit_i->dirty_max_mtime (kzalloc'ed, never reset)

    def reset(self) -> None:
        self.scan.reset()
        self.greedy.reset()
        self.dirty_max_mtime = 0

    def select(self, view: SegmentView) -> int:
        if self.foreground_greedy and view.foreground:
            return self.greedy.select(view)
        threshold = self.age_threshold
        while True:
            segno = self._pass(view, threshold)
            if segno >= 0 or not (self.elapsed_time < threshold):
                return segno
            threshold = 0  # p.age_threshold = 0; goto retry

    def _pass(self, view: SegmentView, threshold: int) -> int:
        """One ``retry:`` round: scan, build the tree, look the victim up."""
        visited = self.scan.visit(view.candidate, None)  # GC_AT: max_search never capped
        if visited.size == 0:
            return -1
        mt = view.mtime[visited].astype(np.int64)
        if int(mt.max()) <= self.dirty_max_mtime:  # the bound does not move in this pass
            inserted = np.flatnonzero(self.dirty_max_mtime - mt >= threshold)
        else:
            run_max = np.maximum.accumulate(np.maximum(mt, self.dirty_max_mtime))
            self.dirty_max_mtime = int(run_max[-1])
            inserted = np.flatnonzero(run_max - mt >= threshold)  # positions in scan order
        dirty_min = int(mt.min())  # dirty_min_mtime was reset to ULLONG_MAX
        victim_count = inserted.size
        if victim_count == 0:
            return -1
        dirty_threshold = max(self.max_candidate_count, self.candidate_ratio * victim_count // 100)
        top = self.dirty_max_mtime + 1
        keys = mt[inserted]
        ok = (keys < top) & (keys >= dirty_min)  # else 'goto skip': not counted in iter
        # the loop tests 'iter < dirty_threshold' after scoring: at least one entry
        walk = oldest_first(inserted[ok], keys[ok], max(dirty_threshold, 1))
        if walk.size == 0:
            return -1
        cost, age = atgc_scores(
            mt[walk], view.valid[visited[walk]], view.blocks_per_seg, dirty_min, self.dirty_max_mtime, self.age_weight
        )
        # first strict minimum of cost, ties to a strictly larger age
        best_cost = cost.min()
        if int(best_cost) >= UINT_MAX:
            return -1
        tied = np.flatnonzero(cost == best_cost)
        pick = tied[int(np.argmax(age[tied]))]
        return int(visited[walk[pick]])
