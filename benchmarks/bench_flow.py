"""The full flow's costs: channel round trips and telemetry throughput side by
side, the kernel side's slowdown with the agent attached, and what the
telemetry sample costs the learner.

1. ``channels``: round-trip latency (median, p99) of a 64-byte and a 4 KiB
   frame, and one-way TELEMETRY throughput, for the in-process channel, the
   Unix socket and shared memory (``shm``: the recommendation comes back
   through its seqlock slot; ``shm-ring``: through the control ring, the way
   the LFS kernel side of the flow receives every recommendation).  The
   measurement functions are those of ``benchmarks/bench_transport.py``.
2. ``slowdown``: the LFS kernel side (``kernelml.flow.kernel_side``) in this
   process on a 1 GiB device, as fast as it goes, in six variants: plain
   ``run_gc`` (no controller), the flow without a proxy, the proxy with no
   agent (emergency: its telemetry is built and discarded), and the proxy
   with an agent daemon attached over shared memory, each of the last two
   with the full telemetry and with a 1/4 sample (``--sample-shift 2``).
   Reported per variant (median of ``--reps`` interleaved repetitions): user
   writes/s (wall), CPU seconds of the kernel-side process, WAF, and CPU
   nanoseconds per block written (user + GC): the proxy's overhead per unit
   of work, which the ML's lower write amplification does not flatter.
3. ``quality`` (``--quality``): the learner with the in-process lock-step
   driver (:func:`kernelml.bench.gc_ml.run_gc_ml`, deterministic) at sample
   shifts 0..3, against the human-made policy alone.

    python benchmarks/bench_flow.py [--n 5000] [--frames 50000] [--reps 3]
        [--writes 4194304] [--workload hotcold-90-10] [--pin] [--quality] [--json out.json]

``--pin``: the kernel side on CPU 0, the agent (and echo/sink) processes on
CPU 1.  A busy machine makes every number here worse; the CPU times are the
most robust to that.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_transport as bt  # noqa: E402

from kernelml.bench.gc_run import run_gc  # noqa: E402
from kernelml.flow.kernel_side import KernelOptions, run_kernel  # noqa: E402
from kernelml.flow.procs import start_agent  # noqa: E402

AGENT_CPU: int | None = None


# -- 1. channels ------------------------------------------------------------------------------
def channels(n: int, frames: int) -> dict:
    sizes = {"64 B": bt.rec_frame(64), "4 KiB": bt.rec_frame(4096)}
    ring_sizes = {"64 B": bt.ring_frame(64), "4 KiB": bt.ring_frame(4096)}
    tels = {"64x8": bt.tel_frame(64), "full x7": _lfs_frame()}
    d = tempfile.mkdtemp(prefix="kml-flow-bench-")
    shm_dir = tempfile.mkdtemp(prefix="kml-flow-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    sock, region = os.path.join(d, "k.sock"), os.path.join(shm_dir, "k.kml")
    try:
        rtt = {"inproc": {k: bt.inproc_rtt(f, n) for k, f in sizes.items()},
               "unix": bt.unix_rtt(sock, sizes, n),
               "shm": bt.shm_rtt(region, sizes, n),
               "shm-ring": bt.shm_rtt(region, ring_sizes, n)}
        thr = {"inproc": {k: bt.inproc_throughput(f, frames) for k, f in tels.items()},
               "unix": {k: bt.unix_throughput(sock, f, frames) for k, f in tels.items()},
               "shm": {k: bt.shm_throughput(region, f, frames) for k, f in tels.items()}}
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(shm_dir, ignore_errors=True)
    for rows in thr.values():  # records/s: what the agent has to keep up with
        for k, r in rows.items():
            per = 64 if k == "64x8" else _max_records()
            r["records_per_s"] = r["frames_per_s"] * per
    return {"round_trip": rtt, "throughput": thr}


def _max_records() -> int:
    from kernelml.uapi import messages as m

    return m.max_records(7)


def _lfs_frame() -> bytes:
    """A full REC_WRITE frame of the LFS kernel side (as many 7-field records as fit)."""
    import numpy as np

    from kernelml.uapi import messages as m

    return m.encode(m.Telemetry(0x10, 1, np.arange(m.max_records(7) * 7, dtype=np.int64).reshape(-1, 7), 0, 0, 0))


# -- 2. slowdown -------------------------------------------------------------------------------
def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _flow(workload: str, writes: int, proxy: bool, shift: int, agent: bool, work: str) -> dict:
    path = os.path.join(work, "k.kml")
    ap = None
    if agent:
        ap = start_agent(["--connect", path, "--stats-every", "5"], os.path.join(work, "agent.log"),
                         os.path.join(work, "agent.jsonl"))
        if AGENT_CPU is not None:
            os.sched_setaffinity(ap.pid, {AGENT_CPU})
    try:
        c0 = _cpu()
        f = run_kernel(KernelOptions(workload=workload, writes=writes, proxy=proxy, sample_shift=shift,
                                     path=path, status=os.path.join(work, "status.jsonl"),
                                     wait_agent=60 if agent else 0, check_every=0))
        c1 = _cpu()
    finally:
        if ap is not None:
            ap.stop()
    r = f["result"]
    out = {"wall_s": r["elapsed_s"], "cpu_s": c1 - c0, "user_writes": r["user_writes"], "waf": r["waf"],
           "writes_per_s": r["writes_per_s"]}
    if proxy:
        out.update(modes=f["modes"], ml_share=f["ml_share"], telemetry_dropped=f["telemetry_dropped"],
                   rejects=f["rejects_total"])
    return out


def _plain(workload: str, writes: int) -> dict:
    n = 1 << 18
    c0 = _cpu()
    r = run_gc(workload, policy="f2fs", n_blocks=n, writes=writes, warmup=n, samples=0)
    return {"wall_s": r["elapsed_s"], "cpu_s": _cpu() - c0, "user_writes": r["fill_writes"] + r["user_writes"] + n,
            "waf": r["waf"], "writes_per_s": r["user_writes_per_s"]}


def slowdown(workload: str, writes: int, reps: int) -> dict:
    work = tempfile.mkdtemp(prefix="kml-flow-slow-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    variants = {
        "plain run_gc": lambda: _plain(workload, writes),
        "flow, no proxy": lambda: _flow(workload, writes, False, 0, False, work),
        "proxy, no agent": lambda: _flow(workload, writes, True, 0, False, work),
        "proxy, no agent, 1/4 sample": lambda: _flow(workload, writes, True, 2, False, work),
        "proxy + agent (shm)": lambda: _flow(workload, writes, True, 0, True, work),
        "proxy + agent (shm), 1/4 sample": lambda: _flow(workload, writes, True, 2, True, work),
    }
    runs: dict[str, list] = {k: [] for k in variants}
    try:
        _plain(workload, 1 << 18)  # compile and warm caches
        for _ in range(reps):
            for k, fn in variants.items():
                runs[k].append(fn())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {}
    for k, rs in runs.items():
        wall = statistics.median(r["wall_s"] for r in rs)
        cpu = statistics.median(r["cpu_s"] for r in rs)
        user = rs[0]["user_writes"]
        waf = statistics.median(r["waf"] for r in rs)
        blocks = user + (waf - 1) * writes  # user writes + GC writes (GC of the measured part)
        out[k] = {"writes_per_s": user / wall, "wall_s": wall, "cpu_s": cpu, "waf": waf,
                  "cpu_ns_per_block": cpu / blocks * 1e9, "runs": rs}
    base = out["flow, no proxy"]
    for k, r in out.items():
        r["slowdown_wall"] = base["writes_per_s"] / r["writes_per_s"] - 1
        r["overhead_cpu_per_block"] = r["cpu_ns_per_block"] / base["cpu_ns_per_block"] - 1
    return out


# -- 3. quality ------------------------------------------------------------------------------------
def quality(workloads: list[str], writes: int, shifts=(0, 1, 2, 3)) -> dict:
    from kernelml.bench.gc_ml import run_gc_ml
    from kernelml.kernel.lfs.ml import LfsMlConfig

    n = 1 << 18
    out = {}
    for wl in workloads:
        h = run_gc(wl, policy="f2fs", n_blocks=n, writes=writes, warmup=n, seed=0, samples=0)
        row = {"human": h["waf"]}
        for s in shifts:
            r = run_gc_ml(wl, n_blocks=n, writes=writes, warmup=n, seed=0, samples=0,
                          config=LfsMlConfig(telemetry_sample_shift=s))
            row[f"shift {s}"] = {"waf": r["waf"], "final_mode": r["final_mode"], "ml_share": r["ml_share"],
                                 "model": (r.get("agent") or {}).get("model")}
            print(f"  {wl} shift {s}: WAF {r['waf']:.3f} (human {h['waf']:.3f}) {r['final_mode']}", flush=True)
        out[wl] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="round trips per frame size")
    ap.add_argument("--frames", type=int, default=50_000, help="telemetry frames per throughput run")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each slowdown variant (median)")
    ap.add_argument("--writes", type=int, default=4 << 20, help="measured writes per slowdown run")
    ap.add_argument("--workload", default="hotcold-90-10")
    ap.add_argument("--quality", action="store_true", help="also measure the learner at sample shifts 0..3")
    ap.add_argument("--quality-writes", type=int, default=8 << 20)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: channels, slowdown")
    ap.add_argument("--pin", action="store_true", help="this process on CPU 0, agent processes on CPU 1")
    ap.add_argument("--json", help="write the results to this file")
    a = ap.parse_args()
    global AGENT_CPU
    if a.pin and len(os.sched_getaffinity(0)) >= 2:
        first, second = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, {first})
        AGENT_CPU = second
        bt.AGENT_CPUS = {second}
    skip = set(filter(None, a.skip.split(",")))
    res: dict = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                 "pinned": a.pin, "loadavg_start": os.getloadavg()}
    if "channels" not in skip:
        res["channels"] = ch = channels(a.n, a.frames)
        print(f"round trip (kernel side polls, echo agent in another process), {a.n} round trips each")
        print(f"{'channel':9} {'frame':>6} {'median us':>10} {'p99 us':>9}")
        for name, rows in ch["round_trip"].items():
            for k, r in rows.items():
                print(f"{name:9} {k:>6} {r['median_us']:10.2f} {r['p99_us']:9.2f}")
        print(f"\none-way TELEMETRY throughput (records x fields), {a.frames} frames each")
        print(f"{'channel':9} {'frame':>7} {'frames/s':>10} {'records/s':>12} {'MB/s':>8}")
        for name, rows in ch["throughput"].items():
            for k, r in rows.items():
                print(f"{name:9} {k:>7} {r['frames_per_s']:10.0f} {r['records_per_s']:12.0f} {r['MB_per_s']:8.1f}")
    if "slowdown" not in skip:
        print(f"\nkernel side, {a.workload}, 1 GiB, {a.writes} measured writes, median of {a.reps}")
        res["slowdown"] = sd = slowdown(a.workload, a.writes, a.reps)
        print(f"{'variant':34} {'writes/s':>10} {'vs no proxy':>11} {'CPU s':>7} {'WAF':>6} "
              f"{'CPU ns/block':>12} {'vs no proxy':>11}")
        for k, r in sd.items():
            print(f"{k:34} {r['writes_per_s']:10.0f} {r['slowdown_wall'] * 100:+10.1f}% {r['cpu_s']:7.2f} "
                  f"{r['waf']:6.3f} {r['cpu_ns_per_block']:12.1f} {r['overhead_cpu_per_block'] * 100:+10.1f}%")
    if a.quality:
        print(f"\nlearner quality by telemetry sample (lock-step, {a.quality_writes} writes, seed 0)")
        res["quality"] = quality(["hotcold-90-10", "zipf-1.2"], a.quality_writes)
    res["loadavg_end"] = os.getloadavg()
    print(f"\nload average at start {res['loadavg_start']}, at end {res['loadavg_end']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2, default=str)


if __name__ == "__main__":
    main()
