"""Linux-like LRU reclaim on the memory model, and the page-access loop.

Follows mm/vmscan.c (the classic two-list LRU, not MGLRU), simplified to
one anonymous lruvec:

* :func:`shrink_active_list` (mm/vmscan.c shrink_active_list): takes up to
  ``nr`` pages from the tail of the active list; each one's references are
  consumed (folio_referenced clears the young bits) and it moves to the head
  of the inactive list.  Referenced executable file pages would be rotated;
  there are none here.
* :func:`shrink_inactive_list` (mm/vmscan.c shrink_inactive_list and
  shrink_folio_list): takes up to ``nr`` pages from the inactive tail and
  asks :func:`check_references` (mm/vmscan.c folio_check_references):
  referenced by a PTE and PG_referenced already set, activate; referenced
  by a PTE only, set PG_referenced and keep it on the inactive list (a
  second trip); not referenced, reclaim.
* :func:`inactive_is_low` (mm/vmscan.c inactive_is_low): inactive_ratio =
  int_sqrt(10 * size in GiB), or 1 below 1 GiB.
* :func:`limit_reclaim`: the memcg limit path (mm/memcontrol.c try_charge
  -> try_to_free_mem_cgroup_pages, nr_to_reclaim = max(excess,
  SWAP_CLUSTER_MAX)) as a loop of 32-page batches: deactivate when the
  inactive list is low, then shrink the inactive list.

Simplified: no scan priorities (shrink_lruvec's size >> priority), no
swappiness balancing (anon only), no kswapd watermarks, no dirty/writeback
states, no isolation failures.  Reclaim time is ``scanned * scan_ns +
reclaimed * pageout_ns``; when ``P_DIRECT_STALL`` is set it also stalls the
workload (memcg limit and memory.high reclaim run in the faulting task,
inside psi_memstall_enter/leave).
"""

from __future__ import annotations

from numba import njit

from .memory import (
    C_ACCESSES, C_DIRECT_RECLAIMS, C_LIMIT, C_NONRES_AGE, C_NR_ACTIVE, C_NR_INACTIVE,
    C_PGACTIVATE, C_PGDEACTIVATE, C_RECLAIM_NS, C_RESIDENT, C_SCANNED, C_STALL_NS,
    F_ACTIVE, F_IDLE, F_PGYOUNG, F_REFERENCED, F_RESIDENT, F_YOUNG, P_DIRECT_STALL,
    P_PAGEOUT_NS, P_SCAN_NS, PAGE_SHIFT, SWAP_CLUSTER_MAX, advance_clock, evict, fault_in,
    list_add_head, list_del,
)

REF_RECLAIM = 0
REF_KEEP = 1
REF_ACTIVATE = 2


@njit(cache=True)
def int_sqrt(x):
    """Integer square root (lib/math/int_sqrt.c semantics: floor)."""
    if x < 2:
        return x
    r = x
    y = (r + x // r) // 2
    while y < r:
        r = y
        y = (r + x // r) // 2
    return r


@njit(cache=True)
def folio_referenced(flags, p):
    """Test-and-clear the page's references (PTE young and PG_young).

    Returns 1 if referenced.  A reference also clears PG_idle (mm/rmap.c
    folio_referenced_one).
    """
    f = flags[p]
    if f & (F_YOUNG | F_PGYOUNG):
        flags[p] = (f & ~(F_YOUNG | F_PGYOUNG | F_IDLE)) & 0xFF
        return 1
    return 0


@njit(cache=True)
def check_references(flags, p):
    """mm/vmscan.c folio_check_references for a mapped anonymous page."""
    referenced_ptes = folio_referenced(flags, p)
    f = flags[p]
    referenced_folio = (f & F_REFERENCED) != 0
    if referenced_folio:
        flags[p] = (f & ~F_REFERENCED) & 0xFF
    if referenced_ptes:
        flags[p] = flags[p] | F_REFERENCED
        if referenced_folio:
            return REF_ACTIVATE
        return REF_KEEP
    return REF_RECLAIM


@njit(cache=True)
def inactive_is_low(ctr):
    inactive = ctr[C_NR_INACTIVE]
    active = ctr[C_NR_ACTIVE]
    gb = (inactive + active) >> (30 - PAGE_SHIFT)
    ratio = int_sqrt(10 * gb) if gb else 1
    return inactive * ratio < active


@njit(cache=True)
def shrink_active_list(flags, lru, ctr, nr):
    """Deactivate up to ``nr`` pages from the active tail; returns pages scanned."""
    n = flags.shape[0]
    head_a = n + 1
    head_i = n
    todo = min(nr, ctr[C_NR_ACTIVE])
    scanned = 0
    for _ in range(todo):
        p = lru[0, head_a]
        if p == head_a:
            break
        folio_referenced(flags, p)
        list_del(lru, p)
        flags[p] = (flags[p] & ~F_ACTIVE) & 0xFF
        list_add_head(lru, head_i, p)
        ctr[C_NR_ACTIVE] -= 1
        ctr[C_NR_INACTIVE] += 1
        ctr[C_PGDEACTIVATE] += 1
        scanned += 1
    return scanned


@njit(cache=True)
def shrink_inactive_list(flags, lru, shadow, ctr, nr):
    """Scan up to ``nr`` pages from the inactive tail; returns (reclaimed, scanned)."""
    n = flags.shape[0]
    head_a = n + 1
    head_i = n
    todo = min(nr, ctr[C_NR_INACTIVE])
    reclaimed = 0
    scanned = 0
    for _ in range(todo):
        p = lru[0, head_i]
        if p == head_i:
            break
        scanned += 1
        ref = check_references(flags, p)
        if ref == REF_ACTIVATE:
            list_del(lru, p)
            flags[p] = flags[p] | F_ACTIVE
            list_add_head(lru, head_a, p)
            ctr[C_NR_INACTIVE] -= 1
            ctr[C_NR_ACTIVE] += 1
            ctr[C_PGACTIVATE] += 1
            ctr[C_NONRES_AGE] += 1  # workingset_activation ages the nonresident clock
        elif ref == REF_KEEP:
            list_del(lru, p)
            list_add_head(lru, head_i, p)
        else:
            evict(flags, lru, shadow, ctr, p, 0, True)
            reclaimed += 1
    return reclaimed, scanned


@njit(cache=True)
def reclaim_pages_lru(flags, lru, shadow, ctr, prm, nr_to_reclaim, stall):
    """Reclaim at least ``nr_to_reclaim`` pages (or all it can) from the lists.

    Returns pages reclaimed; charges the CPU time to ``C_RECLAIM_NS`` and,
    if ``stall`` (reclaim in the workload's context), to the stall time.
    """
    reclaimed = 0
    scanned = 0
    budget = 4 * (ctr[C_NR_INACTIVE] + ctr[C_NR_ACTIVE]) + 4 * SWAP_CLUSTER_MAX
    while reclaimed < nr_to_reclaim and ctr[C_RESIDENT] > 0 and scanned < budget:
        if inactive_is_low(ctr) or ctr[C_NR_INACTIVE] == 0:
            scanned += shrink_active_list(flags, lru, ctr, SWAP_CLUSTER_MAX)
        got, sc = shrink_inactive_list(flags, lru, shadow, ctr, SWAP_CLUSTER_MAX)
        reclaimed += got
        scanned += sc
    ns = scanned * prm[P_SCAN_NS] + reclaimed * prm[P_PAGEOUT_NS]
    ctr[C_SCANNED] += scanned
    ctr[C_RECLAIM_NS] += ns
    if stall:
        ctr[C_STALL_NS] += ns
    return reclaimed


@njit(cache=True)
def limit_reclaim(flags, lru, shadow, ctr, prm):
    """Bring resident pages back under ``C_LIMIT`` (memcg try_charge path)."""
    excess = ctr[C_RESIDENT] - ctr[C_LIMIT]
    if excess <= 0:
        return 0
    ctr[C_DIRECT_RECLAIMS] += 1
    want = excess if excess > SWAP_CLUSTER_MAX else SWAP_CLUSTER_MAX
    return reclaim_pages_lru(flags, lru, shadow, ctr, prm, want, prm[P_DIRECT_STALL] != 0)


def reclaim_to_limit(mem) -> int:
    """Reclaim down to the memory limit now, outside the workload's context
    (mm/memcontrol.c memory_high_write / memory_max_write reclaim in the
    writer's task, so the workload does not stall).  Returns pages reclaimed."""
    excess = int(mem.ctr[C_RESIDENT] - mem.ctr[C_LIMIT])
    if mem.ctr[C_LIMIT] <= 0 or excess <= 0:
        return 0
    return int(reclaim_pages_lru(mem.flags, mem.lru, mem.shadow, mem.ctr, mem.prm, excess, False))


@njit(cache=True)
def access_until(flags, lru, shadow, ctr, prm, rlog, times, pages, pos, n, t_until, use_lists):
    """Apply accesses ``pos .. n-1`` whose time is before ``t_until``.

    Each access sets the PTE young bit; an absent page is faulted in
    (first touch or refault); above the memory limit, limit reclaim runs.
    Returns the index of the first access not applied.
    """
    limit = ctr[C_LIMIT]
    while pos < n:
        t = times[pos]
        if t >= t_until:
            break
        p = pages[pos]
        advance_clock(ctr, t)
        ctr[C_ACCESSES] += 1
        f = flags[p]
        if f & F_RESIDENT:
            if not (f & F_YOUNG):
                flags[p] = f | F_YOUNG
        else:
            fault_in(flags, lru, shadow, ctr, prm, rlog, p, use_lists)
            if limit > 0 and ctr[C_RESIDENT] > limit:
                limit_reclaim(flags, lru, shadow, ctr, prm)
        pos += 1
    return pos
