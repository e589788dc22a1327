"""Access-pattern generators for the readahead model.

A workload is a set of files (sizes in 4 KiB pages), a number of streams
(open file descriptions) and one interleaved list of application requests:
``(stream, start page, pages, kind, think ns)`` with kinds open, read
(``read()``/``pread()``), mmap (touch pages through the stream's mapping),
write and close (``kernelml.kernel.readahead.pagecache.K_*``).  Concurrent
streams are interleaved by a seeded random merge (each stream keeps its own
order); phases follow one another.  Every generator is deterministic under
its seed.

Generators (``WORKLOADS``; sizes scale with ``scale``):

============================  =====================================================
``seq``                       whole-file scans, 4 KiB reads, one file after another
``reverse``                   files read backwards, 4 KiB reads
``random``                    uniform random 4 KiB ``pread`` over a large file
``random-mmap``               uniform random page touches through ``mmap``
``strided``                   4 KiB reads every 8th page (a column scan)
``mixed``                     a 16 KiB scan and random mmap lookups, concurrently
``streams``                   16 concurrent sequential readers on 16 files
``phases``                    scans and random mmap lookups, alternating in time
``kv-readrandom``             db_bench readrandom on an LSM store (index + data block per get)
``kv-readseq``                db_bench readseq: iterate every table, 16 KiB reads
``kv-readrandomwriterandom``  90 % gets, 10 % puts appended to the write-ahead log
``kv-readrandom-mmap``        readrandom with ``allow_mmap_reads`` (gets fault pages in)
``kv-mix``                    the db_bench sequence readseq, readrandom, readrandomwriterandom, 4 times
============================  =====================================================

Key-value layout (``kv-*``): ``tables`` sorted tables of ``table_mib`` each;
the last 1/64 of a table is its index and filter blocks (hot: every get
reads one index page of its table, then one 4 KiB data block).  Tables are
opened once, as RocksDB's table cache does.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..kernel.readahead import pagecache as pc
from ..kernel.readahead.sim import Requests
from ..registry import Registry

MIB = 256  # pages per MiB


@dataclass
class RaWorkload:
    name: str
    file_pages: np.ndarray
    n_streams: int
    requests: Requests
    cache_pages: int
    description: str = ""
    params: dict = field(default_factory=dict)
    phases: list = field(default_factory=list)  # (name, first request index)

    def describe(self) -> dict:
        r = self.requests
        reads = (r.kind == pc.K_READ) | (r.kind == pc.K_MMAP)
        return {"name": self.name, "files": int(self.file_pages.size),
                "data_mib": round(int(self.file_pages.sum()) / MIB, 1), "streams": self.n_streams,
                "requests": len(r), "pages_requested": int(r.n[reads].sum()),
                "cache_mib": round(self.cache_pages / MIB, 1), "params": self.params,
                "description": self.description}


class _Stream:
    """One stream's requests, in its own order."""

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.parts: list[tuple] = []

    def open(self, f: int, flags: int = 0) -> None:
        self.parts.append((np.array([f]), np.array([flags]), np.array([pc.K_OPEN]), np.array([0])))

    def add(self, start, n, kind: int, think: int) -> None:
        start = np.asarray(start, np.int64).ravel()
        n = np.broadcast_to(np.asarray(n, np.int64), start.shape)
        self.parts.append((start, n, np.full(start.shape, kind), np.full(start.shape, think)))

    def arrays(self):
        if not self.parts:
            z = np.zeros(0, np.int64)
            return z, z, z, z
        return tuple(np.concatenate([p[i] for p in self.parts]).astype(np.int64) for i in range(4))


def _merge(streams: list[_Stream], rng: np.random.Generator) -> Requests:
    """Interleave streams at random, each keeping its order (proportional shares)."""
    sid, start, n, kind, think, key = [], [], [], [], [], []
    for s in streams:
        a, b, k, t = s.arrays()
        m = a.size
        if m == 0:
            continue
        sid.append(np.full(m, s.sid, np.int64))
        start.append(a)
        n.append(b)
        kind.append(k)
        think.append(t)
        key.append((np.arange(m) + rng.random(m)) / m)
    order = np.argsort(np.concatenate(key), kind="stable")
    cat = lambda xs: np.concatenate(xs)[order]  # noqa: E731
    return Requests(cat(sid), cat(start), cat(n), cat(kind), cat(think))


def _concat(parts: list[Requests]) -> Requests:
    return Requests(*(np.concatenate([getattr(p, f) for p in parts])
                      for f in ("stream", "start", "n", "kind", "think")))


def _sizes(scale: float, *mib) -> np.ndarray:
    return np.array([max(16, int(m * MIB * scale)) for m in mib], np.int64)


def _scan_files(fp: np.ndarray, step: int, pages: int, think_ns: int) -> "_Stream":
    """One stream opening each file in turn and reading ``pages`` pages every ``step`` pages."""
    s = _Stream(0)
    for f in range(fp.size):
        s.open(f)
        s.add(np.arange(0, fp[f], step), pages, pc.K_READ, think_ns)
    return s


# ------------------------------------------------------------------ simple patterns
def seq(seed: int = 0, scale: float = 1.0, files: int = 8, file_mib: int = 64, req_pages: int = 1,
        think_ns: int = 500) -> RaWorkload:
    rng = np.random.default_rng(seed)
    fp = _sizes(scale, *([file_mib] * files))
    s = _scan_files(fp, req_pages, req_pages, think_ns)
    return RaWorkload("seq", fp, 1, _merge([s], rng), int(fp.sum() // 4),
                      "whole-file scans, one file after another", {"req_pages": req_pages})


def reverse(seed: int = 0, scale: float = 1.0, files: int = 2, file_mib: int = 128, think_ns: int = 500) -> RaWorkload:
    rng = np.random.default_rng(seed)
    fp = _sizes(scale, *([file_mib] * files))
    s = _Stream(0)
    for f in range(files):
        s.open(f)
        s.add(np.arange(fp[f] - 1, -1, -1), 1, pc.K_READ, think_ns)
    return RaWorkload("reverse", fp, 1, _merge([s], rng), int(fp.sum() // 4), "files read backwards, 4 KiB reads")


def random(seed: int = 0, scale: float = 1.0, file_mib: int = 1024, reads: int = 150_000,
           think_ns: int = 2_000) -> RaWorkload:
    rng = np.random.default_rng(seed)
    fp = _sizes(scale, file_mib)
    s = _Stream(0)
    s.open(0)
    s.add(rng.integers(0, fp[0], max(1, int(reads * scale))), 1, pc.K_READ, think_ns)
    return RaWorkload("random", fp, 1, _merge([s], rng), int(fp[0] // 16), "uniform random 4 KiB pread")


def _lookups(s: _Stream, rng, f: int, size: int, n: int, think_ns: int, reopen_every: int) -> None:
    """``n`` random page touches of file ``f`` through the stream's mapping;
    the file is (re)opened and mapped every ``reopen_every`` touches (a
    query process that maps the file per batch; 0: once)."""
    pages = rng.integers(0, size, max(1, n))
    step = reopen_every if reopen_every > 0 else pages.size
    for a in range(0, pages.size, step):
        s.open(f)
        s.add(pages[a:a + step], 1, pc.K_MMAP, think_ns)


def random_mmap(seed: int = 0, scale: float = 1.0, file_mib: int = 1024, touches: int = 100_000,
                think_ns: int = 2_000, reopen_every: int = 0) -> RaWorkload:
    rng = np.random.default_rng(seed)
    fp = _sizes(scale, file_mib)
    s = _Stream(0)
    _lookups(s, rng, 0, int(fp[0]), int(touches * scale), think_ns, reopen_every)
    return RaWorkload("random-mmap", fp, 1, _merge([s], rng), int(fp[0] // 16),
                      "uniform random page touches through mmap", {"reopen_every": reopen_every})


def strided(seed: int = 0, scale: float = 1.0, files: int = 4, file_mib: int = 512, stride: int = 8,
            think_ns: int = 1_000) -> RaWorkload:
    rng = np.random.default_rng(seed)
    fp = _sizes(scale, *([file_mib] * files))
    s = _scan_files(fp, stride, 1, think_ns)
    return RaWorkload("strided", fp, 1, _merge([s], rng), int(fp.sum() // 8),
                      f"4 KiB reads every {stride}th page", {"stride": stride})


def mixed(seed: int = 0, scale: float = 1.0, scan_mib: int = 1024, lookup_mib: int = 1024,
          lookups: int = 24_000, think_ns: int = 1_000, reopen_every: int = 256) -> RaWorkload:
    rng = np.random.default_rng(seed)
    fp = _sizes(scale, scan_mib, lookup_mib)
    a, b = _Stream(0), _Stream(1)
    a.open(0)
    a.add(np.arange(0, fp[0], 4), 4, pc.K_READ, think_ns)
    _lookups(b, rng, 1, int(fp[1]), int(lookups * scale), think_ns, reopen_every)
    return RaWorkload("mixed", fp, 2, _merge([a, b], rng), int(fp.sum() // 16),
                      "a 16 KiB scan and random mmap lookups (remapped every 256), concurrently",
                      {"reopen_every": reopen_every})


def streams(seed: int = 0, scale: float = 1.0, n: int = 16, file_mib: int = 64, think_ns: int = 500) -> RaWorkload:
    rng = np.random.default_rng(seed)
    fp = _sizes(scale, *([file_mib] * n))
    ss = []
    for f in range(n):
        s = _Stream(f)
        s.open(f)
        s.add(np.arange(fp[f]), 1, pc.K_READ, think_ns)
        ss.append(s)
    return RaWorkload("streams", fp, n, _merge(ss, rng), int(fp.sum() // 8),
                      f"{n} concurrent sequential readers", {"streams": n})


def phases(seed: int = 0, scale: float = 1.0, rounds: int = 12, scan_mib: int = 192, lookup_mib: int = 1024,
           lookups: int = 3_000, think_ns: int = 1_000, reopen_every: int = 256) -> RaWorkload:
    """Scans of a fresh file, then random mmap lookups, ``rounds`` times: a
    long scan wants the largest window, a lookup none at all."""
    rng = np.random.default_rng(seed)
    fp = _sizes(scale, *([scan_mib] * rounds + [lookup_mib]))
    lk = rounds
    parts, marks, at = [], [], 0
    for r in range(rounds):
        s = _Stream(0)
        s.open(r)
        s.add(np.arange(0, fp[r], 4), 4, pc.K_READ, think_ns)
        marks.append((f"scan{r}", at))
        part = _merge([s], rng)
        parts.append(part)
        at += len(part)
        t = _Stream(1)
        _lookups(t, rng, lk, int(fp[lk]), int(lookups * scale), think_ns, reopen_every)
        marks.append((f"lookups{r}", at))
        part = _merge([t], rng)
        parts.append(part)
        at += len(part)
    return RaWorkload("phases", fp, 2, _concat(parts), int(fp.sum() // 16),
                      "16 KiB scans of fresh files and random mmap lookups (remapped every 256), alternating",
                      {"rounds": rounds, "reopen_every": reopen_every}, marks)


# ------------------------------------------------------------------ key-value store (db_bench-like)
class _Kv:
    """An LSM store's files: ``tables`` tables, then a write-ahead log."""

    def __init__(self, scale: float, tables: int = 16, table_mib: int = 32, wal_mib: int = 64,
                 open_files: int = 8) -> None:
        self.tables = tables
        self.open_files = max(1, open_files)
        self.fp = _sizes(scale, *([table_mib] * tables + [wal_mib]))
        self.index_pages = np.maximum(1, self.fp[:tables] // 64)
        self.data_pages = self.fp[:tables] - self.index_pages
        self.wal = tables
        self.wal_pos = 0

    def gets(self, rng: np.random.Generator, n: int):
        """(table, index page, data page) of ``n`` uniform random gets."""
        t = rng.integers(0, self.tables, n)
        idx = self.data_pages[t] + (rng.random(n) * self.index_pages[t]).astype(np.int64)
        data = (rng.random(n) * self.data_pages[t]).astype(np.int64)
        return t, idx, data


def _kv_gets(kv: _Kv, rng, n: int, think_ns: int, mmap: bool, cache: "OrderedDict",
             write_frac: float = 0.0) -> Requests:
    """``n`` operations in order: gets (an index page, then a data page of a
    random table, through the table's stream) and, with ``write_frac``, puts
    (4 KiB appended to the log, stream ``tables``).  ``cache`` is the table
    cache (table -> None, most recent last): a get on a table that is not
    open opens it, closing the least recently used one beyond
    ``kv.open_files`` (RocksDB's ``max_open_files``)."""
    t, idx, data = kv.gets(rng, n)
    put = rng.random(n) < write_frac
    kind = pc.K_MMAP if mmap else pc.K_READ
    sid, start, cnt, knd, thk = [], [], [], [], []

    def emit(a, b, c, d, e):
        sid.append(a)
        start.append(b)
        cnt.append(c)
        knd.append(d)
        thk.append(e)

    for i in range(n):
        if put[i]:
            emit(kv.tables, kv.wal_pos, 1, pc.K_WRITE, think_ns)
            kv.wal_pos = (kv.wal_pos + 1) % int(kv.fp[kv.wal])
            continue
        tb = int(t[i])
        if tb in cache:
            cache.move_to_end(tb)
        else:
            if len(cache) >= kv.open_files:
                old, _ = cache.popitem(last=False)
                emit(old, 0, 0, pc.K_CLOSE, 0)
            cache[tb] = None
            emit(tb, tb, 0, pc.K_OPEN, 0)
        emit(tb, int(idx[i]), 1, kind, think_ns // 2)
        emit(tb, int(data[i]), 1, kind, think_ns // 2)
    return Requests(np.array(sid), np.array(start), np.array(cnt), np.array(knd), np.array(thk))


def _wal_open() -> Requests:
    return Requests(np.array([0]), np.array([0]), np.array([0]), np.array([pc.K_OPEN]), np.array([0]))


def kv_readrandom(seed: int = 0, scale: float = 1.0, gets: int = 100_000, think_ns: int = 3_000,
                  mmap: bool = False, open_files: int = 8, name: str = "kv-readrandom") -> RaWorkload:
    rng = np.random.default_rng(seed)
    kv = _Kv(scale, open_files=open_files)
    wal = _wal_open()
    wal.stream[:] = kv.tables
    wal.start[:] = kv.wal
    req = _concat([wal, _kv_gets(kv, rng, max(1, int(gets * scale)), think_ns, mmap, OrderedDict())])
    return RaWorkload(name, kv.fp, kv.tables + 2, req, int(kv.fp.sum() // 6),
                      "db_bench readrandom" + (" with mmap reads" if mmap else ""),
                      {"gets": gets, "open_files": open_files})


def kv_readrandom_mmap(seed: int = 0, scale: float = 1.0, gets: int = 100_000, think_ns: int = 3_000,
                       open_files: int = 8) -> RaWorkload:
    return kv_readrandom(seed, scale, gets, think_ns, mmap=True, open_files=open_files,
                         name="kv-readrandom-mmap")


def _kv_readseq(kv: _Kv, think_ns: int, tables=None, sid: int = 0) -> list[_Stream]:
    """An iterator: opens each table in turn and reads its data blocks, 16 KiB at a time."""
    s = _Stream(sid)
    for tb in (range(kv.tables) if tables is None else tables):
        s.open(tb)
        s.add(np.arange(0, kv.data_pages[tb], 4), 4, pc.K_READ, think_ns)
    return [s]


def kv_readseq(seed: int = 0, scale: float = 1.0, think_ns: int = 1_000, passes: int = 4) -> RaWorkload:
    rng = np.random.default_rng(seed)
    kv = _Kv(scale)
    req = _concat([_merge(_kv_readseq(kv, think_ns), rng) for _ in range(passes)])
    return RaWorkload("kv-readseq", kv.fp, 1, req, int(kv.fp.sum() // 6),
                      f"db_bench readseq: iterate every table, {passes} times", {"passes": passes})


def kv_readrandomwriterandom(seed: int = 0, scale: float = 1.0, ops: int = 100_000, think_ns: int = 3_000,
                             open_files: int = 8) -> RaWorkload:
    rng = np.random.default_rng(seed)
    kv = _Kv(scale, open_files=open_files)
    wal = _wal_open()
    wal.stream[:] = kv.tables
    wal.start[:] = kv.wal
    req = _concat([wal, _kv_gets(kv, rng, max(1, int(ops * scale)), think_ns, False, OrderedDict(), 0.1)])
    return RaWorkload("kv-readrandomwriterandom", kv.fp, kv.tables + 2, req, int(kv.fp.sum() // 6),
                      "db_bench readrandomwriterandom: 90 % gets, 10 % puts", {"ops": ops, "open_files": open_files})


def kv_mix(seed: int = 0, scale: float = 1.0, gets: int = 12_000, think_ns: int = 3_000,
           mmap: bool = True, open_files: int = 8, rounds: int = 4) -> RaWorkload:
    """readseq over half of the tables, readrandom, readrandomwriterandom;
    ``rounds`` times (alternating halves of the tables).  Gets use mmap
    reads (``allow_mmap_reads``); the iterator uses read() on its own file
    descriptions (stream ``tables + 1``)."""
    rng = np.random.default_rng(seed)
    kv = _Kv(scale, open_files=open_files)
    g = max(1, int(gets * scale))
    half = kv.tables // 2
    wal = _wal_open()
    wal.stream[:] = kv.tables
    wal.start[:] = kv.wal
    parts, marks, at = [wal], [], 1
    cache: OrderedDict = OrderedDict()
    for r in range(rounds):
        h = r % 2
        steps = [("readseq", _merge(_kv_readseq(kv, think_ns // 3, range(h * half, h * half + half),
                                                sid=kv.tables + 1), rng)),
                 ("readrandom", _kv_gets(kv, rng, g, think_ns, mmap, cache)),
                 ("readrandomwriterandom", _kv_gets(kv, rng, g, think_ns, mmap, cache, 0.1))]
        for name, part in steps:
            marks.append((f"{name}{r}", at))
            parts.append(part)
            at += len(part)
    return RaWorkload("kv-mix", kv.fp, kv.tables + 2, _concat(parts), int(kv.fp.sum() // 6),
                      f"db_bench readseq, readrandom, readrandomwriterandom, {rounds} times (mmap gets)",
                      {"gets": gets, "mmap": mmap, "open_files": open_files, "rounds": rounds}, marks)


WORKLOADS = Registry("readahead workload", {
    "seq": "kernelml.workloads.readahead:seq",
    "reverse": "kernelml.workloads.readahead:reverse",
    "random": "kernelml.workloads.readahead:random",
    "random-mmap": "kernelml.workloads.readahead:random_mmap",
    "strided": "kernelml.workloads.readahead:strided",
    "mixed": "kernelml.workloads.readahead:mixed",
    "streams": "kernelml.workloads.readahead:streams",
    "phases": "kernelml.workloads.readahead:phases",
    "kv-readrandom": "kernelml.workloads.readahead:kv_readrandom",
    "kv-readseq": "kernelml.workloads.readahead:kv_readseq",
    "kv-readrandomwriterandom": "kernelml.workloads.readahead:kv_readrandomwriterandom",
    "kv-readrandom-mmap": "kernelml.workloads.readahead:kv_readrandom_mmap",
    "kv-mix": "kernelml.workloads.readahead:kv_mix",
})


def make(name: str, seed: int = 0, scale: float = 1.0, **kw) -> RaWorkload:
    return WORKLOADS.get(name)(seed=seed, scale=scale, **kw)
