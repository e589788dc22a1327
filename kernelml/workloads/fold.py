"""Mapping a trace's block numbers onto a device of ``n_blocks`` blocks.

``dense`` (default): distinct blocks are renumbered 0, 1, 2, ... in the
order they are first *written*; a trim of a block never written before is
dropped (it cannot invalidate anything).  When a trace has more distinct
blocks than the device, dense numbers are folded modulo ``n_blocks`` (two
trace blocks then share a device block; the reader's stats say how many
were folded).  ``modulo``: block ``b`` goes to ``b % n_blocks`` (keeps
spatial locality and sequentiality, but a sparse trace leaves holes).

The dense renumbering uses an open-addressing hash table (linear probing,
power-of-two capacity, load <= 1/2) in numba: tens of millions of lookups
per second, memory about 48 bytes per distinct block.  The table is kept
(with each block's first-write position), so a replay of the stream maps
exactly as the first pass did.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FOLDS = ("dense", "modulo")


@njit(cache=True)
def _slot(x, mask):
    h = np.uint64(x) * np.uint64(0x9E3779B97F4A7C15)
    return np.int64(h >> np.uint64(20)) & mask


@njit(cache=True)
def _map_batch(keys, vals, firsts, size, lbas, ops, pos0, out):
    """Dense ids for ``lbas`` (stream positions pos0, pos0+1, ...): new ids
    for first-seen written blocks, -1 for trims (op 1) of blocks not written
    before this position (pos0 < 0: positions unknown, only never-seen
    blocks count as unwritten).  Returns the new table size."""
    mask = keys.shape[0] - 1
    for i in range(lbas.shape[0]):
        x = lbas[i]
        h = _slot(x, mask)
        while True:
            k = keys[h]
            if k == x:
                if ops[i] == 1 and pos0 >= 0 and firsts[h] > pos0 + i:
                    out[i] = -1  # a replay: the block is first written later
                else:
                    out[i] = vals[h]
                break
            if k == -1:
                if ops[i] == 1:
                    out[i] = -1
                else:
                    keys[h] = x
                    vals[h] = size
                    firsts[h] = pos0 + i if pos0 >= 0 else 0
                    out[i] = size
                    size += 1
                break
            h = (h + 1) & mask
    return size


@njit(cache=True)
def _rehash(keys, vals, firsts, nkeys, nvals, nfirsts):
    mask = nkeys.shape[0] - 1
    for i in range(keys.shape[0]):
        x = keys[i]
        if x == -1:
            continue
        h = _slot(x, mask)
        while nkeys[h] != -1:
            h = (h + 1) & mask
        nkeys[h] = x
        nvals[h] = vals[i]
        nfirsts[h] = firsts[i]


class DenseMap:
    """First-write-order renumbering of non-negative int64 block numbers."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        cap = 1 << max(4, int(capacity - 1).bit_length())
        self.keys = np.full(cap, -1, np.int64)
        self.vals = np.zeros(cap, np.int64)
        self.firsts = np.zeros(cap, np.int64)  # stream position of the first write
        self.size = 0

    def _grow(self, need: int) -> None:
        cap = self.keys.shape[0]
        if 2 * need <= cap:
            return
        while 2 * need > cap:
            cap *= 2
        nkeys = np.full(cap, -1, np.int64)
        nvals = np.zeros(cap, np.int64)
        nfirsts = np.zeros(cap, np.int64)
        _rehash(self.keys, self.vals, self.firsts, nkeys, nvals, nfirsts)
        self.keys, self.vals, self.firsts = nkeys, nvals, nfirsts

    def map(self, lbas: np.ndarray, ops: np.ndarray, pos0: int | None = None) -> np.ndarray:
        """Dense ids (int64) of the blocks at stream positions pos0, pos0+1,
        ...; -1 where a trim hits a block not written before it.  Pass the
        running block count as ``pos0`` on every pass: then a replay maps
        exactly as the first pass did (without it, a replayed trim of a
        block that is first written later in the stream is kept)."""
        lbas = np.ascontiguousarray(lbas, np.int64)
        ops = np.ascontiguousarray(ops, np.int8)
        self._grow(self.size + lbas.shape[0])
        out = np.empty(lbas.shape[0], np.int64)
        self.size = int(_map_batch(self.keys, self.vals, self.firsts, self.size, lbas, ops,
                                   -1 if pos0 is None else int(pos0), out))
        return out

    def __len__(self) -> int:
        return self.size


def expand_requests(offset: np.ndarray, size: np.ndarray, op: np.ndarray, time_us: np.ndarray,
                    block: int = 4096):
    """Byte-addressed requests -> one entry per 4 KiB block.

    A write covers every block it touches (a partial block is rewritten
    whole, as a 4 KiB-mapped FTL or file system would).  A trim invalidates
    only the blocks it covers completely.  Returns ``(lba, op, time_us,
    n_partial_trims)``, where the last counts trims that covered no whole
    block (dropped)."""
    offset = np.asarray(offset, np.int64)
    size = np.asarray(size, np.int64)
    is_trim = np.asarray(op) == 1
    first = np.where(is_trim, (offset + block - 1) // block, offset // block)
    last = np.where(is_trim, (offset + size) // block - 1, (offset + size - 1) // block)
    cnt = np.maximum(last - first + 1, 0)
    dropped = int(np.count_nonzero(is_trim & (cnt == 0)))
    total = int(cnt.sum())
    starts = np.cumsum(cnt) - cnt
    lba = np.repeat(first, cnt) + (np.arange(total, dtype=np.int64) - np.repeat(starts, cnt))
    return lba, np.repeat(np.asarray(op, np.int8), cnt), np.repeat(time_us, cnt), dropped
