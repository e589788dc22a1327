"""Physical-address monitoring operations on the memory model (mm/damon/paddr.c).

Access checks (damon_pa_prepare_access_checks, damon_pa_check_accesses):
at the start of every sampling interval each region picks one random page
(damon_rand(start, end)) and makes it old (damon_pa_mkold ->
damon_ptep_mkold: a young PTE becomes old and PG_young is set so that
reclaim still sees the reference; PG_idle is set).  At the end of the
interval the page counts as accessed if it is resident and young or not
idle (damon_folio_young); the region's nr_accesses grows by one
(damon_update_region_access_rate).  Pages that are not resident (never
touched, or paged out) have no folio on the LRU: mkold does nothing and
the check reports no access, as damon_get_folio returning NULL does.

:func:`kdamond_samples` runs the sampling part of kdamond_fn's loop in
numba, applying the workload's page accesses in between: watermark check
(kdamond_wait_activation), prepare, the accesses of one sampling interval,
check.  It returns to the caller when an aggregation is due, when it needs
more input, or when the run is over.  While every scheme is deactivated
the monitor sleeps (no sampling) for the wait the watermarks ask.
Departure: the paddr ops' one-entry cache of the last checked folio
(last_addr / last_folio_sz) is not modelled; pages are 4 KiB folios.

Actions (damon_pa_apply_scheme) on a page range [start, end):

* PAGEOUT (damon_pa_pageout): the built-in young filter skips pages that
  are young (and makes them old); the rest lose PG_referenced and PG_young
  and are reclaimed (reclaim_pages ignores references).
* LRU_PRIO (damon_pa_mark_accessed -> folio_mark_accessed): a page without
  PG_referenced gets it; one with it is activated (and loses it).
* LRU_DEPRIO (damon_pa_deactivate_pages -> folio_deactivate ->
  lru_deactivate): an active page moves to the inactive list head, losing
  PG_active and PG_referenced; inactive pages are left alone.
* STAT: nothing (damon_pa_stat returns 0 without filters).

Cost of an action: ``pages walked * scan_ns + pages reclaimed *
pageout_ns`` (the walk visits every page frame of the range, as
damon_pa_pageout does with damon_get_folio), charged to ``C_RECLAIM_NS``;
it is also the time the quota is charged with (damos_apply_scheme measures
the ops call, with a coarse clock in the kernel, with this model here).
kdamond's work does not stall the workload.
"""

from __future__ import annotations

from numba import njit

from .memory import (
    C_NONRES_AGE, C_NR_ACTIVE, C_NR_INACTIVE, C_PGACTIVATE, C_PGDEACTIVATE, C_RECLAIM_NS,
    C_SCANNED, F_ACTIVE, F_IDLE, F_PGYOUNG, F_REFERENCED, F_RESIDENT, F_YOUNG, P_PAGEOUT_NS,
    P_SCAN_NS, advance_clock, evict, list_add_head, list_del,
)
from .regions import END, NR, SAMP, START
from .rng import damon_rand
from .vmscan import access_until
from .watermarks import min_wait_us

# monitor state vector (int64)
MS_NOW = 0  # start of the current sampling interval, us
MS_SAMPLE_US = 1
MS_PASSED = 2  # passed_sample_intervals
MS_NEXT_AGGR = 3  # next_aggregation_sis
MS_PREPARED = 4  # 1: access checks prepared for the current interval
MS_NR = 5  # number of regions
MS_MAX_NR = 6  # max nr_accesses at the last check
MS_SLEEP_UNTIL = 7  # >0: sleeping (all schemes inactive) until this time
MS_SLEPT_US = 8  # total time slept
MS_SAMPLES = 9  # sampling intervals run (for speed accounting)
N_MS = 10

ST_NEED_INPUT = 0
ST_AGGREGATE = 1
ST_DONE = 2

A_PAGEOUT = 2
A_LRU_PRIO = 5
A_LRU_DEPRIO = 6
A_STAT = 9


@njit(cache=True)
def mkold(flags, p):
    """damon_ptep_mkold on a resident page: young PTE -> old + PG_young; PG_idle."""
    f = flags[p]
    if f & F_RESIDENT:
        if f & F_YOUNG:
            f = (f & ~F_YOUNG) | F_PGYOUNG
        flags[p] = f | F_IDLE


@njit(cache=True)
def pa_young(flags, p):
    """damon_pa_young: resident and (young PTE or not idle)."""
    f = flags[p]
    return (f & F_RESIDENT) != 0 and ((f & F_YOUNG) != 0 or (f & F_IDLE) == 0)


@njit(cache=True)
def kdamond_samples(flags, lru, shadow, ctr, prm, rlog, times, pages, pos, n, final_us,
                    R, ms, rng, wm, use_lists):
    """Run sampling intervals; returns (pos, status).

    ``final_us`` < 0: more input will come; otherwise the stream has ended
    and sampling runs until the next interval would pass ``final_us``.
    """
    while True:
        # sleeping because every scheme is deactivated by its watermarks
        if ms[MS_SLEEP_UNTIL] > 0:
            until = ms[MS_SLEEP_UNTIL]
            if final_us >= 0 and until > final_us:
                until = final_us
            pos = access_until(flags, lru, shadow, ctr, prm, rlog, times, pages, pos, n, until, use_lists)
            if pos >= n and final_us < 0:
                return pos, ST_NEED_INPUT
            ms[MS_SLEPT_US] += until - ms[MS_NOW]
            ms[MS_NOW] = until
            ms[MS_SLEEP_UNTIL] = 0
            if final_us >= 0 and until >= final_us:
                return pos, ST_DONE
        if ms[MS_PREPARED] == 0:
            wait = min_wait_us(wm, ctr, prm)
            if wait > 0:
                ms[MS_SLEEP_UNTIL] = ms[MS_NOW] + wait
                continue
            nr = ms[MS_NR]
            for r in range(nr):
                p = damon_rand(rng, R[START, r], R[END, r])
                R[SAMP, r] = p
                mkold(flags, p)
            ms[MS_PREPARED] = 1
        t_next = ms[MS_NOW] + ms[MS_SAMPLE_US]
        if final_us >= 0 and t_next > final_us:
            pos = access_until(flags, lru, shadow, ctr, prm, rlog, times, pages, pos, n, final_us, use_lists)
            return pos, ST_DONE
        pos = access_until(flags, lru, shadow, ctr, prm, rlog, times, pages, pos, n, t_next, use_lists)
        if pos >= n and final_us < 0:
            return pos, ST_NEED_INPUT
        ms[MS_NOW] = t_next
        ms[MS_PASSED] += 1
        ms[MS_SAMPLES] += 1
        advance_clock(ctr, t_next)
        max_nr = 0
        for r in range(ms[MS_NR]):
            if pa_young(flags, R[SAMP, r]):
                R[NR, r] += 1
            if R[NR, r] > max_nr:
                max_nr = R[NR, r]
        ms[MS_MAX_NR] = max_nr
        ms[MS_PREPARED] = 0
        if ms[MS_PASSED] >= ms[MS_NEXT_AGGR]:
            return pos, ST_AGGREGATE


@njit(cache=True)
def pa_apply(flags, lru, shadow, ctr, prm, start, end, action, src, use_lists):
    """Apply ``action`` to pages [start, end); returns (applied pages, ns).

    ``src``: lineage of pageouts (0 human-made, 1 ML).
    """
    n = flags.shape[0]
    applied = 0
    if action == A_STAT:
        return 0, 0
    walked = end - start
    for p in range(start, end):
        f = flags[p]
        if not (f & F_RESIDENT):
            continue
        if action == A_PAGEOUT:
            if (f & F_YOUNG) or not (f & F_IDLE):
                mkold(flags, p)
                continue
            flags[p] = f & ~(F_REFERENCED | F_PGYOUNG) & 0xFF
            evict(flags, lru, shadow, ctr, p, src, use_lists)
            applied += 1
        elif action == A_LRU_PRIO:
            if not (f & F_REFERENCED):
                f = f | F_REFERENCED
            elif not (f & F_ACTIVE):
                if use_lists:
                    list_del(lru, p)
                    list_add_head(lru, n + 1, p)
                    ctr[C_NR_INACTIVE] -= 1
                    ctr[C_NR_ACTIVE] += 1
                f = (f | F_ACTIVE) & ~F_REFERENCED & 0xFF
                ctr[C_PGACTIVATE] += 1
                ctr[C_NONRES_AGE] += 1  # workingset_activation
            flags[p] = f & ~F_IDLE & 0xFF
            applied += 1
        elif action == A_LRU_DEPRIO:
            if f & F_ACTIVE:
                if use_lists:
                    list_del(lru, p)
                    list_add_head(lru, n, p)
                    ctr[C_NR_ACTIVE] -= 1
                    ctr[C_NR_INACTIVE] += 1
                ctr[C_PGDEACTIVATE] += 1
                flags[p] = f & ~(F_ACTIVE | F_REFERENCED) & 0xFF
            applied += 1
    ns = walked * prm[P_SCAN_NS]
    if action == A_PAGEOUT:
        ns += applied * prm[P_PAGEOUT_NS]
    ctr[C_SCANNED] += walked
    ctr[C_RECLAIM_NS] += ns
    return applied, ns
