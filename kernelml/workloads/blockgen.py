"""Synthetic block-write generators (vectorised numpy, seeded).

Every generator writes ``writes`` 4 KiB blocks (OP_WRITE) to a device of
``n_blocks`` logical blocks, without hints.  Warm-up (one sequential fill)
is the simulator's job, not part of these streams.  Registered names are a
CLI contract: ``uniform``, ``hotcold-90-10``, ``hotcold-80-20``,
``zipf-0.9``, ``zipf-1.2``, ``phase``, ``seqrand``.

Common keyword parameters (see :class:`kernelml.workloads.base.Timing`):
``interarrival_us``, ``arrival``, ``idle_every``, ``idle_us``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from kernelml.workloads.base import _BATCH, BlockChunk, BlockWorkload, Timing, rechunk, DEFAULT_CHUNK
from kernelml.workloads.zipf import ZipfSampler


class GeneratedBlockWorkload(BlockWorkload):
    """Skeleton of a generator: subclasses implement ``_stream(rng)``, which
    yields ``(op, lba, hint)`` batches of a fixed internal size and stops after
    ``self.total_writes`` writes.  Simple generators only implement
    ``_draw(rng, start, k)`` returning k LBAs for writes start..start+k-1."""

    has_time = True
    has_hints = False

    def __init__(self, name: str, n_blocks: int, writes: int, seed: int = 0,
                 interarrival_us: float = 10.0, arrival: str = "poisson",
                 idle_every: int = 0, idle_us: int = 0) -> None:
        if int(n_blocks) <= 0:
            raise ValueError("n_blocks must be positive")
        if int(writes) < 0:
            raise ValueError("writes must be >= 0")
        self.name = name
        self.n_blocks = int(n_blocks)
        self.total_writes = int(writes)
        self.seed = int(seed)
        self.timing = {"interarrival_us": float(interarrival_us), "arrival": arrival,
                       "idle_every": int(idle_every), "idle_us": int(idle_us)}
        Timing(np.random.default_rng(0), **self.timing)  # validate now, not mid-stream
        self.params: dict = {}

    def _rngs(self) -> tuple[np.random.Generator, np.random.Generator]:
        s_lba, s_time = np.random.SeedSequence(self.seed).spawn(2)
        return np.random.default_rng(s_lba), np.random.default_rng(s_time)

    def _draw(self, rng: np.random.Generator, start: int, k: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _stream(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        zeros = np.zeros(_BATCH, np.int8)
        for start in range(0, self.total_writes, _BATCH):
            k = min(_BATCH, self.total_writes - start)
            yield zeros[:k], self._draw(rng, start, k), zeros[:k]

    def chunks(self, chunk: int = DEFAULT_CHUNK) -> Iterator[BlockChunk]:
        rng, trng = self._rngs()
        timing = Timing(trng, **self.timing)

        def parts():
            for op, lba, hint in self._stream(rng):
                yield BlockChunk(op, lba, timing.stamp(len(lba)), hint)

        return rechunk(parts(), chunk)

    def describe(self) -> dict:
        d = super().describe()
        d.update(seed=self.seed, params=dict(self.params), timing=dict(self.timing))
        return d


class Uniform(GeneratedBlockWorkload):
    """Uniform random writes over all LBAs (the analytic GC reference case)."""

    def _draw(self, rng, start, k):
        return rng.integers(0, self.n_blocks, size=k, dtype=np.int64)


class HotCold(GeneratedBlockWorkload):
    """A share ``hot_share`` of the writes goes to a hot set of ``hot_frac``
    of the LBAs, uniformly; the rest goes uniformly to the other LBAs.
    The hot set is LBAs [0, h) (as in Rosenblum's LFS study and the SepBIT
    peer traces), or a seeded random subset with ``scatter=True``."""

    def __init__(self, name, n_blocks, writes, seed=0, hot_share=0.9, hot_frac=0.1,
                 scatter=False, **timing):
        super().__init__(name, n_blocks, writes, seed, **timing)
        if not (0.0 <= hot_share <= 1.0 and 0.0 < hot_frac < 1.0):
            raise ValueError("need 0 <= hot_share <= 1 and 0 < hot_frac < 1")
        self.hot_share = float(hot_share)
        self.n_hot = max(1, min(self.n_blocks - 1, int(round(self.n_blocks * hot_frac))))
        self.scatter = bool(scatter)
        self.params = {"hot_share": self.hot_share, "hot_frac": float(hot_frac),
                       "n_hot": self.n_hot, "scatter": self.scatter}
        self._perm = None
        if self.scatter:
            self._perm = np.random.default_rng([self.seed, 1]).permutation(self.n_blocks).astype(np.int64)

    def hot_set(self) -> np.ndarray:
        """The hot LBAs (sorted)."""
        if self._perm is None:
            return np.arange(self.n_hot, dtype=np.int64)
        return np.sort(self._perm[: self.n_hot])

    def _draw(self, rng, start, k):
        hot = rng.random(k) < self.hot_share
        x = np.where(hot, rng.integers(0, self.n_hot, size=k, dtype=np.int64),
                     rng.integers(self.n_hot, self.n_blocks, size=k, dtype=np.int64))
        return self._perm[x] if self._perm is not None else x


class Zipf(GeneratedBlockWorkload):
    """Bounded Zipf over all LBAs, P(rank k) ~ k^-s, ranks mapped to LBAs by
    a seeded random permutation (``permute=False``: rank 1 is LBA 0)."""

    def __init__(self, name, n_blocks, writes, seed=0, s=1.0, permute=True, **timing):
        super().__init__(name, n_blocks, writes, seed, **timing)
        self.s = float(s)
        self.sampler = ZipfSampler(self.n_blocks, self.s, np.random.default_rng([self.seed, 2]),
                                   permute=permute)
        self.params = {"s": self.s, "permute": bool(permute)}

    def _draw(self, rng, start, k):
        return self.sampler.sample(rng, k)


class Phase(GeneratedBlockWorkload):
    """A hot/cold workload whose hot set moves: every ``phase_writes`` writes
    (default: one device's worth) the hot window of ``hot_frac`` of the LBAs
    jumps to a new seeded random offset (contiguous, wrapping).  Within a
    phase ``hot_share`` of the writes go to the window, the rest uniformly
    anywhere.  Data that was hot turns cold at a phase change, which a
    policy must notice."""

    def __init__(self, name, n_blocks, writes, seed=0, hot_share=0.9, hot_frac=0.1,
                 phase_writes=None, **timing):
        super().__init__(name, n_blocks, writes, seed, **timing)
        self.hot_share = float(hot_share)
        self.n_hot = max(1, int(round(self.n_blocks * hot_frac)))
        self.phase_writes = int(phase_writes or self.n_blocks)
        if self.phase_writes <= 0:
            raise ValueError("phase_writes must be positive")
        self.params = {"hot_share": self.hot_share, "hot_frac": float(hot_frac),
                       "phase_writes": self.phase_writes}

    def window_start(self, phase: int) -> int:
        """First LBA of the hot window in phase ``phase``."""
        return int(np.random.default_rng([self.seed, 3, phase]).integers(0, self.n_blocks))

    def _draw(self, rng, start, k):
        idx = np.arange(start, start + k, dtype=np.int64)
        ph = idx // self.phase_writes
        first, last = int(ph[0]), int(ph[-1])
        base = np.array([self.window_start(p) for p in range(first, last + 1)], np.int64)[ph - first]
        hot = rng.random(k) < self.hot_share
        x_hot = (base + rng.integers(0, self.n_hot, size=k, dtype=np.int64)) % self.n_blocks
        x_any = rng.integers(0, self.n_blocks, size=k, dtype=np.int64)
        return np.where(hot, x_hot, x_any)


class SeqRand(GeneratedBlockWorkload):
    """Sequential runs mixed with random single-block writes.  A share
    ``seq_share`` of the written blocks belongs to runs of consecutive LBAs
    (geometric lengths, mean ``run_blocks``; start uniform; wrapping at the
    device end); the rest are uniform random single blocks.  Runs are cut
    at internal batch boundaries (every 65536 blocks)."""

    def __init__(self, name, n_blocks, writes, seed=0, seq_share=0.5, run_blocks=64, **timing):
        super().__init__(name, n_blocks, writes, seed, **timing)
        if not (0.0 <= seq_share < 1.0) or run_blocks < 1:
            raise ValueError("need 0 <= seq_share < 1 and run_blocks >= 1")
        self.seq_share = float(seq_share)
        self.run_blocks = float(run_blocks)
        L = self.run_blocks
        # request-level probability of a run, so that runs carry seq_share of the blocks
        self.p_run = self.seq_share / (L * (1.0 - self.seq_share) + self.seq_share)
        self.params = {"seq_share": self.seq_share, "run_blocks": L}

    def _draw(self, rng, start, k):
        mean = self.p_run * self.run_blocks + (1.0 - self.p_run)
        lens_all, total = [], 0
        while total < k:
            m = int((k - total) / mean * 1.1) + 16
            is_run = rng.random(m) < self.p_run
            lens = np.where(is_run, rng.geometric(1.0 / self.run_blocks, m), 1).astype(np.int64)
            lens_all.append(lens)
            total += int(lens.sum())
        lens = np.concatenate(lens_all)
        ends = np.cumsum(lens)
        n_req = int(np.searchsorted(ends, k, side="left")) + 1
        lens = lens[:n_req].copy()
        lens[-1] -= int(ends[n_req - 1]) - k
        starts = rng.integers(0, self.n_blocks, size=n_req, dtype=np.int64)
        first = np.cumsum(lens) - lens
        off = np.arange(k, dtype=np.int64) - np.repeat(first, lens)
        return (np.repeat(starts, lens) + off) % self.n_blocks


# ---- registered factories: make(name, n_blocks, writes, seed, **params) ----

def uniform(n_blocks: int, writes: int, seed: int = 0, **params) -> Uniform:
    """Uniform random 4 KiB writes over the whole device."""
    return Uniform("uniform", n_blocks, writes, seed, **params)


def hotcold_90_10(n_blocks: int, writes: int, seed: int = 0, **params) -> HotCold:
    """90 % of writes to 10 % of the LBAs (hot set = first 10 %)."""
    params.setdefault("hot_share", 0.9)
    params.setdefault("hot_frac", 0.1)
    return HotCold("hotcold-90-10", n_blocks, writes, seed, **params)


def hotcold_80_20(n_blocks: int, writes: int, seed: int = 0, **params) -> HotCold:
    """80 % of writes to 20 % of the LBAs (hot set = first 20 %)."""
    params.setdefault("hot_share", 0.8)
    params.setdefault("hot_frac", 0.2)
    return HotCold("hotcold-80-20", n_blocks, writes, seed, **params)


def zipf_0_9(n_blocks: int, writes: int, seed: int = 0, **params) -> Zipf:
    """Bounded Zipf (s = 0.9) over permuted LBAs."""
    params.setdefault("s", 0.9)
    return Zipf("zipf-0.9", n_blocks, writes, seed, **params)


def zipf_1_2(n_blocks: int, writes: int, seed: int = 0, **params) -> Zipf:
    """Bounded Zipf (s = 1.2) over permuted LBAs."""
    params.setdefault("s", 1.2)
    return Zipf("zipf-1.2", n_blocks, writes, seed, **params)


def phase(n_blocks: int, writes: int, seed: int = 0, **params) -> Phase:
    """Hot window (10 % of LBAs, 90 % of writes) that moves every device-full of writes."""
    return Phase("phase", n_blocks, writes, seed, **params)


def seqrand(n_blocks: int, writes: int, seed: int = 0, **params) -> SeqRand:
    """Sequential runs (mean 64 blocks, half the volume) mixed with random writes."""
    return SeqRand("seqrand", n_blocks, writes, seed, **params)
