"""``kernelml bench damon``: the DAMON reclaim track matrix.

A *track* is a workload with its parameters; every track runs with the
same DAMON_RECLAIM configuration (the kernel's defaults except ``min_age``,
see below) and, per seed, these runs:

=====================  ==========================================================
``damon-reclaim``      DAMON_RECLAIM alone: its saving ``S`` sets every target
``damon-reclaim@x``    DAMON_RECLAIM with ``min_age`` times 3, 2, 1.5, 0.75 and
                       0.5: the human-made policy's own curve of saving against
                       refaults, on which it is compared at equal saving
``ml``                 the ML proxy with ``damon-reuse``, target saving ``S``
``ml-free``            the same without a target (ML's reclaims must be
                       predicted idle for ``min_age``)
``ml-random``,         the adversaries, target ``S``
``ml-inverted``
``lru``                Linux LRU reclaim under the budget of ``S``
``belady``             Belady's MIN under the budget of ``S`` (the oracle the
                       issue names), and its sweep over budgets
``min-gaps``           the oracle for a time-averaged saving: evict each page
                       for its longest idle gaps (free after its last access),
                       just enough for ``S`` (computed, not simulated)
=====================  ==========================================================

Why the tracks look the way they do.  DAMON_RECLAIM pages out regions that
were not accessed for ``min_age`` (120 s by default).  On the generators'
defaults (5 min, 256 MiB) it saves little, because the runs are short next
to ``min_age`` and single sampled touches restart cold regions' ages.  So
every track here runs 10 simulated minutes over 64 MiB (16,384 pages, so
each page is touched more often at the generators' 2x10^5 accesses per
second) with ``min_age`` = 20 s for every workload; the workloads' own
time constants are chosen so that memory goes idle for longer than that:

* ``scan``: a hot 10 % plus a sequential scan of the rest every 40 s
  (periodic re-access of "cold" memory);
* ``masim-stairs``: masim's stairs config (ten regions, 5 s each after a
  10 s phase on all; a 60 s cycle);
* ``masim-zigzag``: masim's zigzag config stretched 8x (two regions in
  turn, 40 s each);
* ``phases``: a 25 % working set that jumps every 60 s (no re-use pattern
  beyond "what went cold stays cold");
* ``hotcold``: a hot 20 %, the rest touched uniformly at random (no
  structure at all: a control, ML should match DAMON_RECLAIM).

The real memory traces under ``data/traces`` (valgrind lackey captures,
about 2 simulated seconds each, 600 to 6,500 pages) are stretched 100x in
time (one capture window of 1 ms becomes one aggregation interval), with
the same ``min_age``; they are skipped when absent.

Metrics per run: saving (time-averaged), refaults, slowdown, and for ML
runs the mode timeline, ML's share and the recommendation rejects.
Derived: ``fewer_pct`` = refaults below DAMON_RECLAIM's at (about) the
same saving; ``gap_closed`` = the share of the refault gap between
DAMON_RECLAIM and an oracle at that saving that ML closes (against Belady
and against min-gaps); ``worse_pct`` for the adversaries.

This is user-space tooling (floats allowed).
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from numba import njit

from . import damon_ml
from . import damon_run as dr

MIN_AGE_US = 20_000_000
# DAMON_RECLAIM's own curve: min_age times num / den (largest min_age, least saving, first)
SWEEP = {"damon-reclaim@3": (3, 1), "damon-reclaim@2": (2, 1), "damon-reclaim@1.5": (3, 2),
         "damon-reclaim": (1, 1), "damon-reclaim@0.75": (3, 4), "damon-reclaim@0.5": (1, 2)}
SWEEP_TAGS = tuple(SWEEP)
TRACE_STRETCH = 100
ORACLE_SAVINGS = dr.ORACLE_SAVINGS


@dataclass(frozen=True)
class Track:
    name: str
    workload: str  # generator name, or a trace path
    kind: str = "gen"  # gen | trace
    params: dict = field(default_factory=dict)
    pages: int = 16384
    duration_s: float = 600.0
    min_age_us: int = MIN_AGE_US
    stretch: int = 1

    def label(self) -> str:
        if self.kind == "trace":
            return f"{self.name} (trace {os.path.basename(self.workload)}, x{self.stretch} time)"
        ps = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name} ({self.pages} pages, {self.duration_s:.0f} s{', ' + ps if ps else ''})"


def default_tracks(quick: bool = False, traces_dir: str = "data/traces") -> list[Track]:
    if quick:
        kw = {"pages": 4096, "duration_s": 150.0}
        return [Track("scan", "scan", params={"scan_period_s": 40.0}, **kw),
                Track("masim-stairs", "masim-stairs", **kw)]
    out = [Track("scan", "scan", params={"scan_period_s": 40.0}),
           Track("masim-stairs", "masim-stairs"),
           Track("masim-zigzag", "masim-zigzag", params={"time_scale": 8.0}),
           Track("phases", "phases"),
           Track("hotcold", "hotcold")]
    found = []
    for pattern in ("*.pages", "*.pages.gz", "*.pages.xz"):
        found += glob.glob(os.path.join(traces_dir, pattern))
    for path in sorted(found):
        name = os.path.basename(path).split(".pages")[0]
        out.append(Track(name, path, kind="trace", stretch=TRACE_STRETCH))
    return out


def load_track(t: Track, seed: int) -> dr.Trace:
    if t.kind == "trace":
        tr = dr.load(dr.open_trace(t.workload, "pages"))
        tr.name = t.name
        if t.stretch != 1:
            tr.times = (tr.times - tr.t0_us) * t.stretch + tr.t0_us
            tr.end_us = tr.t0_us + (tr.end_us - tr.t0_us) * t.stretch
            tr._next = None
        return tr
    tr = dr.load(dr.make_workload(t.workload, n_pages=t.pages, duration_s=t.duration_s, seed=seed, **t.params))
    tr.name = t.name
    return tr


@njit(cache=True)
def _gap_histogram(times, pages, nxt, n_pages, end_us, per_octave, count, total, acc):
    """One pass: the histogram of gaps between consecutive accesses of a page
    (log2 bins), the sum of the tails after last accesses, and the integral
    of touched pages over time."""
    n = times.shape[0]
    seen = np.zeros(n_pages, np.bool_)
    for i in range(n):
        p = pages[i]
        if not seen[p]:
            seen[p] = True
            acc[0] += end_us - times[i]
        j = nxt[i]
        if j >= n:
            acc[1] += end_us - times[i]
        else:
            g = times[j] - times[i]
            b = 0
            if g > 1:
                b = int(np.log2(g) * per_octave)
            if b >= count.shape[0]:
                b = count.shape[0] - 1
            count[b] += 1.0
            total[b] += g


class MinGaps:
    """The oracle for a time-averaged saving: fewest refaults for a saving of
    ``pct``.  Every page can be out between two of its accesses (one refault
    when it comes back) or after its last one (free): take the free tails,
    then the longest gaps first.  An offline bound for any policy (it ignores
    how reclaim finds pages, and that a pageout cannot happen the instant
    after an access).  The gaps are kept as a histogram with 64 bins per
    octave (counts and sums), so a query is exact to within one bin."""

    BINS_PER_OCTAVE = 64

    def __init__(self, trace: dr.Trace) -> None:
        nb = 64 * self.BINS_PER_OCTAVE
        self.count = np.zeros(nb, np.float64)
        self.total = np.zeros(nb, np.float64)
        acc = np.zeros(2, np.float64)
        _gap_histogram(trace.times, trace.pages, trace.next_use(), int(trace.n_pages), int(trace.end_us),
                       self.BINS_PER_OCTAVE, self.count, self.total, acc)
        self.touch_int, self.tails = float(acc[0]), float(acc[1])
        self.count, self.total = self.count[::-1].copy(), self.total[::-1].copy()  # longest first
        self.cum_total = np.cumsum(self.total)
        self.cum_count = np.cumsum(self.count)

    def refaults(self, pct: float) -> int:
        need = pct / 100.0 * self.touch_int - self.tails
        if need <= 0:
            return 0
        j = int(np.searchsorted(self.cum_total, need, side="left"))
        if j >= self.cum_total.shape[0]:
            return int(self.cum_count[-1])
        before_t = self.cum_total[j - 1] if j else 0.0
        before_c = self.cum_count[j - 1] if j else 0.0
        avg = self.total[j] / max(self.count[j], 1.0)
        return int(before_c + np.ceil((need - before_t) / max(avg, 1e-9)))


def min_gaps_oracle(trace: dr.Trace, saving_pct: float) -> int:
    """:class:`MinGaps` for one query."""
    return MinGaps(trace).refaults(saving_pct)


def interp(points: list[tuple[float, float]], x: float) -> float:
    """Refaults at saving ``x`` on a curve of (saving, refaults) points,
    linearly between neighbours; NaN outside the points' range.  (DAMON_RECLAIM's
    curve is convex, so this errs in its favour at intermediate savings... no:
    it overstates its refaults there; the sweep is dense for that reason.)"""
    pts = sorted((float(a), float(b)) for a, b in points)
    if not pts or x < pts[0][0] - 1e-9 or x > pts[-1][0] + 1e-9:
        return float("nan")
    return float(np.interp(x, [p[0] for p in pts], [p[1] for p in pts]))


def unit_metrics(runs: dict, belady_curve: list[dict], min_gaps) -> dict:
    """Comparisons at equal saving: DAMON_RECLAIM's refaults at a run's
    saving come from its own curve (min_age x2, x1, x0.5), Belady's from
    its budget sweep, min-gaps' are computed at that saving."""
    damon = [(runs[t]["saving_pct"], runs[t]["refaults"]) for t in SWEEP_TAGS]
    bel = [(p["saving_pct"], p["refaults"]) for p in belady_curve] + [(0.0, 0.0)]
    out = {}
    for tag in ("ml", "ml-free", "ml-random", "ml-inverted", "lru"):
        r = runs[tag]
        s_, rr = r["saving_pct"], r["refaults"]
        rd = interp(damon, s_)
        rb = interp(bel, s_)
        rg = float(min_gaps(s_))
        m = {"saving_pct": s_, "refaults": rr, "damon_at_saving": rd, "belady_at_saving": rb,
             "min_gaps_at_saving": rg}
        m["fewer_pct"] = 100.0 * (1 - rr / rd) if rd == rd and rd > 0 else float("nan")
        m["worse_pct"] = -m["fewer_pct"]
        m["gap_closed_belady"] = (rd - rr) / (rd - rb) if rd == rd and rb == rb and rd > rb else float("nan")
        m["gap_closed_min_gaps"] = (rd - rr) / (rd - rg) if rd == rd and rd > rg else float("nan")
        out[tag] = m
    return out


def _slim(r: dict) -> dict:
    keep = ("policy", "saving_pct", "refaults", "refaults_ml", "slowdown_pct", "stall_us", "reclaimed",
            "reclaim_cpu_us", "wall_s", "target_saving_pct", "mode", "ml_share_pm", "mode_timeline", "learner",
            "decisions", "model")
    out = {k: r[k] for k in keep if k in r}
    ml = r.get("policy_stats", {}).get("ml")
    if ml:
        out["rejects_total"] = ml.get("rejects_total")
        out["rejects"] = ml.get("rejects")
        out["evicted"] = ml.get("evicted")
        out["charged"] = ml.get("charged")
        out["splits"] = ml.get("splits")
    return out


def run_unit(track: Track, seed: int, device: str = "zram") -> dict:
    """Every run of one track and seed."""
    started = time.time()
    tr = load_track(track, seed)
    P = {"min_age_us": track.min_age_us}
    runs: dict[str, dict] = {}
    base = dr.run_policy(tr, "damon-reclaim", seed=seed, device=device, params=P)
    runs["damon-reclaim"] = _slim(base)
    S = max(1, int(round(base["saving_pct"])))
    for tag, (num, den) in SWEEP.items():
        if tag != "damon-reclaim":
            r = dr.run_policy(tr, "damon-reclaim", seed=seed, device=device,
                              params={"min_age_us": track.min_age_us * num // den})
            runs[tag] = _slim(r)
    for tag, learner, tgt in (("ml", "damon-reuse", S), ("ml-free", "damon-reuse", None),
                              ("ml-random", "damon-random", S), ("ml-inverted", "damon-inverted", S)):
        r = damon_ml.run_ml(tr, learner, seed=seed, device=device, params=P, target_saving_pct=tgt)
        runs[tag] = _slim(r)
    runs["lru"] = _slim(dr.run_policy(tr, "lru", seed=seed, device=device, target_saving_pct=S))
    runs["belady"] = _slim(dr.run_policy(tr, "belady", seed=seed, device=device, target_saving_pct=S))
    curve = dr.oracle_curve(tr, device=device)
    mg = MinGaps(tr)
    gaps_at_s = mg.refaults(base["saving_pct"])
    gaps_curve = [{"saving_pct": float(p), "refaults": mg.refaults(float(p))} for p in ORACLE_SAVINGS]
    dur_us = max(tr.end_us - tr.t0_us, 1)
    refault_ns = dr.DEVICES[device].refault_ns
    for p in gaps_curve:
        p["slowdown_pct"] = round(100.0 * p["refaults"] * refault_ns / (dur_us * 1000), 4)
    runs["min-gaps"] = {"policy": "min-gaps", "saving_pct": round(base["saving_pct"], 3), "refaults": gaps_at_s,
                        "slowdown_pct": round(100.0 * gaps_at_s * refault_ns / (dur_us * 1000), 4)}
    metrics = unit_metrics(runs, curve, mg.refaults)
    return {"metrics": metrics, "track": track.name, "label": track.label(), "seed": seed,
            "target_saving_pct": S, "t0_s": tr.t0_us / 1e6, "footprint_pages": tr.n_pages,
            "accesses": tr.n_accesses, "duration_s": dur_us / 1e6,
            "track_params": asdict(track), "runs": runs, "belady_curve": curve, "min_gaps_curve": gaps_curve,
            "wall_s": round(time.time() - started, 1)}


def _job(args):
    track, seed, device = args
    return run_unit(track, seed, device)


def run_matrix(tracks: list[Track], seeds: list[int], jobs: int = 2, device: str = "zram", progress=None,
               trace_seeds: list[int] | None = None) -> list[dict]:
    """Every (track, seed) unit, in parallel over ``jobs`` processes; results
    in track then seed order (deterministic whatever the scheduling)."""
    work = []
    for t in tracks:
        for s in (seeds if t.kind == "gen" else (trace_seeds or seeds[:1])):
            work.append((t, s, device))
    out: list = [None] * len(work)
    if jobs <= 1:
        for i, w in enumerate(work):
            out[i] = _job(w)
            if progress is not None:
                progress(out[i])
        return out
    import multiprocessing as mp

    ctx = mp.get_context("spawn" if os.name != "posix" else "fork")
    with ctx.Pool(jobs) as pool:
        pending = {i: pool.apply_async(_job, (w,)) for i, w in enumerate(work)}
        for i in range(len(work)):
            out[i] = pending[i].get()
            if progress is not None:
                progress(out[i])
    return out


# -- summary ----------------------------------------------------------------------
def summarize(units: list[dict]) -> dict:
    """Per-track means over seeds and the issue's targets."""
    by: dict[str, list[dict]] = {}
    for u in units:
        by.setdefault(u["track"], []).append(u)
    rows = []
    for name, us in by.items():
        def mean(tag, key="refaults"):
            vals = [u["runs"][tag][key] for u in us if tag in u["runs"]]
            return float(np.mean(vals)) if vals else float("nan")

        rd = mean("damon-reclaim")
        row = {"track": name, "label": us[0]["label"], "seeds": [u["seed"] for u in us],
               "saving_damon": mean("damon-reclaim", "saving_pct"), "refaults_damon": rd}
        for tag in ("ml", "ml-free", "ml-random", "ml-inverted", "lru", "belady", "min-gaps",
                    *SWEEP_TAGS):
            row[f"saving[{tag}]"] = mean(tag, "saving_pct")
            row[f"refaults[{tag}]"] = mean(tag, "refaults")
        rm, rb, rg = row["refaults[ml]"], row["refaults[belady]"], row["refaults[min-gaps]"]
        row["fewer_pct"] = 100.0 * (1 - rm / rd) if rd > 0 else float("nan")
        row["gap_closed_belady"] = (rd - rm) / (rd - rb) if rd > rb else float("nan")
        row["gap_closed_min_gaps"] = (rd - rm) / (rd - rg) if rd > rg else float("nan")
        for adv in ("ml-random", "ml-inverted"):
            ra = row[f"refaults[{adv}]"]
            row[f"worse_pct[{adv}]"] = 100.0 * (ra / rd - 1) if rd > 0 else float("nan")
        for tag in ("ml", "ml-free", "ml-random", "ml-inverted", "lru"):
            for key in ("fewer_pct", "gap_closed_belady", "gap_closed_min_gaps", "damon_at_saving"):
                vals = [u["metrics"][tag][key] for u in us]
                vals = [v for v in vals if v == v]
                row[f"eq.{key}[{tag}]"] = float(np.mean(vals)) if vals else float("nan")
        row["modes"] = {tag: sorted({u["runs"][tag].get("mode") for u in us if tag in u["runs"]})
                        for tag in ("ml", "ml-free", "ml-random", "ml-inverted")}
        row["ml_share_pm"] = {tag: [u["runs"][tag].get("ml_share_pm") for u in us if tag in u["runs"]]
                              for tag in ("ml", "ml-free", "ml-random", "ml-inverted")}
        row["rejects"] = {tag: [u["runs"][tag].get("rejects_total") for u in us if tag in u["runs"]]
                          for tag in ("ml", "ml-random", "ml-inverted")}
        rows.append(row)
    return {"tracks": rows}


def _fmt(x, nd=0, pct=False):
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    s = f"{x:,.{nd}f}"
    return s + (" %" if pct else "")


def markdown(summary: dict, meta: dict) -> str:
    rows = summary["tracks"]
    out = [f"# DAMON reclaim: ML proxy vs DAMON_RECLAIM", "",
           f"Generated by `{meta['command']}` on {meta['date']} ({meta['wall_s']:.0f} s wall, {meta['jobs']} "
           f"processes); seeds {meta['seeds']} (traces: seed {meta['trace_seeds']}); device {meta['device']}; "
           f"min_age {MIN_AGE_US // 1_000_000} s on every track.  Numbers are means over seeds.  "
           f"See docs/damon.md for the design and the reading of this table.", "",
           "`ml`: the proxy with `damon-reuse`, target = DAMON_RECLAIM's saving (reached only approximately); "
           "`belady`: MIN under that budget; `min-gaps`: the time-averaged-saving oracle.  `fewer` and `gap "
           "closed` compare at the saving ml actually reached (DAMON_RECLAIM's refaults there from its own "
           "`min_age` curve, n/a outside it; the oracles' at that saving).", "",
           "| track | DAMON saving | DAMON refaults | ml saving | ml refaults | fewer at ml's saving | "
           "belady | min-gaps | gap closed at ml's saving (belady / min-gaps) | ml mode |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['track']} | {_fmt(r['saving_damon'], 1, True)} | {_fmt(r['refaults_damon'])} | "
            f"{_fmt(r['saving[ml]'], 1, True)} | {_fmt(r['refaults[ml]'])} | "
            f"{_fmt(r['eq.fewer_pct[ml]'], 0, True)} | "
            f"{_fmt(r['refaults[belady]'])} | {_fmt(r['refaults[min-gaps]'])} | "
            f"{_fmt(100 * r['eq.gap_closed_belady[ml]'], 0, True)} / "
            f"{_fmt(100 * r['eq.gap_closed_min_gaps[ml]'], 0, True)} | "
            f"{', '.join(m or '?' for m in r['modes']['ml'])} |")
    out += ["", "At equal saving, whatever saving a run reached: DAMON_RECLAIM's refaults at that saving "
                "interpolated on its own curve (`min_age` x3 ... x0.5, linearly; n/a outside it), Belady's on "
                "its budget "
                "sweep, min-gaps' computed there.  `fewer` is against that DAMON_RECLAIM; `gap` is the share of "
                "the DAMON_RECLAIM-to-oracle gap closed (Belady / min-gaps):", "",
            "| track | ml: fewer, gap | ml-free: fewer, gap | random: fewer | "
            "inverted: fewer | lru: fewer |", "|---|---|---|---|---|---|"]
    for r in rows:
        def g(tag):
            return (f"{_fmt(r[f'eq.fewer_pct[{tag}]'], 0, True)}, "
                    f"{_fmt(100 * r[f'eq.gap_closed_belady[{tag}]'], 0, True)}"
                    f" / {_fmt(100 * r[f'eq.gap_closed_min_gaps[{tag}]'], 0, True)}")
        out.append(f"| {r['track']} | {g('ml')} | {g('ml-free')} | "
                   f"{_fmt(r['eq.fewer_pct[ml-random]'], 0, True)} | {_fmt(r['eq.fewer_pct[ml-inverted]'], 0, True)} | "
                   f"{_fmt(r['eq.fewer_pct[lru]'], 0, True)} |")
    out += ["", "Without a target (`ml-free`: ML reclaims only what it predicts idle for `min_age`), and "
                "DAMON_RECLAIM's own curve (saving, refaults for each `min_age`):", "",
            "| track | ml-free saving | ml-free refaults | mode | " + " | ".join(
                "DAMON min_age x" + t.split("@")[1] if "@" in t else "DAMON min_age x1" for t in SWEEP_TAGS) + " |",
            "|---|---|---|---|" + "---|" * len(SWEEP_TAGS)]
    for r in rows:
        out.append(f"| {r['track']} | {_fmt(r['saving[ml-free]'], 1, True)} | {_fmt(r['refaults[ml-free]'])} | "
                   f"{', '.join(m or '?' for m in r['modes']['ml-free'])} | "
                   + " | ".join(f"{_fmt(r[f'saving[{t}]'], 1, True)}, {_fmt(r[f'refaults[{t}]'])}"
                                for t in SWEEP_TAGS) + " |")
    out += ["", "Adversaries (target = DAMON_RECLAIM's saving): saving, refaults; refaults above DAMON_RECLAIM's "
                "at the same saving (on its curve; positive: worse); final modes:", "",
            "| track | random: saving, refaults | worse than DAMON | mode | inverted: saving, refaults "
            "| worse than DAMON | mode |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = []
        for adv in ("ml-random", "ml-inverted"):
            cells += [f"{_fmt(r[f'saving[{adv}]'], 1, True)}, {_fmt(r[f'refaults[{adv}]'])}",
                      _fmt(-r[f"eq.fewer_pct[{adv}]"], 1, True), ", ".join(m or "?" for m in r["modes"][adv])]
        out.append(f"| {r['track']} | " + " | ".join(cells) + " |")
    out += ["", "Figures: `pareto-<track>.png` (saving vs slowdown, every policy and both oracles), "
                "`modes-<track>.png` (the ML runs' mode timelines), `refaults.png` (refaults relative to "
                "DAMON_RECLAIM).  Raw numbers: `results.json`.", ""]
    return "\n".join(out)


# -- plots --------------------------------------------------------------------------
def _footer(fig, meta: dict, extra: str = "") -> None:
    fig.text(0.01, 0.005, f"{meta['command']} | seeds {meta['seeds']} | {extra}", fontsize=6, color="0.35",
             ha="left", va="bottom")


def plot_track(units: list[dict], meta: dict, out_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    u0 = units[0]
    name = u0["track"]
    paths = []
    fig, ax = plt.subplots(figsize=(8, 5))
    bc = sorted(u0["belady_curve"], key=lambda p: p["saving_pct"])
    ax.plot([p["slowdown_pct"] for p in bc], [p["saving_pct"] for p in bc], "k--", marker=".", lw=1,
            label="oracle: Belady (budget swept)")
    gc = sorted(u0["min_gaps_curve"], key=lambda p: p["saving_pct"])
    ax.plot([p["slowdown_pct"] for p in gc], [p["saving_pct"] for p in gc], ":", color="0.4", marker=".", lw=1,
            label="oracle: min-gaps (time-averaged saving)")
    sweep = [u0["runs"][t] for t in SWEEP_TAGS]
    ax.plot([r["slowdown_pct"] for r in sweep], [r["saving_pct"] for r in sweep], "-", color="tab:blue", lw=1,
            alpha=0.6, marker=".", label="DAMON_RECLAIM, min_age x3 ... x0.5")
    style = {"damon-reclaim": ("tab:blue", "o"), "ml": ("tab:red", "*"), "ml-free": ("tab:orange", "*"),
             "ml-random": ("tab:gray", "x"), "ml-inverted": ("tab:brown", "x"),
             "lru": ("tab:green", "^"), "belady": ("k", "D")}
    for tag, (c, mk) in style.items():
        for i, u in enumerate(units):
            r = u["runs"].get(tag)
            if r is None:
                continue
            ax.scatter(max(r["slowdown_pct"], 1e-4), r["saving_pct"], color=c, marker=mk, s=70 if mk == "*" else 40,
                       zorder=3, label=tag if i == 0 else None)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("slowdown (refault stall / run time), %, symlog")
    ax.set_ylabel("memory saving (time-averaged), %")
    ax.set_title(f"{u0['label']}: saving vs slowdown, seeds {[u['seed'] for u in units]}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    _footer(fig, meta, f"track {name}, target saving = DAMON_RECLAIM's "
                       f"({u0['target_saving_pct']} % for seed {u0['seed']})")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    p = os.path.join(out_dir, f"pareto-{name}.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    fig, axes = plt.subplots(4, 1, figsize=(8, 6), sharex=True)
    dur = u0["duration_s"]
    for ax, tag in zip(axes, ("ml", "ml-free", "ml-random", "ml-inverted")):
        r = u0["runs"].get(tag, {})
        tl = r.get("mode_timeline") or []
        xs, ys = [0.0], [0]
        for t in tl:
            xs.append(t["at_us"] / 1e6 - u0["t0_s"])
            ys.append(["emergency", "learning", "collaboration", "recommendation"].index(t["to"]))
        xs.append(dur)
        ys.append(ys[-1])
        ax.step(xs, ys, where="post", color="tab:red")
        ax.set_yticks([0, 1, 2, 3])
        ax.set_yticklabels(["emerg.", "learn.", "collab.", "recom."], fontsize=7)
        ax.set_ylim(-0.3, 3.3)
        ax.set_title(f"{tag}: final {r.get('mode')}, ML share {r.get('ml_share_pm', 0) / 10:.1f} %, "
                     f"saving {r.get('saving_pct', 0):.1f} %, refaults {r.get('refaults', 0):,}", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("simulated time, s")
    fig.suptitle(f"{u0['label']}, seed {u0['seed']}: the proxy's mode", fontsize=9)
    _footer(fig, meta, f"track {name}, seed {u0['seed']}")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    p = os.path.join(out_dir, f"modes-{name}.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    return paths


def plot_summary(summary: dict, meta: dict, out_dir: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["tracks"]
    tags = ["ml", "ml-free", "ml-random", "ml-inverted", "lru", "belady", "min-gaps"]
    fig, ax = plt.subplots(figsize=(max(7, 1.2 * len(rows)), 4.5))
    w = 0.8 / len(tags)
    for k, tag in enumerate(tags):
        vals = [r[f"refaults[{tag}]"] / r["refaults_damon"] if r["refaults_damon"] > 0 else np.nan for r in rows]
        ax.bar(np.arange(len(rows)) + k * w - 0.4 + w / 2, vals, w, label=tag)
    ax.axhline(1.0, color="k", lw=1)
    ax.axhline(0.6, color="tab:red", lw=0.8, ls="--", label="target: 40 % fewer")
    ax.set_xticks(np.arange(len(rows)))
    ax.set_xticklabels([r["track"] for r in rows], fontsize=8, rotation=20)
    ax.set_ylabel("refaults / DAMON_RECLAIM's (same saving)")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_title("Refaults relative to DAMON_RECLAIM at DAMON_RECLAIM's saving (mean over seeds)", fontsize=9)
    ax.legend(fontsize=7, ncol=4)
    ax.grid(alpha=0.3, axis="y")
    _footer(fig, meta)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    p = os.path.join(out_dir, "refaults.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
