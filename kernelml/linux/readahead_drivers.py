"""Workload drivers for the live readahead bench (run as separate processes).

``python -m kernelml.linux.readahead_drivers KIND [options]`` runs one
workload for ``--duration`` seconds (or until done) on files of the loop
device's file system, adds the bytes it was given to an 8-byte counter file
(``--progress``, read by the controller every epoch) and prints one JSON
line: ``{"bytes", "ops", "elapsed_s", "mib_s", ...}``.

Kinds (every one reopens its files now and then: Linux applies a new
``read_ahead_kb`` to files opened afterwards):

``scan``      read files front to back with read() of ``--bs`` bytes, one file
              after another (each opened when its turn comes), round and round
              (``--stride``: ``--bs`` bytes every ``--stride`` bytes);
``lookup``    random 4 KiB reads of one file, through ``mmap`` (``--mmap``: a
              page touched per lookup, the mapping remade every
              ``--reopen-every`` lookups) or ``pread``;
``kv``        a db_bench-like store over ``table*.sst`` files: ``readseq``
              (iterate the tables with 16 KiB reads), ``readrandom`` (a get
              reads an index page near the table's end and a data page, via
              mmap with ``--mmap``), ``readrandomwriterandom`` (90 % gets, 10 %
              4 KiB appends to ``wal.log``), ``mix`` (the three in turn,
              ``--phase-s`` seconds each); a table cache of ``--open-files``
              tables (``max_open_files``) reopens tables on misses;
``sqlite``    an SQLite database: ``scan`` (``SELECT sum(length(v)) FROM t``,
              a new connection per scan) or ``lookup`` (point queries by random
              rowid, a new connection every ``--batch`` queries;
              ``--mmap-size`` enables SQLite's memory-mapped I/O).

Seeded (``--seed``).  The drivers never change readahead themselves (no
fadvise, no madvise).
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import random
import sqlite3
import struct
import sys
import time

PAGE = 4096


class Progress:
    """Bytes given to the application, published in an 8-byte file."""

    def __init__(self, path: str | None) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if path else -1
        self.bytes = 0
        self.ops = 0
        self._last = 0.0

    def add(self, n: int, ops: int = 1) -> None:
        self.bytes += n
        self.ops += ops
        if self.fd >= 0:
            t = time.monotonic()
            if t - self._last > 0.02:
                self._last = t
                os.pwrite(self.fd, struct.pack("<q", self.bytes), 0)

    def close(self) -> None:
        if self.fd >= 0:
            os.pwrite(self.fd, struct.pack("<q", self.bytes), 0)
            os.close(self.fd)
            self.fd = -1


def read_progress(path: str) -> int:
    try:
        with open(path, "rb") as f:
            b = f.read(8)
        return struct.unpack("<q", b)[0] if len(b) == 8 else 0
    except OSError:
        return 0


def group_read_bytes(pgid: int) -> int:
    """Bytes the processes of group ``pgid`` have read through read()-like
    system calls (``rchar`` of ``/proc/<pid>/io``): the progress of a
    workload that does not report its own (fio), counted by the kernel and
    the same whatever the readahead window.  Processes that have exited no
    longer count."""
    tot = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read()
            if int(stat[stat.rindex(b")") + 2:].split()[2]) != pgid:  # fields after comm: state ppid pgrp
                continue
            with open(f"/proc/{d}/io", "rb") as f:
                for line in f:
                    if line.startswith(b"rchar:"):
                        tot += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return tot


def scan(files: list[str], bs: int, end: float, prog: Progress, passes: int = 0, stride: int = 0) -> None:
    """Read each file front to back (``stride``: read ``bs`` bytes every
    ``stride`` bytes, a column scan)."""
    done = 0
    while time.monotonic() < end and (passes == 0 or done < passes):
        for path in files:
            fd = os.open(path, os.O_RDONLY)
            try:
                pos = 0
                while time.monotonic() < end:
                    b = os.pread(fd, bs, pos) if stride else os.read(fd, bs)
                    if not b:
                        break
                    pos += stride
                    prog.add(len(b))
            finally:
                os.close(fd)
            if time.monotonic() >= end:
                return
        done += 1


def lookup(path: str, use_mmap: bool, reopen_every: int, end: float, prog: Progress, rng: random.Random) -> None:
    size = os.path.getsize(path)
    pages = size // PAGE
    while time.monotonic() < end:
        fd = os.open(path, os.O_RDONLY)
        try:
            if use_mmap:
                m = mmap.mmap(fd, size, prot=mmap.PROT_READ)
                try:
                    acc = 0
                    for _ in range(reopen_every):
                        acc += m[rng.randrange(pages) * PAGE]
                        prog.add(PAGE)
                finally:
                    m.close()
            else:
                for _ in range(reopen_every):
                    os.pread(fd, PAGE, rng.randrange(pages) * PAGE)
                    prog.add(PAGE)
        finally:
            os.close(fd)


class Kv:
    """A db_bench-like store over table*.sst (the last 1/64 of each: index blocks) and wal.log."""

    def __init__(self, d: str, open_files: int, use_mmap: bool, rng: random.Random, prog: Progress) -> None:
        self.tables = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".sst"))
        if not self.tables:
            raise SystemExit(f"no table*.sst in {d}")
        self.sizes = [os.path.getsize(t) for t in self.tables]
        self.open_files = max(1, open_files)
        self.mmap = use_mmap
        self.rng = rng
        self.prog = prog
        self.cache: dict[int, tuple] = {}  # table -> (fd, mmap | None), insertion order = LRU
        self.wal = os.path.join(d, "wal.log")
        self.wal_fd = -1
        self.wal_pos = 0

    def _open(self, t: int):
        h = self.cache.pop(t, None)
        if h is None:
            if len(self.cache) >= self.open_files:
                old = next(iter(self.cache))
                fd, m = self.cache.pop(old)
                if m is not None:
                    m.close()
                os.close(fd)
            fd = os.open(self.tables[t], os.O_RDONLY)
            m = mmap.mmap(fd, self.sizes[t], prot=mmap.PROT_READ) if self.mmap else None
            h = (fd, m)
        self.cache[t] = h
        return h

    def get(self) -> None:
        t = self.rng.randrange(len(self.tables))
        fd, m = self._open(t)
        pages = self.sizes[t] // PAGE
        index_pages = max(1, pages // 64)
        idx = pages - index_pages + self.rng.randrange(index_pages)
        data = self.rng.randrange(pages - index_pages)
        for p in (idx, data):
            if m is not None:
                _ = m[p * PAGE]
            else:
                os.pread(fd, PAGE, p * PAGE)
        self.prog.add(2 * PAGE)

    def put(self) -> None:
        if self.wal_fd < 0:
            self.wal_fd = os.open(self.wal, os.O_WRONLY | os.O_CREAT, 0o644)
        os.pwrite(self.wal_fd, b"\0" * PAGE, self.wal_pos)
        self.wal_pos = (self.wal_pos + PAGE) % (256 << 20)
        self.prog.add(0, 1)

    def readseq(self, end: float, start_table: int = 0) -> int:
        t = start_table
        while time.monotonic() < end:
            fd = os.open(self.tables[t], os.O_RDONLY)  # the iterator's own file description
            try:
                limit = self.sizes[t] - self.sizes[t] // 64
                pos = 0
                while pos < limit and time.monotonic() < end:
                    b = os.read(fd, 16384)
                    if not b:
                        break
                    pos += len(b)
                    self.prog.add(len(b))
            finally:
                os.close(fd)
            t = (t + 1) % len(self.tables)
        return t

    def readrandom(self, end: float, write_frac: float = 0.0) -> None:
        while time.monotonic() < end:
            for _ in range(64):
                if write_frac and self.rng.random() < write_frac:
                    self.put()
                else:
                    self.get()

    def close(self) -> None:
        for fd, m in self.cache.values():
            if m is not None:
                m.close()
            os.close(fd)
        self.cache.clear()
        if self.wal_fd >= 0:
            os.close(self.wal_fd)


def sqlite_run(db: str, op: str, end: float, prog: Progress, rng: random.Random, batch: int, mmap_size: int) -> None:
    con0 = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n = con0.execute("SELECT max(id) FROM t").fetchone()[0] or 1
    con0.close()
    while time.monotonic() < end:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            con.execute(f"PRAGMA mmap_size={int(mmap_size)}")
            con.execute("PRAGMA cache_size=-2000")  # 2 MB of SQLite cache: reads go to the page cache
            if op == "scan":
                total = con.execute("SELECT sum(length(v)) FROM t").fetchone()[0] or 0
                prog.add(int(total))
            else:
                for _ in range(batch):
                    row = con.execute("SELECT v FROM t WHERE id = ?", (rng.randrange(1, n + 1),)).fetchone()
                    prog.add(len(row[0]) if row else 0)
                    if time.monotonic() >= end:
                        break
        finally:
            con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="live readahead workload driver")
    ap.add_argument("kind", choices=["scan", "lookup", "kv", "sqlite"])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--progress", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bs", type=int, default=4096)
    ap.add_argument("--passes", type=int, default=0)
    ap.add_argument("--stride", type=int, default=0)
    ap.add_argument("--mmap", action="store_true")
    ap.add_argument("--reopen-every", type=int, default=256)
    ap.add_argument("--op", default="readrandom")
    ap.add_argument("--open-files", type=int, default=8)
    ap.add_argument("--phase-s", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--mmap-size", type=int, default=0)
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    prog = Progress(a.progress)
    t0 = time.monotonic()
    end = t0 + a.duration
    extra: dict = {}
    try:
        if a.kind == "scan":
            scan(a.paths, a.bs, end, prog, a.passes, a.stride)
        elif a.kind == "lookup":
            lookup(a.paths[0], a.mmap, a.reopen_every, end, prog, rng)
        elif a.kind == "sqlite":
            sqlite_run(a.paths[0], a.op, end, prog, rng, a.batch, a.mmap_size)
        else:
            kv = Kv(a.paths[0], a.open_files, a.mmap, rng, prog)
            try:
                if a.op == "readseq":
                    kv.readseq(end)
                elif a.op == "readrandom":
                    kv.readrandom(end)
                elif a.op == "readrandomwriterandom":
                    kv.readrandom(end, 0.1)
                elif a.op == "mix":
                    phases, t, i = [], 0, 0
                    while time.monotonic() < end:
                        pend = min(end, time.monotonic() + a.phase_s)
                        b0, p0 = prog.bytes, time.monotonic()
                        name = ("readseq", "readrandom", "readrandomwriterandom")[i % 3]
                        if name == "readseq":
                            t = kv.readseq(pend, t)
                        else:
                            kv.readrandom(pend, 0.1 if name == "readrandomwriterandom" else 0.0)
                        phases.append({"phase": name, "mib_s": round((prog.bytes - b0) / 2**20 /
                                                                     max(1e-9, time.monotonic() - p0), 2)})
                        i += 1
                    extra["phases"] = phases
                else:
                    raise SystemExit(f"unknown kv op {a.op}")
            finally:
                kv.close()
    finally:
        prog.close()
    el = time.monotonic() - t0
    print(json.dumps({"bytes": prog.bytes, "ops": prog.ops, "elapsed_s": round(el, 3),
                      "mib_s": round(prog.bytes / 2**20 / el, 3) if el > 0 else 0.0, **extra}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
