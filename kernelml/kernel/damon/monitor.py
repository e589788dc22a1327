"""kdamond: the monitoring thread's control loop (mm/damon/core.c kdamond_fn).

One :class:`Kdamond` monitors one target, the workload's dense page space
on a :class:`~.memory.MemoryModel`, and applies DAMOS schemes to it.  The
workload is fed in chunks (:meth:`Kdamond.feed`); sampling intervals and
the page accesses between them run in numba (:func:`.ops.kdamond_samples`),
and at every aggregation boundary the control path runs in Python, in the
kernel's order:

1. kdamond_merge_regions with threshold ``max_nr_accesses / 10`` and the
   size limit ``total / min_nr_regions`` (damon_region_sz_limit);
2. kdamond_apply_schemes: for every scheme its watermarks keep active,
   damos_adjust_quota (charge window, effective quota, score histogram and
   ``min_score``), then the walk: ``choose(view)`` picks regions (default:
   :func:`.choose.damos_choose`), which are cut at the quota, handed to the
   ops (:func:`.ops.pa_apply`) and charged; their age restarts at 0 unless
   the action is stat;
3. kdamond_tune_intervals when intervals auto-tuning is on;
4. the damon_aggregated tracepoint (the ``on_aggregate`` hook receives
   per-region ``[start, end, nr_accesses, age]`` int64 records, addresses in
   bytes), kdamond_reset_aggregated and kdamond_split_regions.

Departures, besides those listed in :mod:`.ops` and :mod:`.regions`:
schemes are walked one after the other rather than interleaved region by
region; watermarks are checked at the start of every sampling interval (as
kdamond_wait_activation does) but the after_wmarks_check callback and
damon_call are not modelled; the target starts as one region over the
whole page space (paddr's init) unless ``init_regions="even"``.
"""

from __future__ import annotations

import numpy as np

from . import rng as _rng
from .attrs import DamonAttrs, tune_intervals, update_monitoring_results
from .choose import RegionsView, damos_choose, validate_choices
from .memory import PAGE_SHIFT, MemoryModel
from .ops import (
    MS_MAX_NR, MS_NEXT_AGGR, MS_NOW, MS_NR, MS_PASSED, MS_PREPARED, MS_SAMPLE_US, MS_SAMPLES,
    MS_SLEPT_US, N_MS, ST_AGGREGATE, ST_DONE, kdamond_samples, pa_apply,
)
from .regions import (
    AGE, END, LAST, NR, START, even_regions, merge_regions, new_regions, region_sz_limit,
    reset_aggregated, split_region_at, split_regions,
)
from .schemes import Action, Scheme, scheme_scores, valid_mask
from .watermarks import W_ACTIVATED, table

_EMPTY = np.zeros(0, np.int64)


class Kdamond:
    """A DAMON context with its kdamond, on one memory model.

    ``attrs``: :class:`~.attrs.DamonAttrs`.  ``schemes``: DAMOS schemes.
    ``seed``: seeds region sampling and split points.  ``on_aggregate(now_us,
    records)``: optional telemetry hook, called once per aggregation.
    """

    def __init__(self, mem: MemoryModel, attrs: DamonAttrs | None = None, schemes=(), seed: int = 0,
                 init_regions: str = "paddr", on_aggregate=None) -> None:
        self.mem = mem
        self.attrs = (attrs or DamonAttrs()).validate()
        self.schemes: list[Scheme] = list(schemes)
        self.wm = table([s.wmarks for s in self.schemes])
        a = self.attrs
        self.capacity = 2 * a.max_nr_regions + 64
        if init_regions == "paddr":
            self.R, nr = new_regions(self.capacity, 0, mem.n)
        elif init_regions == "even":
            self.R, nr = even_regions(self.capacity, 0, mem.n, a.min_nr_regions)
        else:
            raise ValueError("init_regions must be 'paddr' or 'even'")
        self.scratch = np.zeros_like(self.R)
        self.rng = _rng.new_state(seed)
        self.ms = np.zeros(N_MS, np.int64)
        self.ms[MS_SAMPLE_US] = a.sample_interval_us
        self.ms[MS_NEXT_AGGR] = a.aggr_interval_us // a.sample_interval_us
        self.ms[MS_NR] = nr
        self.sz_limit = region_sz_limit(self.R, nr, a.min_nr_regions)
        self.last_nr_regions = 0
        self.next_tune_sis = int(self.ms[MS_NEXT_AGGR]) * a.intervals_goal.aggrs
        self.on_aggregate = on_aggregate
        self.aggregations = 0
        self.regions_sum = 0
        self.tunes = 0
        self.started = False

    # -- driving -------------------------------------------------------------
    @property
    def nr_regions(self) -> int:
        return int(self.ms[MS_NR])

    @property
    def now_us(self) -> int:
        return int(self.ms[MS_NOW])

    def start(self, t0_us: int) -> None:
        self.ms[MS_NOW] = t0_us
        self.started = True

    def _run(self, times: np.ndarray, pages: np.ndarray, final_us: int) -> None:
        m = self.mem
        pos, n = 0, int(times.shape[0])
        while True:
            pos, st = kdamond_samples(m.flags, m.lru, m.shadow, m.ctr, m.prm, m.rlog, times, pages,
                                      pos, n, final_us, self.R, self.ms, self.rng, self.wm, m.use_lists)
            if st == ST_AGGREGATE:
                self._aggregate()
                continue
            if st == ST_DONE or pos >= n:
                break
        m.flush_refaults()

    def feed(self, times: np.ndarray, pages: np.ndarray) -> None:
        """Apply a chunk of accesses (int64 us, int64 dense page numbers)."""
        if not self.started:
            self.start(int(times[0]) if times.shape[0] else 0)
        self._run(times, pages, -1)

    def finish(self, end_us: int) -> None:
        """The stream ended: run the monitor until ``end_us``."""
        if not self.started:
            self.start(end_us)
        self._run(_EMPTY, _EMPTY, int(end_us))
        self.mem.advance_to(end_us)

    # -- one aggregation ---------------------------------------------------------
    def _aggregate(self) -> None:
        a = self.attrs
        ms, R = self.ms, self.R
        nr = merge_regions(R, int(ms[MS_NR]), int(ms[MS_MAX_NR]) // 10, self.sz_limit,
                           a.max_nr_regions, a.aggr_interval_us // a.sample_interval_us)
        ms[MS_NR] = nr
        log = self.mem.drain_refault_log()
        self.apply_schemes(log)
        if a.intervals_goal.aggrs and ms[MS_PASSED] >= self.next_tune_sis:
            self.next_tune_sis += a.aggr_samples * a.intervals_goal.aggrs
            new = tune_intervals(R, int(ms[MS_NR]), a)
            if new is not None:
                update_monitoring_results(R, int(ms[MS_NR]), a, new)
                self.attrs = a = new
                ms[MS_SAMPLE_US] = a.sample_interval_us
                self.tunes += 1
        ms[MS_NEXT_AGGR] = ms[MS_PASSED] + a.aggr_interval_us // a.sample_interval_us
        nr = int(ms[MS_NR])
        if self.on_aggregate is not None:
            self.on_aggregate(int(ms[MS_NOW]), self.records())
        reset_aggregated(R, nr)
        nr, self.last_nr_regions = split_regions(R, nr, a.max_nr_regions, self.last_nr_regions,
                                                 self.rng, self.scratch)
        ms[MS_NR] = nr
        ms[MS_PREPARED] = 0
        self.aggregations += 1
        self.regions_sum += nr

    def records(self) -> np.ndarray:
        """Per-region ``[start, end, nr_accesses, age]`` (bytes, int64)."""
        nr = int(self.ms[MS_NR])
        R = self.R
        return np.stack([R[START, :nr] << PAGE_SHIFT, R[END, :nr] << PAGE_SHIFT, R[NR, :nr], R[AGE, :nr]],
                        axis=1)

    # -- DAMOS -------------------------------------------------------------------
    def apply_schemes(self, log: np.ndarray | None = None) -> None:
        """kdamond_apply_schemes for the schemes active now."""
        active = [s for i, s in enumerate(self.schemes) if self.wm[i, W_ACTIVATED]]
        if not active:
            return
        now = int(self.ms[MS_NOW])
        for s in active:
            q = s.quota
            if not q.enabled:
                continue
            if q.new_window(now, self.mem):
                s.stat.qt_exceeds += 1
            valid, scores, sizes = self._pattern(s)
            q.set_min_score(scores, sizes, valid)
        for s in active:
            if s.quota.exhausted():
                continue
            self.apply_scheme(s, log if log is not None else np.zeros(0, np.int64))

    def _pattern(self, s: Scheme):
        nr = int(self.ms[MS_NR])
        R = self.R
        st, en = R[START, :nr], R[END, :nr]
        valid = valid_mask(st, en, R[NR, :nr], R[AGE, :nr], s.pattern)
        scores = scheme_scores(s, R[NR, :nr], R[AGE, :nr], self.attrs.max_nr_accesses,
                               self.attrs.aggr_interval_us)
        return valid, scores, (en - st) << PAGE_SHIFT

    def _skip_charged(self, s: Scheme) -> int:
        """damos_skip_charged_region, done before the walk: returns the first
        region the walk may use, splitting the region at the charge point."""
        q = s.quota
        if q.charge_addr_from < 0:
            return 0
        P = q.charge_addr_from  # the kernel's charge_addr_from is byte P * 4096 + 1
        q.charge_addr_from = -1
        R = self.R
        nr = int(self.ms[MS_NR])
        j = int(np.searchsorted(R[START, :nr], P, side="right")) - 1
        if j >= nr - 1 or P >= R[END, nr - 1]:
            return nr  # the walk reached the last region with the pointer set
        j = max(j, 0)
        skip = P - int(R[START, j])  # ALIGN_DOWN(P * 4096 + 1 - start, 4096) in pages
        size = int(R[END, j] - R[START, j])
        if skip == 0:
            if size <= 1:
                return j + 1
            skip = 1
        if skip >= size or nr >= self.capacity:
            return j + 1
        self.ms[MS_NR] = split_region_at(R, nr, j, skip)
        return j + 1

    def view(self, s: Scheme, log: np.ndarray, first: int = 0) -> RegionsView:
        nr = int(self.ms[MS_NR])
        R = self.R
        valid, scores, _ = self._pattern(s)
        eligible = valid & (scores >= s.quota.min_score) if s.quota.esz else valid
        refaults = np.zeros(nr, np.int64)
        refaults_ml = np.zeros(nr, np.int64)
        if log.shape[0]:
            pages = log >> 1
            ridx = np.searchsorted(R[START, :nr], pages, side="right") - 1
            refaults = np.bincount(ridx, minlength=nr).astype(np.int64)
            ml = (log & 1) == 1
            refaults_ml = np.bincount(ridx[ml], minlength=nr).astype(np.int64)
        ro = []
        for arr in (R[START, :nr] << PAGE_SHIFT, R[END, :nr] << PAGE_SHIFT, R[NR, :nr].copy(),
                    R[AGE, :nr].copy(), R[LAST, :nr].copy(), refaults, refaults_ml, scores, eligible):
            arr.flags.writeable = False
            ro.append(arr)
        q = s.quota
        return RegionsView(int(self.ms[MS_NOW]), *ro, first=first, action=int(s.action),
                           min_score=q.min_score, quota_esz=q.esz, quota_charged=q.charged_sz,
                           sample_interval_us=self.attrs.sample_interval_us,
                           aggr_interval_us=self.attrs.aggr_interval_us,
                           max_nr_accesses=self.attrs.max_nr_accesses,
                           free_rate_pm=self.mem.free_rate_pm())

    def apply_scheme(self, s: Scheme, log: np.ndarray) -> None:
        """The walk of one scheme: choose, validate, cut at the quota, apply, charge."""
        first = self._skip_charged(s)
        v = self.view(s, log, first)
        choose = s.choose or damos_choose
        choices, rejected = validate_choices(choose(v), v)
        s.rejected += rejected
        q = s.quota
        m = self.mem
        R = self.R
        offset = 0
        for i, sz, src in choices:
            if q.exhausted():
                break
            idx = i + offset
            if q.esz and q.charged_sz + sz > q.esz:
                sz = ((q.esz - q.charged_sz) >> PAGE_SHIFT) << PAGE_SHIFT
                if not sz:
                    s.stat.update(0, 0, 0)
                    continue
            pages = sz >> PAGE_SHIFT
            nr = int(self.ms[MS_NR])
            if pages < R[END, idx] - R[START, idx]:
                if nr >= self.capacity:
                    s.rejected += 1
                    continue
                self.ms[MS_NR] = split_region_at(R, nr, idx, pages)
                offset += 1
            applied, ns = pa_apply(m.flags, m.lru, m.shadow, m.ctr, m.prm, int(R[START, idx]),
                                   int(R[END, idx]), int(s.action), src, m.use_lists)
            q.total_charged_ns += int(ns)
            q.charged_sz += sz
            if q.exhausted():
                q.charge_addr_from = int(R[END, idx])
            if s.action != Action.STAT:
                R[AGE, idx] = 0
            s.stat.update(sz, int(applied) << PAGE_SHIFT, int(applied) << PAGE_SHIFT)

    # -- results -------------------------------------------------------------------
    def stats(self) -> dict:
        ms = self.ms
        out = {
            "aggregations": self.aggregations,
            "samples": int(ms[MS_SAMPLES]),
            "slept_us": int(ms[MS_SLEPT_US]),
            "nr_regions": self.nr_regions,
            "regions_avg": self.regions_sum // max(self.aggregations, 1),
            "sample_interval_us": self.attrs.sample_interval_us,
            "aggr_interval_us": self.attrs.aggr_interval_us,
            "interval_tunes": self.tunes,
        }
        for k, s in enumerate(self.schemes):
            st = s.stat
            out[f"scheme{k}"] = {
                "action": s.action.name.lower(), "nr_tried": st.nr_tried, "sz_tried": st.sz_tried,
                "nr_applied": st.nr_applied, "sz_applied": st.sz_applied, "qt_exceeds": st.qt_exceeds,
                "esz": s.quota.esz, "rejected": s.rejected, "activated": int(self.wm[k, W_ACTIVATED]),
            }
        return out
