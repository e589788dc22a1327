"""The GC track matrix: workloads x policies x seeds -> results/gc/.

Every human-made victim policy with its own placement, every placement with
cost-benefit victims, the ML proxy behind the F2FS default, and the ``fk``
oracle, on the synthetic workloads and on the real traces that ship with
the repository.  All policies of a track see the same stream, device and
warm-up; the write amplification is measured after the warm-up.

Outputs (``write_results``): ``matrix.json`` (every run, with the command,
seeds and inputs), ``matrix.md`` (the table and the targets), and PNG plots:
WAF per policy per workload with the spread over seeds, and the ML run's
WAF and modes over time.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

SYNTHETIC = ["uniform", "hotcold-90-10", "hotcold-80-20", "zipf-0.9", "zipf-1.2", "phase", "tpcc", "files"]
HUMAN = [
    ("greedy", "single"), ("cost-benefit", "single"), ("f2fs-cb", "single"), ("f2fs-atgc", "single"),
    ("nilfs2-timestamp", "single"), ("cat", "single"), ("d-choices", "single"), ("f2fs", "f2fs-temp"),
    ("cost-benefit", "sepgc"), ("cost-benefit", "dac"), ("cost-benefit", "sepbit"), ("greedy", "sepbit"),
    ("cost-benefit", "f2fs-temp"),
]
ML = ("ml", "f2fs")  # the proxy behind the subsystem's default human-made policy
ORACLE = ("fk", "fk")
DEFAULT = "f2fs/f2fs-temp"


@dataclass(frozen=True)
class Track:
    name: str
    workload: str | None = None
    trace: str | None = None
    fmt: str | None = None
    seed: int = 0
    n_blocks: int | None = None
    writes: int | None = None
    warmup: int = 0
    blocks_per_seg: int = 512


def label(policy: str, placement: str) -> str:
    return "ml" if policy == "ml" else ("fk" if policy == "fk" else f"{policy}/{placement}")


def shipped_traces(root: str) -> list[Track]:
    """Real traces: the capture corpus (data/traces/*.kmt) and the public
    MQSim TPC-C trace next to the project (../shared/traces), when present.
    The whole trace is replayed; the first quarter of its writes is warm-up."""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "data", "traces", "*.kmt"))):
        out.append(Track(os.path.basename(path)[:-4], trace=path, fmt="kmt"))
    mq = os.path.join(root, "..", "shared", "traces", "mqsim-tpcc-small.trace")
    if os.path.exists(mq):
        out.append(Track("mqsim-tpcc", trace=os.path.normpath(mq), fmt="mqsim"))
    return out


def tracks(quick: bool = False, seeds: int = 2, traces: bool = True, root: str = ".",
           workloads: list[str] | None = None) -> list[Track]:
    n = 1 << 15 if quick else 1 << 18
    bps = 64 if quick else 512
    out = []
    for w in workloads or SYNTHETIC:
        for s in range(seeds):
            out.append(Track(w, workload=w, seed=s, n_blocks=n, writes=8 * n, warmup=4 * n, blocks_per_seg=bps))
    if traces:
        out += shipped_traces(root)
    return out


def entries(quick: bool = False) -> list[tuple[str, str]]:
    human = HUMAN if not quick else [("greedy", "single"), ("cost-benefit", "sepbit"), ("f2fs", "f2fs-temp")]
    return human + [ML, ORACLE]


def _trace_sizes(t: Track) -> Track:
    """Warm-up = a quarter of a trace's writes (one pass to count them)."""
    if t.trace is None:
        return t
    from ..workloads import open_trace

    w = open_trace(t.trace, t.fmt)
    total = sum(int(np.count_nonzero(c.op == 0)) for c in w.chunks())
    # small footprints get 64-block segments, so the device keeps enough segments
    # for every policy's open logs (F2FS itself lets the segment size vary by section)
    bps = 512 if w.n_blocks >= 1 << 18 else 64
    return Track(t.name, trace=t.trace, fmt=t.fmt, seed=t.seed, n_blocks=w.n_blocks,
                 writes=total - total // 4, warmup=total // 4, blocks_per_seg=bps)


def run_one(t: Track, policy: str, placement: str) -> dict:
    """One run of the matrix (in a worker process)."""
    from .gc_ml import run_gc_ml
    from .gc_run import run_gc

    kw = dict(trace=t.trace, fmt=t.fmt, seed=t.seed, n_blocks=t.n_blocks, writes=t.writes,
              warmup=t.warmup, blocks_per_seg=t.blocks_per_seg)
    t0 = time.perf_counter()
    try:
        if policy == "ml":
            r = run_gc_ml(t.workload, fallback=placement, **kw)
        else:
            r = run_gc(t.workload, policy=policy, placement=placement, **kw)
    except Exception as exc:  # a track a policy cannot run (e.g. device too small): recorded
        return {"track": t.name, "label": label(policy, placement), "seed": t.seed, "error": str(exc)}
    keep = ("waf", "user_writes", "gc_writes", "gc_invocations", "placement", "policy", "erase",
            "waf_window", "mode_timeline", "modes", "ml_share", "final_mode", "rejects", "agent",
            "efficiency", "device")
    out = {k: r[k] for k in keep if k in r}
    out.update(track=t.name, label=label(policy, placement), seed=t.seed, wall_s=time.perf_counter() - t0)
    return out


def run_matrix(quick: bool = False, seeds: int = 2, traces: bool = True, workers: int = 2, root: str = ".",
               workloads: list[str] | None = None, progress=None) -> dict:
    ts = [_trace_sizes(t) for t in tracks(quick, seeds, traces, root, workloads)]
    jobs = [(t, p, pl) for t in ts for (p, pl) in entries(quick)]
    results = []
    t0 = time.perf_counter()
    if workers <= 1:
        for i, j in enumerate(jobs):
            results.append(run_one(*j))
            if progress:
                progress(i + 1, len(jobs))
    else:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = [ex.submit(run_one, *j) for j in jobs]
            for i, f in enumerate(as_completed(futs)):
                results.append(f.result())
                if progress:
                    progress(i + 1, len(jobs))
    return {
        "command": "kernelml bench gc" + (" --quick" if quick else "") + f" --seeds {seeds}"
                   + ("" if traces else " --no-traces"),
        "tracks": [t.__dict__ for t in ts],
        "entries": [label(p, pl) for p, pl in entries(quick)],
        "results": sorted(results, key=lambda r: (r["track"], r["label"], r["seed"])),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "wall_s": time.perf_counter() - t0,
    }


def summarize(m: dict) -> list[dict]:
    """Per track: mean/min/max WAF per entry, best human-made, ML, oracle, targets."""
    rows = []
    for track in dict.fromkeys(r["track"] for r in m["results"]):
        rs = [r for r in m["results"] if r["track"] == track and "waf" in r and r["waf"]]
        stats = {}
        for lab in m["entries"]:
            w = [r["waf"] for r in rs if r["label"] == lab]
            if w:
                stats[lab] = (float(np.mean(w)), float(np.min(w)), float(np.max(w)))
        human = {k: v for k, v in stats.items() if k not in ("ml", "fk")}
        if not human:
            continue
        best = min(human, key=lambda k: human[k][0])
        row = {"track": track, "stats": stats, "best_human": best, "best_human_waf": human[best][0]}
        if "ml" in stats:
            ml = stats["ml"][0]
            row["ml_vs_best_pct"] = 100 * (ml / human[best][0] - 1)
            if DEFAULT in human:
                row["ml_vs_default_pct"] = 100 * (ml / human[DEFAULT][0] - 1)
            if "fk" in stats and human[best][0] > stats["fk"][0]:
                row["gap_closed_pct"] = 100 * (human[best][0] - ml) / (human[best][0] - stats["fk"][0])
            mr = [r for r in rs if r["label"] == "ml"]
            row["ml_final_modes"] = sorted({r["final_mode"]["placement"] for r in mr if "final_mode" in r})
        rows.append(row)
    return rows


def write_results(m: dict, out: str) -> list[str]:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "matrix.json"), "w") as f:
        json.dump(m, f, indent=1)
    rows = summarize(m)
    files = [os.path.join(out, "matrix.json"), os.path.join(out, "matrix.md")]
    with open(files[1], "w") as f:
        f.write(markdown(m, rows))
    files += plot(m, rows, out)
    return files


def markdown(m: dict, rows: list[dict]) -> str:
    entries_ = m["entries"]
    lines = [f"# GC track matrix", "",
             f"Command: `{m['command']}` ({m['machine']}, {m['wall_s'] / 60:.1f} min).  "
             "Write amplification after the warm-up (synthetic: 1 GiB device unless --quick, "
             "4 device-fulls of warm-up, 8 measured; traces: a device the size of the trace's "
             "footprint, 64-block segments below 1 GiB, the first quarter of the trace as "
             "warm-up); 10 % spare; mean over seeds, [min-max] when there are several.", "",
             "| track | " + " | ".join(entries_) + " |", "|---|" + "---|" * len(entries_)]
    for row in rows:
        cells = []
        best = row["best_human"]
        for lab in entries_:
            if lab not in row["stats"]:
                cells.append("-")
                continue
            mean, lo, hi = row["stats"][lab]
            c = f"{mean:.3f}" + (f" [{lo:.2f}-{hi:.2f}]" if hi > lo else "")
            cells.append(f"**{c}**" if lab == best else c)
        lines.append(f"| {row['track']} | " + " | ".join(cells) + " |")
    lines += ["", "Targets (ML proxy behind the F2FS default, learner lfs-lifetime):", "",
              "| track | best human-made | ML vs best | ML vs F2FS default | gap to oracle closed | ML final mode |",
              "|---|---|---|---|---|---|"]
    for row in rows:
        if "ml_vs_best_pct" not in row:
            continue
        gap = f"{row['gap_closed_pct']:.0f} %" if "gap_closed_pct" in row else "-"
        dflt = f"{row['ml_vs_default_pct']:+.1f} %" if "ml_vs_default_pct" in row else "-"
        lines.append(f"| {row['track']} | {row['best_human']} ({row['best_human_waf']:.3f}) | "
                     f"{row['ml_vs_best_pct']:+.1f} % | {dflt} | {gap} | {', '.join(row['ml_final_modes'])} |")
    errs = [r for r in m["results"] if "error" in r]
    if errs:
        lines += ["", "Runs that could not complete:", ""]
        lines += [f"- {r['track']} / {r['label']} (seed {r['seed']}): {r['error']}" for r in errs]
    return "\n".join(lines) + "\n"


def plot(m: dict, rows: list[dict], out: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    n = len(rows)
    cols = 3
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(16, 3.6 * ((n + cols - 1) // cols)),
                             squeeze=False)
    for ax, row in zip(axes.ravel(), rows):
        labs = [k for k in m["entries"] if k in row["stats"]]
        mean = [row["stats"][k][0] for k in labs]
        err = [[row["stats"][k][0] - row["stats"][k][1] for k in labs],
               [row["stats"][k][2] - row["stats"][k][0] for k in labs]]
        colors = ["tab:red" if k == "ml" else "tab:green" if k == "fk" else "tab:blue" for k in labs]
        ax.bar(range(len(labs)), mean, yerr=err, color=colors, capsize=2)
        ax.set_xticks(range(len(labs)))
        ax.set_xticklabels(labs, rotation=60, ha="right", fontsize=7)
        ax.set_title(row["track"], fontsize=9)
        ax.set_ylabel("WAF")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(f"GC write amplification per policy (red: ML proxy, green: oracle) — {m['command']}")
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    path = os.path.join(out, "waf-per-policy.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    files.append(path)
    # the ML runs over time: WAF per window and the placement mode
    ml = [r for r in m["results"] if r["label"] == "ml" and r.get("seed", 0) == 0 and "modes" in r]
    if ml:
        fig, axes = plt.subplots(len(ml), 1, figsize=(11, 2.2 * len(ml)), squeeze=False)
        warm = {t["name"]: t["warmup"] for t in m["tracks"]}
        for ax, r in zip(axes.ravel(), ml):
            start = r["device"]["n_lbas"] + warm.get(r["track"], 0)  # fill + warm-up, on the proxy's clock
            pts = [(u + start, w) for u, w in r["waf_window"] if w is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color="tab:red", lw=1, label="WAF (window)")
            ax.set_ylabel("WAF")
            ax2 = ax.twinx()
            modes = np.array(r["modes"]) if r["modes"] else np.zeros((0, 5))
            if modes.size:
                ax2.step(modes[:, 0], modes[:, 1], where="post", color="tab:gray", lw=1, label="mode")
            ax.axvline(start, color="k", lw=0.5, ls=":")
            ax2.set_yticks([0, 1, 2, 3])
            ax2.set_yticklabels(["emergency", "learning", "collab.", "recommend."], fontsize=7)
            ax.set_title(f"{r['track']}: ML proxy", fontsize=9)
        axes.ravel()[-1].set_xlabel("user block writes (proxy clock; dotted: end of warm-up)")
        fig.tight_layout()
        path = os.path.join(out, "ml-over-time.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files.append(path)
    return files
