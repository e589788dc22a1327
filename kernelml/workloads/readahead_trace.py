"""Read traces of the readahead and filemap tracepoints of a real device.

The events (Linux 6.18, ``include/trace/events/readahead.h`` and
``filemap.h``) as ``trace_pipe`` prints them::

    page_cache_sync_ra: dev=7:0 ino=c index=0 req_count=1 order=0 size=0 async_size=0 ra_pages=640 mmap_miss=0 prev_pos=-1
    page_cache_async_ra: dev=7:0 ino=c index=4 req_count=1 order=2 size=16 async_size=16 ra_pages=640 mmap_miss=0 prev_pos=16384
    page_cache_ra_order: dev=7:0 ino=c index=0 order=0 size=640 async_size=160 ra_pages=640
    mm_filemap_add_to_page_cache: dev 7:0 ino c pfn=0x1234 ofs=0 order=0
    mm_filemap_delete_from_page_cache: dev 7:0 ino c pfn=0x1234 ofs=0 order=0
    mm_filemap_get_pages: dev=7:0 ino=c ofs=0-4095
    mm_filemap_fault: dev=7:0 ino=c ofs=0
    mm_filemap_map_pages: dev=7:0 ino=c ofs=0-65535

The sync/async events fire on entry, so their ``size``/``async_size``/
``order`` are the window state *before* the call.  ``ino`` is hex, offsets
are bytes.

:class:`RaEventParser` turns text into a :class:`RaEvents` of parallel
arrays (one row per event: time, kind, device, inode, page index, and up to
five kind-specific integers), keeping a partial last line for the next
buffer, counting ``[LOST n EVENTS]`` notes and lines it could not parse.
:func:`read_trace` reads a whole saved trace (text, optionally gzip/xz).
"""

from __future__ import annotations

import gzip
import lzma
import re
from dataclasses import dataclass, field

import numpy as np

# event kinds
SYNC_RA, ASYNC_RA, RA_ORDER, ADD, DELETE, GET_PAGES, FAULT, MAP_PAGES = range(8)
KIND_NAMES = ("sync_ra", "async_ra", "ra_order", "add", "delete", "get_pages", "fault", "map_pages")
EVENTS = {
    "readahead": ("page_cache_sync_ra", "page_cache_async_ra", "page_cache_ra_order"),
    "filemap": ("mm_filemap_add_to_page_cache", "mm_filemap_delete_from_page_cache", "mm_filemap_get_pages",
                "mm_filemap_fault", "mm_filemap_map_pages"),
}

_TS = rb"(\d+)\.(\d+): "
_RA = re.compile(_TS + rb"page_cache_(sync|async)_ra: dev=(\d+):(\d+) ino=([0-9a-f]+) index=(\d+) req_count=(\d+) "
                 rb"order=(\d+) size=(\d+) async_size=(\d+) ra_pages=(\d+) mmap_miss=(\d+) prev_pos=(-?\d+)")
_ORDER = re.compile(_TS + rb"page_cache_ra_order: dev=(\d+):(\d+) ino=([0-9a-f]+) index=(\d+) order=(\d+) "
                    rb"size=(\d+) async_size=(\d+) ra_pages=(\d+)")
_CACHE = re.compile(_TS + rb"mm_filemap_(add_to|delete_from)_page_cache: dev (\d+):(\d+) ino ([0-9a-f]+) "
                    rb"(?:page=\S+ )?pfn=0x[0-9a-f]+ ofs=(\d+)(?: order=(\d+))?")
_RANGE = re.compile(_TS + rb"mm_filemap_(get|map)_pages: dev=(\d+):(\d+) ino=([0-9a-f]+) ofs=(\d+)-(\d+)")
_FAULT = re.compile(_TS + rb"mm_filemap_fault: dev=(\d+):(\d+) ino=([0-9a-f]+) ofs=(\d+)")
_LOST = re.compile(rb"\[LOST (\d+) EVENTS\]")
NCOL = 5  # kind-specific integer columns


@dataclass
class RaEvents:
    """Parallel arrays, one row per event.  ``a`` holds, per kind:

    * sync_ra / async_ra: req_count, order, size, async_size, ra_pages (``mmap_miss`` and
      ``prev_pos`` in ``mmap_miss`` / ``prev_pos``);
    * ra_order: order, size, async_size, ra_pages, 0;
    * add / delete: pages (1 << order), 0, 0, 0, 0;
    * get_pages / map_pages: pages in the range, 0, 0, 0, 0 (``index`` is the first page);
    * fault: 1, 0, 0, 0, 0.
    """

    t_ns: np.ndarray
    kind: np.ndarray
    dev: np.ndarray  # major << 20 | minor
    ino: np.ndarray
    index: np.ndarray
    a: np.ndarray  # (n, NCOL)
    mmap_miss: np.ndarray
    prev_pos: np.ndarray
    lost: int = 0
    unparsed: int = 0

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    def select(self, mask: np.ndarray) -> "RaEvents":
        return RaEvents(self.t_ns[mask], self.kind[mask], self.dev[mask], self.ino[mask], self.index[mask],
                        self.a[mask], self.mmap_miss[mask], self.prev_pos[mask], self.lost, self.unparsed)

    def counts(self) -> dict:
        c = np.bincount(self.kind, minlength=len(KIND_NAMES))
        return {n: int(c[i]) for i, n in enumerate(KIND_NAMES)}

    @staticmethod
    def concat(parts: list["RaEvents"]) -> "RaEvents":
        if not parts:
            return empty_events()
        return RaEvents(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                          ("t_ns", "kind", "dev", "ino", "index", "a", "mmap_miss", "prev_pos")),
                        sum(p.lost for p in parts), sum(p.unparsed for p in parts))


def empty_events() -> RaEvents:
    z = np.zeros(0, np.int64)
    return RaEvents(z, z.copy(), z.copy(), z.copy(), z.copy(), np.zeros((0, NCOL), np.int64), z.copy(), z.copy())


def _ts(sec: bytes, frac: bytes) -> int:
    return int(sec) * 1_000_000_000 + int(frac[:9].ljust(9, b"0"))


@dataclass
class RaEventParser:
    """Streaming parser: ``feed(bytes) -> RaEvents`` (complete lines only)."""

    dev: int | None = None  # keep only this device (major << 20 | minor)
    _tail: bytes = field(default=b"", repr=False)

    def feed(self, data: bytes, final: bool = False) -> RaEvents:
        data = self._tail + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        self._tail = data[cut:]
        body = data[:cut]
        rows: list[tuple] = []
        n_ok = 0
        for m in _RA.finditer(body):
            s, f, which, ma, mi, ino, idx, req, order, size, asz, rap, mm, prev = m.groups()
            rows.append((_ts(s, f), SYNC_RA if which == b"sync" else ASYNC_RA, int(ma) << 20 | int(mi),
                         int(ino, 16), int(idx), int(req), int(order), int(size), int(asz), int(rap), int(mm),
                         int(prev)))
        for m in _ORDER.finditer(body):
            s, f, ma, mi, ino, idx, order, size, asz, rap = m.groups()
            rows.append((_ts(s, f), RA_ORDER, int(ma) << 20 | int(mi), int(ino, 16), int(idx), int(order),
                         int(size), int(asz), int(rap), 0, 0, 0))
        for m in _CACHE.finditer(body):
            s, f, which, ma, mi, ino, ofs, order = m.groups()
            rows.append((_ts(s, f), ADD if which == b"add_to" else DELETE, int(ma) << 20 | int(mi), int(ino, 16),
                         int(ofs) >> 12, 1 << int(order or 0), 0, 0, 0, 0, 0, 0))
        for m in _RANGE.finditer(body):
            s, f, which, ma, mi, ino, lo, hi = m.groups()
            lo_i, hi_i = int(lo), int(hi)
            rows.append((_ts(s, f), GET_PAGES if which == b"get" else MAP_PAGES, int(ma) << 20 | int(mi),
                         int(ino, 16), lo_i >> 12, ((hi_i + 1) >> 12) - (lo_i >> 12), 0, 0, 0, 0, 0, 0))
        for m in _FAULT.finditer(body):
            s, f, ma, mi, ino, ofs = m.groups()
            rows.append((_ts(s, f), FAULT, int(ma) << 20 | int(mi), int(ino, 16), int(ofs) >> 12, 1, 0, 0, 0, 0,
                         0, 0))
        n_ok = len(rows)
        lost = sum(int(x) for x in _LOST.findall(body))
        nlines = body.count(b"\n") + (1 if final and body and not body.endswith(b"\n") else 0)
        unparsed = max(0, nlines - n_ok - len(_LOST.findall(body)))
        if not rows:
            ev = empty_events()
            ev.lost, ev.unparsed = lost, unparsed
            return ev
        arr = np.array(rows, dtype=np.int64)
        arr = arr[np.argsort(arr[:, 0], kind="stable")]
        ev = RaEvents(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5:10].copy(), arr[:, 10],
                      arr[:, 11], lost, unparsed)
        if self.dev is not None:
            ev = ev.select(ev.dev == self.dev)
            ev.lost, ev.unparsed = lost, unparsed
        return ev


def read_trace(path: str, dev: int | None = None) -> RaEvents:
    """Parse a saved trace (``trace_pipe`` text; ``.gz`` / ``.xz`` compressed too)."""
    opener = gzip.open if path.endswith(".gz") else lzma.open if path.endswith(".xz") else open
    p = RaEventParser(dev)
    parts = []
    with opener(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 22)
            if not chunk:
                break
            parts.append(p.feed(chunk))
    parts.append(p.feed(b"", final=True))
    return RaEvents.concat(parts)
