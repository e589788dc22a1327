"""Small deterministic page-access streams for the DAMON tests (no tests here)."""

import numpy as np


def hot_cold(n_pages=512, hot=64, duration_s=20, rate=20_000, seed=0, hot_start=0):
    """Touch every page once in the first 100 ms (address order), then access
    only the hot pages [hot_start, hot_start + hot) uniformly at ``rate`` per
    second.  Returns (times_us, pages) as int64 arrays."""
    rng = np.random.default_rng(seed)
    t_touch = np.arange(n_pages, dtype=np.int64) * 100_000 // n_pages
    n = int(duration_s * rate)
    t_rest = 100_000 + np.arange(n, dtype=np.int64) * 1_000_000 // rate
    p_rest = hot_start + rng.integers(0, hot, n)
    return np.concatenate([t_touch, t_rest]), np.concatenate([np.arange(n_pages), p_rest]).astype(np.int64)


def all_pages_every_ms(n_pages=100, duration_s=2):
    """Every page accessed once per millisecond."""
    ms = duration_s * 1000
    times = np.repeat(np.arange(ms, dtype=np.int64) * 1000, n_pages)
    pages = np.tile(np.arange(n_pages, dtype=np.int64), ms)
    return times, pages


def shifting(n_pages=2048, duration_s=12, rate=20_000, seed=0, ws=256, phase_s=3):
    """A working set of ``ws`` pages that moves every ``phase_s`` seconds,
    with 10 % of the accesses spread over the whole space (refaults for
    reclaim policies).  Returns (times_us, pages)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * rate)
    times = np.arange(n, dtype=np.int64) * 1_000_000 // rate
    phase = times // (phase_s * 1_000_000)
    base = (phase * 613) % (n_pages - ws)
    pages = base + rng.integers(0, ws, n)
    spread = rng.random(n) < 0.1
    pages[spread] = rng.integers(0, n_pages, int(spread.sum()))
    return times, pages.astype(np.int64)
