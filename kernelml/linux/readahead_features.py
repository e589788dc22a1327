"""What the live controller publishes: the readahead schema's records, read
off a real device's readahead and filemap tracepoints.

:class:`LiveFeatures` consumes :class:`~kernelml.workloads.readahead_trace.RaEvents`
and closes an *epoch* (a fixed wall-clock interval) into ``REC_FILE``
records (one per inode seen) and one ``REC_EPOCH`` record, with the fields
of :mod:`kernelml.uapi.readahead`:

* requests / pages: with ``get_pages`` traced, ``mm_filemap_get_pages``
  (one per ``filemap_read`` batch: a read() of up to 31 folios) and
  ``mm_filemap_fault`` (a fault that reached ``filemap_fault``: a mapped
  access fault-around did not serve).  ``get_pages`` fires for every
  read(), cache hits included: a 4 KiB sequential reader at 1 GiB/s makes
  250 000 events a second, more than a Python reader keeps up with on this
  VM (the ring buffer overran) — so by default only the readahead calls
  and faults are requests: a sync readahead call is a read that missed
  (``req_count`` pages), an async call one that reached the marker, a
  fault a mapped access;
* seq / back / jumps / gap: each request of an inode against the previous
  one of the same inode — for a sync call the kernel's own test against
  the file's ``prev_pos`` the event carries, an async call continues by
  definition (interleaved readers of one file look like jumps to faults
  and get_pages: the tracepoints carry no file description);
* sync_ra / async_ra: the readahead calls (``page_cache_ra_order`` of a
  read-around counts as a sync call, as in the model), ``miss_pages`` the
  sync calls' requests (the pages that were not cached);
* ra_read: pages ``mm_filemap_add_to_page_cache`` inserted (or, without
  those events, the sizes of the windows ``page_cache_ra_order`` was asked
  for); ``useless`` (only with the page-cache events, -1 otherwise): pages
  inserted and deleted again (``mm_filemap_delete_from_page_cache``)
  without a get_pages range, a fault or a mapped range covering them in
  between (a bitmap per inode);
* hit, wait and stall are not observable from these events: -1.

The epoch record adds the device's own counters (``/sys/block/<dev>/stat``:
reads, sectors, busy time) and the epoch's wall time.
"""

from __future__ import annotations

import numpy as np

from kernelml.uapi import readahead as schema
from kernelml.workloads import readahead_trace as rt

F = {n: i for i, n in enumerate(schema.FILE_FIELDS)}
E = {n: i for i, n in enumerate(schema.EPOCH_FIELDS)}


def gap16(gap: int) -> int:
    k = (gap + 1).bit_length() - 1
    return 16 * k + (((gap + 1 - (1 << k)) << 4) >> k)


def read_block_stat(name: str) -> tuple[int, int, int]:
    """(read requests, pages read, busy ms) of /sys/block/<name>/stat."""
    try:
        with open(f"/sys/block/{name}/stat") as f:
            v = [int(x) for x in f.read().split()]
        return v[0], v[2] // 8, v[9]
    except (OSError, ValueError, IndexError):
        return -1, -1, -1


class _Ino:
    __slots__ = ("c", "pstart", "pend", "added", "gaps")

    def __init__(self) -> None:
        self.c = np.zeros(len(schema.FILE_FIELDS), np.int64)
        self.pstart = -1
        self.pend = -1
        self.added = np.zeros(0, np.uint8)  # 1: inserted, not used since
        self.gaps = 0


class LiveFeatures:
    def __init__(self, device: str = "", max_tracked_pages: int = 1 << 22, alpha: int = 50,
                 get_pages: bool = False) -> None:
        self.device = device
        self.get_pages = get_pages  # requests from get_pages (True) or from the readahead calls
        self.cache_events = False  # set when page-cache insert/delete events arrive
        self.inos: dict[int, _Ino] = {}
        self.max_tracked = max_tracked_pages
        self.tracked = 0
        self.alpha = alpha  # work units per request that did not continue the previous one
        self.nonseq = 0
        self.epoch = 0
        self.events = 0
        self.lost = 0
        self.useless_total = 0
        self.dev_prev = read_block_stat(device) if device else (-1, -1, -1)

    # -- events
    def _ino(self, ino: int) -> _Ino:
        st = self.inos.get(ino)
        if st is None:
            st = self.inos[ino] = _Ino()
        return st

    def _bitmap(self, st: _Ino, end: int) -> np.ndarray:
        if st.added.size < end:
            grow = min(max(end, 2 * st.added.size), end + (1 << 20))
            if self.tracked + grow - st.added.size > self.max_tracked:
                return st.added  # memory bound reached: stop tracking new ranges
            self.tracked += grow - st.added.size
            st.added = np.concatenate([st.added, np.zeros(grow - st.added.size, np.uint8)])
        return st.added

    def _request(self, st: _Ino, start: int, end: int, mmap: bool) -> None:
        c = st.c
        c[F["requests"]] += 1
        c[F["pages"]] += end - start
        if mmap:
            c[F["mmap"]] += 1
        if st.pend < 0 or not 0 <= start - st.pend <= 1:
            self.nonseq += 1
        if st.pend >= 0:
            if 0 <= start - st.pend <= 1:
                c[F["seq"]] += 1
            elif end <= st.pstart and st.pstart - end <= 1:
                c[F["back"]] += 1
            else:
                c[F["jumps"]] += 1
                st.gaps += gap16(abs(start - st.pend))
        st.pstart, st.pend = start, end
        b = st.added
        if b.size:
            b[start:min(end, b.size)] = 0

    def feed(self, ev: rt.RaEvents) -> None:
        self.events += len(ev)
        self.lost += ev.lost
        kinds, inos, idx, a = ev.kind, ev.ino, ev.index, ev.a
        for i in range(len(ev)):
            k = int(kinds[i])
            st = self._ino(int(inos[i]))
            x = int(idx[i])
            if k == rt.GET_PAGES:
                self._request(st, x, x + max(1, int(a[i, 0])), False)
            elif k == rt.FAULT:
                self._request(st, x, x + 1, True)
            elif k == rt.MAP_PAGES:
                b = st.added
                if b.size:
                    b[x:min(x + int(a[i, 0]), b.size)] = 0
            elif k == rt.SYNC_RA:
                req = max(1, int(a[i, 0]))
                st.c[F["sync_ra"]] += 1
                st.c[F["miss_pages"]] += req
                st.c[F["ra_pages"]] = int(a[i, 4])
                if not self.get_pages:
                    prev = int(ev.prev_pos[i])
                    if prev >= 0:  # the kernel's test: index - prev_index <= 1
                        st.pend = prev >> 12
                        st.pstart = st.pend - 1
                    self._request(st, x, x + req, False)
            elif k == rt.ASYNC_RA:
                st.c[F["async_ra"]] += 1
                st.c[F["ra_pages"]] = int(a[i, 4])
                if not self.get_pages:  # the marker was reached: a sequential continuation
                    st.pend = x
                    self._request(st, x, x + max(1, int(a[i, 0])), False)
            elif k == rt.RA_ORDER:
                st.c[F["ra_pages"]] = int(a[i, 3])
                if not self.cache_events:  # pages the window asks for (some may be cached already)
                    st.c[F["ra_read"]] += int(a[i, 1])
            elif k == rt.ADD:
                if not self.cache_events:
                    self.cache_events = True
                n = int(a[i, 0])
                st.c[F["ra_read"]] += n
                b = self._bitmap(st, x + n)
                if b.size >= x + n:
                    b[x:x + n] = 1
            elif k == rt.DELETE:
                n = int(a[i, 0])
                b = st.added
                if b.size > x:
                    u = int(b[x:x + n].sum())
                    st.c[F["useless"]] += u
                    self.useless_total += u
                    b[x:x + n] = 0

    # -- epochs
    def close_epoch(self, now: int, elapsed_us: int, source: int, ra_default: int, ra_device: int,
                    cache_cap: int = -1) -> tuple[np.ndarray, np.ndarray, dict]:
        """(REC_FILE records, REC_EPOCH record, totals) for the epoch that just ended; resets counters."""
        self.epoch += 1
        rows = []
        tot = np.zeros(len(schema.FILE_FIELDS), np.int64)
        for ino, st in self.inos.items():
            c = st.c
            if c[F["requests"]] == 0 and c[F["useless"]] == 0 and c[F["ra_read"]] == 0:
                continue
            r = c.copy()
            r[F["epoch"]] = self.epoch
            r[F["key"]] = ino
            r[F["size_pages"]] = -1
            r[F["source"]] = source
            if r[F["ra_pages"]] == 0 and c[F["sync_ra"]] + c[F["async_ra"]] == 0:
                r[F["ra_pages"]] = ra_device
            jumps = int(c[F["jumps"]])
            r[F["gap_log2_x16"]] = st.gaps // jumps if jumps else 0
            for k in ("hit_pages", "wait_pages", "stall_us", "dev_reads"):
                r[F[k]] = -1
            if not self.cache_events:
                r[F["useless"]] = -1
            rows.append(r)
            tot += c
            st.c[:] = 0
            st.gaps = 0
        rows.sort(key=lambda r: -int(r[F["pages"]]))
        recs = np.array(rows[: schema.MAX_FILE_RECORDS], np.int64).reshape(-1, len(schema.FILE_FIELDS))
        dev = read_block_stat(self.device) if self.device else (-1, -1, -1)
        if dev[0] >= 0 and self.dev_prev[0] >= 0:
            dreads, dpages, dbusy = (dev[i] - self.dev_prev[i] for i in range(3))
            dbusy *= 1000
        else:
            dreads = dpages = dbusy = -1
        self.dev_prev = dev
        units = int(tot[F["pages"]]) + self.alpha * self.nonseq
        ep = np.zeros((1, len(schema.EPOCH_FIELDS)), np.int64)
        vals = {"epoch": self.epoch, "now": now, "source": source, "ra_default": ra_default, "ra_device": ra_device,
                "requests": int(tot[F["requests"]]), "pages": int(tot[F["pages"]]), "elapsed_us": elapsed_us,
                "stall_us": -1, "dev_reads": dreads, "dev_pages": dpages, "dev_busy_us": dbusy,
                "useless": int(tot[F["useless"]]), "useless_ml": int(tot[F["useless"]]) if source == 1 else 0,
                "cache_pages": -1, "cache_cap": cache_cap, "files": len(recs)}
        for k, v in vals.items():
            ep[0, E[k]] = v
        totals = {"units": units, "pages": int(tot[F["pages"]]), "requests": int(tot[F["requests"]]),
                  "nonseq": self.nonseq, "useless": int(tot[F["useless"]]), "sync_ra": int(tot[F["sync_ra"]]),
                  "async_ra": int(tot[F["async_ra"]]), "ra_read": int(tot[F["ra_read"]]),
                  "mmap": int(tot[F["mmap"]]), "dev_reads": dreads, "dev_pages": dpages}
        self.nonseq = 0
        return recs, ep, totals
