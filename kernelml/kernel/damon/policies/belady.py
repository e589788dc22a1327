"""``belady``: Belady's MIN for a memory budget, the offline optimum.

With the future known (the index of each access's next use), keep at most
``budget`` pages resident and, when a page must come in and the budget is
full, evict the resident page whose next use is farthest (L. A. Belady, "A
study of replacement algorithms for a virtual-storage computer", IBM
Systems Journal 5(2), 1966).  With demand paging and a fixed budget this
minimises misses, hence refaults, for that budget; sweeping the budget
traces the oracle curve of memory saving against slowdown
(``kernelml.bench.damon_run.oracle_curve``).

Not a kernel policy (it needs the future); an indexed binary max-heap of
the resident pages keyed by next use keeps each access O(log n).  The LRU
lists are not used.  The budget comes from ``--target-saving`` (default
25 %).  Evictions are charged ``pageout_ns`` of CPU; they do not stall the
workload (the reference point is the best case).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..memory import (
    C_ACCESSES, C_RECLAIM_NS, C_RESIDENT, F_RESIDENT, F_YOUNG, P_PAGEOUT_NS, advance_clock,
    evict, fault_in,
)
from .base import ReclaimPolicy

NEVER = 1 << 62


@njit(cache=True)
def next_use(pages, n_pages):
    """For each access, the index of the next access to the same page (NEVER if none)."""
    n = pages.shape[0]
    out = np.empty(n, np.int64)
    last = np.full(n_pages, NEVER, np.int64)
    for i in range(n - 1, -1, -1):
        p = pages[i]
        out[i] = last[p]
        last[p] = i
    return out


@njit(cache=True)
def _sift_up(hk, hp, where, i):
    while i > 0:
        parent = (i - 1) >> 1
        if hk[parent] >= hk[i]:
            break
        hk[parent], hk[i] = hk[i], hk[parent]
        hp[parent], hp[i] = hp[i], hp[parent]
        where[hp[i]] = i
        where[hp[parent]] = parent
        i = parent


@njit(cache=True)
def _sift_down(hk, hp, where, i, size):
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        big = left
        if left + 1 < size and hk[left + 1] > hk[left]:
            big = left + 1
        if hk[i] >= hk[big]:
            break
        hk[big], hk[i] = hk[i], hk[big]
        hp[big], hp[i] = hp[i], hp[big]
        where[hp[i]] = i
        where[hp[big]] = big
        i = big


@njit(cache=True)
def belady_feed(flags, lru, shadow, ctr, prm, rlog, times, pages, nxt, budget, hk, hp, where, hsize):
    """Apply accesses with MIN eviction; ``hsize[0]`` is the heap size."""
    size = hsize[0]
    for i in range(times.shape[0]):
        p = pages[i]
        advance_clock(ctr, times[i])
        ctr[C_ACCESSES] += 1
        key = nxt[i]
        if flags[p] & F_RESIDENT:
            flags[p] = flags[p] | F_YOUNG
            j = where[p]
            old = hk[j]
            hk[j] = key
            if key > old:
                _sift_up(hk, hp, where, j)
            else:
                _sift_down(hk, hp, where, j, size)
            continue
        if ctr[C_RESIDENT] >= budget and size > 0:
            victim = hp[0]
            size -= 1
            hk[0] = hk[size]
            hp[0] = hp[size]
            where[hp[0]] = 0
            where[victim] = -1
            _sift_down(hk, hp, where, 0, size)
            evict(flags, lru, shadow, ctr, victim, 0, False)
            ctr[C_RECLAIM_NS] += prm[P_PAGEOUT_NS]
        fault_in(flags, lru, shadow, ctr, prm, rlog, p, False)
        hk[size] = key
        hp[size] = p
        where[p] = size
        size += 1
        _sift_up(hk, hp, where, size - 1)
    hsize[0] = size


class Belady(ReclaimPolicy):
    """Belady's MIN under a memory budget: evict the page used farthest in the future (oracle)."""

    name = "belady"
    needs_future = True
    uses_lists = False

    def start(self, mem, setup) -> None:
        super().start(mem, setup)
        self.budget = setup.budget_pages(self.params.get("target_saving_pct"))
        n = mem.n
        self.hk = np.zeros(n, np.int64)
        self.hp = np.zeros(n, np.int64)
        self.where = np.full(n, -1, np.int64)
        self.hsize = np.zeros(1, np.int64)

    def feed(self, times, pages, next_use=None) -> None:
        if next_use is None:
            raise ValueError("belady needs the next-use index of every access")
        m = self.mem
        belady_feed(m.flags, m.lru, m.shadow, m.ctr, m.prm, m.rlog, times, pages, next_use, self.budget,
                    self.hk, self.hp, self.where, self.hsize)
        m.flush_refaults()

    def stats(self) -> dict:
        return {"budget_pages": self.budget}
