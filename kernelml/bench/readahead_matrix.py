"""The modelled readahead matrix: workloads x policies x device presets.

Every unit is one deterministic run of :func:`~kernelml.bench.readahead_run.run_ra`.
Policies: the kernel default (the baseline every ratio is against), fixed
small (16 KiB) and large (4 MiB) limits, the KML-like static classifier,
the best fixed limit of a sweep (an oracle nobody could deploy: it is chosen
after the fact, per workload), and the ML proxy with the real learner and,
for the no-regret check, with the random and the inverted adversaries.

Outputs (``write``): ``README.md`` (tables, the command, seeds), a JSON file
with every unit, and plots: throughput relative to the default per workload
and device, and the ML proxy's mode timeline on the mixes.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .readahead_run import run_ra

WORKLOADS = ["seq", "reverse", "random", "random-mmap", "strided", "streams", "kv-readrandom", "kv-readseq",
             "kv-readrandomwriterandom", "kv-readrandom-mmap", "mixed", "phases", "kv-mix"]
MIXES = ["mixed", "phases", "kv-mix"]  # no single fixed limit is right for them
QUICK_WORKLOADS = ["seq", "random-mmap", "streams", "kv-readrandom", "phases", "kv-mix"]
POLICIES = ["default", "fixed-small", "fixed-large", "kml", "ml"]
ADVERSARIES = ["ml-random", "ml-inverted"]
SWEEP = [4, 8, 16, 32, 64, 128, 256, 512, 1024]
DEVICES = ["ssd", "loop"]


def _unit(args: tuple) -> dict:
    device, workload, policy, seed, scale = args
    t = time.time()
    if policy.startswith("ml"):
        learner = {"ml": "readahead-window", "ml-random": "random", "ml-inverted": "inverted"}[policy]
        r = run_ra(workload, "ml", device=device, seed=seed, scale=scale, learner=learner, samples=120)
    else:
        r = run_ra(workload, policy, device=device, seed=seed, scale=scale, samples=120)
    r["policy"] = policy
    r["wall_s"] = round(time.time() - t, 2)
    if not policy.startswith("ml"):
        r.pop("series", None)
    return r


def plan(devices, workloads, seeds, scale: float, adversaries: bool = True, sweep: bool = True) -> list[tuple]:
    units = []
    for d in devices:
        for w in workloads:
            for s in seeds:
                pols = list(POLICIES)
                first = s == seeds[0]
                if adversaries and first and w in MIXES + ["seq", "streams", "random-mmap"]:
                    pols += ADVERSARIES
                if sweep and first and w in MIXES:
                    pols += [f"fixed:{x}" for x in SWEEP]
                units += [(d, w, p, s, scale) for p in pols]
    return units


def run_matrix(units: list[tuple], jobs: int = 2, progress=None) -> list[dict]:
    out = []
    if jobs <= 1:
        for u in units:
            out.append(_unit(u))
            if progress:
                progress(out[-1])
        return out
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        for r in ex.map(_unit, units, chunksize=1):
            out.append(r)
            if progress:
                progress(r)
    return out


def summarize(rows: list[dict]) -> dict:
    """Per device and workload: throughput of each policy relative to the
    default (mean over seeds, with min and max), the best fixed limit of the
    sweep, and the ML run's mode, share and rejects."""
    out: dict = {}
    by: dict = {}
    for r in rows:
        by.setdefault((r["device"], r["workload"], r["seed"]), {})[r["policy"]] = r
    for (dev, wl, seed), pols in sorted(by.items()):
        base = pols["default"]["throughput_mib_s"]
        d = out.setdefault(dev, {}).setdefault(wl, {"ratios": {}, "default_mib_s": [], "ml": [], "best_fixed": []})
        d["default_mib_s"].append(base)
        sweep = {int(p.split(":")[1]): r["throughput_mib_s"] for p, r in pols.items() if p.startswith("fixed:")}
        if sweep:
            best = max(sweep, key=sweep.get)
            d["best_fixed"].append({"pages": best, "ratio": sweep[best] / base})
        for p, r in pols.items():
            if p.startswith("fixed:"):
                continue
            d["ratios"].setdefault(p, []).append(r["throughput_mib_s"] / base if base else 0.0)
        if "ml" in pols:
            m = pols["ml"]
            d["ml"].append({"mode": m.get("mode"), "ml_share": m.get("ml_share"), "rejects": m.get("rejects"),
                            "useless_pages": m["useless_pages"], "default_useless_pages":
                            pols["default"]["useless_pages"], "hit_ratio": m["hit_ratio"],
                            "default_hit_ratio": pols["default"]["hit_ratio"]})
    for dev in out.values():
        for d in dev.values():
            d["ratio_stats"] = {p: {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v))}
                                for p, v in d["ratios"].items()}
    return out


def targets(summary: dict) -> dict:
    """The assignment's targets: on the mixes, the ML proxy at least 1.5x the
    default; on every workload, never below 0.95x."""
    res = {}
    for dev, wls in summary.items():
        worst = min(((wl, d["ratio_stats"]["ml"]["min"]) for wl, d in wls.items() if "ml" in d["ratio_stats"]),
                    key=lambda x: x[1])
        mixes = {wl: round(d["ratio_stats"]["ml"]["mean"], 3) for wl, d in wls.items() if wl in MIXES}
        res[dev] = {"worst": {"workload": worst[0], "ratio": round(worst[1], 3), "met": worst[1] >= 0.95},
                    "mixes": mixes, "mix_met": {k: v >= 1.5 for k, v in mixes.items()}}
    return res


def markdown(summary: dict, meta: dict) -> str:
    cols = ["fixed-small", "fixed-large", "kml", "best fixed", "ml", "ml-random", "ml-inverted"]
    lines = ["# Readahead: the modelled matrix", "",
             f"Command: `{meta['command']}`  ", f"Seeds: {meta['seeds']}; scale {meta['scale']}; "
             f"{meta['units']} runs in {meta['wall_s']:.0f} s ({meta['date']}).", "",
             "Throughput (pages requested x 4 KiB over the model's elapsed time) relative to the kernel "
             "default (mean over seeds; min..max when seeds differ).  `best fixed`: the best limit of a "
             "sweep (4 .. 1024 pages), chosen after the fact — an oracle, shown on the mixes only.  "
             "`ml-random` / `ml-inverted`: the proxy with an adversarial learner (the no-regret check).  "
             "The sweep and the adversaries run on the first seed only.", ""]
    for dev, wls in summary.items():
        lines += [f"## Device preset `{dev}`", "",
                  "| workload | default MiB/s | " + " | ".join(cols) + " | ML mode (share) |",
                  "|---|---:|" + "---:|" * len(cols) + "---|"]
        for wl in [w for w in WORKLOADS if w in wls]:
            d = wls[wl]
            cells = []
            for c in cols:
                if c == "best fixed":
                    bf = d["best_fixed"]
                    cells.append(f"{np.mean([b['ratio'] for b in bf]):.2f} ({bf[0]['pages']})" if bf else "")
                    continue
                st = d["ratio_stats"].get(c)
                if st is None:
                    cells.append("")
                elif st["max"] - st["min"] > 0.005:
                    cells.append(f"{st['mean']:.2f} ({st['min']:.2f}..{st['max']:.2f})")
                else:
                    cells.append(f"{st['mean']:.2f}")
            ml = d["ml"][0] if d["ml"] else {}
            lines.append(f"| {wl} | {np.mean(d['default_mib_s']):.1f} | " + " | ".join(cells) +
                         f" | {ml.get('mode', '')} ({ml.get('ml_share', '')}) |")
        lines.append("")
    t = targets(summary)
    lines += ["## Targets", ""]
    for dev, r in t.items():
        lines.append(f"- `{dev}`: worst ML ratio {r['worst']['ratio']:.2f} on {r['worst']['workload']} "
                     f"({'met' if r['worst']['met'] else 'MISSED'}: never below 0.95x); mixes " +
                     ", ".join(f"{k} {v:.2f}x ({'met' if r['mix_met'][k] else 'missed'})" for k, v in r['mixes'].items())
                     + " (target 1.5x)")
    lines.append("")
    return "\n".join(lines)


def plot(summary: dict, rows: list[dict], meta: dict, out: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    pols = ["fixed-small", "fixed-large", "kml", "ml"]
    for dev, wls in summary.items():
        names = [w for w in WORKLOADS if w in wls]
        fig, ax = plt.subplots(figsize=(12, 4.5))
        x = np.arange(len(names))
        wdt = 0.8 / len(pols)
        for i, p in enumerate(pols):
            vals = [wls[w]["ratio_stats"].get(p, {}).get("mean", np.nan) for w in names]
            ax.bar(x + i * wdt - 0.4 + wdt / 2, vals, wdt, label=p)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.axhline(0.95, color="r", lw=0.6, ls=":")
        ax.set_yscale("log")
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel("throughput / kernel default")
        ax.set_title(f"readahead model, device preset {dev} (seeds {meta['seeds']})")
        ax.legend(ncol=4, fontsize=8, loc="lower left")
        fig.tight_layout()
        path = os.path.join(out, f"ratios_{dev}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    mls = [r for r in rows if r["policy"] == "ml" and r["workload"] in MIXES and r["seed"] == meta["seeds"][0]]
    if mls:
        fig, axes = plt.subplots(len(mls), 1, figsize=(10, 1.8 * len(mls)), sharex=False)
        axes = np.atleast_1d(axes)
        for ax, r in zip(axes, mls):
            s = np.array(r["series"], dtype=np.float64)
            if s.size == 0:
                continue
            thr = s[:, 4] * 4096 / 2**20 / np.maximum(s[:, 5] / 1e9, 1e-12)
            ax.plot(s[:, 1], thr, lw=0.7, color="tab:blue")
            ax.set_yscale("log")
            ax.set_ylabel("MiB/s", fontsize=7)
            ax2 = ax.twinx()
            ax2.step(s[:, 1], s[:, 2], where="post", color="tab:red", lw=0.8)
            ax2.set_yticks([0, 1, 2, 3], ["emerg", "learn", "collab", "recom"], fontsize=6)
            ax.set_title(f"{r['device']} / {r['workload']}: epoch throughput (blue) and mode (red)", fontsize=8)
        axes[-1].set_xlabel("request")
        fig.tight_layout()
        path = os.path.join(out, "ml_timelines.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    return files
