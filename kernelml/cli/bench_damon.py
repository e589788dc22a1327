"""``kernelml bench damon``: the DAMON reclaim matrix (kernelml.bench.damon_matrix)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time

import typer


def main(quick: bool = typer.Option(False, "--quick", help="CI-sized: 2 small tracks, one seed, no traces"),
         seeds: str = typer.Option(None, "--seeds", help="comma-separated seeds (default 0,1; quick: 0)"),
         tracks: str = typer.Option(None, "--tracks", help="comma-separated track names (default: all)"),
         jobs: int = typer.Option(2, "--jobs", help="processes"),
         device: str = typer.Option("zram", "--device", help="swap device cost preset: zram, ssd"),
         traces: str = typer.Option("data/traces", "--traces", help="directory of real page traces (*.pages*)"),
         out: str = typer.Option("results/damon", "--out", help="output directory"),
         render: bool = typer.Option(False, "--render",
                                     help="only redraw the table and plots from OUT/results.json")) -> None:
    """DAMON reclaim: the ML proxy against DAMON_RECLAIM, LRU and the oracles; table, JSON and plots."""
    from kernelml.bench import damon_matrix as dm
    from kernelml.kernel.damon.memory import DEVICES

    if render:
        path = os.path.join(out, "results.json")
        if not os.path.exists(path):
            typer.echo(f"error: no {path} to render", err=True)
            raise typer.Exit(2)
        with open(path) as f:
            data = json.load(f)
        _write(dm, data["units"], data["meta"], out, rewrite_json=False)
        return

    if device not in DEVICES:
        typer.echo(f"error: unknown device {device!r}; known: {', '.join(DEVICES)}", err=True)
        raise typer.Exit(2)
    if jobs < 1:
        typer.echo("error: --jobs must be at least 1", err=True)
        raise typer.Exit(2)
    try:
        seed_list = [int(x) for x in seeds.split(",")] if seeds else ([0] if quick else [0, 1])
    except ValueError:
        typer.echo("error: --seeds wants comma-separated integers", err=True)
        raise typer.Exit(2)
    all_tracks = dm.default_tracks(quick=quick, traces_dir=traces)
    if tracks:
        want = [t.strip() for t in tracks.split(",") if t.strip()]
        unknown = [w for w in want if w not in {t.name for t in all_tracks}]
        if unknown:
            typer.echo(f"error: unknown track(s) {', '.join(unknown)}; known: "
                       f"{', '.join(t.name for t in all_tracks)}", err=True)
            raise typer.Exit(2)
        all_tracks = [t for t in all_tracks if t.name in want]
    n_traces = sum(t.kind == "trace" for t in all_tracks)
    if not quick and n_traces == 0:
        typer.echo(f"note: no page traces under {traces}; running the generated tracks only", err=True)
    os.makedirs(out, exist_ok=True)
    started = time.time()

    def progress(u):
        typer.echo(f"  {u['track']:<14s} seed {u['seed']}: DAMON {u['runs']['damon-reclaim']['refaults']:>8,} "
                   f"refaults at {u['runs']['damon-reclaim']['saving_pct']:5.1f} %, ml "
                   f"{u['runs']['ml']['refaults']:>8,} at {u['runs']['ml']['saving_pct']:5.1f} % "
                   f"({u['runs']['ml'].get('mode')}), {u['wall_s']:.0f} s", err=True)

    units = dm.run_matrix(all_tracks, seed_list, jobs=jobs, device=device, progress=progress, trace_seeds=[0])
    argv = sys.argv[1:]
    cmd = "kernelml " + " ".join(argv) if argv and argv[0] == "bench" else "kernelml bench damon" + (
        " --quick" if quick else "")
    meta = {"command": cmd, "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seeds": seed_list, "trace_seeds": [0], "device": device, "jobs": jobs,
            "wall_s": time.time() - started, "tracks": [t.label() for t in all_tracks]}
    meta["wall_s"] = time.time() - started
    _write(dm, units, meta, out)


def _write(dm, units: list, meta: dict, out: str, rewrite_json: bool = True) -> None:
    summary = dm.summarize(units)
    figures = []
    by: dict[str, list] = {}
    for u in units:
        by.setdefault(u["track"], []).append(u)
    for us in by.values():
        figures += dm.plot_track(us, meta, out)
    figures.append(dm.plot_summary(summary, meta, out))
    if rewrite_json:
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"meta": meta, "summary": summary, "units": units}, f, indent=1, default=str)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(dm.markdown(summary, meta))
    typer.echo(dm.markdown(summary, meta))
    typer.echo(f"wrote {out}/README.md, results.json and {len(figures)} figures ({meta['wall_s']:.0f} s)")
