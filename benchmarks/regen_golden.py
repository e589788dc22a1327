#!/usr/bin/env python3
"""Regenerate the pinned golden results of the LFS model
(tests/golden/lfs_golden.json).

The bundled workload is :func:`kernelml.bench.gc_run.golden_workload`
(deterministic integer generator: 32768 blocks, 65536 operations, 80/20
hot/cold with hints, 1 % trims, 40 s idle gaps so background GC runs).
Every registered victim policy runs with its natural placement, and every
registered placement with greedy victims (plus cost-benefit for the
placements that separate GC data), at spare 0.25, 512-block segments.
Re-run this after an intended change of a policy or of the core, and
review the diff of the JSON.

Usage: python benchmarks/regen_golden.py [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "lfs_golden.json")
CONFIG = {"n_blocks": 32768, "writes": 65536, "seed": 1, "spare": 0.25, "blocks_per_seg": 512}


def cases() -> list[tuple[str, str | None]]:
    from kernelml.kernel.lfs.placement import PLACEMENTS
    from kernelml.kernel.lfs.victims import VICTIMS

    out = [(p, None) for p in VICTIMS.names()]
    for pl in PLACEMENTS.names():
        out.append(("greedy", pl))
    for pl in ("sepgc", "sepbit", "dac", "f2fs-temp"):
        out.append(("cost-benefit", pl))
    return out


def compute() -> dict:
    from kernelml.bench.gc_run import golden_workload, run_gc

    res = {}
    for pol, pl in cases():
        w = golden_workload(CONFIG["n_blocks"], CONFIG["writes"], CONFIG["seed"])
        r = run_gc(w, policy=pol, placement=pl, spare=CONFIG["spare"], seed=0,
                   blocks_per_seg=CONFIG["blocks_per_seg"], samples=0)
        key = f"{pol}/{r['placement']}"
        res[key] = {"waf": round(r["waf"], 9), "gc_writes": r["gc_writes"],
                    "gc_invocations": r["gc_invocations"], "gc_background": r["gc_background"],
                    "user_writes": r["user_writes"]}
    return {"config": CONFIG, "results": res}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the pinned file, write nothing")
    a = ap.parse_args(argv)
    data = compute()
    if a.check:
        with open(GOLDEN) as f:
            old = json.load(f)
        bad = [k for k in data["results"] if old["results"].get(k) != data["results"][k]]
        for k in bad:
            print(f"{k}: pinned {old['results'].get(k)} now {data['results'][k]}")
        return 1 if bad else 0
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    with open(GOLDEN, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    for k, v in data["results"].items():
        print(f"{k:32} WAF {v['waf']:.4f}  GCs {v['gc_invocations']} (bg {v['gc_background']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
