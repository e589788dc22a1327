"""A private tracefs instance with the readahead and filemap tracepoints of one device.

A :class:`kernelml.linux.tracefs.TraceInstance` (its conventions:
``instances/kernelml_<pid>_<hex>``, a private tracefs mount when none
exists, every step through :class:`~kernelml.linux.sysio.KernelIO` with its
reversal on the :class:`~kernelml.linux.sysio.Undo` stack, the
instance removed only after the pipe is closed, ``kernelml capture
cleanup`` finds it if the process dies), but for the events of
:mod:`kernelml.workloads.readahead_trace`: ``readahead:page_cache_sync_ra``,
``page_cache_async_ra``, ``page_cache_ra_order`` and the ``filemap:``
page-cache events, each filtered to ``s_dev == major << 20 | minor``.

``read()`` returns parsed :class:`~kernelml.workloads.readahead_trace.RaEvents`
(non-blocking ``trace_pipe``); ``stats()`` sums the per-CPU ring-buffer
counters (overruns, dropped events).
"""

from __future__ import annotations

import os
import select
from dataclasses import dataclass, field

from kernelml.linux.tracefs import TraceInstance, find_tracefs
from kernelml.workloads.readahead_trace import EVENTS, RaEventParser, RaEvents, empty_events

# Readahead calls and faults: a few events per readahead window or mapped miss.  The page
# cache insert/delete events come per folio (a 2.5 MiB mmap read-around is 640 order-0
# folios, and as many deletions under memory pressure: 700 000 events a second on this VM,
# more than a Python reader parses) and get_pages per read(): optional.
DEFAULT_EVENTS = (("readahead", "page_cache_sync_ra"), ("readahead", "page_cache_async_ra"),
                  ("readahead", "page_cache_ra_order"), ("filemap", "mm_filemap_fault"))
CACHE_EVENTS = (("filemap", "mm_filemap_add_to_page_cache"), ("filemap", "mm_filemap_delete_from_page_cache"))
READ_EVENTS = (("filemap", "mm_filemap_get_pages"),)


@dataclass
class RaTrace(TraceInstance):
    events: tuple = DEFAULT_EVENTS
    buffer_kb: int = 16384
    filter_field: str = "s_dev"
    parser: RaEventParser = field(default=None, repr=False)
    raw_out: object = None  # an open binary file: every byte read is also written there
    skipped_bytes: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.parser = RaEventParser(self.dev_t)

    def check_events(self) -> None:
        known = {(g, e) for g, evs in EVENTS.items() for e in evs}
        bad = [ev for ev in self.events if isinstance(ev, str) or tuple(ev) not in known]
        if bad:
            raise ValueError(f"unsupported events {bad}")

    def available(self) -> bool:
        root = find_tracefs()
        return root is not None and all(
            os.path.isdir(os.path.join(root, "events", g, e)) for g, e in self.pairs())

    def read_bytes(self, timeout: float = 0.0, limit: int = 64 << 20) -> bytes:
        """Whatever the pipe holds now (waiting up to ``timeout`` s for the first byte)."""
        if self.fd < 0:
            return b""
        if timeout > 0:
            r, _, _ = select.select([self.fd], [], [], timeout)
            if not r:
                return b""
        out, n = [], 0
        while n < limit:
            try:
                b = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                break
            if not b:
                break
            out.append(b)
            n += len(b)
        data = b"".join(out)
        if data and self.raw_out is not None:
            self.raw_out.write(data)
        return data

    def read(self, timeout: float = 0.0, limit: int = 8 << 20) -> RaEvents:
        """Parsed events; beyond ``limit`` bytes a read is discarded (counted in
        ``skipped_bytes``) so that a flood cannot stall the caller."""
        data = self.read_bytes(timeout, limit)
        if len(data) >= limit:
            self.skipped_bytes += len(data) + len(self.read_bytes(0.0, 256 << 20))
            self.parser = RaEventParser(self.dev_t)
            return empty_events()
        return self.parser.feed(data) if data else empty_events()
