#!/usr/bin/env python3
"""Speed of the LFS model: user block writes per second, greedy GC.

Uniform random 4 KiB writes on a device of 1 GiB and 4 GiB logical space
(2 MiB segments), after a sequential fill and one device-full of warm-up
writes; numba compile time excluded (a tiny run compiles first).  Victims
are chosen in Python for every GC: by the registered F2FS greedy (scan
cursor, as the kernel) and by the simulator's built-in greedy.  Also the
oracle annotation pass (next_write_index) and the sequential fill.

Prints wall-clock and process-CPU rates and the machine (``lscpu | head``).

Usage: python benchmarks/bench_lfs_speed.py [--gib 1,4] [--spare 0.10] [--mult 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

from kernelml.kernel.lfs import LfsConfig, LfsSim
from kernelml.kernel.lfs.sim import greedy_fallback
from kernelml.kernel.lfs.victims import VICTIMS

BLOCKS_PER_GIB = 1 << 18


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def bench_gc(n: int, spare: float, mult: int, chooser, seed: int = 1) -> dict:
    sim = LfsSim(LfsConfig(n_lbas=n, spare_ppm=int(round(spare * 1e6))), None, chooser)
    fill_w, _ = timed(sim.fill)
    rng = np.random.default_rng(seed)
    for _ in range(2):  # warm-up: one device-full, so GC is in steady state
        sim.apply(lba=rng.integers(0, n, n // 2))
    sim.begin_measurement()
    chunks = [rng.integers(0, n, 1 << 20) for _ in range(max(1, mult * n >> 20))]

    def go():
        for c in chunks:
            sim.apply(lba=c)

    wall, cpu = timed(go)
    m = sim.stats()["measured"]
    return {"writes": m["user"], "waf": (m["user"] + m["gcw"]) / m["user"], "gcs": m["gcs"],
            "wall_s": wall, "cpu_s": cpu, "wps_wall": m["user"] / wall, "wps_cpu": m["user"] / cpu,
            "fill_wps": n / fill_w}


def bench_annotate(m: int, n: int) -> dict:
    from kernelml.workloads import annotate_next_write

    lba = np.random.default_rng(2).integers(0, n, m)
    annotate_next_write(lba[:1000])  # compile
    wall, cpu = timed(lambda: annotate_next_write(lba))
    return {"ops": m, "wall_s": wall, "ops_per_s": m / wall}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", default="1,4")
    ap.add_argument("--spare", type=float, default=0.10)
    ap.add_argument("--mult", type=int, default=4, help="measured writes = mult x logical blocks")
    a = ap.parse_args(argv)
    try:
        print(subprocess.run("lscpu | head -20", shell=True, capture_output=True, text=True).stdout)
    except OSError:
        pass
    bench_gc(1 << 15, a.spare, 1, greedy_fallback)  # compile
    bench_gc(1 << 15, a.spare, 1, VICTIMS.make("greedy"))
    print(f"spare {a.spare}, 512-block segments, uniform random writes, greedy victims")
    for gib in (int(x) for x in a.gib.split(",")):
        n = gib * BLOCKS_PER_GIB
        for label, ch in (("f2fs greedy (registry)", VICTIMS.make("greedy")),
                          ("built-in greedy", greedy_fallback)):
            r = bench_gc(n, a.spare, a.mult, ch)
            print(f"{gib} GiB {label:24} WAF {r['waf']:.3f}  {r['writes']} writes, {r['gcs']} GCs: "
                  f"{r['wps_wall'] / 1e6:.2f} M writes/s wall, {r['wps_cpu'] / 1e6:.2f} M/s CPU; "
                  f"fill {r['fill_wps'] / 1e6:.1f} M/s")
    r = bench_annotate(10_000_000, 1 << 20)
    print(f"oracle annotation (next_write_index): {r['ops']} ops in {r['wall_s']:.2f} s = "
          f"{r['ops_per_s'] / 1e6:.1f} M ops/s")
    print("peer simulator (SepBIT artifact, Java): 43k-95k user writes/s on this machine class")
    return 0


if __name__ == "__main__":
    sys.exit(main())
