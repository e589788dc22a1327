"""Small seeded block streams and a runner for the LFS model tests (kept
local so the tests do not depend on the workload generators' streams)."""

from __future__ import annotations

import numpy as np

from kernelml.kernel.lfs import LfsConfig, LfsSim


def uniform(n: int, m: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, m, dtype=np.int64)


def hotcold(n: int, m: int, seed: int, hot_frac: float = 0.1, hot_share: float = 0.9) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hot = max(1, int(n * hot_frac))
    is_hot = rng.random(m) < hot_share
    return np.where(is_hot, rng.integers(0, hot, m), rng.integers(hot, n, m)).astype(np.int64)


def zipfish(n: int, m: int, seed: int, s: float = 1.0) -> np.ndarray:
    """Bounded Zipf over ranks 1..n, rank k -> LBA k-1."""
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(m), side="right"), n - 1).astype(np.int64)


def trims(m: int, frac: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(m) < frac).astype(np.int64)


def simulate(lba: np.ndarray, n: int, *, spare: float = 0.10, bps: int = 512, placement=None,
             chooser=None, fill: bool = True, warmup: int = 0, op=None, nwi=None, debug=False,
             regime: str = "f2fs", chunk: int = 1 << 16, on_clean=None, **cfg) -> LfsSim:
    """Fill, apply ``lba`` (the first ``warmup`` writes unmeasured), return the sim."""
    sim = LfsSim(LfsConfig(n_lbas=n, blocks_per_seg=bps, spare_ppm=int(round(spare * 1e6)),
                           regime=regime, debug=debug, **cfg), placement, chooser,
                 on_clean=on_clean)
    if fill:
        sim.fill()
    if warmup == 0:
        sim.begin_measurement()
    for a in range(0, lba.size, chunk):
        b = min(lba.size, a + chunk)
        if warmup and a <= warmup < b:
            sim.apply(lba=lba[a:warmup], op=None if op is None else op[a:warmup],
                      nwi=None if nwi is None else nwi[a:warmup])
            sim.begin_measurement()
            a = warmup
        if a < b:
            sim.apply(lba=lba[a:b], op=None if op is None else op[a:b],
                      nwi=None if nwi is None else nwi[a:b])
    return sim


def waf(sim: LfsSim) -> float:
    m = sim.stats()["measured"]
    return (m["user"] + m["gcw"]) / m["user"]


class ArrayWorkload:
    """A whole write stream in memory, shaped like a BlockWorkload."""

    has_time = False
    has_hints = False

    def __init__(self, name: str, n_blocks: int, lba: np.ndarray, op=None, hint=None) -> None:
        from kernelml.workloads.base import BlockChunk

        self.name = name
        self.n_blocks = n_blocks
        m = lba.size
        self._c = BlockChunk(np.zeros(m, np.int8) if op is None else op.astype(np.int8), lba,
                             np.zeros(m, np.int64),
                             np.zeros(m, np.int8) if hint is None else hint.astype(np.int8))
        self.has_hints = hint is not None
        self.total_writes = int(np.count_nonzero(self._c.op == 0))

    def chunks(self, chunk: int = 1 << 16):
        for a in range(0, len(self._c), chunk):
            yield self._c.slice(a, min(len(self._c), a + chunk))

    def describe(self) -> dict:
        return {"name": self.name, "n_blocks": self.n_blocks}
