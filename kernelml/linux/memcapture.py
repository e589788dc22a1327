"""Capture the memory accesses of a real program as a page trace.

The program runs under valgrind's lackey tool (``valgrind --tool=lackey
--trace-mem=yes --log-fd=N``): every guest instruction fetch (``I``), load
(`` L``), store (`` S``) and modify (`` M``, a load and a store) is printed
as ``addr,size``.  The text (~74 bytes per access, ~1 million accesses per
second of wall time: lackey is ~3600x slower than native) is read from a
pipe and converted on the fly, buffer by buffer, by a numba kernel; nothing
but the converted trace is stored.

Conversion (:class:`LackeyConverter`):

* **time base**: every access (instruction fetches included) advances a
  counter; an access happens at ``time_us = (counter - skip) //
  accesses_per_us``.  The default, 10 accesses per simulated microsecond,
  runs the program about 100 times slower than a core doing one access per
  nanosecond: 20 million accesses last 2 simulated seconds, so a reclaim
  simulation with DAMON's default intervals (5 ms sampling, 100 ms
  aggregation) sees hundreds of samples in a capture lackey can make in a
  minute.  ``--accesses-per-us 1000`` gives time at roughly native speed.
* **pages**: ``page = addr >> 12`` (4 KiB), guest virtual addresses as
  valgrind lays the program out (the program, its libraries, heap, mmap
  areas and stack keep their relative places).  An access that straddles a
  page boundary touches both pages.  Instruction fetches count as reads of
  code pages (``--no-instr`` drops them from the output but not from the
  time base).
* **one record per page per window**: time is cut into windows of
  ``window_us`` (default 1000 us = 10,000 accesses, a fifth of DAMON's
  default sampling interval); within a window a page
  is written out once, at the time of its first access in the window, in
  first-access order, marked ``w`` if any access to it in the window was a
  store or modify.  An accessed-bit sampler (DAMON, the LRU's reference
  bits) whose interval is a multiple of the window sees exactly what the
  raw stream would show it, and LRU/MIN simulations see the order of first
  touches; the trace shrinks by one to two orders of magnitude
  (``--window-us 1`` keeps one record per page per microsecond).
* **start**: a workload whose start-up is long and not what it is about
  (the Python interpreter runs ~50 million accesses before the first line
  of a script) touches a marker page (``MARKER_ADDR``, mapped with
  ``MAP_FIXED_NOREPLACE``) when its real work begins; accesses before that
  are not recorded and do not count for time.  ``skip`` drops a further
  number of accesses.
* **cap**: ``max_accesses`` (after the start); valgrind is killed when it
  is reached (the trace then ends there, marked ``capped``).

Output: the ``pages`` text format of the trace readers, ``time_us page
r|w`` per line, decimal, after ``#`` comment lines holding the capture's
metadata as JSON (``# kernelml-pages {...}``) and, at the end, its summary
(``# summary {...}``).  Compressed with gzip when the name ends in
``.gz``, with xz for ``.xz``.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import lzma
import os
import platform
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, TextIO

import numpy as np
from numba import njit

from kernelml.linux.sysio import CaptureError, interrupts_raise, kill_group
from kernelml.linux.workloads_real import real_python
from kernelml.registry import Registry

PAGE_SHIFT = 12
DEFAULT_ACCESSES_PER_US = 10
DEFAULT_WINDOW_US = 1000
DEFAULT_MAX_ACCESSES = 20_000_000
MAX_WINDOW_ACCESSES = 1 << 16

# state vector
(S_COUNT, S_WIN, S_GEN, S_NB, S_LINES, S_BAD, S_MSG, S_DONE, S_INSTR, S_DATA, S_W, S_LAST_T,
 S_BASE) = range(13)
S_LEN = 13
MARKER_ADDR = 0x6B6D6C000000  # "kml": the page a workload touches to say "start recording here"


@njit(cache=True)
def _hexval(buf, a, b):
    v = 0
    if b - a > 16 or a >= b:
        return -1
    for i in range(a, b):
        c = buf[i]
        if 48 <= c <= 57:
            d = c - 48
        elif 97 <= c <= 102:
            d = c - 87
        elif 65 <= c <= 70:
            d = c - 55
        else:
            return -1
        v = v * 16 + d
    return v


@njit(cache=True)
def _flush_window(st, b_time, b_page, b_w, o_t, o_page, o_w, k):
    for j in range(st[S_NB]):
        o_t[k] = b_time[j]
        o_page[k] = b_page[j]
        o_w[k] = b_w[j]
        k += 1
    st[S_NB] = 0
    st[S_GEN] += 1
    return k


@njit(cache=True)
def _convert(buf, n, st, per_us, per_win, skip, cap, instr, start_page, keys, gens, slot_of, b_time, b_page,
             b_w, o_t, o_page, o_w):
    """Parse lackey lines in buf[:n] (whole lines); returns the number of
    records written to o_*.  A window's records are emitted when the
    window closes (held in b_time/b_page/b_w meanwhile)."""
    k = 0
    mask = keys.shape[0] - 1
    i = 0
    while i < n:
        e = i
        while e < n and buf[e] != 10:
            e += 1
        st[S_LINES] += 1
        a = i
        i = e + 1
        if st[S_DONE]:
            continue
        if e - a >= 2 and buf[a] == 61 and buf[a + 1] == 61:
            st[S_MSG] += 1
            continue
        if e - a < 4:
            if e > a:
                st[S_BAD] += 1
            continue
        c0 = buf[a]
        c1 = buf[a + 1]
        is_i = c0 == 73 and c1 == 32
        is_d = c0 == 32 and (c1 == 76 or c1 == 83 or c1 == 77)
        if not (is_i or is_d):
            st[S_BAD] += 1
            continue
        p = a + 2
        while p < e and buf[p] == 32:
            p += 1
        comma = p
        while comma < e and buf[comma] != 44:
            comma += 1
        addr = _hexval(buf, p, comma)
        size = 0
        q = comma + 1
        while q < e and 48 <= buf[q] <= 57:
            size = size * 10 + buf[q] - 48
            q += 1
        if addr < 0 or comma >= e or size <= 0:
            st[S_BAD] += 1
            continue
        cnt = st[S_COUNT]
        st[S_COUNT] = cnt + 1
        if st[S_BASE] < 0:  # waiting for the start marker
            if (addr >> 12) == start_page:
                st[S_BASE] = cnt + 1
            continue
        rel = cnt - st[S_BASE] - skip
        if rel < 0:
            continue
        if rel >= cap:
            st[S_DONE] = 1
            st[S_COUNT] = cnt
            continue
        if is_i:
            st[S_INSTR] += 1
        else:
            st[S_DATA] += 1
        win = rel // per_win
        if win != st[S_WIN]:
            k = _flush_window(st, b_time, b_page, b_w, o_t, o_page, o_w, k)
            st[S_WIN] = win
        t = rel // per_us
        st[S_LAST_T] = t
        if is_i and not instr:
            continue
        wr = 1 if (c1 == 83 or c1 == 77) and is_d else 0
        if wr:
            st[S_W] += 1
        pg = addr >> 12
        p1 = (addr + size - 1) >> 12
        while pg <= p1:
            h = ((pg * 2654435761) >> 7) & mask
            while True:
                if gens[h] != st[S_GEN]:
                    gens[h] = st[S_GEN]
                    keys[h] = pg
                    nb = st[S_NB]
                    slot_of[h] = nb
                    b_time[nb] = t
                    b_page[nb] = pg
                    b_w[nb] = wr
                    st[S_NB] = nb + 1
                    break
                if keys[h] == pg:
                    if wr:
                        b_w[slot_of[h]] = 1
                    break
                h = (h + 1) & mask
            pg += 1
    return k


class LackeyConverter:
    """Streaming lackey-text -> page-record converter (see the module doc).

    ``feed(data)`` takes any bytes (partial lines are kept for the next
    call) and returns ``(time_us, page, write)`` arrays of the windows that
    closed; ``finish()`` returns the last window.  ``done`` turns True when
    ``max_accesses`` were converted."""

    def __init__(self, accesses_per_us: int = DEFAULT_ACCESSES_PER_US, max_accesses: int = DEFAULT_MAX_ACCESSES,
                 skip: int = 0, instr: bool = True, window_us: int = DEFAULT_WINDOW_US,
                 start_marker: bool = False) -> None:
        if accesses_per_us <= 0 or max_accesses <= 0 or skip < 0 or window_us <= 0:
            raise ValueError("accesses_per_us, window_us and max_accesses must be positive, skip non-negative")
        if accesses_per_us * window_us > MAX_WINDOW_ACCESSES:
            raise ValueError(f"accesses_per_us * window_us must be at most {MAX_WINDOW_ACCESSES}")
        self.per_us = int(accesses_per_us)
        self.window_us = int(window_us)
        self.per_win = self.per_us * self.window_us
        self.cap = int(max_accesses)
        self.skip = int(skip)
        self.instr = bool(instr)
        self.start_page = MARKER_ADDR >> 12 if start_marker else -1
        self.st = np.zeros(S_LEN, np.int64)
        self.st[S_BASE] = -1 if start_marker else 0
        self.st[S_WIN] = -1
        self.st[S_LAST_T] = -1
        self.st[S_GEN] = 1
        self.nb = 2 * self.per_win + 2  # a window touches at most 2 pages per access
        table = 1 << max(10, (4 * self.nb - 1).bit_length())  # load <= 1/4
        self.keys = np.zeros(table, np.int64)
        self.gens = np.zeros(table, np.int64)
        self.slot = np.zeros(table, np.int64)
        self.b_time = np.zeros(self.nb, np.int64)
        self.b_page = np.zeros(self.nb, np.int64)
        self.b_w = np.zeros(self.nb, np.uint8)
        self._tail = b""
        self.records = 0

    @property
    def done(self) -> bool:
        return bool(self.st[S_DONE])

    def feed(self, data: bytes):
        data = self._tail + data
        cut = data.rfind(b"\n") + 1
        self._tail = data[cut:]
        if cut == 0:
            return _empty()
        buf = np.frombuffer(data, np.uint8, cut)
        # an access line is at least 7 bytes and touches at most 2 pages; plus the window open before
        cap = 2 * (cut // 7 + 1) + self.nb
        o_t = np.empty(cap, np.int64)
        o_p = np.empty(cap, np.int64)
        o_w = np.empty(cap, np.uint8)
        k = _convert(buf, cut, self.st, self.per_us, self.per_win, self.skip, self.cap, self.instr,
                     self.start_page, self.keys, self.gens, self.slot, self.b_time, self.b_page, self.b_w,
                     o_t, o_p, o_w)
        self.records += k
        return o_t[:k], o_p[:k], o_w[:k].astype(bool)

    def finish(self):
        out = _empty()
        if self._tail:
            out = self.feed(b"\n")
        o_t, o_p, o_w = np.empty(self.nb, np.int64), np.empty(self.nb, np.int64), np.empty(self.nb, np.uint8)
        k = _flush_window(self.st, self.b_time, self.b_page, self.b_w, o_t, o_p, o_w, 0)
        self.records += k
        return (np.concatenate([out[0], o_t[:k]]), np.concatenate([out[1], o_p[:k]]),
                np.concatenate([out[2], o_w[:k].astype(bool)]))

    def stats(self) -> dict:
        st = self.st
        total = int(st[S_COUNT])
        base = int(st[S_BASE])
        return {"accesses_seen": total, "before_marker": total if base < 0 else base,
                "marker_seen": base >= 0 if self.start_page >= 0 else None,
                "accesses": max(0, min(total - max(base, 0) - self.skip, self.cap)) if base >= 0 else 0,
                "instr_accesses": int(st[S_INSTR]), "data_accesses": int(st[S_DATA]),
                "write_accesses": int(st[S_W]), "lines": int(st[S_LINES]), "valgrind_messages": int(st[S_MSG]),
                "malformed": int(st[S_BAD]), "records": self.records, "capped": self.done,
                "duration_us": int(st[S_LAST_T]) + 1}


def _empty():
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool)


def open_text_out(path: str) -> TextIO:
    if path.endswith(".gz"):
        return gzip.open(path, "wt", compresslevel=9)
    if path.endswith(".xz"):
        return lzma.open(path, "wt", preset=6)
    return open(path, "w")


def open_text_in(path: str) -> TextIO:
    if path.endswith(".gz"):
        return gzip.open(path, "rt")
    if path.endswith(".xz"):
        return lzma.open(path, "rt")
    return open(path)


def read_pages_header(path: str) -> dict:
    """The ``# kernelml-pages {...}`` metadata of a captured page trace
    (and its ``# summary`` under the key ``summary`` when the file has
    one; the whole file is read for that)."""
    head: dict = {}
    with open_text_in(path) as f:
        for line in f:
            if line.startswith("# kernelml-pages "):
                head = json.loads(line[len("# kernelml-pages "):])
            elif line.startswith("# summary "):
                head["summary"] = json.loads(line[len("# summary "):])
    return head


def write_records(f: TextIO, t: np.ndarray, p: np.ndarray, w: np.ndarray) -> None:
    if t.shape[0] == 0:
        return
    rw = np.where(w, "w", "r")
    f.write("".join(f"{a} {b} {c}\n" for a, b, c in zip(t.tolist(), p.tolist(), rw.tolist())))


def convert_lackey_file(src: str, out: str, accesses_per_us: int = DEFAULT_ACCESSES_PER_US,
                        max_accesses: int = DEFAULT_MAX_ACCESSES, skip: int = 0, instr: bool = True,
                        window_us: int = DEFAULT_WINDOW_US, meta: dict | None = None) -> dict:
    """Convert a saved lackey log (plain, .gz or .xz) to a page trace."""
    conv = LackeyConverter(accesses_per_us, max_accesses, skip, instr, window_us)
    opener = gzip.open if src.endswith(".gz") else lzma.open if src.endswith(".xz") else open
    with opener(src, "rb") as fin, open_text_out(out) as fout:
        _write_header(fout, dict(meta or {}, source=os.path.basename(src)), conv)
        while not conv.done:
            data = fin.read(1 << 22)
            if not data:
                break
            write_records(fout, *conv.feed(data))
        write_records(fout, *conv.finish())
        summary = conv.stats()
        fout.write(f"# summary {json.dumps(summary, sort_keys=True)}\n")
    return summary


def _write_header(f: TextIO, meta: dict, conv: LackeyConverter) -> None:
    head = dict(meta, format="pages", columns="time_us page r|w", page_size=4096,
                accesses_per_us=conv.per_us, window_us=conv.window_us, max_accesses=conv.cap, skip=conv.skip,
                instr=conv.instr, start_marker=(f"{MARKER_ADDR:#x}" if conv.start_page >= 0 else None),
                dedup="one record per page per window, at its first access in the window, w if any write")
    f.write("# kernelml-pages " + json.dumps(head, sort_keys=True) + "\n")


# ------------------------------------------------------------------ workloads
_WORDS = ("kernel page block write read cache memory reclaim segment victim cold hot warm log file "
          "inode dentry journal flush queue device sector lru active inactive folio region sample").split()


def _text_file(path: str, nbytes: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "w") as f:
        n = 0
        while n < nbytes:
            line = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(4, 14)))
            line += f" {rng.randrange(10**6)}\n"
            f.write(line)
            n += len(line)


class MemWorkload:
    """Base: a program to run under lackey; ``prepare`` makes inputs in a
    temporary directory and returns the argv."""

    name = "?"
    defaults: dict = {}
    env: dict = {}  # added to the environment (valgrind does not follow exec, so no env(1) wrapper)
    start_marker = False  # the program touches MARKER_ADDR when its real work starts

    def resolve(self, params: dict) -> dict:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {sorted(unknown)}; "
                             f"known: {', '.join(sorted(self.defaults))}")
        out = dict(self.defaults)
        for k, v in params.items():
            out[k] = type(self.defaults[k])(v)
        return out

    def tools(self) -> list[str]:
        return []

    def argv(self, tmp: str, p: dict, seed: int) -> list[str]:  # pragma: no cover
        raise NotImplementedError


class PyHeavy(MemWorkload):
    """Python interpreter running a dict/list/string-heavy script.

    The real interpreter binary (``sys.executable`` resolved past pyenv
    shims) runs :mod:`kernelml.linux.progs.pyheavy`: ``items`` entries
    (200000) per round, ``rounds`` (3).  Recording starts at the script's
    start marker, after the interpreter's start-up."""

    name = "python"
    defaults = {"items": 200_000, "rounds": 3}
    start_marker = True

    def argv(self, tmp, p, seed):
        prog = os.path.join(os.path.dirname(__file__), "progs", "pyheavy.py")
        return [real_python(), "-I", "-S", prog, str(p["items"]), str(p["rounds"]), str(seed)]


class SqliteQueries(MemWorkload):
    """SQLite shell running queries on an in-memory database.

    ``sqlite3 :memory:``: ``rows`` rows (200000) made by a recursive CTE, an
    index, aggregate and join queries, an update, a delete.  Falls back to
    Python's sqlite3 module when the shell is missing."""

    name = "sqlite"
    defaults = {"rows": 200_000}

    def sql(self, p: dict) -> str:
        return (
            "PRAGMA cache_size=-65536;\n"
            "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);\n"
            f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < {p['rows']}) "
            "INSERT INTO t SELECT x, (x * 7919) % 1000, printf('%08x-%d', x * 2654435761 % 4294967296, x) FROM c;\n"
            "CREATE INDEX t_k ON t(k);\n"
            "SELECT k, count(*), max(v) FROM t GROUP BY k ORDER BY 2 DESC LIMIT 5;\n"
            "SELECT count(*) FROM t a JOIN t b ON a.k = b.k AND a.id < b.id WHERE a.id % 97 = 0;\n"
            "UPDATE t SET v = v || 'x' WHERE k < 100;\n"
            "DELETE FROM t WHERE k BETWEEN 500 AND 600;\n"
            "SELECT sum(length(v)) FROM t;\n")

    def argv(self, tmp, p, seed):
        path = os.path.join(tmp, "queries.sql")
        with open(path, "w") as f:
            f.write(self.sql(p))
        if shutil.which("sqlite3"):
            return ["sqlite3", ":memory:", f".read {path}"]
        code = "import sqlite3,sys; c=sqlite3.connect(':memory:'); c.executescript(open(sys.argv[1]).read())"
        return [real_python(), "-I", "-S", "-c", code, path]


class XzCompress(MemWorkload):
    """xz compressing a generated text file.

    ``xz -<level> -T1 -c`` of ``input_mib`` MiB (16) of seeded words and
    numbers to /dev/null; ``level`` 6 (8 MiB dictionary)."""

    name = "xz"
    defaults = {"input_mib": 16, "level": 6}

    def tools(self):
        return ["xz"]

    def argv(self, tmp, p, seed):
        path = os.path.join(tmp, "input.txt")
        _text_file(path, int(p["input_mib"]) << 20, seed)
        return ["xz", f"-{int(p['level'])}", "-T1", "-c", path]  # stdout goes to /dev/null


class Sort(MemWorkload):
    """GNU sort of a generated text file.

    ``LC_ALL=C sort -S <buffer_mib>M --parallel=1`` of ``input_mib`` MiB
    (16) of seeded lines to /dev/null; ``buffer_mib`` 64."""

    name = "sort"
    defaults = {"input_mib": 16, "buffer_mib": 64}
    env = {"LC_ALL": "C"}

    def tools(self):
        return ["sort"]

    def argv(self, tmp, p, seed):
        path = os.path.join(tmp, "input.txt")
        _text_file(path, int(p["input_mib"]) << 20, seed)
        return ["sort", f"-S{int(p['buffer_mib'])}M", "--parallel=1", "-o", "/dev/null", path]


MEM_WORKLOADS = Registry("memory capture workload", {
    "python": "kernelml.linux.memcapture:PyHeavy",
    "sqlite": "kernelml.linux.memcapture:SqliteQueries",
    "xz": "kernelml.linux.memcapture:XzCompress",
    "sort": "kernelml.linux.memcapture:Sort",
})


@dataclass
class MemCaptureSpec:
    workload: str
    out: str
    params: dict = field(default_factory=dict)
    accesses_per_us: int = DEFAULT_ACCESSES_PER_US
    window_us: int = DEFAULT_WINDOW_US
    max_accesses: int = DEFAULT_MAX_ACCESSES
    skip: int = 0
    instr: bool = True
    seed: int = 0
    timeout_s: float = 3600.0
    tmpdir: str | None = None
    command: str = ""  # the command line that asked for the capture (recorded in the header)


def lackey_argv(log_fd: int, program: list[str]) -> list[str]:
    return ["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-fd={log_fd}", "--"] + program


def capture_mem(spec: MemCaptureSpec, dry_run: bool = False, progress: Callable[[dict], None] | None = None,
                log: Callable[[str], None] | None = None) -> dict:
    """Run the workload under lackey and write its page trace to ``spec.out``."""
    log = log or (lambda s: None)
    wl = MEM_WORKLOADS.make(spec.workload)
    params = wl.resolve(spec.params)
    conv = LackeyConverter(spec.accesses_per_us, spec.max_accesses, spec.skip, spec.instr, spec.window_us,
                           start_marker=wl.start_marker)
    if dry_run:
        tmp = tempfile.mkdtemp(prefix=f"kernelml-mem-{os.getpid()}-", dir=spec.tmpdir)
        try:
            prog = wl.argv(tmp, params, spec.seed)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return {"dry_run": True, "command": " ".join(lackey_argv(3, prog)), "workload": spec.workload,
                "params": params, "out": spec.out}
    missing = [t for t in ["valgrind"] + wl.tools() if shutil.which(t) is None]
    if missing:
        raise CaptureError(f"missing tools: {', '.join(missing)}")
    tmp = tempfile.mkdtemp(prefix=f"kernelml-mem-{os.getpid()}-", dir=spec.tmpdir)
    proc = None
    r = w = -1
    fout = None
    summary: dict = {}
    try:
        with interrupts_raise():
            program = wl.argv(tmp, params, spec.seed)
            r, w = os.pipe()
            argv = lackey_argv(w, program)
            log("running: " + " ".join(argv))
            errf = open(os.path.join(tmp, "stderr.txt"), "wb")
            try:
                proc = subprocess.Popen(argv, pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=errf, cwd=tmp, start_new_session=True,
                                        env=dict(os.environ, **wl.env))
            finally:
                errf.close()
            os.close(w)
            w = -1
            os.makedirs(os.path.dirname(os.path.abspath(spec.out)), exist_ok=True)
            fout = open_text_out(spec.out)
            meta = {"tool": "kernelml capture mem", "command": spec.command, "workload": spec.workload,
                    "params": params, "program": _portable(program, tmp),
                    "valgrind": _valgrind_version(), "kernel": platform.release(), "machine": platform.machine(),
                    "seed": spec.seed, "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
            _write_header(fout, meta, conv)
            t0 = time.monotonic()
            last = t0
            eof = False
            with os.fdopen(r, "rb", buffering=0) as pipe:
                r = -1
                while True:
                    data = pipe.read(1 << 22)
                    if not data:
                        eof = True
                        break
                    write_records(fout, *conv.feed(data))
                    now = time.monotonic()
                    if progress is not None and now - last >= 0.5:
                        s = conv.stats()
                        progress({"accesses": s["accesses"], "max_accesses": spec.max_accesses,
                                  "records": s["records"], "elapsed_s": now - t0,
                                  "accesses_per_s": s["accesses_seen"] / max(1e-9, now - t0)})
                        last = now
                    if conv.done:
                        break
                    if now - t0 > spec.timeout_s:
                        log("timeout: stopping the program")
                        break
            capped = conv.done
            kill_group(proc, grace=2.0)
            write_records(fout, *conv.finish())
            summary = conv.stats()
            if summary["marker_seen"] is False:
                raise CaptureError(f"the program never touched the start marker page {MARKER_ADDR:#x} "
                                   f"({summary['accesses_seen']:,} accesses seen)")
            if summary["accesses"] == 0:
                with open(os.path.join(tmp, "stderr.txt"), "rb") as f:
                    err = f.read()[-800:].decode(errors="replace")
                raise CaptureError(f"no memory access recorded (exit {proc.returncode}): {err.strip()}")
            summary.update(wall_s=round(time.monotonic() - t0, 3), exit_status=proc.returncode,
                           program_finished=eof and not capped, interrupted=False)
            fout.write(f"# summary {json.dumps(summary, sort_keys=True)}\n")
            fout.close()
            fout = None
            summary["out"] = spec.out
            return summary
    except BaseException as exc:
        if fout is not None:  # close the partial trace with a summary that says why it ended
            try:
                s = conv.stats()
                s.update(interrupted=True, error=f"{type(exc).__name__}: {exc}")
                fout.write(f"# summary {json.dumps(s, sort_keys=True)}\n")
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
        raise
    finally:
        if proc is not None and proc.poll() is None:
            kill_group(proc, grace=2.0)
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
        if fout is not None:
            fout.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _portable(argv: list[str], tmp: str) -> list[str]:
    """The program's command line as it can be written down: the temporary
    directory as ``<tmp>``, the interpreter as ``python``, files of this
    package relative to its root."""
    from kernelml.linux.workloads_real import _package_root

    root = _package_root() + os.sep
    out = []
    for i, a in enumerate(argv):
        if i == 0 and a == real_python():
            a = "python"
        a = a.replace(tmp, "<tmp>")
        if a.startswith(root):
            a = a[len(root):]
        out.append(a)
    return out


def _valgrind_version() -> str:
    try:
        return subprocess.run(["valgrind", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
