"""``.kmt``: kernelml's compact block-trace format, its writer and its reader.

Written by ``kernelml capture block`` (one record per ``block_rq_issue``
event, and per ``block_rq_complete`` event when asked for), read back as a
streaming :class:`~kernelml.workloads.base.BlockWorkload`
(:func:`open_kmt`) or exported to the simple CSV format of the trace
readers (:func:`export_csv`).

Layout (all integers little-endian)::

    file    := compressed( header frame* end )
    header  := "KMT1" | u32 L | L bytes of UTF-8 JSON (metadata)
    frame   := u32 n (1 <= n <= 1 << 20)
               | u32 M | M bytes of UTF-8 JSON: list of new command names (M may be 0)
               | n x u64 dtime_ns | n x i64 dsector | n x u32 nsectors
               | n x u8 op | n x u8 flags | n x u16 comm
    end     := u32 0 | u32 L | L bytes of UTF-8 JSON (trailer: capture statistics)

Columns, one entry per event:

* ``dtime_ns``: time since the previous record of the file (the first: since
  the trace origin ``header["t0_ns"]``); the absolute time is the running sum.
  Capture uses the ``mono`` trace clock, printed to the microsecond, so the
  values are multiples of 1000.
* ``dsector``: the request's first 512-byte sector minus the previous
  record's (the first: minus 0); running sum again.
* ``nsectors``: request length in 512-byte sectors (0 for a flush).
* ``op``: ``OP_W`` 0 write, ``OP_D`` 1 discard, ``OP_R`` 2 read, ``OP_F`` 3
  flush (``REQ_OP_FLUSH``, no data), ``OP_N`` 4 other (write zeroes, ...),
  ``OP_E`` 5 secure erase -- from the RWBS string (kernel/trace/blktrace.c
  ``blk_fill_rwbs``).
* ``flags``: ``F_PREFLUSH`` 1, ``F_FUA`` 2, ``F_RAHEAD`` 4, ``F_SYNC`` 8,
  ``F_META`` 16, ``F_COMPLETE`` 128 (the record is a completion event, not
  an issue).
* ``comm``: index into the command-name table (the task that issued the
  request: ``jbd2/loop0-8``, ``kworker/u4:1``, ``postgres``...), built from
  the frames' new-name lists in order; ``""`` for completion records (the
  context that completes a request is not the one that issued it).

Compression is detected by magic: xz (default, ``lzma``), gzip, or none.
Column-wise delta encoding makes sequential runs and steady arrival rates
compress to almost nothing.  A capture killed before it wrote ``end`` leaves
a file that still reads up to its last complete frame; the reader reports
it as ``truncated``.

The header JSON (written by the capture) holds at least ``format``
("kmt"), ``version`` (1), ``t0_ns``, ``sector_size`` (512),
``device_sectors``; the capture adds the kernel, file system, workload and
its parameters.  The trailer holds the event counts and the tracer's
``overrun``/``dropped_events``/``lost_events``.
"""

from __future__ import annotations

import gzip
import io
import json
import lzma
import os
import struct
from dataclasses import asdict, dataclass
from typing import BinaryIO, Iterator

import numpy as np

from kernelml.workloads.base import (DEFAULT_CHUNK, HINT_NONE, OP_TRIM, OP_WRITE, BlockChunk, BlockWorkload,
                                     TraceFormatError, rechunk)
from kernelml.workloads.fold import FOLDS, DenseMap, expand_requests

MAGIC = b"KMT1"
VERSION = 1
SECTOR = 512
MAX_FRAME = 1 << 20

OP_W, OP_D, OP_R, OP_F, OP_N, OP_E = range(6)
OP_NAMES = {OP_W: "write", OP_D: "discard", OP_R: "read", OP_F: "flush", OP_N: "other", OP_E: "secure_erase"}
F_PREFLUSH, F_FUA, F_RAHEAD, F_SYNC, F_META, F_COMPLETE = 1, 2, 4, 8, 16, 128

_XZ = b"\xfd7zXZ\x00"
_GZ = b"\x1f\x8b"
COMPRESSIONS = ("xz", "gzip", "none")


def rwbs_code(rwbs: str | bytes) -> tuple[int, int]:
    """(op, flags) of a blktrace RWBS string such as ``WS``, ``FWFS``, ``DE``, ``RA``."""
    s = rwbs.decode() if isinstance(rwbs, bytes) else rwbs
    flags = 0
    i = 0
    if len(s) >= 2 and s[0] == "F":  # REQ_PREFLUSH comes first; a lone "F" is REQ_OP_FLUSH
        flags |= F_PREFLUSH
        i = 1
    c = s[i:i + 1]
    if c == "W":
        op = OP_W
    elif c == "D":
        op, i = (OP_E, i + 1) if s[i + 1:i + 2] == "E" else (OP_D, i)
    elif c == "R":
        op = OP_R
    elif c == "F":
        op = OP_F
    else:
        op = OP_N
    for ch in s[i + 1:]:
        flags |= {"F": F_FUA, "A": F_RAHEAD, "S": F_SYNC, "M": F_META}.get(ch, 0)
    return op, flags


def rwbs_string(op: int, flags: int) -> str:
    """Inverse of :func:`rwbs_code` (for exports and messages)."""
    s = "F" if flags & F_PREFLUSH else ""
    s += {OP_W: "W", OP_D: "D", OP_R: "R", OP_F: "F", OP_N: "N", OP_E: "DE"}.get(int(op), "N")
    for bit, ch in ((F_FUA, "F"), (F_RAHEAD, "A"), (F_SYNC, "S"), (F_META, "M")):
        if flags & bit:
            s += ch
    return s


class KmtFormatError(TraceFormatError):
    """Not a .kmt file, or a damaged one."""


# ---------------------------------------------------------------- writing
class KmtWriter:
    """Streams records into a .kmt file.

    ``append(time_ns, op, flags, sector, nsectors, comm)`` takes equal-length
    arrays (``time_ns`` absolute on the trace clock, non-decreasing;
    ``comm`` a list of names) and buffers them; a frame is written every
    ``frame`` records and on :meth:`flush`.  :meth:`close` writes the
    trailer.  Times before ``t0_ns`` or going backwards are clamped (and
    counted in ``clamped``)."""

    def __init__(self, path: str, header: dict, compress: str = "xz", frame: int = 1 << 16,
                 preset: int = 6) -> None:
        if compress not in COMPRESSIONS:
            raise ValueError(f"compress must be one of {COMPRESSIONS}")
        if not 1 <= frame <= MAX_FRAME:
            raise ValueError("frame out of range")
        self.path = path
        self.header = dict(header)
        self.header.setdefault("format", "kmt")
        self.header.setdefault("version", VERSION)
        self.header.setdefault("sector_size", SECTOR)
        self.header.setdefault("t0_ns", 0)
        self.t0 = int(self.header["t0_ns"])
        self.frame = int(frame)
        raw = open(path, "wb")
        if compress == "xz":
            self._f: BinaryIO = lzma.open(raw, "wb", preset=preset)
        elif compress == "gzip":
            self._f = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0)
        else:
            self._f = raw
        self._raw = raw
        hb = json.dumps(self.header, sort_keys=True).encode()
        self._f.write(MAGIC + struct.pack("<I", len(hb)) + hb)
        self._names: dict[str, int] = {}
        self._new: list[str] = []
        self._buf: list[tuple] = []
        self._nbuf = 0
        self._last_t = self.t0
        self._last_sector = 0
        self.records = 0
        self.clamped = 0
        self.closed = False

    def comm_ids(self, names) -> np.ndarray:
        out = np.empty(len(names), np.uint16)
        for i, n in enumerate(names):
            if isinstance(n, bytes):
                n = n.decode("utf-8", "replace")
            k = self._names.get(n)
            if k is None:
                if len(self._names) >= 0xFFFF:
                    n, k = "?", self._names.get("?")
                if k is None:
                    k = len(self._names)
                    self._names[n] = k
                    self._new.append(n)
            out[i] = k
        return out

    def append(self, time_ns, op, flags, sector, nsectors, comm) -> None:
        n = len(time_ns)
        if n == 0:
            return
        ids = comm if isinstance(comm, np.ndarray) else self.comm_ids(comm)
        cols = (np.asarray(time_ns, np.int64), np.asarray(op, np.uint8), np.asarray(flags, np.uint8),
                np.asarray(sector, np.int64), np.asarray(nsectors, np.uint32), np.asarray(ids, np.uint16))
        if any(c.shape[0] != n for c in cols):
            raise ValueError("columns differ in length")
        self._buf.append(cols)
        self._nbuf += n
        if self._nbuf >= self.frame:
            self._drain(force=False)

    def flush(self) -> None:
        """Write every buffered record (the last frame may be short)."""
        self._drain(force=True)

    def _drain(self, force: bool) -> None:
        if not self._nbuf:
            return
        cols = [np.concatenate([b[i] for b in self._buf]) for i in range(6)]
        n = cols[0].shape[0]
        whole = n if force else n - n % self.frame
        for a in range(0, whole, self.frame):
            self._write_frame(*(c[a:min(whole, a + self.frame)] for c in cols))
        rest = tuple(c[whole:] for c in cols)
        self._buf, self._nbuf = ([rest], n - whole) if n > whole else ([], 0)

    def _write_frame(self, t, op, flags, sector, nsec, comm) -> None:
        n = t.shape[0]
        run = np.maximum.accumulate(np.concatenate(([self._last_t], t)))[1:]
        self.clamped += int(np.count_nonzero(run != t))
        dt = np.diff(np.concatenate(([self._last_t], run))).astype("<u8")
        ds = np.diff(np.concatenate(([self._last_sector], sector))).astype("<i8")
        self._last_t = int(run[-1])
        self._last_sector = int(sector[-1])
        names = json.dumps(self._new).encode() if self._new else b""
        self._new = []
        self._f.write(struct.pack("<II", n, len(names)) + names)
        for col in (dt, ds, nsec.astype("<u4"), op, flags, comm.astype("<u2")):
            self._f.write(np.ascontiguousarray(col).tobytes())
        self.records += n

    def close(self, trailer: dict | None = None) -> None:
        if self.closed:
            return
        self.flush()
        tb = json.dumps(dict(trailer or {}, records=self.records, time_clamped=self.clamped),
                        sort_keys=True).encode()
        self._f.write(struct.pack("<II", 0, len(tb)) + tb)
        self._f.close()
        if self._raw is not self._f:
            self._raw.close()
        self.closed = True

    def abort(self) -> None:
        """Close without a trailer (the file then reads as truncated)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.flush()
            self._f.close()
        finally:
            if self._raw is not self._f:
                self._raw.close()


# ---------------------------------------------------------------- reading
def _open_any(path: str) -> BinaryIO:
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(_XZ):
        return lzma.open(path, "rb")
    if head.startswith(_GZ):
        return gzip.open(path, "rb")
    return open(path, "rb")


@dataclass
class Frame:
    """Decoded records of one frame (absolute values)."""

    time_ns: np.ndarray  # int64, relative to the trace origin t0_ns
    op: np.ndarray  # uint8 OP_*
    flags: np.ndarray  # uint8 F_*
    sector: np.ndarray  # int64
    nsectors: np.ndarray  # int64
    comm: np.ndarray  # uint16 index into KmtFile.comms

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])


class KmtFile:
    """A .kmt file: ``header``, then ``frames()`` (a fresh streaming pass on
    every call); after a complete pass ``trailer`` (None if the file ended
    early: ``truncated`` is then True) and ``comms``."""

    def __init__(self, path: str) -> None:
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        self.path = str(path)
        with _open_any(self.path) as f:
            self.header = self._read_header(f)
        self.trailer: dict | None = None
        self.truncated = False
        self.comms: list[str] = []

    def _read_header(self, f: BinaryIO) -> dict:
        try:
            head = f.read(8)
        except (lzma.LZMAError, OSError, EOFError) as exc:
            raise KmtFormatError(f"{self.path}: cannot decompress: {exc}") from exc
        if len(head) < 8 or head[:4] != MAGIC:
            raise KmtFormatError(f"{self.path}: not a .kmt file (bad magic: no valid header)")
        (n,) = struct.unpack("<I", head[4:])
        try:
            h = json.loads(f.read(n))
        except ValueError as exc:
            raise KmtFormatError(f"{self.path}: damaged header") from exc
        if h.get("version") != VERSION:
            raise KmtFormatError(f"{self.path}: unsupported version {h.get('version')}")
        return h

    @staticmethod
    def _exact(f: BinaryIO, n: int) -> bytes:
        b = f.read(n)
        if len(b) != n:
            raise EOFError
        return b

    def frames(self) -> Iterator[Frame]:
        comms: list[str] = []
        t = int(0)
        s = int(0)
        self.trailer, self.truncated = None, False
        with _open_any(self.path) as f:
            self._read_header(f)
            try:
                while True:
                    n, m = struct.unpack("<II", self._exact(f, 8))
                    if n == 0:
                        self.trailer = json.loads(self._exact(f, m))
                        break
                    if n > MAX_FRAME:
                        raise KmtFormatError(f"{self.path}: frame of {n} records")
                    if m:
                        comms.extend(json.loads(self._exact(f, m)))
                    body = self._exact(f, n * 24)  # 8 + 8 + 4 + 1 + 1 + 2 bytes per record
                    o = 0
                    cols = []
                    for dt, w in (("<u8", 8), ("<i8", 8), ("<u4", 4), ("u1", 1), ("u1", 1), ("<u2", 2)):
                        cols.append(np.frombuffer(body, dt, n, o))
                        o += n * w
                    tt = np.cumsum(cols[0].astype(np.int64)) + t
                    ss = np.cumsum(cols[1]) + s
                    t, s = int(tt[-1]), int(ss[-1])
                    self.comms = comms
                    yield Frame(tt, cols[3].copy(), cols[4].copy(), ss, cols[2].astype(np.int64),
                                cols[5].copy())
            except (EOFError, lzma.LZMAError, gzip.BadGzipFile, ValueError):
                self.truncated = True  # ended early or damaged: what was read stands
        self.comms = comms

    def scan(self) -> dict:
        """One full pass: counts per op, issue/complete, bytes, time span."""
        c = {"records": 0, "issue": 0, "complete": 0, "bytes": {}, "count": {}, "first_ns": None,
             "last_ns": None, "max_sector_end": 0}
        for fr in self.frames():
            if not len(fr):
                continue
            c["records"] += len(fr)
            done = (fr.flags & F_COMPLETE) != 0
            c["complete"] += int(done.sum())
            c["issue"] += int((~done).sum())
            iss = ~done
            for code, name in OP_NAMES.items():
                k = iss & (fr.op == code)
                c["count"][name] = c["count"].get(name, 0) + int(k.sum())
                c["bytes"][name] = c["bytes"].get(name, 0) + int(fr.nsectors[k].sum()) * SECTOR
            if c["first_ns"] is None:
                c["first_ns"] = int(fr.time_ns[0])
            c["last_ns"] = int(fr.time_ns[-1])
            c["max_sector_end"] = max(c["max_sector_end"], int((fr.sector + fr.nsectors).max()))
        c["truncated"] = self.truncated
        c["comms"] = list(self.comms)
        return c


# ---------------------------------------------------------------- as a workload
@dataclass
class KmtStats:
    records: int = 0
    issues: int = 0
    writes: int = 0  # write requests with data
    trims: int = 0  # discard and secure-erase requests
    reads_skipped: int = 0
    flushes_skipped: int = 0  # REQ_OP_FLUSH (data-less) requests
    other_skipped: int = 0
    bytes_written: int = 0
    bytes_trimmed: int = 0
    write_blocks: int = 0
    trim_blocks: int = 0
    partial_trims_dropped: int = 0
    unmapped_trims_dropped: int = 0
    distinct_blocks: int = 0
    max_block: int = -1
    folded: bool = False
    folded_blocks: int = 0
    truncated: bool = False
    complete: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class KmtWorkload(BlockWorkload):
    """A .kmt trace as a replayable, streaming BlockWorkload.

    Issue events only (completions are skipped).  Writes become OP_WRITE of
    every 4 KiB block they touch, discards and secure erases become OP_TRIM
    of every block they cover completely (as the other trace readers do,
    :func:`kernelml.workloads.fold.expand_requests`); reads, flushes and
    other data-less requests are counted and skipped.  ``time_us`` is the
    event time since the trace's first record.

    ``fold``: ``dense`` (default; blocks renumbered in first-write order;
    ``n_blocks=None`` sizes the device to the footprint with one pass) or
    ``modulo`` (``n_blocks=None`` takes the captured device's size from the
    header, so block numbers are the file system's own)."""

    has_hints = False
    has_time = True

    def __init__(self, path: str, n_blocks: int | None = None, fold: str = "dense") -> None:
        if fold not in FOLDS:
            raise ValueError(f"unknown fold {fold!r}; known: {', '.join(FOLDS)}")
        if n_blocks is not None and int(n_blocks) <= 0:
            raise ValueError("n_blocks must be positive")
        self.file = KmtFile(path)
        self.path = self.file.path
        self.fold = fold
        self.name = f"kmt:{os.path.basename(self.path)}"
        self.header = self.file.header
        self._map = DenseMap() if fold == "dense" else None
        self.stats = KmtStats()
        if n_blocks is not None:
            self.n_blocks = int(n_blocks)
        elif fold == "modulo" and self.header.get("device_sectors"):
            self.n_blocks = max(1, int(self.header["device_sectors"]) * SECTOR // 4096)
        else:
            self.n_blocks = 1
            self._sizing = True
            for _ in self._blocks():
                pass
            self.n_blocks = max(1, len(self._map) if self._map is not None else self.stats.max_block + 1)
            self.stats.folded, self.stats.folded_blocks = False, 0
        self._sizing = False

    _sizing = False

    def _blocks(self) -> Iterator[BlockChunk]:
        st = KmtStats()
        t0 = None
        folded = 0
        pos = 0
        for fr in self.file.frames():
            st.records += len(fr)
            iss = (fr.flags & F_COMPLETE) == 0
            op, sec, nsec, t = fr.op[iss], fr.sector[iss], fr.nsectors[iss], fr.time_ns[iss]
            if t.size == 0:
                continue
            st.issues += int(t.size)
            if t0 is None:
                t0 = int(t[0])
            is_w = (op == OP_W) & (nsec > 0)
            is_t = ((op == OP_D) | (op == OP_E)) & (nsec > 0)
            st.reads_skipped += int(np.count_nonzero(op == OP_R))
            st.flushes_skipped += int(np.count_nonzero(op == OP_F))
            st.other_skipped += int(np.count_nonzero(~(is_w | is_t) & (op != OP_R) & (op != OP_F)))
            st.writes += int(is_w.sum())
            st.trims += int(is_t.sum())
            st.bytes_written += int(nsec[is_w].sum()) * SECTOR
            st.bytes_trimmed += int(nsec[is_t].sum()) * SECTOR
            keep = is_w | is_t
            rop = np.where(is_t[keep], OP_TRIM, OP_WRITE).astype(np.int8)
            t_us = (t[keep] - t0) // 1000
            lba, bop, btime, dropped = expand_requests(sec[keep] * SECTOR, nsec[keep] * SECTOR, rop, t_us)
            st.partial_trims_dropped += dropped
            if lba.size == 0:
                continue
            st.max_block = max(st.max_block, int(lba.max()))
            if self._map is not None:
                ids = self._map.map(lba, bop, pos)  # stream position: replays map as the first pass
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
            st.write_blocks += int(np.count_nonzero(bop == OP_WRITE))
            st.trim_blocks += int(np.count_nonzero(bop == OP_TRIM))
            if not self._sizing:
                yield BlockChunk(bop.astype(np.int8), dev_lba.astype(np.int64), btime.astype(np.int64),
                                 np.full(bop.size, HINT_NONE, np.int8))
        st.distinct_blocks = len(self._map) if self._map is not None else -1
        st.folded_blocks = folded
        st.folded = folded > 0
        st.truncated = self.file.truncated
        st.complete = True
        self.stats = st
        self.total_writes = st.write_blocks

    def chunks(self, chunk: int = DEFAULT_CHUNK) -> Iterator[BlockChunk]:
        return rechunk(self._blocks(), chunk)

    def scan(self) -> KmtStats:
        if not self.stats.complete:
            for _ in self._blocks():
                pass
        return self.stats

    def describe(self) -> dict:
        d = super().describe()
        d.update(path=self.path, format="kmt", fold=self.fold, header=self.header,
                 stats=self.stats.to_dict())
        return d


def open_kmt(path: str, n_blocks: int | None = None, fold: str = "dense", read_bytes: int | None = None
             ) -> KmtWorkload:
    """Open a .kmt trace as a streaming BlockWorkload (see :class:`KmtWorkload`).
    Same signature as the other trace readers' ``open_trace`` minus ``fmt``;
    ``read_bytes`` is accepted for symmetry and unused (frames are read
    whole)."""
    del read_bytes
    return KmtWorkload(path, n_blocks=n_blocks, fold=fold)


# ---------------------------------------------------------------- export
def export_csv(path: str, out, completions: bool = False) -> dict:
    """Write a .kmt trace as the trace readers' ``csv`` format
    (``time_us,op,offset_bytes,size_bytes``; op R, W or T), issue events
    only unless ``completions``.  Flushes and other data-less requests have
    no CSV op and are skipped (counted).  ``out``: a path or a text stream.
    Returns counts."""
    kf = KmtFile(path)
    own = isinstance(out, (str, os.PathLike))
    f = open(out, "w") if own else out
    counts = {"rows": 0, "skipped": 0}
    letter = np.array(["W", "T", "R", "", "", "T", "", ""], dtype=object)
    try:
        f.write("time_us,op,offset_bytes,size_bytes\n")
        for fr in kf.frames():
            keep = (fr.op <= OP_R) | (fr.op == OP_E)
            keep &= fr.nsectors > 0
            if not completions:
                keep &= (fr.flags & F_COMPLETE) == 0
            counts["skipped"] += int(len(fr) - np.count_nonzero(keep))
            t = fr.time_ns[keep] // 1000
            lt = letter[fr.op[keep]]
            off = fr.sector[keep] * SECTOR
            size = fr.nsectors[keep] * SECTOR
            buf = io.StringIO()
            for row in zip(t.tolist(), lt.tolist(), off.tolist(), size.tolist()):
                buf.write("%d,%s,%d,%d\n" % row)
            f.write(buf.getvalue())
            counts["rows"] += int(t.shape[0])
    finally:
        if own:
            f.close()
    counts["truncated"] = kf.truncated
    return counts
