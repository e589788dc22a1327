"""Bounded Zipf sampling over ``n`` items, exact and fast.

P(rank k) = k^-s / H(n, s) for k = 1..n.  Ranks are drawn by inverting the
cumulative distribution with a *guide table* (Chen and Asau's indexed
search): ``guide[b]`` is the first rank whose CDF exceeds ``b/m``, so a
uniform draw ``u`` starts its search at ``guide[floor(u*m)]`` and needs, on
average, about one step forward.  This is exact (same result as a binary
search, ``searchsorted(cdf, u, side="right")``); the scan runs in numba.

Ranks map to items through a seeded random permutation, so the popular
items are scattered over the address space rather than packed at 0
(``permute=False`` keeps rank 1 at item 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _ranks(u, guide, cdf):
    m = guide.shape[0]
    out = np.empty(u.shape[0], np.int64)
    for i in range(u.shape[0]):
        x = u[i]
        b = int(x * m)
        if b >= m:
            b = m - 1
        j = guide[b]
        while cdf[j] <= x:
            j += 1
        out[i] = j
    return out


class ZipfSampler:
    def __init__(self, n: int, s: float, perm_rng: np.random.Generator | None = None,
                 permute: bool = True) -> None:
        if n <= 0:
            raise ValueError("n must be positive")
        if s < 0:
            raise ValueError("Zipf exponent must be >= 0")
        self.n = int(n)
        self.s = float(s)
        w = np.arange(1, self.n + 1, dtype=np.float64) ** (-self.s)
        cdf = np.cumsum(w)
        cdf /= cdf[-1]
        cdf[-1] = 1.0
        self.cdf = cdf
        self.pmf = w / w.sum()
        self.m = self.n  # guide-table size: about one step per draw
        self.guide = np.searchsorted(cdf, np.arange(self.m, dtype=np.float64) / self.m,
                                     side="right").astype(np.int64)
        if permute:
            rng = perm_rng if perm_rng is not None else np.random.default_rng(0)
            self.perm = rng.permutation(self.n).astype(np.int64)
        else:
            self.perm = None

    def ranks(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """k zero-based ranks (0 is the most popular)."""
        return _ranks(rng.random(k), self.guide, self.cdf)

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """k items (int64 in [0, n))."""
        r = self.ranks(rng, k)
        return self.perm[r] if self.perm is not None else r.astype(np.int64)

    def rank_of(self, items: np.ndarray) -> np.ndarray:
        """Inverse of the permutation: zero-based rank of each item."""
        if self.perm is None:
            return np.asarray(items, np.int64)
        inv = np.empty(self.n, np.int64)
        inv[self.perm] = np.arange(self.n, dtype=np.int64)
        return inv[np.asarray(items, np.int64)]
