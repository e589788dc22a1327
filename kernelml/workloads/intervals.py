"""Which pages were touched in each sampling interval.

A DAMON-style monitor only asks whether a page was accessed since its last
check, so a page stream reduces to one set of pages per sampling interval
(5 ms by default in DAMON).  :func:`touched_per_interval` does that
reduction in one pass with a per-page "last interval seen" stamp (numba):
each page is emitted at most once per interval, in time order.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from numba import njit

from kernelml.workloads.base import DEFAULT_CHUNK, PageWorkload


@njit(cache=True)
def _reduce(t, p, interval_us, stamp, out_p, out_k, out_end):
    """Deduplicate (interval, page) pairs.  Returns the number of interval
    groups; group g has pages out_p[out_end[g-1]:out_end[g]], sorted."""
    n_out = 0
    g = 0
    cur = -1
    start = 0
    for i in range(t.shape[0]):
        k = t[i] // interval_us
        if k != cur:
            if cur >= 0:
                out_p[start:n_out] = np.sort(out_p[start:n_out])
                out_k[g] = cur
                out_end[g] = n_out
                g += 1
            cur = k
            start = n_out
        x = p[i]
        if stamp[x] != k:
            stamp[x] = k
            out_p[n_out] = x
            n_out += 1
    if cur >= 0:
        out_p[start:n_out] = np.sort(out_p[start:n_out])
        out_k[g] = cur
        out_end[g] = n_out
        g += 1
    return g


def touched_per_interval(workload: PageWorkload, interval_us: int = 5000,
                         chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start_us, pages)`` for each interval ``[k*interval_us,
    (k+1)*interval_us)`` with at least one access; ``pages`` is sorted,
    unique int64.  Needs ``0 <= page < workload.n_pages``."""
    if interval_us <= 0:
        raise ValueError("interval_us must be positive")
    stamp = np.full(max(1, int(workload.n_pages)), -1, np.int64)
    pend_k = -1
    pend: list[np.ndarray] = []
    for c in workload.chunks(chunk):
        n = len(c)
        if n == 0:
            continue
        out_p = np.empty(n, np.int64)
        out_k = np.empty(n, np.int64)
        out_end = np.empty(n, np.int64)
        g = _reduce(np.ascontiguousarray(c.time_us), np.ascontiguousarray(c.page), int(interval_us),
                    stamp, out_p, out_k, out_end)
        a = 0
        for j in range(g):
            k, b = int(out_k[j]), int(out_end[j])
            if k != pend_k and pend:
                yield pend_k * interval_us, (np.sort(np.concatenate(pend)) if len(pend) > 1 else pend[0])
                pend = []
            pend_k = k
            pend.append(out_p[a:b])
            a = b
    if pend:
        yield pend_k * interval_us, (np.sort(np.concatenate(pend)) if len(pend) > 1 else pend[0])
