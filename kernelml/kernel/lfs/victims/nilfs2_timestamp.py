"""NILFS2 cleaner daemon, "timestamp" policy: oldest segment first, with a
protection period and cleanerd's own schedule.

Source: nilfs-utils ``sbin/cleanerd/cleanerd.c``:
``nilfs_cleanerd_select_segments()``, ``nilfs_comp_segimp()``,
``nilfs_cleanerd_handle_clean_check()``, ``nilfs_cleanerd_check_state()``,
``nilfs_cleanerd_recalc_interval()``, ``nilfs_cleanerd_clean_loop()``,
``nilfs_cleanerd_get_nrsvsegs()``; defaults in ``sbin/cleanerd/cldconfig.h``
and ``nilfs_cleanerd.conf``; percent conversion in ``cldconfig.c``
(``nilfs_convert_size_to_nsegments``); ``NILFS_MIN_NRSVSEGS`` = 8 in
``nilfs2_ondisk.h``; ``NILFS_DEF_RESERVED_SEGMENTS`` = 5 (%) in mkfs.

Selection (``nilfs_cleanerd_select_segments``).  Every reclaimable segment
(dirty, not active, not erroneous: our candidates) gets the importance
``sui_lastmod`` (``nilfs_cldconfig_selection_policy_timestamp``) and is kept if
``importance < thr`` and ``sui_lastmod < prottime``, where
``prottime = now - protection_period`` and ``thr = ss_nongc_ctime`` (the
selection threshold is 0 in the config, so the creation time of the latest
segment written by a non-GC log is used).  The kept segments are sorted by
(importance, segment number) and the first ``nsegments_per_clean`` are
cleaned.  :meth:`select` returns the first of them (the core calls it again
after each cleaning, which yields the same sequence since a cleaned
segment's live blocks land in a segment written now, hence protected).
``thr``: ``ss_nongc_ctime`` is the time of the latest user write, i.e. our
``view.now``, so ``lastmod < now``; it only matters with a zero protection
period.

Schedule.  cleanerd is a user-space daemon with its own timing, driven here
by :meth:`segments_to_clean`, which returns how many segments to clean now
(0 = none).  With ``r = max(ceil(nsegs * 5%), 8)`` reserved segments,
``min = ceil(nsegs * 10%)``, ``max = ceil(nsegs * 20%)`` (defaults):

* paused -> running when clean segments < min + r; running -> paused when
  clean segments > max + r; while paused it re-checks every
  ``clean_check_interval`` (10 s);
* while running, it cleans ``nsegments_per_clean`` (2) segments every
  ``cleaning_interval`` (5 s), or ``mc_nsegments_per_clean`` (4) every
  ``mc_cleaning_interval`` (1 s) when clean segments < min + r;
* the next run is due at a fixed cadence (``target += interval``); when the
  run is late (``now >= target``) the next one is immediate and the cadence
  restarts from now (``nilfs_cleanerd_recalc_interval``);
* when nothing is selectable: if no segment is reclaimable at all it pauses
  and sleeps ``protection_period``; otherwise it sleeps until the oldest
  candidate leaves the protection period (``oldest - prottime + 1``); either
  way at least ``clean_check_interval``.

Time scale.  cleanerd counts seconds; the logical clock counts user block
writes.  ``ticks_per_second`` (default 1) is how many block writes stand for
one second; all the second-valued settings are multiplied by it.  With the
default, the protection period is 3600 block writes and cleanerd can clean
2 segments per 5 writes, more than any writer needs.

Not modelled: ``min_reclaimable_blocks`` (only used with ``use_set_suinfo``,
off by default), the retry/fallback paths after failed or deferred
cleaning (cleaning always succeeds in the model), manual runs
(``nilfs-clean``), and the check that the file system changed since the
last idle check (``ss_nongc_ctime != prev_nongc_ctime``, only reached when
``min_clean_segments`` is 0).
"""

from __future__ import annotations

import numpy as np

from ..view import SegmentView, VictimPolicy

PROTECTION_PERIOD = 3600  # s: segments written more recently are not cleaned
MIN_CLEAN_SEGMENTS_PCT = 10  # % of segments: start (and accelerate) cleaning below this
MAX_CLEAN_SEGMENTS_PCT = 20  # % of segments: pause cleaning above this
CLEAN_CHECK_INTERVAL = 10  # s: re-check period while paused
NSEGMENTS_PER_CLEAN = 2  # segments per run
MC_NSEGMENTS_PER_CLEAN = 4  # segments per run when clean segments < min
CLEANING_INTERVAL = 5  # s between runs
MC_CLEANING_INTERVAL = 1  # s between runs when clean segments < min
RESERVED_SEGMENTS_PCT = 5  # % (mkfs.nilfs2 -r default, s_r_segments_percentage)
NILFS_MIN_NRSVSEGS = 8  # reserved segments at least
NSEGMENTS_PER_CLEAN_MAX = 32  # NILFS_CLDCONFIG_NSEGMENTS_PER_CLEAN_MAX


def pct_to_segments(nsegs: int, pct: int) -> int:
    """``nilfs_convert_size_to_nsegments()`` for a percent value (rounds up)."""
    return (nsegs * pct + 99) // 100


class Nilfs2Timestamp(VictimPolicy):
    """NILFS2 cleanerd timestamp policy (nilfs-utils cleanerd.c
    nilfs_cleanerd_select_segments): oldest su_lastmod first, segments
    younger than the protection period excluded; segments_to_clean() runs
    cleanerd's min/max clean-segment schedule."""

    name = "nilfs2-timestamp"

    def __init__(
        self,
        ticks_per_second: int = 1,
        protection_period: int = PROTECTION_PERIOD,
        min_clean_segments_pct: int = MIN_CLEAN_SEGMENTS_PCT,
        max_clean_segments_pct: int = MAX_CLEAN_SEGMENTS_PCT,
        clean_check_interval: int = CLEAN_CHECK_INTERVAL,
        nsegments_per_clean: int = NSEGMENTS_PER_CLEAN,
        mc_nsegments_per_clean: int = MC_NSEGMENTS_PER_CLEAN,
        cleaning_interval: int = CLEANING_INTERVAL,
        mc_cleaning_interval: int = MC_CLEANING_INTERVAL,
        reserved_segments_pct: int = RESERVED_SEGMENTS_PCT,
    ) -> None:
        """Times are in seconds (as in nilfs_cleanerd.conf) and converted
        with ``ticks_per_second``; percentages are of all segments."""
        if ticks_per_second < 1:
            raise ValueError("ticks_per_second must be >= 1")
        for name, val in (("min_clean_segments_pct", min_clean_segments_pct),
                          ("max_clean_segments_pct", max_clean_segments_pct),
                          ("reserved_segments_pct", reserved_segments_pct)):
            if not 0 <= val <= 100:
                raise ValueError(f"{name} is a percentage")
        if protection_period < 0 or clean_check_interval < 0 or cleaning_interval < 0 or mc_cleaning_interval < 0:
            raise ValueError("times must be >= 0")
        tps = ticks_per_second
        self.protection = protection_period * tps
        self.check_interval = clean_check_interval * tps
        self.interval = cleaning_interval * tps
        self.mc_interval = mc_cleaning_interval * tps
        self.min_pct = min_clean_segments_pct
        self.max_pct = max_clean_segments_pct
        self.r_pct = reserved_segments_pct
        self.nsegs = min(nsegments_per_clean, NSEGMENTS_PER_CLEAN_MAX)
        self.mc_nsegs = min(mc_nsegments_per_clean, NSEGMENTS_PER_CLEAN_MAX)
        self.reset()

    def reset(self) -> None:
        self.running = 1  # cleanerd->running: 1 running, 0 paused
        self.next_wake: int | None = None  # tick of the next loop iteration (None: not started)
        self.target = 0  # cleanerd->target: due time of the next regular run

    # -- selection -------------------------------------------------------
    def _selectable(self, view: SegmentView) -> tuple[np.ndarray, np.ndarray]:
        """(reclaimable segments with importance < thr, the subset outside
        the protection period) as index arrays."""
        idx = np.flatnonzero(view.candidate)
        lm = view.lastmod[idx].astype(np.int64)
        now = int(view.now)
        below = idx[lm < now]  # importance (= lastmod) < thr (= ss_nongc_ctime = now)
        prottime = now - self.protection
        return below, below[view.lastmod[below] < prottime]

    def select(self, view: SegmentView) -> int:
        _, ok = self._selectable(view)
        if ok.size == 0:
            return -1
        # sort by (importance, segnum): the lowest lastmod, lowest index on ties
        return int(ok[int(np.argmin(view.lastmod[ok]))])

    # -- schedule --------------------------------------------------------
    def segments_to_clean(self, view: SegmentView) -> int:
        """How many segments cleanerd cleans at ``view.now`` (0: none).

        Call it whenever the simulator can run background work (e.g. after
        each user write or batch of writes); when it returns k > 0, clean up
        to k segments by calling :meth:`select` before each one (stop at -1).
        Calls before the next wake-up return 0 and cost nothing.
        """
        now = int(view.now)
        total = int(view.total_segments)
        clean = int(view.free_segments)
        if self.next_wake is None:  # daemon start: nilfs_cleanerd_clean_loop
            self.target = now + self.interval  # nilfs_cleanerd_init_interval
            self.running = 0 if self.min_pct > 0 else 1  # automatic suspend: pause
            self.next_wake = now  # the first iteration runs at once
        if now < self.next_wake:
            return 0
        r = max(pct_to_segments(total, self.r_pct), NILFS_MIN_NRSVSEGS)
        low = pct_to_segments(total, self.min_pct) + r
        high = pct_to_segments(total, self.max_pct) + r
        if self.min_pct > 0:  # nilfs_cleanerd_handle_clean_check
            if self.running == 1 and clean > high:
                self.running = 0
                self.next_wake = now + self.check_interval
                return 0
            if self.running == 0:
                if clean < low:
                    self.running = 1
                else:
                    self.next_wake = now + self.check_interval
                    return 0
        if clean < low:  # disk space is close to the limit: accelerate
            nper, interval = self.mc_nsegs, self.mc_interval
        else:
            nper, interval = self.nsegs, self.interval
        below, ok = self._selectable(view)
        chosen = min(int(ok.size), nper)
        if chosen == 0:  # nilfs_cleanerd_recalc_interval, nothing cleaned
            prottime = now - self.protection
            if below.size == 0:  # no reclaimable segment: oldest == NULLTIME
                self.running = 0
                wait = self.protection
            else:
                oldest = int(view.lastmod[below].min())
                wait = oldest - prottime + 1 if oldest > prottime else 1
            self.next_wake = now + max(wait, self.check_interval)
            return 0
        if now >= self.target:  # late: run again at once, restart the cadence
            self.next_wake = now
            self.target = now + interval
        else:
            self.next_wake = self.target
            self.target += interval
        return chosen
