"""Stream types shared by every block and page workload.

A *block workload* is a stream of 4 KiB block operations on a device of
``n_blocks`` logical blocks, delivered in chunks of equal-length numpy
arrays (:class:`BlockChunk`).  A *page workload* is a stream of page
accesses in an address space of ``n_pages`` 4 KiB pages
(:class:`PageChunk`).  Both are streaming: ``chunks()`` never materialises
a whole trace, and calling it again replays the same stream.

Units: block and page numbers are 4 KiB units; times are integer
microseconds (``time_us``), non-decreasing within a stream.

Determinism: generators produce their stream in fixed internal batches and
re-cut them to the requested chunk size (:func:`rechunk`), so the stream
depends only on the seed and parameters, never on ``chunk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

BLOCK_SIZE = 4096  # bytes per logical block and per page
SECTOR_SIZE = 512  # bytes per sector in sector-addressed trace formats

OP_WRITE = 0
OP_TRIM = 1  # discard / delete: invalidates the block

HINT_NONE = 0
HINT_HOT = 1
HINT_WARM = 2
HINT_COLD = 3
HINT_NAMES = {HINT_NONE: "none", HINT_HOT: "hot", HINT_WARM: "warm", HINT_COLD: "cold"}

DEFAULT_CHUNK = 1 << 16
_BATCH = 1 << 16  # internal generation batch (fixed, so streams do not depend on chunk)


class TraceFormatError(ValueError):
    """The file does not look like the format it was opened as."""


@dataclass
class BlockChunk:
    """Equal-length arrays: one entry per 4 KiB block operation."""

    op: np.ndarray  # int8: OP_WRITE or OP_TRIM
    lba: np.ndarray  # int64: logical block number on the device, 0 <= lba < n_blocks
    time_us: np.ndarray  # int64: non-decreasing
    hint: np.ndarray  # int8: HINT_* (HINT_NONE when the source has no hints)

    def __len__(self) -> int:
        return int(self.lba.shape[0])

    def slice(self, a: int, b: int) -> "BlockChunk":
        return BlockChunk(self.op[a:b], self.lba[a:b], self.time_us[a:b], self.hint[a:b])

    @staticmethod
    def concat(parts: list["BlockChunk"]) -> "BlockChunk":
        if len(parts) == 1:
            return parts[0]
        return BlockChunk(
            np.concatenate([p.op for p in parts]),
            np.concatenate([p.lba for p in parts]),
            np.concatenate([p.time_us for p in parts]),
            np.concatenate([p.hint for p in parts]),
        )

    @staticmethod
    def empty() -> "BlockChunk":
        return BlockChunk(np.empty(0, np.int8), np.empty(0, np.int64),
                          np.empty(0, np.int64), np.empty(0, np.int8))


@dataclass
class PageChunk:
    """Equal-length arrays: one entry per page access."""

    time_us: np.ndarray  # int64: non-decreasing
    page: np.ndarray  # int64: page number (address >> 12), 0 <= page < n_pages
    write: np.ndarray | None = None  # bool, or None when the source does not say

    def __len__(self) -> int:
        return int(self.page.shape[0])

    def slice(self, a: int, b: int) -> "PageChunk":
        w = None if self.write is None else self.write[a:b]
        return PageChunk(self.time_us[a:b], self.page[a:b], w)

    @staticmethod
    def concat(parts: list["PageChunk"]) -> "PageChunk":
        if len(parts) == 1:
            return parts[0]
        w = None
        if all(p.write is not None for p in parts):
            w = np.concatenate([p.write for p in parts])
        return PageChunk(np.concatenate([p.time_us for p in parts]),
                         np.concatenate([p.page for p in parts]), w)


def rechunk(parts: Iterable, chunk: int) -> Iterator:
    """Re-cut a stream of Block/PageChunks into chunks of exactly ``chunk``
    entries (the last one may be shorter).  Empty inputs are skipped."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    pending: list = []
    have = 0
    for part in parts:
        n = len(part)
        if n == 0:
            continue
        pending.append(part)
        have += n
        if have < chunk:
            continue
        whole = type(part).concat(pending)
        start = 0
        while have - start >= chunk:
            yield whole.slice(start, start + chunk)
            start += chunk
        pending = [whole.slice(start, have)] if start < have else []
        have -= start
    if have:
        yield type(pending[0]).concat(pending)


class BlockWorkload:
    """Base of every block workload (generators and trace readers).

    Attributes: ``name``; ``n_blocks`` (logical blocks of the target
    device); ``has_time`` (timestamps are meaningful, not only an order);
    ``has_hints`` (``hint`` carries temperature hints); ``total_writes``
    (number of OP_WRITE blocks in the stream, or None if not known yet).
    """

    name = "?"
    n_blocks = 0
    has_time = True
    has_hints = False
    total_writes: int | None = None

    def chunks(self, chunk: int = DEFAULT_CHUNK) -> Iterator[BlockChunk]:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> dict:
        """Facts about the stream, JSON-serialisable, to write beside results."""
        return {"name": self.name, "n_blocks": int(self.n_blocks), "has_time": self.has_time,
                "has_hints": self.has_hints, "total_writes": self.total_writes}

    def materialize(self) -> BlockChunk:
        """The whole stream in one chunk (small workloads, tests, oracles)."""
        parts = list(self.chunks(1 << 20))
        return BlockChunk.concat(parts) if parts else BlockChunk.empty()


class PageWorkload:
    """Base of every page-access workload.

    Attributes: ``name``; ``n_pages`` (address-space size in 4 KiB pages);
    ``duration_us`` (simulated length of the stream); ``has_write``.
    """

    name = "?"
    n_pages = 0
    duration_us = 0
    has_write = False

    def chunks(self, chunk: int = DEFAULT_CHUNK) -> Iterator[PageChunk]:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "n_pages": int(self.n_pages),
                "duration_us": int(self.duration_us), "has_write": self.has_write}

    def materialize(self) -> PageChunk:
        parts = list(self.chunks(1 << 20))
        if not parts:
            return PageChunk(np.empty(0, np.int64), np.empty(0, np.int64), None)
        return PageChunk.concat(parts)


def fill_chunk(n_blocks: int, time_us: int = 0) -> BlockChunk:
    """One sequential write of every block 0..n_blocks-1 (device warm-up),
    all stamped ``time_us``, no hints."""
    n = int(n_blocks)
    return BlockChunk(np.zeros(n, np.int8), np.arange(n, dtype=np.int64),
                      np.full(n, time_us, np.int64), np.zeros(n, np.int8))


def fill_chunks(n_blocks: int, chunk: int = DEFAULT_CHUNK, time_us: int = 0) -> Iterator[BlockChunk]:
    """The warm-up fill as a stream of chunks (for large devices)."""
    for a in range(0, int(n_blocks), chunk):
        b = min(int(n_blocks), a + chunk)
        yield BlockChunk(np.zeros(b - a, np.int8), np.arange(a, b, dtype=np.int64),
                         np.full(b - a, time_us, np.int64), np.zeros(b - a, np.int8))


class Timing:
    """Synthetic timestamps for generated block streams.

    ``interarrival_us``: mean gap between consecutive block operations
    (default 10 us, i.e. 100k blocks/s, about 400 MiB/s of 4 KiB writes).
    ``arrival``: ``"poisson"`` (exponential gaps, rounded to whole us) or
    ``"constant"``.  ``idle_every`` / ``idle_us``: after every
    ``idle_every`` operations the device is idle for ``idle_us`` (0 = never),
    so background GC has idle time to use.  Times come from their own random
    stream, so changing the timing never changes the block sequence.
    """

    def __init__(self, rng: np.random.Generator, interarrival_us: float = 10.0,
                 arrival: str = "poisson", idle_every: int = 0, idle_us: int = 0) -> None:
        if arrival not in ("poisson", "constant"):
            raise ValueError(f"arrival must be 'poisson' or 'constant', got {arrival!r}")
        if interarrival_us < 0 or idle_every < 0 or idle_us < 0:
            raise ValueError("timing parameters must be non-negative")
        self.rng = rng
        self.mean = float(interarrival_us)
        self.arrival = arrival
        self.idle_every = int(idle_every)
        self.idle_us = int(idle_us)
        self.t = 0  # time of the last operation
        self.i = 0  # operations stamped so far

    def stamp(self, n: int) -> np.ndarray:
        if self.arrival == "constant":
            gaps = np.full(n, int(round(self.mean)), np.int64)
        else:
            gaps = np.rint(self.rng.exponential(self.mean, n)).astype(np.int64)
        if self.i == 0 and n:
            gaps[0] = 0  # the stream starts at t = 0
        if self.idle_every:
            idx = np.arange(self.i, self.i + n, dtype=np.int64)
            gaps += np.where((idx % self.idle_every == 0) & (idx > 0), self.idle_us, 0)
        t = self.t + np.cumsum(gaps)
        if n:
            self.t = int(t[-1])
        self.i += n
        return t

    def params(self) -> dict:
        return {"interarrival_us": self.mean, "arrival": self.arrival,
                "idle_every": self.idle_every, "idle_us": self.idle_us}
