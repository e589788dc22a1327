"""Integer random numbers for the monitor (damon_rand), seeded per instance.

The kernel draws with get_random_u32_below(); here a 64-bit linear
congruential generator (Knuth's MMIX constants) keeps its state in a
one-element int64 array, so every monitor has its own reproducible stream
and numba code can draw without touching numpy's global generator.  The
top 31 bits of the state are used, scaled with a multiply-shift (no
rejection: the bias is below 2^-31 * n, negligible for region sizes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MUL = 6364136223846793005
_INC = 1442695040888963407
_MASK31 = (1 << 31) - 1


def new_state(seed: int) -> np.ndarray:
    """A fresh generator state for ``seed`` (any int)."""
    st = np.zeros(1, np.int64)
    x = (int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & ((1 << 64) - 1)
    st[0] = np.int64(x - (1 << 64) if x >= (1 << 63) else x)
    for _ in range(4):
        next31(st)
    return st


@njit(cache=True)
def next31(st):
    """Advance the state and return 31 random bits (0 <= r < 2^31)."""
    x = st[0] * _MUL + _INC  # int64 arithmetic wraps modulo 2^64
    st[0] = x
    return (x >> 33) & _MASK31


@njit(cache=True)
def below(st, n):
    """Uniform integer in [0, n) for 0 < n < 2^31 (get_random_u32_below)."""
    return (next31(st) * n) >> 31


@njit(cache=True)
def damon_rand(st, lo, hi):
    """damon_rand(l, r): uniform in [lo, hi), hi > lo; spans up to 2^62."""
    span = hi - lo
    if span < (1 << 31):
        return lo + below(st, span)
    r = (next31(st) << 31) | next31(st)
    return lo + r % span
