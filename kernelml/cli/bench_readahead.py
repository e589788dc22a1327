"""``kernelml bench readahead``: the modelled matrix (kernelml.bench.readahead_matrix),
or with ``--live`` real workloads on a loop device (kernelml.bench.readahead_live)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time

import typer


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _command(default: str) -> str:
    argv = sys.argv[1:]
    return "kernelml " + " ".join(argv) if argv and argv[0] == "bench" else default


def main(quick: bool = typer.Option(False, "--quick", help="CI-sized: fewer workloads, smaller, one device"),
         live: bool = typer.Option(False, "--live", help="real workloads on a loop device (root; see docs)"),
         seeds: str = typer.Option(None, "--seeds", help="comma-separated seeds (model; default 0,1; quick 0)"),
         devices: str = typer.Option(None, "--devices", help="device presets (model): ssd,loop"),
         workloads: str = typer.Option(None, "--workloads", help="comma-separated workload names"),
         jobs: int = typer.Option(2, "--jobs", help="processes (model)"),
         scale: float = typer.Option(None, "--scale", help="workload size factor (default 1; quick 0.35)"),
         repeats: int = typer.Option(None, "--repeats", help="live: runs per workload and policy (default 3)"),
         duration: float = typer.Option(None, "--duration", help="live: seconds per run (default 8)"),
         memcg_mib: int = typer.Option(256, "--memcg-mib", help="live: page-cache cap of the workloads (MiB)"),
         out: str = typer.Option("results/readahead", "--out", help="output directory")) -> None:
    """Readahead: kernel default, fixed windows, KML-like classifier and the ML proxy; table, JSON and plots."""
    if live:
        return _live(quick, workloads, repeats, duration, memcg_mib, scale, out)
    from kernelml.bench import readahead_matrix as rm
    from kernelml.kernel.readahead.device import DEVICES

    try:
        seed_list = [int(x) for x in seeds.split(",")] if seeds else ([0] if quick else [0, 1])
    except ValueError:
        typer.echo("error: --seeds wants comma-separated integers", err=True)
        raise typer.Exit(2)
    devs = devices.split(",") if devices else (["ssd"] if quick else rm.DEVICES)
    bad = [d for d in devs if d not in DEVICES]
    if bad:
        typer.echo(f"error: unknown device preset(s) {', '.join(bad)}; known: {', '.join(DEVICES)}", err=True)
        raise typer.Exit(2)
    wls = [w.strip() for w in workloads.split(",")] if workloads else (rm.QUICK_WORKLOADS if quick else rm.WORKLOADS)
    unknown = [w for w in wls if w not in rm.WORKLOADS]
    if unknown:
        typer.echo(f"error: unknown workload(s) {', '.join(unknown)}; known: {', '.join(rm.WORKLOADS)}", err=True)
        raise typer.Exit(2)
    if jobs < 1:
        typer.echo("error: --jobs must be at least 1", err=True)
        raise typer.Exit(2)
    sc = scale if scale is not None else (0.35 if quick else 1.0)
    out_dir = os.path.join(out, "model")
    os.makedirs(out_dir, exist_ok=True)
    units = rm.plan(devs, wls, seed_list, sc, adversaries=True, sweep=not quick)
    started = time.time()
    done = [0]

    def progress(r):
        done[0] += 1
        if r["policy"] in ("default", "ml"):
            typer.echo(f"  [{done[0]:4d}/{len(units)}] {r['device']:5s} {r['workload']:26s} seed {r['seed']} "
                       f"{r['policy']:8s} {r['throughput_mib_s']:10.1f} MiB/s"
                       + (f"  ({r.get('mode')}, share {r.get('ml_share')})" if r["policy"] == "ml" else ""), err=True)

    rows = rm.run_matrix(units, jobs=jobs, progress=progress)
    summary = rm.summarize(rows)
    meta = {"command": _command("kernelml bench readahead" + (" --quick" if quick else "")), "date": _now(),
            "seeds": seed_list, "scale": sc, "devices": devs, "workloads": wls, "units": len(units),
            "wall_s": time.time() - started}
    figures = rm.plot(summary, rows, meta, out_dir)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "targets": rm.targets(summary), "units": rows}, f, indent=1,
                  default=str)
    md = rm.markdown(summary, meta)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(md)
    typer.echo(md)
    typer.echo(f"wrote {out_dir}/README.md, results.json and {len(figures)} figures ({meta['wall_s']:.0f} s)")


def _live(quick, workloads, repeats, duration, memcg_mib, scale, out) -> None:
    from kernelml.bench import readahead_live as rl
    from kernelml.linux.sysio import CaptureError

    if os.geteuid() != 0:
        typer.echo("error: --live needs root (loop device, tracefs, read_ahead_kb)", err=True)
        raise typer.Exit(1)
    wls = [w.strip() for w in workloads.split(",")] if workloads else (rl.QUICK_WORKLOADS if quick else
                                                                        rl.DEFAULT_WORKLOADS)
    reps = repeats or (2 if quick else 3)
    dur = duration or (4.0 if quick else 8.0)
    sc = scale if scale is not None else (0.5 if quick else 1.0)
    if reps < 1 or dur <= 0 or sc <= 0:
        typer.echo("error: --repeats >= 1, --duration > 0, --scale > 0", err=True)
        raise typer.Exit(2)
    out_dir = os.path.join(out, "live")
    os.makedirs(out_dir, exist_ok=True)
    started = time.time()
    try:
        res = rl.run_live_bench(wls, rl.POLICIES, reps, dur, memcg_mib, sc,
                                log=lambda s: typer.echo(s, err=True))
    except CaptureError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted; everything the bench created was removed and read_ahead_kb restored", err=True)
        raise typer.Exit(130)
    summary = rl.summarize(res)
    meta = dict(res["meta"])
    meta.update({"command": _command("kernelml bench readahead --live" + (" --quick" if quick else "")),
                 "date": _now(), "repeats": reps, "duration_s": dur, "memcg_mib": memcg_mib, "scale": sc,
                 "workloads": wls, "wall_s": time.time() - started})
    fig = rl.plot(summary, meta, out_dir)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": res["runs"]}, f, indent=1, default=str)
    md = rl.markdown(summary, meta)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(md)
    typer.echo(md)
    typer.echo(f"wrote {out_dir}/README.md, results.json and {os.path.basename(fig)} ({meta['wall_s']:.0f} s)")
