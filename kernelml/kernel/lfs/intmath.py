"""Integer helpers for the LFS model: what a kernel would write with shifts,
integer division and integer Newton iterations, vectorised over numpy int64
segment arrays.

Nothing here uses floating point.  Arrays are int64; callers keep their
operands inside the documented ranges (times below 2**62, products below
2**63) so that no intermediate overflows.
"""

from __future__ import annotations

import numpy as np

UINT_MAX = (1 << 32) - 1  # C unsigned int, the F2FS cost type
ULLONG_MAX = (1 << 64) - 1  # C unsigned long long
INT64_BITS = 63  # magnitude bits of a non-negative int64


def bit_length(a: np.ndarray) -> np.ndarray:
    """Vectorised ``int.bit_length`` for non-negative int64 values (0 -> 0)."""
    x = np.asarray(a, dtype=np.int64).copy()
    n = np.zeros(x.shape, dtype=np.int64)
    for shift in (32, 16, 8, 4, 2, 1):
        big = x >= (np.int64(1) << shift)
        n += np.where(big, shift, 0)
        x = np.where(big, x >> shift, x)
    return n + (x > 0)


def isqrt(n: int) -> int:
    """Floor square root of a non-negative Python int by integer Newton
    iteration (starts above the root, decreases monotonically to it)."""
    if n < 0:
        raise ValueError("isqrt of a negative number")
    if n < 2:
        return n
    x = 1 << ((n.bit_length() + 1) >> 1)  # >= sqrt(n)
    while True:
        y = (x + n // x) >> 1
        if y >= x:
            return x
        x = y


def isqrt_array(a: np.ndarray) -> np.ndarray:
    """Vectorised floor square root of non-negative int64 values.

    Same Newton iteration as :func:`isqrt`, element-wise: start at
    ``2**ceil(bits/2)`` (never below the root) and iterate
    ``x <- (x + n // x) // 2`` while it decreases.  At most about six rounds
    for 63-bit inputs.
    """
    n = np.asarray(a, dtype=np.int64)
    if np.any(n < 0):
        raise ValueError("isqrt of a negative number")
    m = np.maximum(n, 2)  # 0 and 1 are their own roots; iterate on >= 2 only
    x = np.left_shift(np.int64(1), (bit_length(m) + 1) >> 1)
    while True:
        y = (x + m // x) >> 1
        dec = y < x
        if not dec.any():
            break
        x = np.where(dec, y, x)
    return np.where(n < 2, n, x)


def argmax_ratio(num: np.ndarray, den: np.ndarray) -> int:
    """Position of the largest ``num / den`` (exact), the first one on ties.

    ``num >= 0`` and ``den >= 0`` are int64 arrays of one length (not empty);
    ``den == 0`` stands for +infinity whatever ``num`` is (the first such
    position wins).  ``num`` must stay below 2**62.

    Method: a fixed-point key ``(num << k) // den`` with the largest shift
    ``k`` that cannot overflow ranks the values; positions whose key equals
    the maximum are then compared exactly by cross-multiplication on Python
    integers (distinct (num, den) pairs only, usually one or two), so the
    answer is exact, not approximate.
    """
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    inf = den == 0
    if inf.any():
        return int(np.argmax(inf))
    top = int(num.max())
    k = max(0, INT64_BITS - 1 - top.bit_length())
    key = np.left_shift(num, k) // den
    best = key.max()
    tied = np.flatnonzero(key == best)
    if tied.size == 1:
        return int(tied[0])
    pairs = np.stack((num[tied], den[tied]), axis=1)
    uniq = np.unique(pairs, axis=0)
    bn, bd = int(uniq[0, 0]), int(uniq[0, 1])
    for n_, d_ in uniq[1:]:
        n_, d_ = int(n_), int(d_)
        if n_ * bd > bn * d_:
            bn, bd = n_, d_
    # first tied position whose ratio equals bn/bd (exact: a*bd == bn*b)
    for pos in tied:
        if int(num[pos]) * bd == bn * int(den[pos]):
            return int(pos)
    return int(tied[0])  # pragma: no cover - unreachable


def argmin_first(cost: np.ndarray) -> int:
    """Position of the smallest cost, the first one on ties (the kernel's
    ``if (cost < min_cost)`` scan)."""
    return int(np.argmin(cost))
