#!/usr/bin/env python3
"""Cross-check the LFS model against the SepBIT authors' GC simulator.

The peer (github.com/fallfish/sepbit, ``trace_replay``, Java) was run on
three generated traces; its write amplification is pinned below
(``PEER``, from its results file).  This script regenerates the same three
traces in memory (the peer's generator, reimplemented: N = 262,144 LBAs, a
sequential fill, then 8N writes; uniform / hotcold 90 % to the first 10 % /
bounded Zipf s = 1.0; numpy ``default_rng(42 + trace index)``), runs this
model in the ``sepbit`` GC regime (log grows as needed, GC after every user
write while invalid blocks in sealed segments exceed 15 % of the log's
blocks, one segment per GC, candidates with garbage share >= 15 %, six open
classes) and prints ours against the peer's:

    WA_sim    = (all user writes, fill included, + GC writes) / all user writes
    WA_nofill = 1 + GC writes / 8N

Placements: NoSep = ``single`` (GC copies share the user log), SepGC =
``sepgc``, SepBIT = ``sepbit``, FK = ``fk`` (ours, geometric in the
remaining lifetime, much stronger), FK-peer = ``fk`` with
``scale="linear", classes=6`` (the artifact's FK, r // segment).

Usage: python benchmarks/peer_check.py [--n 262144] [--mult 8] [--traces uniform,hotcold,zipf]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from kernelml.bench.gc_run import run_gc
from kernelml.workloads.base import BlockChunk, BlockWorkload

# peer results (sepbit-sim-results.txt): (trace, selection, placement) -> (WA_sim, WA_nofill, nGC)
PEER = {
    ("uniform", "greedy", "NoSep"): (3.188, 3.461, 14088),
    ("uniform", "greedy", "SepGC"): (3.185, 3.458, 14074),
    ("uniform", "greedy", "SepBIT"): (3.186, 3.459, 14078),
    ("uniform", "greedy", "FK"): (3.030, 3.284, 13358),
    ("uniform", "cost-benefit", "NoSep"): (3.190, 3.464, 14098),
    ("uniform", "cost-benefit", "SepGC"): (3.190, 3.464, 14097),
    ("uniform", "cost-benefit", "SepBIT"): (3.191, 3.465, 14102),
    ("uniform", "cost-benefit", "FK"): (3.035, 3.290, 13382),
    ("hotcold", "greedy", "NoSep"): (3.654, 3.986, 16235),
    ("hotcold", "greedy", "SepGC"): (3.335, 3.627, 14767),
    ("hotcold", "greedy", "SepBIT"): (3.055, 3.312, 13477),
    ("hotcold", "greedy", "FK"): (3.302, 3.589, 14608),
    ("hotcold", "cost-benefit", "NoSep"): (3.607, 3.932, 16017),
    ("hotcold", "cost-benefit", "SepGC"): (2.228, 2.381, 9664),
    ("hotcold", "cost-benefit", "SepBIT"): (1.975, 2.097, 8499),
    ("hotcold", "cost-benefit", "FK"): (2.972, 3.218, 13088),
    ("zipf", "greedy", "NoSep"): (4.377, 4.800, 19569),
    ("zipf", "greedy", "SepGC"): (3.380, 3.678, 14974),
    ("zipf", "greedy", "SepBIT"): (2.430, 2.609, 10594),
    ("zipf", "greedy", "FK"): (2.361, 2.531, 10274),
    ("zipf", "cost-benefit", "NoSep"): (4.332, 4.749, 19361),
    ("zipf", "cost-benefit", "SepGC"): (2.278, 2.438, 9894),
    ("zipf", "cost-benefit", "SepBIT"): (2.012, 2.139, 8669),
    ("zipf", "cost-benefit", "FK"): (1.985, 2.108, 8541),
}
PLACEMENT = {"NoSep": "single", "SepGC": "sepgc", "SepBIT": "sepbit", "FK": "fk",
             "FK-peer": "fk-linear"}
TRACES = ("uniform", "hotcold", "zipf")


def peer_lbas(kind: str, n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """The peer generator's LBA stream: fill 0..n-1, then m writes."""
    if kind == "uniform":
        x = rng.integers(0, n, size=m, dtype=np.int64)
    elif kind == "hotcold":
        hot = n // 10
        is_hot = rng.random(m) < 0.9
        x = np.where(is_hot, rng.integers(0, hot, size=m), rng.integers(hot, n, size=m)).astype(np.int64)
    elif kind == "zipf":
        w = 1.0 / np.arange(1, n + 1, dtype=np.float64)
        cdf = np.cumsum(w)
        cdf /= cdf[-1]
        x = np.searchsorted(cdf, rng.random(m), side="right").astype(np.int64)
        x = np.minimum(x, n - 1)
    else:
        raise ValueError(kind)
    return np.concatenate([np.arange(n, dtype=np.int64), x])


class ArrayWorkload(BlockWorkload):
    """A whole stream held in memory (writes only, no hints)."""

    has_time = False
    has_hints = False

    def __init__(self, name: str, n_blocks: int, lba: np.ndarray) -> None:
        self.name = name
        self.n_blocks = n_blocks
        self.total_writes = int(lba.size)
        self._lba = lba

    def chunks(self, chunk: int = 1 << 16):
        for a in range(0, self._lba.size, chunk):
            b = min(self._lba.size, a + chunk)
            yield BlockChunk(np.zeros(b - a, np.int8), self._lba[a:b], np.zeros(b - a, np.int64),
                             np.zeros(b - a, np.int8))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=262144)
    ap.add_argument("--mult", type=int, default=8)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--traces", default=",".join(TRACES))
    ap.add_argument("--selections", default="greedy,cost-benefit")
    ap.add_argument("--placements", default="NoSep,SepGC,SepBIT,FK,FK-peer")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    rows = []
    print(f"{'trace':8} {'sel':12} {'place':6} {'WA_sim':>7} {'peer':>7} {'diff':>6}  "
          f"{'WA_nofill':>9} {'peer':>7} {'diff':>6}  {'nGC':>6} {'peer':>6}  {'wr/s':>9}")
    kinds = a.traces.split(",")
    for ti, kind in enumerate(TRACES):
        if kind not in kinds:
            continue
        rng = np.random.default_rng(a.seed + ti)
        lba = peer_lbas(kind, a.n, a.mult * a.n, rng)
        w = ArrayWorkload(kind, a.n, lba)
        for sel in a.selections.split(","):
            for place in a.placements.split(","):
                t0 = time.perf_counter()
                pl = PLACEMENT[place]
                if pl == "fk-linear":  # the artifact's FK: r // segment, 6 classes
                    from kernelml.kernel.lfs.placement.fk import FK
                    pl = FK(classes=6, scale="linear")
                r = run_gc(w, policy=sel, placement=pl, regime="sepbit", fill=False,
                           count_fill=True, samples=0, seed=0)
                dt = time.perf_counter() - t0
                g = r["gc_writes"]
                wa_sim = r["waf"]
                wa_nofill = 1 + g / (a.mult * a.n)
                peer = PEER.get((kind, sel, place.replace("-peer", ""))) if (a.n, a.mult, a.seed) == (262144, 8, 42) else None
                d1 = (wa_sim / peer[0] - 1) * 100 if peer else float("nan")
                d2 = (wa_nofill / peer[1] - 1) * 100 if peer else float("nan")
                row = {"trace": kind, "selection": sel, "placement": place, "wa_sim": wa_sim,
                       "wa_nofill": wa_nofill, "n_gc": r["gc_invocations"],
                       "peer": peer, "diff_sim_pct": d1, "diff_nofill_pct": d2,
                       "writes_per_s": lba.size / dt, "peak_segments": r["device"]["peak_segments"]}
                rows.append(row)
                print(f"{kind:8} {sel:12} {place:6} {wa_sim:7.3f} {peer[0] if peer else 0:7.3f} "
                      f"{d1:+5.1f}%  {wa_nofill:9.3f} {peer[1] if peer else 0:7.3f} {d2:+5.1f}%  "
                      f"{r['gc_invocations']:6d} {peer[2] if peer else 0:6d}  {lba.size / dt:9.0f}",
                      flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
