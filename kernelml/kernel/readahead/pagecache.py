"""The page cache with Linux's on-demand readahead (numba, integer only).

Everything that runs per application request lives in this one file (numba
caches per source file, so nothing here inlines code from elsewhere).  The
state is a handful of int64 arrays, laid out by the constants below;
:class:`~kernelml.kernel.readahead.sim.RaSim` owns them.

What is followed, function by function (Linux 6.18, ``mm/readahead.c`` and
``mm/filemap.c``; names kept):

* ``get_init_ra_size`` / ``get_next_ra_size`` — the initial window from the
  request size, and the ramp-up (x4 below max/16, x2 up to max/2, then max);
* ``page_cache_sync_ra`` — a cache miss: start of file, oversized read or a
  read that continues the previous one (``index - prev_index <= 1``) starts
  a window of ``get_init_ra_size``; otherwise the page cache is searched
  backwards for the history a sequential stream leaves
  (``page_cache_prev_miss``, which replaced ``try_context_readahead`` in
  6.10): a run no longer than the request is a random read (read as is, no
  state); a longer one starts a window of ``min(contig + req, max)`` with
  ``async_size = 1`` (doubled when the file is cached from its start).
  ``ra_pages == 0`` or ``FMODE_RANDOM`` (``POSIX_FADV_RANDOM``) force the
  read of exactly the request (``force_page_cache_ra``: one page when
  ``ra_pages`` is 0);
* ``page_cache_async_ra`` — the ``PG_readahead`` marker was hit: at the
  expected index the window moves forward and ramps up, otherwise the size
  of the previous window is guessed from the cached pages ahead
  (``page_cache_next_miss``); then ``ra->order += 2`` and the window's end
  is aligned down to ``1 << min(order, ffs(max) - 1)`` pages, and
  ``async_size = size`` (the whole new window is asynchronous);
* ``ractl_max_pages`` — a request larger than ``ra_pages`` may read up to
  the device's optimal I/O size (``io_pages``);
* ``page_cache_ra_order`` — allocates the window as naturally aligned
  folios of order ``min(ra->order, max_folio_order, ilog2(size))``, shrunk
  at unaligned indices and at the window's end; the folio containing
  ``mark = start + size - async_size`` gets ``PG_readahead``; a folio that
  would overlap a cached page stops the loop and the rest of the window
  falls back to ``do_page_cache_ra`` (order-0 pages, skipping cached ones);
  a file system without large folios (``max_folio_order = 0``) always takes
  the fallback;
* ``do_page_cache_ra`` / ``page_cache_ra_unbounded`` — clamp at EOF (no
  marker when the window reaches the last page), allocate the missing
  pages, submit each contiguous run as one device request stream
  (``read_pages``), mark ``index + nr - lookahead``;
* ``filemap_read`` / ``filemap_get_pages`` / ``filemap_get_read_batch`` —
  a read walks the cached folios from its position (a batch stops after a
  folio that is not up to date or carries the marker, at a gap, or at 31
  folios), calls ``page_cache_sync_ra`` on a gap, ``page_cache_async_ra``
  when the batch's last folio carries the marker (with ``req_count`` up to
  the request's end), waits for a folio under I/O
  (``filemap_update_page``), marks folios accessed (not the first one when
  it is the folio the previous read ended in, ``pos_same_folio``) and sets
  ``ra->prev_pos`` to the end of the read;
* ``filemap_fault`` / ``do_sync_mmap_readahead`` /
  ``do_async_mmap_readahead`` / ``filemap_map_pages`` — an access to a page
  not mapped in the stream's mapping faults; fault-around first maps the
  cached, up-to-date, unmarked pages of the aligned ``fault_around_bytes``
  block (64 KiB) and lowers ``mmap_miss`` by the pages it mapped; if the
  faulting page is still unmapped, a cached page runs
  ``do_async_mmap_readahead`` (``mmap_miss--``, async readahead when its
  folio carries the marker, ``req_count = ra_pages``) and a missing one
  ``do_sync_mmap_readahead``: ``VM_SEQ_READ`` (``MADV_SEQUENTIAL``) is a
  sync readahead of ``ra_pages``; otherwise ``mmap_miss++`` (capped at
  ``10 * MMAP_LOTSAMISS``) and, while ``mmap_miss <= MMAP_LOTSAMISS``
  (100), *read-around*: ``start = pgoff - ra_pages / 2``, ``size =
  ra_pages``, ``async_size = ra_pages / 4``, order 0;
* the LRU: new folios go to the head of the inactive list
  (``lru_cache_add``); ``folio_mark_accessed`` sets ``PG_referenced``, and
  a second access activates; reclaim (``shrink_inactive_list`` /
  ``folio_check_references``) takes the inactive tail: a folio under I/O is
  locked and skipped, a mapped folio with a young PTE is activated if it
  was referenced before and otherwise rotated with ``PG_referenced`` set, a
  clean unmapped folio is evicted even if referenced; the active list is
  shrunk into the inactive one when ``inactive_is_low`` (ratio
  ``int_sqrt(10 * GiB)``, 1 below 1 GiB).

Departures (documented; none changes what readahead decides):

* pages are the unit of the cache's accounting; a large folio is evicted
  whole, and its pages share the folio's ``PG_readahead`` (kept on the
  head page) and LRU position;
* I/O completes in model time: the device (``D_*``) is a pipeline with a
  per-request occupancy, a per-page transfer time and a fixed latency; every
  contiguous run of pages ``read_pages`` submits is split into requests of
  at most ``max_req`` pages, each completing on its own (a large folio
  split across two requests is up to date when the later one completes);
  writes occupy the device for their writeback and are never waited for;
  no block-layer merging across submissions;
* one application thread per workload (the streams' requests interleave in
  the order the workload lists them); the app's CPU costs per request and
  per page are constants of the device preset;
* no shadow entries / workingset refault detection, no memory cgroups, no
  ``blk_cgroup_congested``, no ``VM_HUGEPAGE`` or ``VM_EXEC`` fault paths,
  no dirty-page writeback throttling; mappings are per stream (reopening a
  stream drops its mapping).

Lineage: every page readahead brings in remembers whether the ML source's
window was in force (``F_ML``) and which stream read it (``PKEY``); when a
readahead page is evicted without having been used, the useless page is
counted for that source (``G_USELESS_H`` / ``G_USELESS_M``) and for that
stream.  Counters are kept per *stream* — an open file description, which
is what ``file->f_ra`` (and so the readahead limit) belongs to.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ---- page table rows (int64[NP, n_pages])
PF = 0  # flags
PO = 1  # order of the folio the page belongs to (heads are naturally aligned)
PR = 2  # time (ns) the page's read completes; > now: under I/O (locked, !uptodate)
PM = 3  # mapping generation of the stream that mapped it (0: unmapped)
PP = 4  # LRU prev (folio heads only, -1: none)
PN = 5  # LRU next
PFILE = 6  # file of the page (static)
PKEY = 7  # stream whose readahead brought the page in (for its useless count)
NP = 8

# page flags
F_CACHED = 1
F_MARK = 2  # PG_readahead (on the folio head)
F_REF = 4  # PG_referenced (head)
F_ACTIVE = 8  # on the active list (head)
F_RA = 16  # brought in by readahead (page)
F_USED = 32  # accessed since it entered the cache (page)
F_ML = 64  # lineage: the ML source's window was in force when readahead read it (page)
F_YOUNG = 128  # a mapped access since reclaim last looked (head)
F_HEAD = 256  # folio head, on an LRU list

# ---- stream rows (int64[NS, n_streams]): one open file description each
S_FILE = 0
S_START = 1  # file_ra_state.start
S_SIZE = 2  # .size
S_ASYNC = 3  # .async_size
S_ORDER = 4  # .order
S_RAPAGES = 5  # .ra_pages
S_PREV = 6  # .prev_pos, in pages: end of the previous read (-1: none)
S_MMISS = 7  # .mmap_miss
S_MAPGEN = 8  # this stream's mapping generation (> 0)
S_FLAGS = 9  # advice: FL_*
S_PSTART = 10  # previous request's start (pattern features; reads, faults and writes)
S_PEND = 11  # previous request's end (-1: none since open)
S_OPEN = 12  # 1 while open
NS = 13

FL_FADV_RANDOM = 1  # POSIX_FADV_RANDOM: FMODE_RANDOM, reads are exactly the request
FL_FADV_SEQ = 2  # POSIX_FADV_SEQUENTIAL: ra_pages doubled
FL_MADV_RANDOM = 4  # MADV_RANDOM: VM_RAND_READ, no fault readahead
FL_MADV_SEQ = 8  # MADV_SEQUENTIAL: VM_SEQ_READ, faults do sync readahead of ra_pages

# ---- file rows (int64[NF, n_files])
FB = 0  # first global page
FSZ = 1  # pages
NF = 2

# ---- per-stream counters (int64[NK, n_streams]), reset every epoch by the controller
FS_REQ = 0
FS_PAGES = 1
FS_SEQ = 2
FS_BACK = 3
FS_JUMP = 4
FS_GAP16 = 5  # sum of 16 * log2(jump distance) over jumps (fixed point, linear between powers)
FS_MMAP = 6
FS_WRITES = 7
FS_HIT = 8
FS_WAIT = 9
FS_MISS = 10
FS_STALL = 11  # ns
FS_SYNC = 12
FS_ASYNC = 13
FS_RAREAD = 14
FS_USELESS = 15  # readahead pages this stream brought in, evicted unused
FS_DEVREADS = 16
NK = 17

# ---- globals (int64[NG])
G_NOW = 0  # ns
G_DEVFREE = 1  # ns: the device pipeline is busy until then
G_CAP = 2  # cache capacity, pages
G_USED = 3
G_IHEAD = 4
G_ITAIL = 5
G_AHEAD = 6
G_ATAIL = 7
G_IPAGES = 8
G_APAGES = 9
G_SRC = 10  # source whose windows are in force (0 human, 1 ML): lineage of new readahead pages
G_REQS = 11  # cumulative counters from here
G_PAGES = 12
G_STALL = 13
G_DEVREADS = 14
G_DEVPAGES = 15
G_DEVBUSY = 16
G_USELESS_H = 17
G_USELESS_M = 18
G_HIT = 19
G_WAIT = 20
G_MISS = 21
G_RAREAD = 22
G_EVICTED = 23
G_CPU = 24  # ns of application CPU and think time
G_DEVWRITE = 25  # pages written back
G_NONSEQ = 26  # read requests and faults that did not continue the previous one (incl. the first)
NG = 27

# ---- device and cost parameters (int64[ND])
D_LAT = 0  # ns from a request's dispatch to its completion, beyond its occupancy
D_REQ = 1  # ns the device is occupied per request
D_PAGE = 2  # ns per page transferred
D_MAXREQ = 3  # pages per request at most (max_sectors_kb / 4)
D_IOPAGES = 4  # bdi->io_pages (optimal I/O size, pages)
D_MAXORDER = 5  # largest folio order of the file system's mappings (0: no large folios)
D_FAULTAROUND = 6  # fault_around_bytes / PAGE_SIZE (power of two; 1: off)
D_CPU_REQ = 7  # ns of CPU per read()/write() call
D_CPU_PAGE = 8  # ns per page copied
D_CPU_MINOR = 9  # ns per minor fault
D_CPU_MAJOR = 10  # ns per major fault (on top of the wait)
D_CPU_HIT = 11  # ns per mapped page touched without a fault
D_WPAGE = 12  # ns of device time per page written back
D_CPU_FOLIO = 13  # ns of the reader's CPU per folio readahead allocates and inserts (synchronous)
ND = 14

# request kinds
K_READ = 0
K_MMAP = 1
K_WRITE = 2
K_OPEN = 3  # (re)open the stream on file `start` with advice flags `n`; drops its mapping
K_CLOSE = 4

MMAP_LOTSAMISS = 100
BATCH_FOLIOS = 31  # PAGEVEC_SIZE: folios per filemap_get_read_batch
FORCE_CHUNK = 512  # force_page_cache_ra: 2 MiB per do_page_cache_ra
INF = 1 << 62


# ------------------------------------------------------------------ small helpers
@njit(cache=True)
def roundup_pow_of_two(x):
    r = 1
    while r < x:
        r <<= 1
    return r


@njit(cache=True)
def ilog2(x):
    r = -1
    while x > 0:
        x >>= 1
        r += 1
    return r


@njit(cache=True)
def ffs0(x):
    """Index of the lowest set bit (``__ffs``); x > 0."""
    r = 0
    while (x & 1) == 0:
        x >>= 1
        r += 1
    return r


@njit(cache=True)
def int_sqrt(x):
    if x <= 0:
        return 0
    r = 0
    b = 1 << 30
    while b > x:
        b >>= 2
    while b:
        if x >= r + b:
            x -= r + b
            r = (r >> 1) + b
        else:
            r >>= 1
        b >>= 2
    return r


@njit(cache=True)
def get_init_ra_size(size, mx):
    newsize = roundup_pow_of_two(size)
    if newsize <= mx // 32:
        newsize = newsize * 4
    elif newsize <= mx // 4:
        newsize = newsize * 2
    else:
        newsize = mx
    return newsize


@njit(cache=True)
def get_next_ra_size(cur, mx):
    if cur < mx // 16:
        return 4 * cur
    if cur <= mx // 2:
        return 2 * cur
    return mx


@njit(cache=True)
def ractl_max_pages(st, s, dv, req_size):
    mx = st[S_RAPAGES, s]
    io = dv[D_IOPAGES]
    if req_size > mx and io > mx:
        mx = min(req_size, io)
    return mx


# ------------------------------------------------------------------ LRU
@njit(cache=True)
def _lru_slots(active):
    """The global slots (head, tail, page count) of the active or the inactive list."""
    if active:
        return G_AHEAD, G_ATAIL, G_APAGES
    return G_IHEAD, G_ITAIL, G_IPAGES


@njit(cache=True)
def lru_unlink(pg, gv, h):
    head, tail, pages = _lru_slots((pg[PF, h] & F_ACTIVE) != 0)
    p = pg[PP, h]
    n = pg[PN, h]
    if p >= 0:
        pg[PN, p] = n
    else:
        gv[head] = n
    if n >= 0:
        pg[PP, n] = p
    else:
        gv[tail] = p
    pg[PP, h] = -1
    pg[PN, h] = -1
    gv[pages] -= 1 << pg[PO, h]


@njit(cache=True)
def lru_push(pg, gv, h, active):
    """Add the folio at the head of the active or the inactive list (lruvec_add_folio)."""
    head, tail, pages = _lru_slots(active)
    if active:
        pg[PF, h] |= F_ACTIVE
    else:
        pg[PF, h] &= ~F_ACTIVE
    n = gv[head]
    pg[PP, h] = -1
    pg[PN, h] = n
    if n >= 0:
        pg[PP, n] = h
    else:
        gv[tail] = h
    gv[head] = h
    gv[pages] += 1 << pg[PO, h]


@njit(cache=True)
def mark_accessed(pg, gv, h):
    """folio_mark_accessed (mm/swap.c): referenced, then active on a second access."""
    f = pg[PF, h]
    if (f & F_REF) == 0:
        pg[PF, h] = f | F_REF
    elif (f & F_ACTIVE) == 0:
        lru_unlink(pg, gv, h)
        lru_push(pg, gv, h, True)
        pg[PF, h] &= ~F_REF


@njit(cache=True)
def evict(pg, kc, gv, h):
    """Remove a folio from the cache; count its unused readahead pages."""
    lru_unlink(pg, gv, h)
    size = 1 << pg[PO, h]
    for g in range(h, h + size):
        fg = pg[PF, g]
        if (fg & F_RA) != 0 and (fg & F_USED) == 0:
            kc[FS_USELESS, pg[PKEY, g]] += 1
            if (fg & F_ML) != 0:
                gv[G_USELESS_M] += 1
            else:
                gv[G_USELESS_H] += 1
        pg[PF, g] = 0
        pg[PM, g] = 0
        pg[PO, g] = 0
    gv[G_USED] -= size
    gv[G_EVICTED] += size


@njit(cache=True)
def inactive_is_low(gv):
    ip = gv[G_IPAGES]
    ap = gv[G_APAGES]
    gb = (ip + ap) >> 18
    ratio = int_sqrt(10 * gb) if gb else 1
    return ip * ratio < ap


@njit(cache=True)
def shrink(pg, kc, gv, need):
    """Reclaim until ``need`` pages are free (shrink_lruvec, file LRU only)."""
    now = gv[G_NOW]
    budget = 4 * (gv[G_IPAGES] + gv[G_APAGES]) + 64
    while gv[G_CAP] - gv[G_USED] < need and gv[G_USED] > 0:
        budget -= 1
        if gv[G_APAGES] > 0 and (inactive_is_low(gv) or gv[G_ITAIL] < 0):
            h = gv[G_ATAIL]  # shrink_active_list: deactivate the active tail
            lru_unlink(pg, gv, h)
            pg[PF, h] &= ~F_YOUNG
            lru_push(pg, gv, h, False)
            continue
        h = gv[G_ITAIL]
        if h < 0:
            break
        if budget > 0:
            if pg[PR, h] > now:  # locked for I/O: skipped
                lru_unlink(pg, gv, h)
                lru_push(pg, gv, h, False)
                continue
            f = pg[PF, h]
            if (f & F_YOUNG) != 0:  # folio_check_references: referenced PTEs
                pg[PF, h] = f & ~F_YOUNG
                lru_unlink(pg, gv, h)
                if (f & F_REF) != 0:
                    pg[PF, h] &= ~F_REF
                    lru_push(pg, gv, h, True)
                else:
                    pg[PF, h] |= F_REF
                    lru_push(pg, gv, h, False)
                continue
        evict(pg, kc, gv, h)


# ------------------------------------------------------------------ device
@njit(cache=True)
def dev_submit(kc, gv, dv, s, n):
    """Dispatch ``n`` contiguous pages (split into requests); returns completion time."""
    now = gv[G_NOW]
    start = max(now, gv[G_DEVFREE])
    k = (n + dv[D_MAXREQ] - 1) // dv[D_MAXREQ]
    occ = k * dv[D_REQ] + n * dv[D_PAGE]
    gv[G_DEVFREE] = start + occ
    gv[G_DEVREADS] += k
    gv[G_DEVPAGES] += n
    gv[G_DEVBUSY] += occ
    kc[FS_DEVREADS, s] += k
    return start + occ + dv[D_LAT]


@njit(cache=True)
def cached(pg, g):
    return (pg[PF, g] & F_CACHED) != 0


@njit(cache=True)
def add_folio(pg, kc, gv, dv, s, g, order, flags):
    """filemap_add_folio: a new folio under I/O at the inactive head (the
    allocation and insertion cost the reader CPU time)."""
    size = 1 << order
    gv[G_NOW] += dv[D_CPU_FOLIO]
    gv[G_CPU] += dv[D_CPU_FOLIO]
    if gv[G_CAP] - gv[G_USED] < size:
        shrink(pg, kc, gv, size)
    for x in range(g, g + size):
        pg[PF, x] = F_CACHED | flags
        pg[PO, x] = order
        pg[PR, x] = INF
        pg[PM, x] = 0
        pg[PKEY, x] = s
    pg[PF, g] |= F_HEAD
    lru_push(pg, gv, g, False)
    gv[G_USED] += size


@njit(cache=True)
def finish_batch(pg, kc, gv, dv, s, b0, bn, ra):
    """read_pages: submit the contiguous batch [b0, b0 + bn) (global pages)
    as requests of at most ``max_req`` pages, each completing on its own."""
    if bn <= 0:
        return
    mr = dv[D_MAXREQ]
    a = b0
    while a < b0 + bn:
        c = min(mr, b0 + bn - a)
        done = dev_submit(kc, gv, dv, s, c)
        for x in range(a, a + c):
            if pg[PR, x] == INF:
                pg[PR, x] = done
        a += c
    if ra:
        kc[FS_RAREAD, s] += bn
        gv[G_RAREAD] += bn


# ------------------------------------------------------------------ readahead (mm/readahead.c)
@njit(cache=True)
def ra_unbounded(pg, st, fl, kc, gv, dv, s, index, nr, lookahead, ra):
    """page_cache_ra_unbounded: order-0 pages for [index, index + nr), skipping cached ones."""
    base = fl[FB, st[S_FILE, s]]
    mark = -1
    if lookahead <= nr:
        mark = index + nr - lookahead
    flags = F_RA if ra else 0
    if ra and gv[G_SRC] == 1:
        flags |= F_ML
    b0 = -1
    bn = 0
    for i in range(nr):
        g = base + index + i
        if cached(pg, g):
            finish_batch(pg, kc, gv, dv, s, b0, bn, ra)
            b0 = -1
            bn = 0
            continue
        add_folio(pg, kc, gv, dv, s, g, 0, flags)
        if index + i == mark:
            pg[PF, g] |= F_MARK
        if bn == 0:
            b0 = g
        bn += 1
    finish_batch(pg, kc, gv, dv, s, b0, bn, ra)


@njit(cache=True)
def do_page_cache_ra(pg, st, fl, kc, gv, dv, s, index, nr, lookahead, ra):
    fsz = fl[FSZ, st[S_FILE, s]]
    if fsz == 0:
        return
    end_index = fsz - 1
    if index > end_index:
        return
    if nr > end_index - index:
        nr = end_index - index + 1
        lookahead = 0  # reached the end: no readahead marker
    ra_unbounded(pg, st, fl, kc, gv, dv, s, index, nr, lookahead, ra)


@njit(cache=True)
def force_page_cache_ra(pg, st, fl, kc, gv, dv, s, index, nr):
    mx = max(dv[D_IOPAGES], st[S_RAPAGES, s])
    nr = min(nr, mx)
    while nr > 0:
        chunk = min(FORCE_CHUNK, nr)
        do_page_cache_ra(pg, st, fl, kc, gv, dv, s, index, chunk, 0, False)
        index += chunk
        nr -= chunk


@njit(cache=True)
def page_cache_ra_order(pg, st, fl, kc, gv, dv, s):
    f = st[S_FILE, s]
    base = fl[FB, f]
    start = st[S_START, s]
    index = start
    size = st[S_SIZE, s]
    asz = st[S_ASYNC, s]
    if size <= 0:
        return
    limit = fl[FSZ, f] - 1
    mark = index + size - asz
    err = False
    if dv[D_MAXORDER] == 0:
        st[S_ORDER, s] = 0
        err = True
    else:
        limit = min(limit, index + size - 1)
        new_order = min(dv[D_MAXORDER], st[S_ORDER, s])
        new_order = min(new_order, ilog2(size))
        new_order = max(new_order, 0)
        st[S_ORDER, s] = new_order
        flags = F_RA | (F_ML if gv[G_SRC] == 1 else 0)
        b0 = -1
        bn = 0
        while index <= limit:
            order = new_order
            if index & ((1 << order) - 1):
                order = ffs0(index)
            while order > 0 and index + (1 << order) - 1 > limit:
                order -= 1
            n = 1 << order
            conflict = False
            for x in range(base + index, base + index + n):
                if cached(pg, x):
                    conflict = True
                    break
            if conflict:
                err = True
                break
            g = base + index
            add_folio(pg, kc, gv, dv, s, g, order, flags)
            if index == (mark & ~(n - 1)):
                pg[PF, g] |= F_MARK
            if bn == 0:
                b0 = g
            bn += n
            index += n
        finish_batch(pg, kc, gv, dv, s, b0, bn, True)
        if not err:
            return
    # fallback
    if size > index - start:
        do_page_cache_ra(pg, st, fl, kc, gv, dv, s, index, size - (index - start), asz, True)


@njit(cache=True)
def page_cache_sync_ra(pg, st, fl, kc, gv, dv, s, index, req_count):
    kc[FS_SYNC, s] += 1
    forced = (st[S_FLAGS, s] & FL_FADV_RANDOM) != 0
    if st[S_RAPAGES, s] == 0:
        req_count = 1
        forced = True
    if forced:
        force_page_cache_ra(pg, st, fl, kc, gv, dv, s, index, req_count)
        return
    mx = ractl_max_pages(st, s, dv, req_count)
    prev = st[S_PREV, s]
    d = index - prev
    if index == 0 or req_count > mx or (prev >= 0 and 0 <= d <= 1):
        st[S_START, s] = index
        size = get_init_ra_size(req_count, mx)
        st[S_SIZE, s] = size
        st[S_ASYNC, s] = size - req_count if size > req_count else size >> 1
    else:
        base = fl[FB, st[S_FILE, s]]
        contig = 0
        j = index - 1
        while contig < mx:
            if j < 0 or not cached(pg, base + j):
                break
            contig += 1
            j -= 1
        if j < 0:  # page_cache_prev_miss wrapped: cached from the start of the file
            contig = index * 2
        if contig <= req_count:  # standalone small random read
            do_page_cache_ra(pg, st, fl, kc, gv, dv, s, index, req_count, 0, True)
            return
        st[S_START, s] = index
        st[S_SIZE, s] = min(contig + req_count, mx)
        st[S_ASYNC, s] = 1
    st[S_ORDER, s] = 0
    page_cache_ra_order(pg, st, fl, kc, gv, dv, s)


@njit(cache=True)
def page_cache_async_ra(pg, st, fl, kc, gv, dv, s, index, head, req_count):
    """``index``: the ractl index (the marked folio's head for reads, the
    faulting page for mmap); ``head``: the marked folio's head (global)."""
    if st[S_RAPAGES, s] == 0:
        return
    f = st[S_FILE, s]
    kc[FS_ASYNC, s] += 1
    pg[PF, head] &= ~F_MARK
    mx = ractl_max_pages(st, s, dv, req_count)
    fnr = 1 << pg[PO, head]
    expected = (st[S_START, s] + st[S_SIZE, s] - st[S_ASYNC, s]) & ~(fnr - 1)
    if index == expected:
        st[S_START, s] += st[S_SIZE, s]
        st[S_SIZE, s] = max(st[S_SIZE, s], get_next_ra_size(st[S_SIZE, s], mx))
    else:
        base = fl[FB, f]
        fsz = fl[FSZ, f]
        start = index + 1  # page_cache_next_miss(index + 1, max)
        while start < index + 1 + mx and start < fsz and cached(pg, base + start):
            start += 1
        if start - index > mx:
            return
        st[S_START, s] = start
        st[S_SIZE, s] = get_next_ra_size(start - index + req_count, mx)
    st[S_ORDER, s] += 2
    align = 1 << min(st[S_ORDER, s], ffs0(mx))
    end = st[S_START, s] + st[S_SIZE, s]
    aligned_end = end & ~(align - 1)
    if aligned_end > st[S_START, s]:
        st[S_SIZE, s] -= end - aligned_end
    st[S_ASYNC, s] = st[S_SIZE, s]
    page_cache_ra_order(pg, st, fl, kc, gv, dv, s)


# ------------------------------------------------------------------ the read path (mm/filemap.c)
@njit(cache=True)
def folio_head(pg, g):
    return g & ~((1 << pg[PO, g]) - 1)


@njit(cache=True)
def read_batch(pg, gv, base, pos, last, out):
    """filemap_get_read_batch: heads of the cached folios from ``pos``; returns their count."""
    now = gv[G_NOW]
    n = 0
    p = pos
    while p < last and n < BATCH_FOLIOS:
        g = base + p
        if not cached(pg, g):
            break
        h = folio_head(pg, g)
        out[n] = h
        n += 1
        if pg[PR, h] > now or (pg[PF, h] & F_MARK) != 0:
            break
        p = h - base + (1 << pg[PO, h])
    return n


@njit(cache=True)
def classify(st, kc, gv, s, start, end):
    """Pattern counters of one request relative to the stream's previous one."""
    pend = st[S_PEND, s]
    if pend < 0 or not 0 <= start - pend <= 1:
        gv[G_NONSEQ] += 1
    if pend >= 0:
        pstart = st[S_PSTART, s]
        if 0 <= start - pend <= 1:
            kc[FS_SEQ, s] += 1
        elif end <= pstart and pstart - end <= 1:
            kc[FS_BACK, s] += 1
        else:
            gap = start - pend if start > pend else pend - start
            kc[FS_JUMP, s] += 1
            k = ilog2(gap + 1)
            kc[FS_GAP16, s] += 16 * k + (((gap + 1 - (1 << k)) << 4) >> k)
    st[S_PSTART, s] = start
    st[S_PEND, s] = end


@njit(cache=True)
def count_states(pg, kc, gv, s, g0, g1):
    now = gv[G_NOW]
    hit = 0
    wait = 0
    miss = 0
    for g in range(g0, g1):
        if not cached(pg, g):
            miss += 1
        elif pg[PR, folio_head(pg, g)] > now:
            wait += 1
        else:
            hit += 1
    kc[FS_HIT, s] += hit
    kc[FS_WAIT, s] += wait
    kc[FS_MISS, s] += miss
    gv[G_HIT] += hit
    gv[G_WAIT] += wait
    gv[G_MISS] += miss


@njit(cache=True)
def wait_for(kc, gv, s, t):
    now = gv[G_NOW]
    if t > now:
        kc[FS_STALL, s] += t - now
        gv[G_STALL] += t - now
        gv[G_NOW] = t


@njit(cache=True)
def _span(st, fl, s, start, n):
    """The open file's base page and the end of [start, start + n) clipped at
    its size (i_size_read); end <= start when nothing is left to do."""
    f = st[S_FILE, s]
    fsz = fl[FSZ, f]
    if start >= fsz or n <= 0:
        return fl[FB, f], start
    return fl[FB, f], min(start + n, fsz)


@njit(cache=True)
def file_read(pg, st, fl, kc, gv, dv, s, start, n, batch):
    """filemap_read of pages [start, start + n) on stream ``s``."""
    base, last = _span(st, fl, s, start, n)
    if last <= start:
        return
    kc[FS_REQ, s] += 1
    kc[FS_PAGES, s] += last - start
    gv[G_REQS] += 1
    gv[G_PAGES] += last - start
    classify(st, kc, gv, s, start, last)
    count_states(pg, kc, gv, s, base + start, base + last)
    gv[G_NOW] += dv[D_CPU_REQ]
    gv[G_CPU] += dv[D_CPU_REQ]
    pos = start
    lastp = st[S_PREV, s]
    while pos < last:
        nb = read_batch(pg, gv, base, pos, last, batch)
        if nb == 0:
            page_cache_sync_ra(pg, st, fl, kc, gv, dv, s, pos, last - pos)
            nb = read_batch(pg, gv, base, pos, last, batch)
        if nb == 0:  # filemap_create_folio: read the one page
            add_folio(pg, kc, gv, dv, s, base + pos, 0, 0)
            finish_batch(pg, kc, gv, dv, s, base + pos, 1, False)
            nb = read_batch(pg, gv, base, pos, last, batch)
        h = batch[nb - 1]
        if (pg[PF, h] & F_MARK) != 0:
            page_cache_async_ra(pg, st, fl, kc, gv, dv, s, h - base, h, last - (h - base))
        if pg[PR, h] > gv[G_NOW]:
            wait_for(kc, gv, s, pg[PR, h])
        for i in range(nb):
            h = batch[i]
            if (pg[PF, h] & F_CACHED) == 0:  # reclaimed under us (tiny caches): already copied
                continue
            sh = pg[PO, h]
            if i > 0 or lastp <= 0 or (pos >> sh) != ((lastp - 1) >> sh):
                mark_accessed(pg, gv, h)
            lo = max(pos, h - base)
            hi = min(last, h - base + (1 << sh))
            for g in range(base + lo, base + hi):
                pg[PF, g] |= F_USED
            gv[G_NOW] += dv[D_CPU_PAGE] * (hi - lo)
            gv[G_CPU] += dv[D_CPU_PAGE] * (hi - lo)
            pos = hi
            lastp = hi
            if pos >= last:
                break
    st[S_PREV, s] = pos


@njit(cache=True)
def fault_around(pg, st, fl, gv, dv, s, p):
    """do_fault_around / filemap_map_pages: map cached, up-to-date, unmarked
    pages of the aligned block around ``p``; lowers mmap_miss."""
    fa = dv[D_FAULTAROUND]
    if fa <= 1:
        return
    f = st[S_FILE, s]
    base = fl[FB, f]
    b0 = p & ~(fa - 1)
    b1 = min(b0 + fa, fl[FSZ, f])
    now = gv[G_NOW]
    gen = st[S_MAPGEN, s]
    mapped = 0
    for q in range(b0, b1):
        g = base + q
        if not cached(pg, g) or pg[PM, g] == gen:
            continue
        h = folio_head(pg, g)
        if pg[PR, h] > now or (pg[PF, h] & F_MARK) != 0:
            continue
        pg[PM, g] = gen
        mapped += 1
    mm = st[S_MMISS, s]
    st[S_MMISS, s] = mm - mapped if mm >= mapped else 0


@njit(cache=True)
def mmap_access(pg, st, fl, kc, gv, dv, s, start, n):
    """Touch pages [start, start + n) through the stream's mapping."""
    base, last = _span(st, fl, s, start, n)
    if last <= start:
        return
    gen = st[S_MAPGEN, s]
    ra_pages = st[S_RAPAGES, s]
    flags = st[S_FLAGS, s]
    for p in range(start, last):
        g = base + p
        if cached(pg, g) and pg[PM, g] == gen:  # mapped: no fault
            h = folio_head(pg, g)
            pg[PF, g] |= F_USED
            pg[PF, h] |= F_YOUNG
            gv[G_NOW] += dv[D_CPU_HIT]
            gv[G_CPU] += dv[D_CPU_HIT]
            kc[FS_HIT, s] += 1
            gv[G_HIT] += 1
            continue
        # a page fault: one request
        kc[FS_REQ, s] += 1
        kc[FS_PAGES, s] += 1
        kc[FS_MMAP, s] += 1
        gv[G_REQS] += 1
        gv[G_PAGES] += 1
        classify(st, kc, gv, s, p, p + 1)
        count_states(pg, kc, gv, s, g, g + 1)
        gv[G_NOW] += dv[D_CPU_MINOR]
        gv[G_CPU] += dv[D_CPU_MINOR]
        fault_around(pg, st, fl, gv, dv, s, p)
        if pg[PM, g] != gen:
            if cached(pg, g):  # do_async_mmap_readahead
                if (flags & FL_MADV_RANDOM) == 0 and ra_pages > 0:
                    if st[S_MMISS, s] > 0:
                        st[S_MMISS, s] -= 1
                    h = folio_head(pg, g)
                    if (pg[PF, h] & F_MARK) != 0:
                        page_cache_async_ra(pg, st, fl, kc, gv, dv, s, p, h, ra_pages)
            else:  # major fault: do_sync_mmap_readahead
                gv[G_NOW] += dv[D_CPU_MAJOR]
                gv[G_CPU] += dv[D_CPU_MAJOR]
                if (flags & FL_MADV_RANDOM) == 0 and ra_pages > 0:
                    if (flags & FL_MADV_SEQ) != 0:
                        page_cache_sync_ra(pg, st, fl, kc, gv, dv, s, p, ra_pages)
                    else:
                        if st[S_MMISS, s] < MMAP_LOTSAMISS * 10:
                            st[S_MMISS, s] += 1
                        if st[S_MMISS, s] <= MMAP_LOTSAMISS:
                            kc[FS_SYNC, s] += 1
                            st[S_START, s] = max(0, p - ra_pages // 2)
                            st[S_SIZE, s] = ra_pages
                            st[S_ASYNC, s] = ra_pages // 4
                            st[S_ORDER, s] = 0
                            page_cache_ra_order(pg, st, fl, kc, gv, dv, s)
                if not cached(pg, g):  # __filemap_get_folio(FGP_CREAT) + read_folio
                    add_folio(pg, kc, gv, dv, s, g, 0, 0)
                    finish_batch(pg, kc, gv, dv, s, g, 1, False)
            h = folio_head(pg, g)
            if pg[PR, h] > gv[G_NOW]:
                wait_for(kc, gv, s, pg[PR, h])
            pg[PM, g] = gen
        h = folio_head(pg, g)
        pg[PF, g] |= F_USED
        pg[PF, h] |= F_YOUNG


@njit(cache=True)
def file_write(pg, st, fl, kc, gv, dv, s, start, n):
    """Full-page buffered writes: the pages become cached and dirty; their
    writeback occupies the device and is never waited for."""
    base, last = _span(st, fl, s, start, n)
    if last <= start:
        return
    kc[FS_WRITES, s] += 1
    ns = gv[G_NONSEQ]
    classify(st, kc, gv, s, start, last)
    gv[G_NONSEQ] = ns
    now = gv[G_NOW]
    for p in range(start, last):
        g = base + p
        if not cached(pg, g):
            add_folio(pg, kc, gv, dv, s, g, 0, 0)
            pg[PR, g] = now
        h = folio_head(pg, g)
        pg[PF, g] |= F_USED
        mark_accessed(pg, gv, h)
    w = last - start
    gv[G_DEVFREE] = max(now, gv[G_DEVFREE]) + w * dv[D_WPAGE]
    gv[G_DEVBUSY] += w * dv[D_WPAGE]
    gv[G_DEVWRITE] += w
    gv[G_NOW] += dv[D_CPU_REQ] + dv[D_CPU_PAGE] * w
    gv[G_CPU] += dv[D_CPU_REQ] + dv[D_CPU_PAGE] * w


@njit(cache=True)
def stream_open(st, s, f, flags, ra_pages, gen):
    """file_ra_state_init + advice: a fresh open file description."""
    st[S_FILE, s] = f
    st[S_START, s] = 0
    st[S_SIZE, s] = 0
    st[S_ASYNC, s] = 0
    st[S_ORDER, s] = 0
    st[S_RAPAGES, s] = ra_pages * 2 if (flags & FL_FADV_SEQ) != 0 else ra_pages
    st[S_PREV, s] = -1
    st[S_MMISS, s] = 0
    st[S_MAPGEN, s] = gen
    st[S_FLAGS, s] = flags
    st[S_PSTART, s] = -1
    st[S_PEND, s] = -1
    st[S_OPEN, s] = 1


@njit(cache=True)
def run(pg, st, fl, kc, gv, dv, rq_stream, rq_start, rq_n, rq_kind, rq_think, i0, i1, stream_ra, gens):
    """Serve requests i0 .. i1-1.  ``stream_ra[s]``: the limit stream ``s``
    gets when it opens a file; ``gens[0]``: the next mapping generation."""
    batch = np.empty(BATCH_FOLIOS, np.int64)
    for i in range(i0, i1):
        s = rq_stream[i]
        kind = rq_kind[i]
        think = rq_think[i]
        gv[G_NOW] += think
        gv[G_CPU] += think
        if kind == K_OPEN:
            gens[0] += 1
            stream_open(st, s, rq_start[i], rq_n[i], stream_ra[s], gens[0])
        elif kind == K_CLOSE:
            st[S_OPEN, s] = 0
        elif kind == K_READ:
            file_read(pg, st, fl, kc, gv, dv, s, rq_start[i], rq_n[i], batch)
        elif kind == K_MMAP:
            mmap_access(pg, st, fl, kc, gv, dv, s, rq_start[i], rq_n[i])
        elif kind == K_WRITE:
            file_write(pg, st, fl, kc, gv, dv, s, rq_start[i], rq_n[i])


@njit(cache=True)
def set_limits(st, stream_ra):
    """Apply per-stream limits to every open stream (the proxy, at an epoch
    boundary).  A window already larger than its new limit is cut to it:
    ``page_cache_async_ra`` never shrinks a window (``max(ra->size,
    get_next_ra_size())``), so without the cut a limit could only ever be
    raised for a stream that is running."""
    for s in range(st.shape[1]):
        if st[S_OPEN, s] == 1:
            ra = stream_ra[s]
            if (st[S_FLAGS, s] & FL_FADV_SEQ) != 0:
                ra *= 2
            st[S_RAPAGES, s] = ra
            cap = max(ra, 1)
            if st[S_SIZE, s] > cap:
                st[S_SIZE, s] = cap
            if st[S_ASYNC, s] > st[S_SIZE, s]:
                st[S_ASYNC, s] = st[S_SIZE, s]


@njit(cache=True)
def drop_file(pg, fl, kc, gv, f):
    """posix_fadvise(POSIX_FADV_DONTNEED) on a whole file: evict its idle folios."""
    base = fl[FB, f]
    g = base
    end = base + fl[FSZ, f]
    now = gv[G_NOW]
    while g < end:
        if cached(pg, g):
            h = folio_head(pg, g)
            size = 1 << pg[PO, h]
            if pg[PR, h] <= now:
                evict(pg, kc, gv, h)
            g = h + size
        else:
            g += 1
