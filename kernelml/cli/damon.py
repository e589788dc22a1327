"""DAMON-based memory reclaim: simulate policies, compare them, list them."""

from __future__ import annotations

import json
import pathlib
import sys
import time

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="DAMON-based memory reclaim: simulate policies, compare them, list them.")

DEFAULT_PAGES = 1 << 16  # 256 MiB


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _parse_params(items: list[str] | None) -> dict:
    out: dict = {}
    for it in items or []:
        key, sep, val = it.partition("=")
        if not sep or not key:
            _fail(f"--param wants KEY=VALUE, got {it!r}")
        low = val.lower()
        if low in ("true", "on", "yes"):
            out[key] = True
        elif low in ("false", "off", "no"):
            out[key] = False
        else:
            try:
                out[key] = int(val)
            except ValueError:
                out[key] = val
    return out


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), console=console, transient=True,
                    disable=not (enabled and console.is_terminal))


def _load(workload, trace, fmt, pages, duration, seed, layout, progress):
    from kernelml.bench import damon_run as dr

    if (workload is None) == (trace is None):
        _fail("give exactly one of --workload NAME or --trace FILE")
    if duration is not None and duration <= 0:
        _fail("--duration must be positive")
    if pages is not None and pages <= 0:
        _fail("--pages must be positive")
    if layout not in ("vaddr", "alloc"):
        _fail("--layout must be vaddr or alloc")
    try:
        if trace is not None:
            if fmt not in ("pages", "lackey", "vmtrace"):
                _fail("--format must be pages, lackey or vmtrace")
            if not pathlib.Path(trace).exists():
                _fail(f"no such trace file: {trace}")
            w = dr.open_trace(trace, fmt)
            name = pathlib.Path(trace).stem
        else:
            w = dr.make_workload(workload, n_pages=pages or DEFAULT_PAGES, duration_s=duration, seed=seed)
            name = workload
        total = getattr(w, "n_accesses", 0) or 0
        task = progress.add_task(f"load {name}", total=total or None)
        tr = dr.load(w, layout=layout, progress=lambda d: progress.update(task, completed=d))
        progress.remove_task(task)
    except (ValueError, KeyError, OSError) as exc:
        _fail(str(exc).strip("'\""))
    tr.name = name
    if duration is not None and trace is not None:
        tr.end_us = max(tr.end_us, tr.t0_us + int(duration * 1e6))
    return tr


def _check_device(name: str) -> None:
    from kernelml.kernel.damon.memory import DEVICES

    if name not in DEVICES:
        _fail(f"unknown device {name!r}; known: {', '.join(DEVICES)}")


def _check_policy(name: str) -> None:
    from kernelml.kernel.damon.policies import POLICIES

    if name not in POLICIES:
        _fail(f"unknown policy {name!r}; known: {', '.join(POLICIES.names())}")


def _check_learner(name: str | None) -> str | None:
    """The registered learner behind --learner (ml policy only); None: no agent."""
    from kernelml.agent.learners import LEARNERS
    from kernelml.bench.damon_ml import DEFAULT_LEARNER, learner_name

    full = learner_name(name if name is not None else DEFAULT_LEARNER)
    if full is None:
        return None
    if full not in LEARNERS or LEARNERS.get(full).subsystem != "damon":
        known = [n for n in LEARNERS.names() if n.startswith("damon-")]
        _fail(f"unknown damon learner {name!r}; known: reuse, random, inverted, none, {', '.join(known)}")
    return full


def _run_one(tr, policy, progress, learner=None, **kw):
    from kernelml.bench import damon_run as dr

    task = progress.add_task(policy, total=tr.n_accesses)
    try:
        if policy == "ml":
            from kernelml.bench.damon_ml import run_ml

            r = run_ml(tr, learner, progress=lambda d, n: progress.update(task, completed=d), **kw)
        else:
            r = dr.run_policy(tr, policy, progress=lambda d, n: progress.update(task, completed=d), **kw)
    except (ValueError, TypeError) as exc:
        _fail(f"{policy}: {exc}")
    progress.remove_task(task)
    return r


@app.command()
def run(workload: str = typer.Option(None, "--workload", help="page-access generator name"),
        trace: str = typer.Option(None, "--trace", help="page trace file"),
        fmt: str = typer.Option("pages", "--format", help="trace format: pages, lackey, vmtrace"),
        policy: str = typer.Option("damon-reclaim", "--policy", help="reclaim policy (see `policies`)"),
        target_saving: int = typer.Option(None, "--target-saving",
                                          help="memory saving to aim at, percent (lru, senpai, belady: 25; ml)"),
        seed: int = typer.Option(0, "--seed"),
        duration: float = typer.Option(None, "--duration", help="simulated seconds (generators; default 300)"),
        pages: int = typer.Option(None, "--pages", help="address space of generators, 4 KiB pages (default 65536)"),
        device: str = typer.Option("zram", "--device", help="swap device cost preset: zram, ssd"),
        watermarks: str = typer.Option("on", "--watermarks", help="DAMOS watermarks: on or off"),
        layout: str = typer.Option("vaddr", "--layout", help="page layout: vaddr (address) or alloc"),
        param: list[str] = typer.Option(None, "--param", help="policy parameter KEY=VALUE (repeatable)"),
        learner: str = typer.Option(None, "--learner",
                                    help="ml policy: the agent's learner (reuse, random, inverted, none)"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Simulate one reclaim policy on one workload."""
    _check_policy(policy)
    if learner is not None and policy != "ml":
        _fail("--learner applies to --policy ml only")
    agent = _check_learner(learner) if policy == "ml" else None
    _check_device(device)
    if watermarks not in ("on", "off"):
        _fail("--watermarks must be on or off")
    if target_saving is not None and not 0 <= target_saving < 100:
        _fail("--target-saving must be in [0, 100)")
    params = _parse_params(param)
    with _progress(not as_json) as prog:
        tr = _load(workload, trace, fmt, pages, duration, seed, layout, prog)
        r = _run_one(tr, policy, prog, learner=agent, seed=seed, device=device, target_saving_pct=target_saving,
                     watermarks=watermarks == "on", params=params)
    if as_json:
        typer.echo(json.dumps(r, default=str))
        return
    _table([r], f"{tr.name}: {tr.n_accesses} accesses, {tr.n_pages} pages, "
                f"{(tr.end_us - tr.t0_us) / 1e6:.0f} s simulated")


def _table(rows: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for col in ("policy", "saving%", "slowdown%", "refaults", "stall ms", "CPU ms", "wall s"):
        t.add_column(col, justify="left" if col == "policy" else "right", no_wrap=True)
    for r in rows:
        t.add_row(r["policy"], f"{r['saving_pct']:.2f}", f"{r['slowdown_pct']:.3f}", str(r["refaults"]),
                  f"{r['stall_us'] / 1000:.1f}", f"{r['reclaim_cpu_us'] / 1000:.1f}", f"{r['wall_s']:.2f}")
    Console(width=max(100, Console().width)).print(t)


def plot_pareto(rows: list[dict], oracle: list[dict], title: str, out: pathlib.Path) -> None:
    """Memory saving against slowdown, one marker per policy, the oracle as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    if oracle:
        pts = sorted(oracle, key=lambda p: p["saving_pct"])
        ax.plot([p["slowdown_pct"] for p in pts], [p["saving_pct"] for p in pts], "k--", marker=".",
                label="oracle (Belady swept over budgets)")
    for r in rows:
        ax.scatter(r["slowdown_pct"], r["saving_pct"], s=50, label=r["policy"], zorder=3)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("slowdown (stall / run time), %, symlog")
    ax.set_ylabel("memory saving (time-averaged), %")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


@app.command()
def compare(workload: str = typer.Option(None, "--workload", help="page-access generator name"),
            trace: str = typer.Option(None, "--trace", help="page trace file"),
            fmt: str = typer.Option("pages", "--format", help="trace format: pages, lackey, vmtrace"),
            policies: str = typer.Option("none,damon-reclaim,damon-reclaim-psi,lru,senpai,belady", "--policies"),
            target_saving: int = typer.Option(None, "--target-saving", help="memory saving to aim at, percent"),
            seed: int = typer.Option(0, "--seed"),
            duration: float = typer.Option(None, "--duration", help="simulated seconds (generators)"),
            pages: int = typer.Option(None, "--pages", help="address space of generators, 4 KiB pages"),
            device: str = typer.Option("zram", "--device", help="swap device cost preset: zram, ssd"),
            watermarks: str = typer.Option("on", "--watermarks", help="DAMOS watermarks: on or off"),
            layout: str = typer.Option("vaddr", "--layout"),
            oracle: bool = typer.Option(True, "--oracle/--no-oracle", help="draw the Belady budget sweep"),
            out: str = typer.Option(None, "--out", help="PNG path (default results/damon/compare-<workload>.png)"),
            learner: str = typer.Option(None, "--learner", help="the ml policy's learner (default reuse)"),
            as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Run several policies on one workload; print a table and plot saving vs slowdown."""
    from kernelml.bench import damon_run as dr

    names = [p.strip() for p in policies.split(",") if p.strip()]
    if not names:
        _fail("--policies is empty")
    for n in names:
        _check_policy(n)
    _check_device(device)
    if watermarks not in ("on", "off"):
        _fail("--watermarks must be on or off")
    if target_saving is not None and not 0 <= target_saving < 100:
        _fail("--target-saving must be in [0, 100)")
    started = time.time()
    with _progress(not as_json) as prog:
        tr = _load(workload, trace, fmt, pages, duration, seed, layout, prog)
        agent = _check_learner(learner) if "ml" in names else None
        rows = [_run_one(tr, n, prog, learner=agent, seed=seed, device=device, target_saving_pct=target_saving,
                         watermarks=watermarks == "on") for n in names]
        curve = []
        if oracle:
            task = prog.add_task("oracle", total=len(dr.ORACLE_SAVINGS))
            curve = dr.oracle_curve(tr, device=device, progress=lambda _p: prog.advance(task))
    path = pathlib.Path(out) if out else pathlib.Path("results/damon") / f"compare-{tr.name}.png"
    if path.suffix.lower() != ".png":
        _fail("--out must name a .png file")
    title = f"{tr.name}: {tr.n_pages * 4 // 1024} MiB, {(tr.end_us - tr.t0_us) / 1e6:.0f} s, {device}, seed {seed}"
    plot_pareto(rows, curve, title, path)
    record = {"command": " ".join(["kernelml", "damon", "compare"] + sys.argv[3:]) if len(sys.argv) > 3 else
              "kernelml damon compare", "workload": tr.name, "workload_info": tr.info, "seed": seed,
              "device": device, "target_saving_pct": target_saving, "watermarks": watermarks,
              "results": rows, "oracle": curve, "png": str(path), "wall_s": round(time.time() - started, 2)}
    path.with_suffix(".json").write_text(json.dumps(record, indent=1, default=str))
    if as_json:
        typer.echo(json.dumps(record, default=str))
        return
    _table(rows, title)
    if curve:
        typer.echo("oracle: " + ", ".join(f"{p['saving_pct']:.1f}% @ {p['slowdown_pct']:.3f}%" for p in curve))
    typer.echo(f"wrote {path}")


@app.command("policies")
def list_policies() -> None:
    """List the registered reclaim policies."""
    from kernelml.kernel.damon.policies import POLICIES

    for name, doc in POLICIES.describe():
        typer.echo(f"{name:20s} {doc}")
