"""Streaming block trace readers: ``open_trace(path, fmt, n_blocks, fold)``.

A trace file is read in buffers of ``read_bytes`` (default 4 MiB) of whole
lines, parsed (numba for the delimited formats, :mod:`blkparse` for
blkparse text), expanded to 4 KiB blocks (:func:`fold.expand_requests`),
folded onto the device (:mod:`fold`) and re-cut into chunks.  Nothing
holds the whole trace; only the dense map (one entry per distinct block)
grows with it.  ``.gz`` files are read through gzip.

Statistics (:class:`ReaderStats`) are gathered on every complete pass;
with ``n_blocks=None`` ``open_trace`` makes one pass at once to size the
device to the trace's footprint, so the stats are ready.  A file in which
nothing parses is an error (:class:`TraceFormatError`), raised by
``open_trace`` when the first buffer holds no valid line, or at the end of
the first pass.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np

from kernelml.workloads.base import DEFAULT_CHUNK, HINT_NONE, BlockChunk, BlockWorkload, TraceFormatError, rechunk  # noqa: F401
from kernelml.workloads.blkparse import ACTIONS, parse_blkparse_lines
from kernelml.workloads.fold import FOLDS, DenseMap, expand_requests
from kernelml.workloads.formats import BLOCK_FORMATS, FORMATS
from kernelml.workloads.parse import (FIRST_BAD, N_BAD, N_BLANK, N_HEADER, N_LINES, RES_LEN, R_OTHER,
                                      R_READ, R_TRIM, R_WRITE, count_lines, parse_block_lines, read_lines)

MAX_REQUEST_BYTES = 1 << 36  # 64 GiB: larger requests are skipped and counted


@dataclass
class ReaderStats:
    lines: int = 0
    requests: int = 0  # valid requests of any kind (after the device filter)
    reads_skipped: int = 0
    writes: int = 0  # write requests
    trims: int = 0  # trim requests
    other_skipped: int = 0  # valid requests that are neither (flush, other SCSI commands)
    empty_skipped: int = 0  # zero-length writes
    bytes_written: int = 0
    bytes_trimmed: int = 0
    bytes_read: int = 0
    write_blocks: int = 0
    trim_blocks: int = 0
    partial_trims_dropped: int = 0  # trims covering no whole 4 KiB block
    unmapped_trims_dropped: int = 0  # dense fold: trims of never-written blocks
    oversize_skipped: int = 0  # requests larger than MAX_REQUEST_BYTES
    malformed: int = 0
    first_bad_line: int = 0  # 1-based; 0 = none
    header_lines: int = 0
    blank_lines: int = 0
    ignored_lines: int = 0  # blkparse: non-event lines and other actions
    other_device: int = 0  # requests dropped by the device filter
    time_steps_back: int = 0  # timestamps clamped to keep time non-decreasing
    distinct_blocks: int = 0  # footprint: distinct blocks written (dense fold; -1 with modulo)
    max_block: int = -1  # largest raw 4 KiB block number seen
    folded: bool = False  # block numbers exceeded the device and wrapped
    folded_blocks: int = 0  # block operations whose (dense or raw) number wrapped
    buffers: int = 0  # read buffers used (streaming evidence)
    complete: bool = False  # a full pass finished

    def to_dict(self) -> dict:
        return asdict(self)


def _open(path: str):
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


class TraceWorkload(BlockWorkload):
    """A block trace file as a replayable, streaming BlockWorkload."""

    has_hints = False
    has_time = True

    def __init__(self, path: str, fmt: str, n_blocks: int | None = None, fold: str = "dense",
                 device: int | str | None = None, action: str = "D", read_bytes: int = 4 << 20) -> None:
        if fmt not in BLOCK_FORMATS:
            raise ValueError(f"unknown trace format {fmt!r}; known: {', '.join(BLOCK_FORMATS)}")
        if fold not in FOLDS:
            raise ValueError(f"unknown fold {fold!r}; known: {', '.join(FOLDS)}")
        if fmt == "blkparse" and action not in ACTIONS:
            raise ValueError(f"blkparse action must be one of {ACTIONS}")
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        if n_blocks is not None and int(n_blocks) <= 0:
            raise ValueError("n_blocks must be positive")
        self.path = str(path)
        self.fmt = fmt
        self.fold = fold
        self.device = device
        self.action = action
        self.read_bytes = int(read_bytes)
        self.name = f"{fmt}:{os.path.basename(self.path)}"
        cap = min(max(os.path.getsize(self.path) // 64, 1 << 16), 1 << 22)  # fewer rehashes
        self._map = DenseMap(cap) if fold == "dense" else None
        self.stats = ReaderStats()
        self.bytes_consumed = 0  # bytes of the file read so far in the current pass
        self._probe()
        if n_blocks is None:
            self.n_blocks = 1  # provisional while sizing
            self._sizing = True
            for _ in self._blocks():
                pass
            self._sizing = False
            if self.fold == "dense":
                self.n_blocks = max(1, len(self._map))
            else:
                self.n_blocks = max(1, self.stats.max_block + 1)
            self.stats.folded, self.stats.folded_blocks = False, 0
        else:
            self._sizing = False
            self.n_blocks = int(n_blocks)

    # ---- parsing: batches of requests (time_us raw, op, offset, size, device)
    def _requests(self, st: ReaderStats, first_only: bool = False):
        with _open(self.path) as f:
            if self.fmt == "blkparse":
                yield from self._blk_requests(f, st, first_only)
                return
            fmt = FORMATS[self.fmt]
            res = np.zeros(RES_LEN, np.int64)
            line0 = 0
            for buf in read_lines(f, self.read_bytes):
                st.buffers += 1
                self.bytes_consumed += buf.shape[0]
                n = count_lines(buf)
                o = [np.empty(n, np.int64) for _ in range(5)]
                res[0] = 0
                k = parse_block_lines(buf, fmt.spec, fmt.optab, fmt.delim, fmt.min_fields, line0, res, *o)
                line0 = int(res[N_LINES])
                st.lines = line0
                st.malformed, st.first_bad_line = int(res[N_BAD]), int(res[FIRST_BAD])
                st.header_lines, st.blank_lines = int(res[N_HEADER]), int(res[N_BLANK])
                t, op, off, size, dev = (a[:k] for a in o)
                yield t, op.astype(np.int8), off, size, dev
                if first_only:
                    return

    def _blk_requests(self, f, st: ReaderStats, first_only: bool):
        res = {"lines": 0, "bad": 0, "first_bad": 0, "ignored": 0, "blank": 0, "other_device": 0}
        dev = None if self.device is None else str(self.device)
        while True:
            lines = f.readlines(self.read_bytes)
            if not lines:
                return
            st.buffers += 1
            self.bytes_consumed += sum(len(x) for x in lines)
            out = parse_blkparse_lines(lines, self.action, dev, res["lines"], res)
            st.lines, st.malformed, st.first_bad_line = res["lines"], res["bad"], res["first_bad"]
            st.ignored_lines, st.blank_lines, st.other_device = res["ignored"], res["blank"], res["other_device"]
            yield out
            if first_only:
                return

    def _probe(self) -> None:
        st = ReaderStats()
        for t, op, *_ in self._requests(st, first_only=True):
            if t.size == 0 and st.malformed:
                raise TraceFormatError(
                    f"{self.path}: no valid {self.fmt} line in the first {st.lines} lines "
                    f"({st.malformed} malformed, first at line {st.first_bad_line})")

    # ---- blocks
    def _blocks(self) -> Iterator[BlockChunk]:
        st = ReaderStats()
        self.bytes_consumed = 0
        t0 = None
        t_last = 0
        folded = 0
        pos = 0  # blocks seen so far (stream position for the dense map)
        for t, op, off, size, dev in self._requests(st):
            if self.device is not None and self.fmt != "blkparse":
                keep = dev == int(self.device)
                st.other_device += int(keep.size - np.count_nonzero(keep))
                t, op, off, size = t[keep], op[keep], off[keep], size[keep]
            if t.size == 0:
                continue
            bad = size > MAX_REQUEST_BYTES
            if bad.any():
                st.oversize_skipped += int(bad.sum())
                t, op, off, size = t[~bad], op[~bad], off[~bad], size[~bad]
            st.requests += int(t.size)
            if t0 is None and t.size:
                t0 = int(t[0])
            # times: relative to the first request, never decreasing
            t = t - t0
            run = np.maximum.accumulate(np.concatenate(([t_last], t)))[1:]
            st.time_steps_back += int(np.count_nonzero(run != t))
            t = run
            if t.size:
                t_last = int(t[-1])
            is_r, is_w, is_t = op == R_READ, op == R_WRITE, op == R_TRIM
            st.reads_skipped += int(is_r.sum())
            st.bytes_read += int(size[is_r].sum())
            st.other_skipped += int(np.count_nonzero(op == R_OTHER))
            empty = is_w & (size <= 0)
            st.empty_skipped += int(empty.sum())
            is_w &= ~empty
            is_t &= size > 0
            st.writes += int(is_w.sum())
            st.trims += int(is_t.sum())
            st.bytes_written += int(size[is_w].sum())
            st.bytes_trimmed += int(size[is_t].sum())
            keep = is_w | is_t
            lba, bop, btime, dropped = expand_requests(off[keep], size[keep], op[keep], t[keep])
            st.partial_trims_dropped += dropped
            if lba.size == 0:
                continue
            st.max_block = max(st.max_block, int(lba.max()))
            if self._map is not None:
                ids = self._map.map(lba, bop, pos)
                pos += lba.size
                ok = ids >= 0
                st.unmapped_trims_dropped += int(ok.size - np.count_nonzero(ok))
                if not ok.all():
                    ids, bop, btime = ids[ok], bop[ok], btime[ok]
                folded += int(np.count_nonzero(ids >= self.n_blocks))
                dev_lba = ids % self.n_blocks
            else:
                folded += int(np.count_nonzero(lba >= self.n_blocks))
                dev_lba = lba % self.n_blocks
            st.write_blocks += int(np.count_nonzero(bop == 0))
            st.trim_blocks += int(np.count_nonzero(bop == 1))
            if not self._sizing:
                yield BlockChunk(bop, dev_lba, btime, np.full(bop.size, HINT_NONE, np.int8))
        st.distinct_blocks = len(self._map) if self._map is not None else -1
        st.folded_blocks = folded
        st.folded = folded > 0
        st.complete = True
        if st.requests == 0:
            raise TraceFormatError(
                f"{self.path}: nothing valid as {self.fmt} ({st.lines} lines, {st.malformed} malformed"
                + (f", first at line {st.first_bad_line}" if st.first_bad_line else "") + ")")
        self.stats = st
        self.total_writes = st.write_blocks

    def chunks(self, chunk: int = DEFAULT_CHUNK) -> Iterator[BlockChunk]:
        return rechunk(self._blocks(), chunk)

    def scan(self) -> ReaderStats:
        """Make one full pass (if none was made yet) and return the stats."""
        if not self.stats.complete:
            for _ in self._blocks():
                pass
        return self.stats

    def describe(self) -> dict:
        d = super().describe()
        d.update(path=self.path, format=self.fmt, fold=self.fold, device=self.device,
                 stats=self.stats.to_dict())
        if self.fmt == "blkparse":
            d["action"] = self.action
        return d


def open_trace(path: str, fmt: str, n_blocks: int | None = None, fold: str = "dense", **opts) -> TraceWorkload:
    """Open a block trace as a streaming BlockWorkload.

    ``fmt``: one of ``csv``, ``msr``, ``mqsim``, ``cloudphysics``,
    ``alibaba``, ``blkparse``.  ``n_blocks``: device size in 4 KiB blocks;
    None sizes it to the trace (dense: distinct blocks written; modulo:
    largest block + 1) with one pass.  ``fold``: ``dense`` or ``modulo``
    (see :mod:`kernelml.workloads.fold`).  Options: ``device`` (keep one
    device id: DiskNumber, device_number, device_id, or ``"maj,min"`` for
    blkparse), ``action`` (blkparse: ``D``, ``Q`` or ``C``), ``read_bytes``.
    """
    return TraceWorkload(path, fmt, n_blocks=n_blocks, fold=fold, **opts)
