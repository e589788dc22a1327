"""Speed of the DAMON reclaim simulator: simulated seconds per wall second
and page accesses per second, per policy.

Default: a 1 GiB address space (262144 pages), 10^7 accesses over 100
simulated seconds (the ``zipf`` generator at 10^5 accesses/s, every page
touched first).  The workload is generated and loaded once; the numba code
is compiled (or loaded from its cache) by a warm-up run on a tiny trace
before timing.

    python benchmarks/bench_damon_speed.py [--workload zipf] [--pages 262144]
        [--accesses 10000000] [--duration 100] [--policies none,damon-reclaim,...]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from kernelml.bench import damon_run as dr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="zipf")
    ap.add_argument("--pages", type=int, default=1 << 18)
    ap.add_argument("--accesses", type=int, default=10_000_000)
    ap.add_argument("--duration", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policies", default="none,damon-reclaim,damon-reclaim-psi,lru,senpai,belady")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    # warm-up: compile every numba path on a tiny trace
    t = time.perf_counter()
    rng = np.random.default_rng(0)
    tiny = dr.from_arrays("warm", np.arange(20_000, dtype=np.int64) * 100, rng.integers(0, 500, 20_000))
    for p in a.policies.split(","):
        dr.run_policy(tiny, p)
    compile_s = time.perf_counter() - t

    t = time.perf_counter()
    w = dr.make_workload(a.workload, n_pages=a.pages, duration_s=a.duration, seed=a.seed,
                         rate=a.accesses / a.duration)
    tr = dr.load(w)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    tr.next_use()
    next_use_s = time.perf_counter() - t

    rows = []
    for p in a.policies.split(","):
        r = dr.run_policy(tr, p, seed=a.seed)
        rows.append({k: r[k] for k in ("policy", "wall_s", "sim_s_per_wall_s", "accesses_per_s", "saving_pct",
                                       "refaults", "slowdown_pct")})
    out = {"machine": platform.processor() or platform.machine(), "workload": a.workload, "pages": tr.n_pages,
           "accesses": tr.n_accesses, "duration_s": (tr.end_us - tr.t0_us) / 1e6, "compile_or_cache_s":
           round(compile_s, 2), "load_s": round(load_s, 2), "next_use_s": round(next_use_s, 2), "runs": rows}
    if a.json:
        print(json.dumps(out))
        return
    print(f"{a.workload}: {tr.n_pages} pages ({tr.n_pages * 4 // 1024} MiB), {tr.n_accesses} accesses, "
          f"{out['duration_s']:.0f} s simulated; warm-up {compile_s:.1f} s, load {load_s:.1f} s, "
          f"next-use {next_use_s:.1f} s")
    print(f"{'policy':20s} {'wall s':>8s} {'sim s/wall s':>13s} {'accesses/s':>12s} {'saving %':>9s} "
          f"{'refaults':>9s} {'slowdown %':>10s}")
    for r in rows:
        print(f"{r['policy']:20s} {r['wall_s']:8.2f} {r['sim_s_per_wall_s']:13.1f} {r['accesses_per_s']:12.3g} "
              f"{r['saving_pct']:9.2f} {r['refaults']:9d} {r['slowdown_pct']:10.3f}")


if __name__ == "__main__":
    main()
