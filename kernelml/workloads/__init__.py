"""Workloads: block-write streams for the GC simulator and page-access
streams for the DAMON reclaim simulator, generated or read from traces.

Block side: ``make(name, n_blocks, writes, seed, **params)`` (names in
``WORKLOADS``) and ``open_trace(path, fmt, n_blocks=None, fold="dense")``
return a :class:`BlockWorkload` whose ``chunks()`` stream
:class:`BlockChunk` arrays (op, lba, time_us, hint).  ``fill_chunk`` gives
the warm-up fill; ``annotate_next_write`` the oracle's future knowledge.

Page side: ``make_pages(name, n_pages, duration_s, seed, **params)`` (names
in ``PAGE_WORKLOADS``) and ``open_page_trace(path, fmt)`` return a
:class:`PageWorkload` streaming :class:`PageChunk` (time_us, page, write);
``touched_per_interval`` reduces it to pages per sampling interval;
``annotate_next_access`` serves Belady.

Importing this package compiles nothing: generator and reader modules (and
numba) load on first use.
"""

from __future__ import annotations

from kernelml.registry import Registry
from kernelml.workloads.base import (BLOCK_SIZE, HINT_COLD, HINT_HOT, HINT_NAMES, HINT_NONE, HINT_WARM,
                                     OP_TRIM, OP_WRITE, BlockChunk, BlockWorkload, PageChunk, PageWorkload,
                                     fill_chunk, fill_chunks)

WORKLOADS = Registry("block workload", {
    "uniform": "kernelml.workloads.blockgen:uniform",
    "hotcold-90-10": "kernelml.workloads.blockgen:hotcold_90_10",
    "hotcold-80-20": "kernelml.workloads.blockgen:hotcold_80_20",
    "zipf-0.9": "kernelml.workloads.blockgen:zipf_0_9",
    "zipf-1.2": "kernelml.workloads.blockgen:zipf_1_2",
    "phase": "kernelml.workloads.blockgen:phase",
    "seqrand": "kernelml.workloads.blockgen:seqrand",
    "tpcc": "kernelml.workloads.tpcc:tpcc",
    "files": "kernelml.workloads.files:files",
})

PAGE_WORKLOADS = Registry("page workload", {
    "hotcold": "kernelml.workloads.pagegen:hotcold",
    "phases": "kernelml.workloads.pagegen:phases",
    "scan": "kernelml.workloads.pagegen:scan",
    "zipf": "kernelml.workloads.pagegen:zipf",
    "masim-zigzag": "kernelml.workloads.masim:masim_zigzag",
    "masim-stairs": "kernelml.workloads.masim:masim_stairs",
})

BLOCK_FORMATS = ("csv", "blkparse", "msr", "mqsim", "cloudphysics", "alibaba", "kmt")
PAGE_FORMATS = ("pages", "lackey", "vmtrace")


def make(name: str, n_blocks: int, writes: int, seed: int = 0, **params) -> BlockWorkload:
    """A registered block-write generator (see ``WORKLOADS.describe()``)."""
    return WORKLOADS.get(name)(n_blocks=n_blocks, writes=writes, seed=seed, **params)


def make_pages(name: str, n_pages: int | None = None, duration_s: float = 300.0, seed: int = 0,
               **params) -> PageWorkload:
    """A registered page-access generator (see ``PAGE_WORKLOADS.describe()``).
    ``n_pages`` None: 65,536 pages (256 MiB), or the config's own size for masim."""
    return PAGE_WORKLOADS.get(name)(n_pages=n_pages, duration_s=duration_s, seed=seed, **params)


def open_trace(path: str, fmt: str, n_blocks: int | None = None, fold: str = "dense", **opts) -> BlockWorkload:
    """Open a block trace file (formats in ``BLOCK_FORMATS``); see
    :func:`kernelml.workloads.readers.open_trace`."""
    if fmt == "kmt":  # the compact format of `kernelml capture block`
        from kernelml.workloads.kmt import open_kmt
        return open_kmt(path, n_blocks=n_blocks, fold=fold, **opts)
    from kernelml.workloads.readers import open_trace as _open_trace
    return _open_trace(path, fmt, n_blocks=n_blocks, fold=fold, **opts)


def open_page_trace(path: str, fmt: str, **opts) -> PageWorkload:
    """Open a page-access trace (formats in ``PAGE_FORMATS``); see
    :func:`kernelml.workloads.pagereaders.open_page_trace`."""
    from kernelml.workloads.pagereaders import open_page_trace as _open
    return _open(path, fmt, **opts)


def annotate_next_write(lbas, ops=None):
    """Index of the next write/trim of the same LBA, -1 if none (numba)."""
    from kernelml.workloads.oracle import annotate_next_write as _f
    return _f(lbas, ops)


def annotate_next_access(pages):
    """Index of the next access to the same page, -1 if none (numba)."""
    from kernelml.workloads.oracle import annotate_next_access as _f
    return _f(pages)


def touched_per_interval(workload: PageWorkload, interval_us: int = 5000, chunk: int = 1 << 16):
    """Yield (start_us, sorted unique pages) per sampling interval."""
    from kernelml.workloads.intervals import touched_per_interval as _f
    return _f(workload, interval_us, chunk)


__all__ = [
    "BLOCK_SIZE", "OP_WRITE", "OP_TRIM", "HINT_NONE", "HINT_HOT", "HINT_WARM", "HINT_COLD", "HINT_NAMES",
    "BlockChunk", "BlockWorkload", "PageChunk", "PageWorkload", "WORKLOADS", "PAGE_WORKLOADS",
    "BLOCK_FORMATS", "PAGE_FORMATS", "make", "make_pages", "open_trace", "open_page_trace",
    "fill_chunk", "fill_chunks", "annotate_next_write", "annotate_next_access", "touched_per_interval",
]
