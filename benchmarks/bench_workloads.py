"""Speed of the workload generators, trace readers and oracle annotation.

    python benchmarks/bench_workloads.py            # full sizes
    python benchmarks/bench_workloads.py --quick    # smaller, about 30 s

Every measurement runs once untimed first (numba compile, page cache) and
reports the best of ``--repeat`` timed runs.  Trace files for the readers
are synthetic, written to a temporary directory in each format.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np

from kernelml.workloads import (PAGE_WORKLOADS, WORKLOADS, annotate_next_access, annotate_next_write, make,
                                make_pages, open_page_trace, open_trace, touched_per_interval)


def best(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t)
    return n, min(times)


def drain(w, chunk=1 << 16):
    n = 0
    for c in w.chunks(chunk):
        n += len(c)
    return n


def write_traces(d: str, n: int, seed: int = 1) -> dict[str, str]:
    """One synthetic file per block format, n requests of 4 KiB (20 % reads)."""
    rng = np.random.default_rng(seed)
    blk = rng.integers(0, 1 << 22, n)
    rd = rng.random(n) < 0.2
    t_us = np.cumsum(rng.integers(1, 20, n))
    off = blk * 4096
    paths = {}

    def dump(name, lines):
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write("".join(lines))
        return p

    o = np.where(rd, "R", "W")
    paths["csv"] = dump("t.csv", [f"{a},{b},{c},4096\n" for a, b, c in zip(t_us, o, off)])
    paths["alibaba"] = dump("t.ali", [f"7,{b},{c},4096,{a}\n" for a, b, c in zip(t_us, o, off)])
    ft = 128166372003061629 + t_us * 10
    mo = np.where(rd, "Read", "Write")
    paths["msr"] = dump("t.msr", [f"{a},hm,1,{b},{c},4096,100\n" for a, b, c in zip(ft, mo, off)])
    paths["mqsim"] = dump("t.mq", [f"{a * 1000} 1 {c // 512} 8 {int(b)}\n" for a, b, c in zip(t_us, rd, off)])
    co = np.where(rd, "28", "2a")
    paths["cloudphysics"] = dump("t.cp", ["version,time,op,size,lbn\n"]
                                 + [f"1,{a // 1000000},{b},4096,{c // 512}\n" for a, b, c in zip(t_us, co, off)])
    ro = np.where(rd, "R", "WS")
    paths["blkparse"] = dump("t.blk", [f"  8,0    1 {i:8d} {a // 1000000:5d}.{(a % 1000000) * 1000:09d}  100  D  {b} {c // 512} + 8 [x]\n"
                                       for i, (a, b, c) in enumerate(zip(t_us, ro, off))])
    return paths


def write_page_traces(d: str, n: int, seed: int = 2) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    addr = 0x4000000 + rng.integers(0, 1 << 16, n) * 4096 + rng.integers(0, 4000, n)
    kind = rng.choice(np.array(["I ", " L", " S", " M"]), n)
    w = rng.random(n) < 0.3
    p = {}
    p["lackey"] = os.path.join(d, "t.lackey")
    with open(p["lackey"], "w") as f:
        f.write("".join(f"{k} {a:08x},4\n" for k, a in zip(kind, addr)))
    p["vmtrace"] = os.path.join(d, "t.vm")
    with open(p["vmtrace"], "w") as f:
        f.write("".join(f"{a:08x} {'W' if x else 'R'}\n" for a, x in zip(addr, w)))
    p["pages"] = os.path.join(d, "t.pages")
    with open(p["pages"], "w") as f:
        f.write("".join(f"{i * 5} {a >> 12}\n" for i, a in enumerate(addr)))
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    n_blocks = 1 << 18 if a.quick else 1 << 20
    writes = 1 << 22 if a.quick else 1 << 24
    lines = 200_000 if a.quick else 2_000_000
    dur = 60.0 if a.quick else 300.0
    res: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                 "sizes": {"n_blocks": n_blocks, "writes": writes, "trace_lines": lines, "page_duration_s": dur}}

    print(f"block generators: n_blocks={n_blocks}, writes={writes}")
    res["block_generators"] = {}
    for name in WORKLOADS.names():
        n, t = best(lambda: drain(make(name, n_blocks, writes, seed=1)), a.repeat)
        res["block_generators"][name] = n / t
        print(f"  {name:14s} {n / t / 1e6:8.1f} M blocks/s  ({n} ops in {t:.2f} s)")

    print(f"block trace readers: {lines} requests each (80 % 4 KiB writes), dense fold, known n_blocks")
    res["block_readers"] = {}
    with tempfile.TemporaryDirectory() as d:
        for fmt, path in write_traces(d, lines).items():
            mb = os.path.getsize(path) / 2**20
            n, t = best(lambda: drain(open_trace(path, fmt, n_blocks=1 << 22)), a.repeat)
            res["block_readers"][fmt] = {"lines_per_s": lines / t, "MiB_per_s": mb / t}
            print(f"  {fmt:13s} {lines / t / 1e6:6.2f} M lines/s  {mb / t:7.1f} MiB/s  ({n} blocks)")
        path = os.path.join(d, "t.csv")
        _, t = best(lambda: open_trace(path, "csv").n_blocks, a.repeat)
        print(f"  csv sizing pass (n_blocks=None): {lines / t / 1e6:.2f} M lines/s")

        print("page trace readers (text):")
        res["page_readers"] = {}
        for fmt, path in write_page_traces(d, lines).items():
            def run(fmt=fmt, path=path):
                return drain(open_page_trace(path, fmt))
            n, t = best(run, a.repeat)
            res["page_readers"][fmt] = lines / t
            print(f"  {fmt:8s} {lines / t / 1e6:6.2f} M lines/s (scan + replay)")

    m = 20_000_000 if not a.quick else 4_000_000
    rng = np.random.default_rng(3)
    lb = rng.integers(0, 1 << 20, m)
    ops = np.zeros(m, np.int8)
    _, t = best(lambda: annotate_next_write(lb, ops).size, a.repeat)
    res["annotate_next_write"] = m / t
    print(f"annotate_next_write: {m / t / 1e6:.1f} M blocks/s ({m} blocks, 2^20 LBAs)")
    sp = rng.integers(0, 1 << 16, m) * 0x1000_0000
    _, t = best(lambda: annotate_next_access(sp).size, a.repeat)
    res["annotate_next_access_sparse"] = m / t
    print(f"annotate_next_access (sparse keys): {m / t / 1e6:.1f} M accesses/s")

    print(f"page generators: 65536 pages, {dur:.0f} s at 2e5 accesses/s")
    res["page_generators"] = {}
    for name in PAGE_WORKLOADS.names():
        n, t = best(lambda: drain(make_pages(name, 1 << 16, duration_s=dur, seed=1)), a.repeat)
        res["page_generators"][name] = n / t
        print(f"  {name:13s} {n / t / 1e6:8.1f} M accesses/s")
    w = make_pages("hotcold", 1 << 16, duration_s=dur, seed=1)
    _, t = best(lambda: sum(1 for _ in touched_per_interval(w, 5000)), a.repeat)
    res["touched_per_interval"] = w.n_accesses / t
    print(f"touched_per_interval (5 ms, incl. generation): {w.n_accesses / t / 1e6:.1f} M accesses/s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
