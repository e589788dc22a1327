"""The readahead model: files, streams (open file descriptions: what a
readahead limit belongs to), the page cache and the device (see :mod:`.pagecache` for what is modelled and where
it departs from Linux).

:class:`RaSim` owns the state arrays and serves a workload's requests in
slices (``run(requests, i0, i1)``) so that a controller can change the
readahead limits between slices.  Requests are five parallel arrays
(stream, start page, pages, kind, think ns), kinds ``pagecache.K_*``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import pagecache as pc
from .device import Device


@dataclass
class Requests:
    """A workload's request arrays (see module docstring)."""

    stream: np.ndarray
    start: np.ndarray
    n: np.ndarray
    kind: np.ndarray
    think: np.ndarray

    def __post_init__(self) -> None:
        self.stream = np.ascontiguousarray(self.stream, np.int64)
        self.start = np.ascontiguousarray(self.start, np.int64)
        self.n = np.ascontiguousarray(self.n, np.int64)
        self.kind = np.ascontiguousarray(self.kind, np.int64)
        self.think = np.ascontiguousarray(self.think, np.int64)
        k = self.stream.shape[0]
        if not all(a.shape == (k,) for a in (self.start, self.n, self.kind, self.think)):
            raise ValueError("request arrays must have the same length")

    def __len__(self) -> int:
        return int(self.stream.shape[0])


class RaSim:
    """``file_pages``: size of each file in pages; ``n_streams``: open file
    descriptions the workload uses; ``cache_pages``: page-cache capacity."""

    def __init__(self, file_pages, n_streams: int, cache_pages: int, device: Device) -> None:
        fp = np.asarray(file_pages, np.int64)
        if fp.ndim != 1 or fp.size == 0 or (fp < 0).any():
            raise ValueError("file_pages must be a non-empty 1-D array of sizes >= 0")
        if n_streams < 1 or cache_pages < 16:
            raise ValueError("need at least one stream and a cache of 16 pages")
        self.device = device
        self.n_files = int(fp.size)
        self.n_streams = int(n_streams)
        # files start at multiples of the largest folio, so that a folio's head (a page
        # index with its low `order` bits cleared) is aligned in the file and globally alike
        align = 1 << max(9, device.max_folio_order)
        span = (fp + align - 1) // align * align
        base = np.zeros(self.n_files, np.int64)
        base[1:] = np.cumsum(span)[:-1]
        total = int(span.sum())
        self.pg = np.zeros((pc.NP, max(1, total)), np.int64)
        self.pg[pc.PP] = -1
        self.pg[pc.PN] = -1
        self.fl = np.zeros((pc.NF, self.n_files), np.int64)
        self.fl[pc.FSZ] = fp
        self.fl[pc.FB] = base
        self.pg[pc.PFILE] = -1
        for f in range(self.n_files):
            self.pg[pc.PFILE, base[f]:base[f] + fp[f]] = f
        self.st = np.zeros((pc.NS, self.n_streams), np.int64)
        self.st[pc.S_PREV] = -1
        self.st[pc.S_PEND] = -1
        self.gv = np.zeros(pc.NG, np.int64)
        for k in (pc.G_IHEAD, pc.G_ITAIL, pc.G_AHEAD, pc.G_ATAIL):
            self.gv[k] = -1
        self.gv[pc.G_CAP] = int(cache_pages)
        self.dv = device.params()
        self.kc = np.zeros((pc.NK, self.n_streams), np.int64)
        self.gens = np.zeros(1, np.int64)
        self.stream_ra = np.full(self.n_streams, device.ra_default_pages, np.int64)

    # -- control
    @property
    def now(self) -> int:
        return int(self.gv[pc.G_NOW])

    def set_source(self, source: int) -> None:
        """Lineage tag of the readahead pages read from now on (0 human, 1 ML)."""
        self.gv[pc.G_SRC] = int(source)

    def set_limits(self, stream_ra) -> None:
        """Per-stream readahead limits (``ra->ra_pages`` of each open file
        description): for every open stream at once, and for each stream's
        next open."""
        ra = np.asarray(stream_ra, np.int64)
        if ra.shape != (self.n_streams,) or (ra < 0).any():
            raise ValueError("one non-negative limit per stream")
        self.stream_ra = np.ascontiguousarray(ra)
        pc.set_limits(self.st, self.stream_ra)

    def run(self, req: Requests, i0: int, i1: int) -> None:
        pc.run(self.pg, self.st, self.fl, self.kc, self.gv, self.dv, req.stream, req.start, req.n, req.kind,
               req.think, int(i0), int(i1), self.stream_ra, self.gens)

    def drop_file(self, f: int) -> None:
        pc.drop_file(self.pg, self.fl, self.kc, self.gv, int(f))

    # -- observation
    def counters(self) -> np.ndarray:
        """Per-stream counters since the last reset (rows ``pagecache.FS_*``), a copy."""
        return self.kc.copy()

    def reset_counters(self) -> None:
        self.kc[:] = 0

    def stream_files(self) -> np.ndarray:
        """The file each stream has (or last had) open."""
        return self.st[pc.S_FILE].copy()

    def totals(self) -> dict:
        g = self.gv
        return {
            "now_ns": int(g[pc.G_NOW]), "requests": int(g[pc.G_REQS]), "pages": int(g[pc.G_PAGES]),
            "stall_ns": int(g[pc.G_STALL]), "cpu_ns": int(g[pc.G_CPU]),
            "dev_reads": int(g[pc.G_DEVREADS]), "dev_pages": int(g[pc.G_DEVPAGES]),
            "dev_busy_ns": int(g[pc.G_DEVBUSY]), "dev_write_pages": int(g[pc.G_DEVWRITE]),
            "useless_human": int(g[pc.G_USELESS_H]), "useless_ml": int(g[pc.G_USELESS_M]),
            "hit_pages": int(g[pc.G_HIT]), "wait_pages": int(g[pc.G_WAIT]), "miss_pages": int(g[pc.G_MISS]),
            "ra_read": int(g[pc.G_RAREAD]), "evicted": int(g[pc.G_EVICTED]),
            "cache_pages": int(g[pc.G_USED]), "cache_cap": int(g[pc.G_CAP]),
        }

    def unused_readahead_now(self) -> tuple[int, int]:
        """Readahead pages still cached and never used, per source (human, ML):
        the useless readahead a run leaves behind (counted at its end)."""
        f = self.pg[pc.PF]
        idle = (f & (pc.F_CACHED | pc.F_RA | pc.F_USED)) == (pc.F_CACHED | pc.F_RA)
        ml = int(np.count_nonzero(idle & ((f & pc.F_ML) != 0)))
        return int(np.count_nonzero(idle)) - ml, ml

    def check(self) -> None:
        """Invariants (tests): LRU lists consistent with the flags and counts."""
        pg, g = self.pg, self.gv
        for active, head, cnt in ((False, pc.G_IHEAD, pc.G_IPAGES), (True, pc.G_AHEAD, pc.G_APAGES)):
            h = int(g[head])
            n = 0
            prev = -1
            seen = 0
            while h >= 0:
                assert pg[pc.PP, h] == prev, "broken LRU back link"
                assert bool(pg[pc.PF, h] & pc.F_ACTIVE) == active, "folio on the wrong list"
                assert pg[pc.PF, h] & pc.F_HEAD and pg[pc.PF, h] & pc.F_CACHED
                n += 1 << int(pg[pc.PO, h])
                prev, h = h, int(pg[pc.PN, h])
                seen += 1
                assert seen <= pg.shape[1], "LRU cycle"
            assert n == g[cnt], f"LRU page count {n} != {g[cnt]}"
        cachedn = int(np.count_nonzero(pg[pc.PF] & pc.F_CACHED))
        assert np.all(pg[pc.PFILE][(pg[pc.PF] & pc.F_CACHED) != 0] >= 0), "a padding page is cached"
        assert cachedn == g[pc.G_USED] == g[pc.G_IPAGES] + g[pc.G_APAGES]
        assert g[pc.G_USED] <= g[pc.G_CAP]
