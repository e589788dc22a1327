"""Page-access trace readers: ``open_page_trace(path, fmt, **opts)``.

Formats:

``pages`` (this project's own): text lines ``time_us page [r|w|0|1]``
    (decimal time in us, decimal or ``0x`` hex page number, optional access
    kind), ``#`` comments; or a compact ``.npz`` with int64 arrays
    ``time_us`` and ``page`` and an optional bool array ``write``.
``lackey``: valgrind ``--tool=lackey --trace-mem=yes`` output: lines
    ``I  addr,size`` (instruction fetch), `` L addr,size`` (load),
    `` S addr,size`` (store), `` M addr,size`` (modify = load + store);
    addr hex, size decimal; ``==pid==`` lines are valgrind's messages.
    Instruction fetches are skipped unless ``include_instr=True``.  An
    access that crosses a page boundary touches both pages.
``vmtrace``: ``hhhhhhhh R|W`` lines (hex virtual address, read or write),
    as in the memory traces used by virtual-memory course simulators.

page = address >> 12.  lackey and vmtrace carry no time: access i (in
file order) happens at ``i * 10^6 // rate`` us, ``rate`` accesses per
simulated second (default 2x10^5, as the generators), so time is the
access count in buckets of ``10^6 / rate`` us.

Address spaces of real programs are sparse (text, heap, mmap, stack far
apart), so pages are mapped (``fold``): ``compact`` (default) renumbers
the distinct pages by rank in address order, which keeps their order and
adjacency but closes the gaps; ``offset`` subtracts the lowest page;
``none`` keeps raw page numbers.  Mapping needs the set of distinct pages,
so opening a text trace makes one streaming pass (statistics are then
ready in ``stats``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np

from kernelml.workloads.base import DEFAULT_CHUNK, PageChunk, PageWorkload, rechunk
from kernelml.workloads.parse import (FIRST_BAD, N_BAD, N_BLANK, N_HEADER, N_LINES, N_SKIP, RES_LEN,
                                      count_lines, parse_lackey_lines, parse_pages_lines,
                                      parse_vmtrace_lines, read_lines)
from kernelml.workloads.readers import TraceFormatError, _open

PAGE_FORMATS = ("pages", "lackey", "vmtrace")
PAGE_FOLDS = ("compact", "offset", "none")


@dataclass
class PageReaderStats:
    lines: int = 0
    accesses: int = 0  # page accesses emitted (a page-crossing access counts twice)
    records: int = 0  # valid access lines used
    writes: int = 0
    instr_skipped: int = 0
    crossings: int = 0  # accesses that crossed a page boundary
    malformed: int = 0
    first_bad_line: int = 0
    header_lines: int = 0
    blank_lines: int = 0
    time_steps_back: int = 0
    distinct_pages: int = 0
    min_page: int = -1
    max_page: int = -1
    buffers: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class PageTraceWorkload(PageWorkload):
    """A page-access trace file as a replayable, streaming PageWorkload."""

    def __init__(self, path: str, fmt: str, fold: str = "compact", rate: float = 200_000.0,
                 include_instr: bool = False, read_bytes: int = 4 << 20) -> None:
        if fmt not in PAGE_FORMATS:
            raise ValueError(f"unknown page trace format {fmt!r}; known: {', '.join(PAGE_FORMATS)}")
        if fold not in PAGE_FOLDS:
            raise ValueError(f"unknown fold {fold!r}; known: {', '.join(PAGE_FOLDS)}")
        if rate <= 0:
            raise ValueError("rate must be positive")
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        self.path, self.fmt, self.fold = str(path), fmt, fold
        self.rate, self.include_instr, self.read_bytes = float(rate), bool(include_instr), int(read_bytes)
        self.name = f"{fmt}:{os.path.basename(self.path)}"
        self.is_npz = fmt == "pages" and self.path.endswith(".npz")
        self.has_write = fmt != "pages"
        self.distinct = np.empty(0, np.int64)
        self.stats = PageReaderStats()
        self._scan()

    # ---- raw accesses: (time_us, page, write) batches, times not yet clamped
    def _raw(self, st: PageReaderStats) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self.is_npz:
            with np.load(self.path) as z:
                t, p = np.asarray(z["time_us"], np.int64), np.asarray(z["page"], np.int64)
                w = np.asarray(z["write"], bool) if "write" in z.files else None
            if t.shape != p.shape or (w is not None and w.shape != p.shape):
                raise TraceFormatError(f"{self.path}: time_us, page (and write) must have the same length")
            self.has_write = w is not None
            st.lines = st.records = int(p.size)
            for a in range(0, p.size, 1 << 20):
                yield t[a:a + (1 << 20)], p[a:a + (1 << 20)], (np.zeros(min(1 << 20, p.size - a), bool)
                                                               if w is None else w[a:a + (1 << 20)])
            return
        res = np.zeros(RES_LEN, np.int64)
        line0 = 0
        idx = 0  # access index, for synthetic time
        with _open(self.path) as f:
            for buf in read_lines(f, self.read_bytes):
                st.buffers += 1
                n = count_lines(buf)
                res[0] = 0
                if self.fmt == "lackey":
                    addr, size, w = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.bool_)
                    k = parse_lackey_lines(buf, self.include_instr, line0, res, addr, size, w)
                    addr, size, w = addr[:k], size[:k], w[:k]
                    p0 = addr >> 12
                    p1 = (addr + np.maximum(size, 1) - 1) >> 12
                    cross = p1 != p0
                    st.crossings += int(cross.sum())
                    rep = 1 + cross.astype(np.int64)
                    pages = np.repeat(p0, rep)
                    pages[np.cumsum(rep)[cross] - 1] = p1[cross]
                    rec_idx = idx + np.repeat(np.arange(k, dtype=np.int64), rep)
                    t = (rec_idx * 1_000_000 / self.rate).astype(np.int64)
                    w = np.repeat(w, rep)
                    idx += k
                elif self.fmt == "vmtrace":
                    addr, w = np.empty(n, np.int64), np.empty(n, np.bool_)
                    k = parse_vmtrace_lines(buf, line0, res, addr, w)
                    pages, w = addr[:k] >> 12, w[:k]
                    t = ((idx + np.arange(k, dtype=np.int64)) * 1_000_000 / self.rate).astype(np.int64)
                    idx += k
                else:
                    t, pages = np.empty(n, np.int64), np.empty(n, np.int64)
                    w, hw = np.empty(n, np.bool_), np.empty(n, np.bool_)
                    k = parse_pages_lines(buf, line0, res, t, pages, w, hw)
                    t, pages, w = t[:k], pages[:k], w[:k]
                    if hw[:k].any():
                        self.has_write = True
                line0 = int(res[N_LINES])
                st.lines, st.records = line0, st.records + int(k)
                st.malformed, st.first_bad_line = int(res[N_BAD]), int(res[FIRST_BAD])
                st.header_lines, st.blank_lines = int(res[N_HEADER]), int(res[N_BLANK])
                st.instr_skipped = int(res[N_SKIP])
                if st.records == 0 and st.malformed and st.buffers == 1:
                    raise TraceFormatError(f"{self.path}: no valid {self.fmt} line in the first {st.lines} "
                                           f"lines (first malformed at line {st.first_bad_line})")
                yield t, pages, w

    def _accesses(self, st: PageReaderStats):
        t_last = 0
        t0 = None
        for t, p, w in self._raw(st):
            if p.size == 0:
                continue
            if t0 is None:
                t0 = int(t[0]) if self.fmt == "pages" else 0
            t = t - t0
            run = np.maximum.accumulate(np.concatenate(([t_last], t)))[1:]
            st.time_steps_back += int(np.count_nonzero(run != t))
            t_last = int(run[-1])
            st.accesses += int(p.size)
            st.writes += int(np.count_nonzero(w))
            yield run, p, w

    def _scan(self) -> None:
        st = PageReaderStats()
        uniq: list[np.ndarray] = []
        t_end = 0
        for t, p, w in self._accesses(st):
            uniq.append(np.unique(p))
            if len(uniq) >= 16:
                uniq = [np.unique(np.concatenate(uniq))]
            t_end = int(t[-1])
        if st.accesses == 0:
            raise TraceFormatError(f"{self.path}: nothing valid as {self.fmt} ({st.lines} lines, "
                                   f"{st.malformed} malformed"
                                   + (f", first at line {st.first_bad_line})" if st.first_bad_line else ")"))
        self.distinct = np.unique(np.concatenate(uniq))
        st.distinct_pages = int(self.distinct.size)
        st.min_page, st.max_page = int(self.distinct[0]), int(self.distinct[-1])
        self.stats = st
        self.duration_us = t_end + 1
        if self.fold == "compact":
            self.n_pages = st.distinct_pages
        elif self.fold == "offset":
            self.n_pages = st.max_page - st.min_page + 1
        else:
            self.n_pages = st.max_page + 1

    def _map(self, p: np.ndarray) -> np.ndarray:
        if self.fold == "compact":
            return np.searchsorted(self.distinct, p).astype(np.int64)
        if self.fold == "offset":
            return p - self.stats.min_page
        return p

    def chunks(self, chunk: int = DEFAULT_CHUNK) -> Iterator[PageChunk]:
        def parts():
            st = PageReaderStats()
            for t, p, w in self._accesses(st):
                yield PageChunk(t, self._map(p), w if self.has_write else None)

        return rechunk(parts(), chunk)

    def describe(self) -> dict:
        d = super().describe()
        d.update(path=self.path, format=self.fmt, fold=self.fold, rate=self.rate,
                 include_instr=self.include_instr, stats=self.stats.to_dict())
        return d


def open_page_trace(path: str, fmt: str, **opts) -> PageTraceWorkload:
    """Open a page-access trace (``pages``, ``lackey`` or ``vmtrace``) as a
    streaming PageWorkload.  Options: ``fold`` (compact/offset/none),
    ``rate`` (accesses per simulated second for lackey/vmtrace),
    ``include_instr`` (lackey), ``read_bytes``."""
    return PageTraceWorkload(path, fmt, **opts)


def save_pages_npz(path: str, workload: PageWorkload) -> None:
    """Write a page workload as the compact ``pages`` .npz (whole stream in memory)."""
    c = workload.materialize()
    arrays = {"time_us": c.time_us, "page": c.page}
    if c.write is not None:
        arrays["write"] = c.write
    np.savez_compressed(path, **arrays)
