"""Synthetic page-access generators for the DAMON reclaim simulator.

Accesses come at a fixed ``rate`` (accesses per simulated second, default
2x10^5): access i happens at ``i * 10^6 // rate`` us.  Real programs touch
memory 10^6-10^7 times per second or more, but a DAMON-style monitor only
asks which pages were touched in each 5 ms sampling interval
(:func:`kernelml.workloads.base.touched_per_interval`), so a moderate rate
keeps streams small while every hot page is still seen in most intervals.
Durations default to 300 s: DAMON_RECLAIM's ``min_age`` is 120 s, so cold
memory must be able to age past it.

With ``first_touch`` (default) the stream starts by touching every page
once, in address order, as a program that allocates and initialises its
memory would; this is part of the access budget.  ``write_share`` of the
other accesses are writes.  Registered names (CLI contract): ``hotcold``,
``phases``, ``scan``, ``zipf`` here, ``masim-zigzag`` and ``masim-stairs``
in :mod:`kernelml.workloads.masim`.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from kernelml.workloads.base import _BATCH, DEFAULT_CHUNK, PageChunk, PageWorkload, rechunk
from kernelml.workloads.zipf import ZipfSampler

DEFAULT_PAGES = 1 << 16  # 256 MiB of 4 KiB pages


class GeneratedPageWorkload(PageWorkload):
    """Skeleton: subclasses implement ``_draw(rng, t_us, idx, state) -> pages``
    for the accesses at times ``t_us`` (global indices ``idx``); ``state`` is
    a dict private to one pass over the stream."""

    has_write = True

    def __init__(self, name: str, n_pages: int | None, duration_s: float = 300.0, seed: int = 0,
                 rate: float = 200_000.0, write_share: float = 0.3, first_touch: bool = True) -> None:
        n_pages = DEFAULT_PAGES if n_pages is None else int(n_pages)
        if n_pages <= 0 or duration_s <= 0 or rate <= 0:
            raise ValueError("n_pages, duration_s and rate must be positive")
        if not 0.0 <= write_share <= 1.0:
            raise ValueError("write_share must be in [0, 1]")
        self.name = name
        self.n_pages = n_pages
        self.seed = int(seed)
        self.rate = float(rate)
        self.duration_us = int(round(duration_s * 1e6))
        self.n_accesses = int(duration_s * rate)
        self.write_share = float(write_share)
        self.first_touch = bool(first_touch)
        self.params: dict = {}

    def time_of(self, idx: np.ndarray) -> np.ndarray:
        return (idx * 1_000_000 / self.rate).astype(np.int64)

    def _draw(self, rng, t_us, idx, state):  # pragma: no cover
        raise NotImplementedError

    def chunks(self, chunk: int = DEFAULT_CHUNK) -> Iterator[PageChunk]:
        s_main, s_w = np.random.SeedSequence(self.seed).spawn(2)
        rng, wrng = np.random.default_rng(s_main), np.random.default_rng(s_w)
        n_touch = min(self.n_pages, self.n_accesses) if self.first_touch else 0
        state: dict = {}

        def parts():
            for start in range(0, self.n_accesses, _BATCH):
                k = min(_BATCH, self.n_accesses - start)
                idx = np.arange(start, start + k, dtype=np.int64)
                t = self.time_of(idx)
                write = wrng.random(k) < self.write_share
                touch = idx < n_touch
                pages = np.empty(k, np.int64)
                if touch.any():
                    pages[touch] = idx[touch]
                    write[touch] = True
                rest = ~touch
                if rest.any():
                    pages[rest] = self._draw(rng, t[rest], idx[rest], state)
                yield PageChunk(t, pages, write)

        return rechunk(parts(), chunk)

    def describe(self) -> dict:
        d = super().describe()
        d.update(seed=self.seed, rate=self.rate, n_accesses=self.n_accesses,
                 write_share=self.write_share, first_touch=self.first_touch, params=dict(self.params))
        return d


class HotColdPages(GeneratedPageWorkload):
    """A hot window of ``hot_frac`` of the pages takes all accesses but a
    ``cold_share`` that goes uniformly to the rest.  With the defaults (20 %
    hot, 0.1 % cold share) a cold page is touched about every 260 s of a
    64 Ki-page space at 2x10^5 accesses/s: most cold pages outlive
    DAMON_RECLAIM's 120 s min_age, some come back (refaults)."""

    def __init__(self, name, n_pages, duration_s=300.0, seed=0, hot_frac=0.2, cold_share=0.001, **kw):
        super().__init__(name, n_pages, duration_s, seed, **kw)
        if not (0 < hot_frac < 1 and 0 <= cold_share <= 1):
            raise ValueError("need 0 < hot_frac < 1 and 0 <= cold_share <= 1")
        self.n_hot = max(1, int(round(self.n_pages * hot_frac)))
        self.hot_start = int(np.random.default_rng([self.seed, 10]).integers(0, self.n_pages - self.n_hot + 1))
        self.cold_share = float(cold_share)
        self.params = {"hot_frac": float(hot_frac), "cold_share": self.cold_share,
                       "hot_start": self.hot_start, "n_hot": self.n_hot}

    def hot_pages(self) -> np.ndarray:
        return np.arange(self.hot_start, self.hot_start + self.n_hot, dtype=np.int64)

    def _draw(self, rng, t_us, idx, state):
        k = t_us.size
        hot = self.hot_start + rng.integers(0, self.n_hot, size=k, dtype=np.int64)
        n_cold = self.n_pages - self.n_hot
        if n_cold <= 0 or self.cold_share == 0:
            return hot
        c = rng.integers(0, n_cold, size=k, dtype=np.int64)
        cold = np.where(c < self.hot_start, c, c + self.n_hot)
        return np.where(rng.random(k) < self.cold_share, cold, hot)


class PhasesPages(GeneratedPageWorkload):
    """The working set (a window of ``ws_frac`` of the pages, uniform
    accesses) jumps to a new seeded offset every ``phase_s`` seconds; the
    previous working set goes cold."""

    def __init__(self, name, n_pages, duration_s=300.0, seed=0, ws_frac=0.25, phase_s=60.0, **kw):
        super().__init__(name, n_pages, duration_s, seed, **kw)
        if not (0 < ws_frac <= 1 and phase_s > 0):
            raise ValueError("need 0 < ws_frac <= 1 and phase_s > 0")
        self.n_ws = max(1, int(round(self.n_pages * ws_frac)))
        self.phase_us = int(phase_s * 1e6)
        self.params = {"ws_frac": float(ws_frac), "phase_s": float(phase_s)}

    def window_start(self, phase: int) -> int:
        return int(np.random.default_rng([self.seed, 11, phase]).integers(0, self.n_pages - self.n_ws + 1))

    def _draw(self, rng, t_us, idx, state):
        ph = t_us // self.phase_us
        lo = int(ph[0])
        starts = np.array([self.window_start(p) for p in range(lo, int(ph[-1]) + 1)], np.int64)
        return starts[ph - lo] + rng.integers(0, self.n_ws, size=t_us.size, dtype=np.int64)


class ScanPages(GeneratedPageWorkload):
    """A hot set (first ``hot_frac`` of the pages, uniform random) plus a
    sequential scan over all the other pages every ``scan_period_s``
    seconds, starting at t = period: during a scan ``scan_share`` of the
    accesses are the scan's next page, until the area is covered.  With a
    period above DAMON_RECLAIM's min_age, the scanned pages age out between
    scans and come back: the case where reclaim hurts."""

    def __init__(self, name, n_pages, duration_s=300.0, seed=0, hot_frac=0.1, scan_period_s=150.0,
                 scan_share=0.5, **kw):
        super().__init__(name, n_pages, duration_s, seed, **kw)
        if not (0 < hot_frac < 1 and scan_period_s > 0 and 0 < scan_share <= 1):
            raise ValueError("need 0 < hot_frac < 1, scan_period_s > 0, 0 < scan_share <= 1")
        self.n_hot = max(1, int(round(self.n_pages * hot_frac)))
        self.n_scan = self.n_pages - self.n_hot
        self.period_us = int(scan_period_s * 1e6)
        self.scan_share = float(scan_share)
        self.params = {"hot_frac": float(hot_frac), "scan_period_s": float(scan_period_s),
                       "scan_share": self.scan_share}

    def _draw(self, rng, t_us, idx, state):
        k = t_us.size
        pages = rng.integers(0, self.n_hot, size=k, dtype=np.int64)
        cand = (rng.random(k) < self.scan_share) & (t_us >= self.period_us)
        if not cand.any() or self.n_scan <= 0:
            return pages
        win = t_us // self.period_us
        ci = np.flatnonzero(cand)
        w = win[ci]
        # ordinal of each candidate within its window, continuing the carried count
        first = np.concatenate(([True], w[1:] != w[:-1]))
        grp_start = np.maximum.accumulate(np.where(first, np.arange(ci.size), 0))
        ordinal = np.arange(ci.size) - grp_start
        carried_w, carried_n = state.get("scan", (-1, 0))  # window, scan accesses done in it
        if w[0] == carried_w:
            ordinal[w == w[0]] += carried_n
        state["scan"] = (int(w[-1]), int(ordinal[-1]) + 1)
        scan = ordinal < self.n_scan
        pages[ci[scan]] = self.n_hot + ordinal[scan]
        return pages


class ZipfPages(GeneratedPageWorkload):
    """Bounded Zipf (exponent ``s``, default 1.0) over permuted pages."""

    def __init__(self, name, n_pages, duration_s=300.0, seed=0, s=1.0, **kw):
        super().__init__(name, n_pages, duration_s, seed, **kw)
        self.sampler = ZipfSampler(self.n_pages, s, np.random.default_rng([self.seed, 12]))
        self.params = {"s": float(s)}

    def _draw(self, rng, t_us, idx, state):
        return self.sampler.sample(rng, t_us.size)


def hotcold(n_pages=None, duration_s=300.0, seed=0, **params):
    """A hot 20 % of memory, the rest touched rarely (0.1 % of accesses)."""
    return HotColdPages("hotcold", n_pages, duration_s, seed, **params)


def phases(n_pages=None, duration_s=300.0, seed=0, **params):
    """A 25 % working set that moves every 60 s."""
    return PhasesPages("phases", n_pages, duration_s, seed, **params)


def scan(n_pages=None, duration_s=300.0, seed=0, **params):
    """A hot 10 % plus a sequential scan of the rest every 150 s."""
    return ScanPages("scan", n_pages, duration_s, seed, **params)


def zipf(n_pages=None, duration_s=300.0, seed=0, **params):
    """Zipf (s = 1.0) page popularity over a permuted address space."""
    return ZipfPages("zipf", n_pages, duration_s, seed, **params)
