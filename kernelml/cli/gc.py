"""Log-structured file-system GC simulator: run, compare, list policies."""

from __future__ import annotations

import json
import os
import sys

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)

DEFAULT_BLOCKS = 1 << 18  # 1 GiB of 4 KiB blocks


class _Fail(Exception):
    pass


def _errors():
    """Exceptions that are the user's mistake: one line, exit code 2."""
    from ..kernel.lfs.sim import SimError
    from ..registry import UnknownName

    return (UnknownName, ValueError, FileNotFoundError, IsADirectoryError, PermissionError,
            SimError, _Fail)


def _die(exc: BaseException) -> None:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _check_common(workload, trace, fmt, spare) -> None:
    if (workload is None) == (trace is None):
        raise _Fail("give exactly one of --workload NAME or --trace FILE")
    if trace is not None:
        if fmt is None:
            raise _Fail("--trace needs --format (e.g. csv, msr, mqsim, alibaba, blkparse)")
        if not os.path.isfile(trace):
            raise _Fail(f"trace file not found: {trace}")
    if not 0.0 < spare < 1.0:
        raise _Fail(f"--spare must be strictly between 0 and 1 (got {spare})")


def _runner(kw: dict):
    """run_gc, or the ML proxy's run for policy ``ml`` (``learner``/``fallback`` in kw)."""
    from ..bench.gc_run import run_gc

    if kw.get("policy") != "ml":
        kw.pop("learner", None)
        kw.pop("fallback", None)
        return run_gc
    from ..bench.gc_ml import run_gc_ml

    kw.pop("policy")
    return run_gc_ml


def _progress_run(label: str, show: bool, **kw) -> dict:
    run_gc = _runner(kw)
    if not show:
        return run_gc(**kw)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), transient=True, console=None) as prog:
        task = prog.add_task(label, total=None)

        def cb(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total or None)

        return run_gc(progress=cb, **kw)


def _check_ml(policy: str, learner: str, fallback: str) -> None:
    from ..agent.learners import LEARNERS
    from ..bench.gc_ml import LEARNER_ALIASES
    from ..kernel.lfs.victims import VICTIMS

    if policy == "ml":
        name = LEARNER_ALIASES.get(learner, learner)
        if name not in LEARNERS or not name.startswith("lfs-"):
            known = ", ".join(["random", "inverted"] + [n for n in LEARNERS.names() if n.startswith("lfs-")])
            raise _Fail(f"unknown GC learner {learner!r}; known: {known}")
        VICTIMS.get(fallback)
    else:
        VICTIMS.get(policy)


def _run_kwargs(workload, trace, fmt, policy, placement, spare, seed, writes, blocks, warmup,
                regime, segment_blocks, reserved, debug, learner="lfs-lifetime", fallback="f2fs") -> dict:
    n = blocks if blocks is not None else (None if trace is not None else DEFAULT_BLOCKS)
    if warmup is None:
        warmup = 0 if trace is not None else (n or DEFAULT_BLOCKS)
    if writes is None and trace is None:
        writes = 8 * (n or DEFAULT_BLOCKS)
    return dict(workload=workload, trace=trace, fmt=fmt, policy=policy, placement=placement,
                spare=spare, seed=seed, writes=writes, warmup=warmup, n_blocks=n,
                regime=regime, blocks_per_seg=segment_blocks, reserved=reserved, debug=debug,
                learner=learner, fallback=fallback)


@app.command("run")
def run(
    workload: str = typer.Option(None, "--workload", "-w", help="registered workload generator"),
    trace: str = typer.Option(None, "--trace", help="block trace file"),
    fmt: str = typer.Option(None, "--format", help="trace format (csv, msr, mqsim, alibaba, blkparse, ...)"),
    policy: str = typer.Option("greedy", "--policy", "-p",
                               help="victim policy (see `kernelml gc policies`), or ml for the ML proxy"),
    learner: str = typer.Option("lfs-lifetime", "--learner",
                                help="with --policy ml: the agent's learner (lfs-lifetime, random, inverted)"),
    fallback: str = typer.Option("f2fs", "--fallback",
                                 help="with --policy ml: the human-made victim policy behind the proxy"),
    placement: str = typer.Option(None, "--placement", help="data placement (default: the policy's partner)"),
    spare: float = typer.Option(0.10, "--spare", help="spare factor (physical - logical) / physical"),
    seed: int = typer.Option(0, "--seed"),
    writes: int = typer.Option(None, "--writes", help="measured user block writes (default 8 x device)"),
    blocks: int = typer.Option(None, "--blocks", help="logical blocks of 4 KiB (default 262144 = 1 GiB)"),
    warmup: int = typer.Option(None, "--warmup", help="user writes after the fill not measured "
                               "(default one device-full for generators, 0 for traces)"),
    regime: str = typer.Option("f2fs", "--regime", help="f2fs (fixed device) or sepbit (growing log)"),
    segment_blocks: int = typer.Option(512, "--segment-blocks", help="blocks per segment (512 F2FS, 2048 NILFS2)"),
    reserved: int = typer.Option(-1, "--reserved", help="reserved segments (-1 auto, -2 mkfs.f2fs)"),
    debug: bool = typer.Option(False, "--debug", help="check every invariant after every GC"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Run one simulation and print its summary (or JSON)."""
    try:
        _check_common(workload, trace, fmt, spare)
        _check_ml(policy, learner, fallback)
        kw = _run_kwargs(workload, trace, fmt, policy, placement, spare, seed, writes, blocks, warmup,
                         regime, segment_blocks, reserved, debug, learner, fallback)
        show = not as_json and sys.stderr.isatty()
        r = _progress_run(f"{policy}", show, **kw)
    except _errors() as exc:
        _die(exc)
    if as_json:
        typer.echo(json.dumps(r))
        return
    d = r["device"]
    typer.echo(f"workload {r['workload']}  policy {r['policy']}  placement {r['placement']}  "
               f"regime {r['regime']}  spare {r['spare']:.3f}")
    typer.echo(f"device: {d['n_lbas']} logical blocks, {d['segments']} segments of "
               f"{d['blocks_per_seg']} blocks, {d['reserved']} reserved")
    waf = r["waf"]
    typer.echo(f"WAF {waf:.4f}" if waf is not None else "WAF n/a (no measured writes)")
    typer.echo(f"user writes {r['user_writes']}  GC writes {r['gc_writes']}  "
               f"GC invocations {r['gc_invocations']} (fg {r['gc_foreground']}, bg {r['gc_background']})")
    mean = r["moved_per_gc"]["mean"]
    typer.echo(f"moved per GC {mean:.1f}" if mean is not None else "moved per GC n/a")
    typer.echo(f"fill writes {r['fill_writes']} (+{r['fill_gc_writes']} GC)  "
               f"erase max {r['erase']['max']} mean {r['erase']['mean']:.2f}  "
               f"fallbacks {r['fallbacks']}")
    if r["policy"] == "ml":
        share = ", ".join(f"{k} {v:.1%}" for k, v in r["ml_share"].items())
        typer.echo(f"ML proxy: learner {r['learner']}, fallback {r['fallback_policy']}; ML share {share}")
        for op, trs in r["mode_timeline"].items():
            typer.echo(f"  {op} modes: " + " -> ".join(f"{t[2]}@{t[0]} ({t[3]})" for t in trs))
        rej = {k: v for k, v in r["rejects"].items() if v}
        typer.echo(f"  rejected recommendations: {rej or 'none'}")
    typer.echo(f"{r['elapsed_s']:.2f} s, {r['user_writes_per_s']:.0f} user writes/s")


@app.command("policies")
def policies() -> None:
    """List the registered victim policies and placements."""
    from ..kernel.lfs.placement import PLACEMENTS
    from ..kernel.lfs.victims import VICTIMS

    for title, reg in (("victim policies", VICTIMS), ("placements", PLACEMENTS)):
        typer.echo(f"{title}:")
        for name in reg.names():
            try:
                doc = (reg.get(name).__doc__ or "").strip().splitlines()
                first = doc[0] if doc else ""
            except Exception as exc:  # a policy file not written yet
                first = f"(unavailable: {type(exc).__name__})"
            typer.echo(f"  {name:18} {first}")


@app.command("compare")
def compare(
    workload: str = typer.Option(None, "--workload", "-w"),
    trace: str = typer.Option(None, "--trace"),
    fmt: str = typer.Option(None, "--format"),
    policies_: str = typer.Option("greedy,cost-benefit,f2fs", "--policies",
                                  help="comma list; 'policy/placement' picks a placement per entry"),
    placement: str = typer.Option(None, "--placement", help="placement for entries without one"),
    spare: float = typer.Option(0.10, "--spare"),
    seed: int = typer.Option(0, "--seed"),
    writes: int = typer.Option(None, "--writes"),
    blocks: int = typer.Option(None, "--blocks"),
    warmup: int = typer.Option(None, "--warmup"),
    regime: str = typer.Option("f2fs", "--regime"),
    out: str = typer.Option(None, "--out", help="PNG path (default results/gc/compare-<workload>.png)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run several policies on one workload: table + PNG plot."""
    try:
        _check_common(workload, trace, fmt, spare)
        entries = [e.strip() for e in policies_.split(",") if e.strip()]
        if not entries:
            raise _Fail("--policies is empty")
        from ..kernel.lfs.placement import PLACEMENTS
        from ..kernel.lfs.victims import VICTIMS

        parsed = []
        for e in entries:
            pol, _, pl = e.partition("/")
            pl = pl or placement
            if pol != "ml":
                VICTIMS.get(pol)  # unknown names fail before any run
            if pl is not None:
                PLACEMENTS.get(pl)
            parsed.append((e, pol, pl))
        results = []
        show = not as_json and sys.stderr.isatty()
        for label, pol, pl in parsed:
            kw = _run_kwargs(workload, trace, fmt, pol, pl, spare, seed, writes, blocks, warmup,
                             regime, 512, -1, False)
            r = _progress_run(label, show, **kw)
            r["label"] = label
            results.append(r)
        name = workload or os.path.splitext(os.path.basename(trace))[0]
        path = out or os.path.join("results", "gc", f"compare-{name}.png")
        _plot(results, name, path)
    except _errors() as exc:
        _die(exc)
    if as_json:
        typer.echo(json.dumps({"plot": path, "results": [_brief(r) for r in results]}))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"GC on {name} (spare {spare:.2f}, {results[0]['user_writes']} measured writes)")
    for col in ("policy", "placement", "WAF", "GC invocations", "moved/GC", "erase max", "fallbacks"):
        t.add_column(col, justify="right" if col not in ("policy", "placement") else "left")
    for r in sorted(results, key=lambda r: r["waf"] if r["waf"] is not None else 1e9):
        mean = r["moved_per_gc"]["mean"]
        t.add_row(r["label"], r["placement"], f"{r['waf']:.4f}" if r["waf"] else "n/a",
                  str(r["gc_invocations"]), f"{mean:.1f}" if mean is not None else "n/a",
                  str(r["erase"]["max"]), str(r["fallbacks"]))
    Console(width=None if sys.stdout.isatty() else 160).print(t)
    typer.echo(f"plot: {path}")


def _brief(r: dict) -> dict:
    keys = ("label", "policy", "placement", "waf", "user_writes", "gc_writes", "gc_invocations",
            "fallbacks", "erase")
    return {k: r[k] for k in keys}


def _plot(results: list[dict], name: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [r["label"] for r in results]
    wafs = [r["waf"] or 0.0 for r in results]
    ax1.bar(range(len(labels)), wafs, color="tab:blue")
    ax1.set_xticks(range(len(labels)))
    ax1.set_xticklabels(labels, rotation=30, ha="right")
    ax1.set_ylabel("write amplification")
    ax1.set_title(f"WAF per policy: {name}")
    for i, w in enumerate(wafs):
        ax1.text(i, w, f"{w:.2f}", ha="center", va="bottom", fontsize=8)
    for r in results:
        pts = [(u, w) for u, w in r["waf_window"] if w is not None]
        if pts:
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], label=r["label"])
    ax2.set_xlabel("measured user block writes")
    ax2.set_ylabel("WAF per sampling window")
    ax2.set_title("WAF over time")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
