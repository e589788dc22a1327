"""Readahead: the modelled page cache with the ML proxy, and the live controller of read_ahead_kb."""

from __future__ import annotations

import json
import sys

import typer

app = typer.Typer(no_args_is_help=True, help=__doc__)


@app.command("workloads")
def workloads() -> None:
    """List the modelled workloads (access-pattern generators)."""
    from kernelml.workloads.readahead import WORKLOADS, make

    for name in WORKLOADS.names():
        d = make(name, scale=0.05).describe()
        typer.echo(f"{name:26s} {d['description']}")


@app.command("policies")
def policies() -> None:
    """List the modelled readahead-limit policies."""
    from kernelml.kernel.readahead.policies import POLICIES

    for name, doc in POLICIES.describe():
        typer.echo(f"{name:12s} {doc}")
    typer.echo(f"{'ml':12s} the ML proxy (fallback: the kernel default), learner readahead-window")
    typer.echo(f"{'fixed:<n>':12s} a fixed limit of n pages")


@app.command("run")
def run(workload: str = typer.Option("kv-mix", "--workload", "-w", help="modelled workload"),
        policy: str = typer.Option("ml", "--policy", "-p", help="default, fixed-small, fixed-large, kml, ml, fixed:<n>"),
        device: str = typer.Option("ssd", "--device", help="device preset: ssd, loop"),
        learner: str = typer.Option("readahead-window", "--learner",
                                    help="for --policy ml: readahead-window, random, inverted"),
        seed: int = typer.Option(0, "--seed"),
        scale: float = typer.Option(1.0, "--scale", help="workload size factor"),
        as_json: bool = typer.Option(False, "--json", help="print the whole result as JSON")) -> None:
    """Run one modelled workload under one policy and print its throughput."""
    from kernelml.bench.readahead_run import run_ra
    from kernelml.kernel.readahead.device import DEVICES
    from kernelml.registry import UnknownName

    if device not in DEVICES:
        typer.echo(f"error: unknown device {device!r}; known: {', '.join(DEVICES)}", err=True)
        raise typer.Exit(2)
    if scale <= 0:
        typer.echo("error: --scale must be positive", err=True)
        raise typer.Exit(2)
    try:
        r = run_ra(workload, policy, device=device, seed=seed, scale=scale, learner=learner)
    except (UnknownName, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(r, indent=1, default=str))
        return
    typer.echo(f"{r['workload']} / {r['policy']} on {r['device']}: {r['throughput_mib_s']:.1f} MiB/s, "
               f"{r['pages']} pages in {r['elapsed_s']:.3f} s (stall {r['stall_s']:.3f} s), hit ratio "
               f"{r['hit_ratio']:.3f}, device {r['dev_reads']} reads / {r['dev_read_mib']:.1f} MiB, useless "
               f"readahead {r['useless_pages']} pages")
    if "mode" in r:
        typer.echo(f"ML proxy: mode {r['mode']}, ML share {r['ml_share']:.3f}, rejects {r['rejects']}")
        for t in r["timeline"]:
            typer.echo(f"  at {t[0]:>9d} requests: {t[1]} -> {t[2]} ({t[3]})")
    for ph in r["phases"]:
        typer.echo(f"  phase {ph['phase']:26s} {ph['throughput_mib_s']:10.1f} MiB/s")


@app.command("live")
def live(duration: float = typer.Option(60.0, "--duration", help="seconds"),
         device: str = typer.Option(None, "--device",
                                    help="tune this existing block device instead of creating a loop device "
                                         "(never the system disk)"),
         learner: str = typer.Option("readahead-window", "--learner", help="readahead-window, random, inverted"),
         epoch_ms: int = typer.Option(250, "--epoch-ms", help="decision interval"),
         min_kb: int = typer.Option(0, "--min-kb", help="lowest read_ahead_kb the proxy may set"),
         max_kb: int = typer.Option(16384, "--max-kb", help="highest read_ahead_kb the proxy may set"),
         kill_agent_after: float = typer.Option(None, "--kill-agent-after",
                                                help="SIGKILL the agent after this many seconds (demonstration)"),
         size_mib: int = typer.Option(2048, "--size-mib", help="size of the loop device it creates"),
         trace_cache: bool = typer.Option(False, "--trace-cache",
                                          help="also trace page-cache insertions/deletions (useless readahead)"),
         dry_run: bool = typer.Option(False, "--dry-run", help="print what would be done, do nothing"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Drive read_ahead_kb of a loop device (root): the ML proxy in user space, the agent in its own process."""
    from kernelml.linux.readahead_live import LiveConfig, dumps, run_live
    from kernelml.linux.sysio import CaptureError, KernelIO

    if not 0 <= min_kb <= max_kb or epoch_ms < 20 or duration <= 0:
        typer.echo("error: need 0 <= --min-kb <= --max-kb, --epoch-ms >= 20, --duration > 0", err=True)
        raise typer.Exit(2)
    cfg = LiveConfig(epoch_ms=epoch_ms, min_kb=min_kb, max_kb=max_kb, trace_cache=trace_cache)
    io = KernelIO(dry_run=dry_run, log=(lambda s: typer.echo(s, err=True)) if dry_run else None)
    try:
        r = run_live(duration, device, learner, cfg, io, kill_agent_after, size_mib << 20,
                     log=lambda s: typer.echo(s, err=True),
                     progress_cb=lambda p: typer.echo(f"  mode {p['mode']:15s} read_ahead_kb {p['kb']:6d} "
                                                      f"epochs {p['epochs']}", err=True))
    except CaptureError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted; the original read_ahead_kb was restored", err=True)
        raise typer.Exit(130)
    if as_json or dry_run:
        typer.echo(dumps(r))
        return
    typer.echo(f"final mode {r.get('mode')}, ML share {r.get('ml_share')}, knob writes {r['knob']['writes']} "
               f"(rate-limited {r['knob']['rate_limited']}), restored: {r.get('restored')}")
    for t in r.get("timeline", []):
        typer.echo(f"  at {t[0]:>7d} ms: {t[1]} -> {t[2]} ({t[3]})")


@app.command("trace")
def trace(path: str = typer.Argument(..., help="saved trace_pipe text of readahead/filemap events (.gz, .xz ok)"),
          dev: str = typer.Option(None, "--dev", help="keep only this device, MAJOR:MINOR")) -> None:
    """Summarise a saved readahead/filemap trace: events per kind and the busiest inodes."""
    import numpy as np

    from kernelml.workloads import readahead_trace as rt

    dev_t = None
    if dev:
        try:
            ma, mi = (int(x) for x in dev.split(":"))
        except ValueError:
            typer.echo("error: --dev wants MAJOR:MINOR", err=True)
            raise typer.Exit(2)
        dev_t = ma << 20 | mi
    try:
        ev = rt.read_trace(path, dev_t)
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(ev)} events ({ev.lost} lost, {ev.unparsed} lines not parsed): {ev.counts()}")
    if len(ev):
        inos, cnt = np.unique(ev.ino, return_counts=True)
        for i in np.argsort(-cnt)[:10]:
            sel = ev.ino == inos[i]
            k = np.bincount(ev.kind[sel], minlength=len(rt.KIND_NAMES))
            typer.echo(f"  ino {inos[i]:#x}: " + ", ".join(f"{rt.KIND_NAMES[j]} {k[j]}" for j in range(len(k)) if k[j]))


if __name__ == "__main__":  # pragma: no cover
    app(sys.argv[1:])
