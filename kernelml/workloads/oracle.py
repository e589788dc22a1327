"""Future knowledge for oracles: when is each block or page touched next?

``annotate_next_write(lbas, ops)``: for each position i of a block stream,
the index of the next write or trim of the same LBA, or -1 (the GC oracle's
exact invalidation time).  ``annotate_next_access(pages)``: the same for a
page-access stream (Belady's MIN evicts the page whose next access is
farthest).  One backward pass in numba with a last-seen table; keys are
first renumbered densely (hash table, first-seen order) when they are
sparse (e.g. virtual addresses), so memory stays proportional to the
stream.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernelml.workloads.fold import DenseMap


@njit(cache=True)
def _next_index(keys, n_keys, valid):
    last = np.full(n_keys, -1, np.int64)
    out = np.full(keys.shape[0], -1, np.int64)
    for i in range(keys.shape[0] - 1, -1, -1):
        if not valid[i]:
            continue
        k = keys[i]
        out[i] = last[k]
        last[k] = i
    return out


def _dense_keys(keys: np.ndarray) -> tuple[np.ndarray, int]:
    keys = np.ascontiguousarray(keys, np.int64)
    if keys.size == 0:
        return keys, 1
    lo, hi = int(keys.min()), int(keys.max())
    if lo >= 0 and hi < max(4 * keys.size, 1 << 20):
        return keys, hi + 1
    if lo < 0:
        uniq, inv = np.unique(keys, return_inverse=True)
        return inv.astype(np.int64).reshape(-1), int(uniq.size)
    m = DenseMap(keys.size)  # hash renumbering: linear time
    ids = m.map(keys, np.zeros(keys.size, np.int8))
    return ids, len(m)


def annotate_next_write(lbas: np.ndarray, ops: np.ndarray | None = None) -> np.ndarray:
    """Index of the next write or trim of the same LBA (int64), -1 if none.

    ``ops`` (OP_WRITE 0 / OP_TRIM 1) may be omitted; entries with any other
    op code (e.g. reads, if a caller kept them) neither get nor are a next
    write (their result is -1)."""
    keys, n = _dense_keys(lbas)
    if ops is None:
        valid = np.ones(keys.shape[0], np.bool_)
    else:
        ops = np.asarray(ops)
        if ops.shape != keys.shape:
            raise ValueError("lbas and ops must have the same length")
        valid = (ops == 0) | (ops == 1)
    return _next_index(keys, n, valid)


def annotate_next_access(pages: np.ndarray) -> np.ndarray:
    """Index of the next access to the same page (int64), -1 if none."""
    keys, n = _dense_keys(pages)
    return _next_index(keys, n, np.ones(keys.shape[0], np.bool_))
