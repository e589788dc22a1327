"""The memory model every reclaim policy acts on: pages, LRU lists, refaults.

A *page* is one 4 KiB page of the workload, numbered densely ``0 .. n-1``
(the simulator maps the workload's page numbers onto this range, see
``kernelml.bench.damon_run``).  Each page is in one of three states:

* never touched (not yet faulted in, not on any LRU list);
* resident (on the inactive or the active LRU list);
* reclaimed (paged out to the swap device; a later access is a *refault*,
  which costs ``refault_ns`` of stall and makes the page resident again).

Per-page flags model what the kernel's reclaim paths look at:

=============  =================================================================
F_YOUNG        the PTE accessed bit, set by every access
F_PGYOUNG      PG_young: set when DAMON's mkold clears a young PTE, so that LRU
               reclaim still sees the reference (mm/damon/ops-common.c
               damon_ptep_mkold, mm/rmap.c folio_referenced_one)
F_IDLE         PG_idle: set by DAMON's mkold, cleared when reclaim finds the
               page referenced and by folio_mark_accessed; a page that was
               never made old is *not* idle, so DAMON's young check
               (damon_folio_young: pte young || !idle) reports it accessed
F_REFERENCED   PG_referenced (mm/vmscan.c folio_check_references)
F_ACTIVE       on the active list
F_SRC_ML       lineage: the page was last reclaimed by the ML source
=============  =================================================================

All pages are anonymous and swap-backed (no file pages, no dirty/clean
distinction, no THP): the write bit of a trace is ignored.

Lineage: every reclaim records the *source* (0 human-made, 1 ML); a
refault counts against that source (``C_REFAULTS_ML``) and is appended to a
bounded refault log (``page * 2 + source``) that DAMON drains per
aggregation to report refaults per region.  :meth:`MemoryModel.flush_refaults`
hands ``(source, count)`` to an optional callback, which is how the ML
proxy charges refaults by lineage.

Time and cost units: the clock is integer microseconds (the trace's
``time_us``); costs are integer nanoseconds.  ``C_RES_INT`` and
``C_TOUCH_INT`` integrate resident and touched pages over time (page x us)
so that the memory saving is an exact time average.

Machine: the workload shares a machine of ``P_TOTAL`` pages with
``P_OTHER`` pages used by everything else.  With a compressing swap device
(zram) each reclaimed page still occupies ``P_POOL_PM`` per mille of a page
in RAM.  Free memory, as DAMOS watermarks see it, is
``total - other - resident - reclaimed * pool_pm / 1000``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

# -- page flags (uint8) ------------------------------------------------------
F_TOUCHED = 1
F_RESIDENT = 2
F_YOUNG = 4
F_PGYOUNG = 8
F_IDLE = 16
F_REFERENCED = 32
F_ACTIVE = 64
F_SRC_ML = 128

# -- counters (int64) ---------------------------------------------------------
C_LAST_US = 0  # clock: time of the last event the integrals account for
C_ACCESSES = 1
C_TOUCHED = 2  # pages ever faulted in (the footprint so far)
C_RESIDENT = 3
C_NR_INACTIVE = 4
C_NR_ACTIVE = 5
C_FAULTS = 6  # first-touch faults (compulsory, not refaults)
C_REFAULTS = 7
C_REFAULTS_ML = 8
C_RECLAIMED = 9  # pages reclaimed (pageouts), cumulative
C_RECLAIMED_ML = 10
C_STALL_NS = 11  # time the workload was stalled on memory (the PSI "some" analogue)
C_RECLAIM_NS = 12  # CPU time spent reclaiming (scanning + pageout)
C_SCANNED = 13  # pages examined by reclaim
C_NONRES_AGE = 14  # lruvec->nonresident_age (evictions + activations)
C_WS_ACTIVATE = 15  # refaults activated by the workingset check
C_PGACTIVATE = 16
C_PGDEACTIVATE = 17
C_RES_INT = 18  # sum of resident pages x us
C_TOUCH_INT = 19  # sum of touched pages x us
C_LIMIT = 20  # memory limit in pages (memcg limit / memory.high); 0: none
C_DIRECT_RECLAIMS = 21  # invocations of limit reclaim
C_RLOG_N = 22  # entries in the refault log
C_RLOG_DROPPED = 23  # refaults not logged because the log was full
C_FIRST_US = 24  # time of the first access (-1 before)
C_REPORTED = 25  # refaults already handed to the callback (human)
C_REPORTED_ML = 26  # refaults already handed to the callback (ML)
N_CTR = 27

# -- parameters (int64) -------------------------------------------------------
P_REFAULT_NS = 0  # stall per refault
P_PAGEOUT_NS = 1  # CPU per page reclaimed (unmap + compress or submit)
P_SCAN_NS = 2  # CPU per page examined by a reclaim walk
P_DIRECT_STALL = 3  # 1: limit-triggered reclaim stalls the workload (counted in C_STALL_NS)
P_TOTAL = 4  # machine memory in pages
P_OTHER = 5  # pages used by everything but the workload
P_POOL_PM = 6  # per mille of a page a reclaimed page still occupies (zram pool)
N_PRM = 7

RLOG_CAP = 1 << 16  # refault log entries between drains
SWAP_CLUSTER_MAX = 32  # pages per reclaim batch (include/linux/swap.h)

HUMAN = 0
ML = 1


@dataclass(frozen=True)
class Device:
    """Costs of the swap device and of reclaim, in integer nanoseconds.

    ``refault_ns``: stall of one major fault that brings a page back.
    ``pageout_ns``: CPU to reclaim one page (unmap, TLB flush, and for
    zram the compression).  ``scan_ns``: CPU to examine one page (rmap
    walk, flag tests).  ``pool_pm``: per mille of a page a reclaimed page
    keeps occupying in RAM (the compressed copy in zram; 0 for a disk).
    """

    name: str
    refault_ns: int
    pageout_ns: int
    scan_ns: int
    pool_pm: int


# Assumed costs, documented rather than measured here:
# zram: lzo-rle / lz4 decompress a 4 KiB page in about 1-4 us (1-4 GB/s per
#   core) and compress it in about 4-8 us; a major fault through the swap
#   cache adds a few us.  20 us per refault and 10 us per pageout leave room
#   for contention.  Compression ratios of about 3:1 are typical for
#   anonymous memory, so a reclaimed page keeps a third of a page (333 pm).
# ssd: a 4 KiB random read from a TLC NVMe SSD takes about 80-100 us at
#   queue depth 1 (datasheet figures); with the swap-in path, 100 us.
#   Writeback is asynchronous, so a pageout costs only the unmap and the I/O
#   submission (5 us); the swap slot takes no RAM.
DEVICES = {
    "zram": Device("zram", refault_ns=20_000, pageout_ns=10_000, scan_ns=200, pool_pm=333),
    "ssd": Device("ssd", refault_ns=100_000, pageout_ns=5_000, scan_ns=200, pool_pm=0),
}


@dataclass(frozen=True)
class Machine:
    """Machine memory around the workload, in pages."""

    total: int
    other: int

    @staticmethod
    def default(footprint: int) -> "Machine":
        """Twice the workload's footprint, a quarter of it used by others.

        With the whole footprint resident, free memory is 25 % (250 per
        mille): DAMON_RECLAIM's watermarks (high 500, mid 400, low 200)
        keep it active, as on a machine under moderate memory pressure.  It
        becomes active once 70 % of the footprint has been touched (free
        below 400) and deactivates when reclaim has freed memory above 500
        per mille, i.e. after freeing about half the footprint.
        """
        total = max(2 * footprint, 16)
        return Machine(total=total, other=total // 4)


# -- list primitives ----------------------------------------------------------
# lru[0] = prev, lru[1] = next; sentinels: n = inactive head, n + 1 = active head.

@njit(cache=True)
def list_del(lru, p):
    pr = lru[0, p]
    nx = lru[1, p]
    lru[1, pr] = nx
    lru[0, nx] = pr
    lru[0, p] = p
    lru[1, p] = p


@njit(cache=True)
def list_add_head(lru, head, p):
    nx = lru[1, head]
    lru[0, p] = head
    lru[1, p] = nx
    lru[0, nx] = p
    lru[1, head] = p


@njit(cache=True)
def advance_clock(ctr, t):
    """Integrate resident and touched pages up to time ``t`` (us)."""
    last = ctr[C_LAST_US]
    if t > last:
        dt = t - last
        ctr[C_RES_INT] += ctr[C_RESIDENT] * dt
        ctr[C_TOUCH_INT] += ctr[C_TOUCHED] * dt
        ctr[C_LAST_US] = t


@njit(cache=True)
def fault_in(flags, lru, shadow, ctr, prm, rlog, p, use_lists):
    """Make page ``p`` resident after an access found it absent.

    First touch: a new anonymous page goes to the head of the inactive list
    (mm/swap.c folio_add_lru; new anon pages start inactive since 5.9).
    Refault: the page is charged to the source that reclaimed it, and the
    workingset check of mm/workingset.c (workingset_test_recent) activates
    it when its refault distance (evictions and activations since its
    eviction) is at most the active list's size.  The PTE starts young.
    """
    n = flags.shape[0]
    f = flags[p]
    active = False
    if f & F_TOUCHED:
        ctr[C_REFAULTS] += 1
        src = 1 if (f & F_SRC_ML) else 0
        if src:
            ctr[C_REFAULTS_ML] += 1
        ctr[C_STALL_NS] += prm[P_REFAULT_NS]
        k = ctr[C_RLOG_N]
        if k < rlog.shape[0]:
            rlog[k] = p * 2 + src
            ctr[C_RLOG_N] = k + 1
        else:
            ctr[C_RLOG_DROPPED] += 1
        if use_lists:
            distance = ctr[C_NONRES_AGE] - shadow[p]
            if distance <= ctr[C_NR_ACTIVE]:
                active = True
                ctr[C_WS_ACTIVATE] += 1
                ctr[C_NONRES_AGE] += 1  # workingset_age_nonresident on activation
    else:
        ctr[C_FAULTS] += 1
        ctr[C_TOUCHED] += 1
    ctr[C_RESIDENT] += 1
    if active:
        flags[p] = F_TOUCHED | F_RESIDENT | F_YOUNG | F_ACTIVE
        if use_lists:
            list_add_head(lru, n + 1, p)
            ctr[C_NR_ACTIVE] += 1
    else:
        flags[p] = F_TOUCHED | F_RESIDENT | F_YOUNG
        if use_lists:
            list_add_head(lru, n, p)
            ctr[C_NR_INACTIVE] += 1


@njit(cache=True)
def evict(flags, lru, shadow, ctr, p, src, use_lists):
    """Reclaim resident page ``p`` on behalf of ``src`` (0 human, 1 ML).

    Records the eviction in the shadow entry (mm/workingset.c
    workingset_eviction: the current nonresident_age, then age + 1).
    Costs are charged by the caller, which knows the reclaim context.
    """
    f = flags[p]
    if use_lists:
        list_del(lru, p)
        if f & F_ACTIVE:
            ctr[C_NR_ACTIVE] -= 1
        else:
            ctr[C_NR_INACTIVE] -= 1
    shadow[p] = ctr[C_NONRES_AGE]
    ctr[C_NONRES_AGE] += 1
    ctr[C_RESIDENT] -= 1
    ctr[C_RECLAIMED] += 1
    if src:
        ctr[C_RECLAIMED_ML] += 1
        flags[p] = F_TOUCHED | F_SRC_ML
    else:
        flags[p] = F_TOUCHED


@njit(cache=True)
def free_pages(ctr, prm):
    """Free machine pages (never negative)."""
    pool = (ctr[C_TOUCHED] - ctr[C_RESIDENT]) * prm[P_POOL_PM] // 1000
    free = prm[P_TOTAL] - prm[P_OTHER] - ctr[C_RESIDENT] - pool
    return free if free > 0 else 0


class MemoryModel:
    """Arrays and counters of one simulated workload's memory.

    ``n_pages``: pages of the dense page space.  ``device``: a
    :class:`Device` (costs).  ``machine``: a :class:`Machine` (sizes).
    ``use_lists``: maintain the LRU lists (every policy except Belady).
    ``on_refault(source, count)``: optional lineage callback, called by
    :meth:`flush_refaults`.
    """

    def __init__(self, n_pages: int, device: Device | None = None, machine: Machine | None = None,
                 use_lists: bool = True, direct_stall: bool = True, on_refault=None) -> None:
        if n_pages <= 0:
            raise ValueError("n_pages must be positive")
        self.n = int(n_pages)
        self.device = device or DEVICES["zram"]
        self.machine = machine or Machine.default(self.n)
        self.use_lists = bool(use_lists)
        self.on_refault = on_refault
        self.flags = np.zeros(self.n, np.uint8)
        self.shadow = np.zeros(self.n, np.int64)
        self.lru = np.empty((2, self.n + 2), np.int32)
        idx = np.arange(self.n + 2, dtype=np.int32)
        self.lru[0] = idx
        self.lru[1] = idx
        self.rlog = np.zeros(RLOG_CAP, np.int64)
        self.ctr = np.zeros(N_CTR, np.int64)
        self.ctr[C_FIRST_US] = -1
        self.prm = np.zeros(N_PRM, np.int64)
        self.prm[P_REFAULT_NS] = self.device.refault_ns
        self.prm[P_PAGEOUT_NS] = self.device.pageout_ns
        self.prm[P_SCAN_NS] = self.device.scan_ns
        self.prm[P_POOL_PM] = self.device.pool_pm
        self.prm[P_DIRECT_STALL] = 1 if direct_stall else 0
        self.prm[P_TOTAL] = self.machine.total
        self.prm[P_OTHER] = self.machine.other

    # -- clock and limit ---------------------------------------------------
    def start(self, t0_us: int) -> None:
        """Set the clock origin (the first access time)."""
        self.ctr[C_LAST_US] = t0_us
        self.ctr[C_FIRST_US] = t0_us

    def advance_to(self, t_us: int) -> None:
        advance_clock(self.ctr, int(t_us))

    def set_limit(self, pages: int) -> None:
        """Memory limit in pages (0: none); reclaim runs at the next fault above it."""
        self.ctr[C_LIMIT] = max(0, int(pages))

    # -- derived quantities --------------------------------------------------
    def free_pages(self) -> int:
        return int(free_pages(self.ctr, self.prm))

    def free_rate_pm(self) -> int:
        """DAMOS_WMARK_FREE_MEM_RATE: free pages per mille of total."""
        return self.free_pages() * 1000 // int(self.prm[P_TOTAL])

    def used_bp(self) -> int:
        total = int(self.prm[P_TOTAL])
        return (total - self.free_pages()) * 10000 // total

    def free_bp(self) -> int:
        return self.free_pages() * 10000 // int(self.prm[P_TOTAL])

    def psi_total_us(self) -> int:
        """Cumulative stall time in microseconds (PSI some-memory total)."""
        return int(self.ctr[C_STALL_NS]) // 1000

    def counters(self) -> dict:
        names = [k for k in globals() if k.startswith("C_") and k != "C_FIRST_US"]
        return {k[2:].lower(): int(self.ctr[globals()[k]]) for k in names} | {
            "first_us": int(self.ctr[C_FIRST_US])}

    # -- lineage -------------------------------------------------------------
    def flush_refaults(self) -> None:
        """Hand refaults since the last flush to ``on_refault(source, count)``."""
        total = int(self.ctr[C_REFAULTS])
        ml = int(self.ctr[C_REFAULTS_ML])
        d_ml = ml - int(self.ctr[C_REPORTED_ML])
        d_h = (total - ml) - int(self.ctr[C_REPORTED])
        self.ctr[C_REPORTED] = total - ml
        self.ctr[C_REPORTED_ML] = ml
        if self.on_refault is not None:
            if d_h:
                self.on_refault(HUMAN, d_h)
            if d_ml:
                self.on_refault(ML, d_ml)

    def drain_refault_log(self) -> np.ndarray:
        """Refault log entries (``page * 2 + source``) since the last drain."""
        k = int(self.ctr[C_RLOG_N])
        out = self.rlog[:k].copy()
        self.ctr[C_RLOG_N] = 0
        return out

    # -- checks --------------------------------------------------------------
    def check_integrity(self) -> None:
        """Raise AssertionError if the arrays and counters disagree."""
        f = self.flags
        touched = (f & F_TOUCHED) != 0
        resident = (f & F_RESIDENT) != 0
        assert not np.any(resident & ~touched), "resident page never touched"
        assert int(touched.sum()) == int(self.ctr[C_TOUCHED]), "touched count"
        assert int(resident.sum()) == int(self.ctr[C_RESIDENT]), "resident count"
        reclaimed = touched & ~resident
        assert int(resident.sum()) + int(reclaimed.sum()) == int(self.ctr[C_TOUCHED])
        assert int(self.ctr[C_FAULTS]) == int(self.ctr[C_TOUCHED])
        assert int(self.ctr[C_RECLAIMED]) - int(self.ctr[C_REFAULTS]) == int(reclaimed.sum()), \
            "every refault must find a reclaimed page"
        if self.use_lists:
            active = (f & F_ACTIVE) != 0
            assert int((resident & active).sum()) == int(self.ctr[C_NR_ACTIVE])
            assert int((resident & ~active).sum()) == int(self.ctr[C_NR_INACTIVE])
            for head, want in ((self.n, int(self.ctr[C_NR_INACTIVE])), (self.n + 1, int(self.ctr[C_NR_ACTIVE]))):
                k, p = 0, int(self.lru[1, head])
                while p != head:
                    assert resident[p], "a page on an LRU list is not resident"
                    assert bool(f[p] & F_ACTIVE) == (head == self.n + 1), "page on the wrong list"
                    k += 1
                    assert k <= self.n, "LRU list loops"
                    p = int(self.lru[1, p])
                assert k == want, "LRU list length"
