"""Capture block and memory traces of real programs on this machine."""

from __future__ import annotations

import json
import sys

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Capture block traces (loop device + tracefs) and memory traces (valgrind lackey) "
                       "of real programs.")


def _params(items: list[str]) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise typer.BadParameter(f"expected key=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@app.command("block")
def block(
    workload: str = typer.Option(..., "--workload", "-w", help="pgbench, sqlite, fio-zipf, fio-zipf-direct, git, dd"),
    out: str = typer.Option(..., "--out", "-o", help="output .kmt file"),
    size: str = typer.Option("1GiB", help="loop device size (e.g. 64MiB, 2GiB)"),
    duration: str = typer.Option("60s", help="length of the workload's main phase (e.g. 120s, 2m)"),
    fs: str = typer.Option("ext4", help="file system: ext4, xfs, btrfs"),
    param: list[str] = typer.Option([], "--param", "-p", help="workload parameter key=value (repeatable)"),
    seed: int = typer.Option(0, help="seed of the workload's random choices"),
    discard: bool = typer.Option(True, help="mount with -o discard (deletes reach the device as trims)"),
    completions: bool = typer.Option(False, help="also record block_rq_complete events"),
    buffer_kb: int = typer.Option(8192, help="tracefs ring buffer per CPU, KiB"),
    compress: str = typer.Option("xz", help="xz, gzip or none"),
    mount_opts: str = typer.Option("", help="extra mount options (comma-separated)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print every kernel-facing action; do nothing"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="print every kernel-facing action as it happens"),
) -> None:
    """Run a real program on a fresh loop device and record its block requests (needs root)."""
    from rich.console import Console
    from rich.live import Live
    from rich.markup import escape
    from rich.table import Table

    from ..linux.blockcapture import BlockCaptureSpec, capture_block
    from ..linux.sysio import CaptureError, KernelIO
    from ..linux.units import parse_duration, parse_size

    console = Console(stderr=True)
    from ..linux.workloads_real import BLOCK_WORKLOADS

    if workload not in BLOCK_WORKLOADS:
        console.print(f"[red]error:[/] unknown workload {workload!r}; known: {', '.join(BLOCK_WORKLOADS.names())}")
        raise typer.Exit(2)
    try:
        spec = BlockCaptureSpec(workload, out, size_bytes=parse_size(size), fs=fs, duration_s=parse_duration(duration),
                                params=_params(param), seed=seed, discard=discard, completions=completions,
                                buffer_kb=buffer_kb, compress=compress, mount_opts=mount_opts,
                                command=_command_line())
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2)
    echo = (lambda s: console.print(escape(s), style="dim")) if (verbose or dry_run) else None
    io = KernelIO(dry_run=dry_run, log=echo)

    def render(d: dict) -> Table:
        t = Table.grid(padding=(0, 2))
        t.add_row("[bold]capturing[/]", f"{workload} on {fs}", f"phase {d.get('phase', '')}")
        t.add_row(f"{d.get('elapsed_s', 0):6.1f} s / {spec.duration_s:.0f} s",
                  f"{d.get('events', 0):>10,} events", f"{d.get('events_per_s', 0):>9,.0f} events/s",
                  f"{d.get('mib_written', 0):9.1f} MiB written")
        return t

    try:
        if dry_run:
            summary = capture_block(spec, io)
            console.print("[bold]dry run[/]: nothing was done")
            return
        with Live(render({}), console=console, refresh_per_second=4, transient=True) as live:
            summary = capture_block(spec, io, progress=lambda d: live.update(render(d)),
                                    log=lambda s: live.console.print(escape(s), style="dim"))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: cleaned up; the trace so far is in the output "
                      "(its trailer says interrupted)")
        raise typer.Exit(130)
    except (CaptureError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1)
    console.print(f"[green]wrote[/] {out}: {summary['events']:,} events in {summary['wall_s']} s "
                  f"({summary['events_per_s']:,.0f}/s), {summary['mib_written']} MiB written; "
                  f"lost {summary['lost_events']}, overrun {summary['overrun']}, dropped {summary['dropped_events']}")


@app.command("mem")
def mem(
    workload: str = typer.Option(..., "--workload", "-w", help="python, sqlite, xz, sort"),
    out: str = typer.Option(..., "--out", "-o", help="output page trace (.pages, .pages.gz or .pages.xz)"),
    max_accesses: int = typer.Option(20_000_000, help="stop after this many accesses (lackey is ~3600x slower)"),
    accesses_per_us: int = typer.Option(10, help="time base: accesses per simulated microsecond"),
    window_us: int = typer.Option(1000, help="one record per page per window of this many simulated us"),
    skip: int = typer.Option(0, help="accesses to skip at the start (e.g. interpreter start-up)"),
    instr: bool = typer.Option(True, help="record instruction-fetch pages (they always count for time)"),
    param: list[str] = typer.Option([], "--param", "-p", help="workload parameter key=value (repeatable)"),
    seed: int = typer.Option(0, help="seed of the generated inputs"),
    timeout: str = typer.Option("1h", help="wall-clock limit"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the command; run nothing"),
) -> None:
    """Run a real program under valgrind lackey and record its page accesses."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..linux.memcapture import MemCaptureSpec, capture_mem
    from ..linux.sysio import CaptureError
    from ..linux.units import parse_duration

    console = Console(stderr=True)
    from ..linux.memcapture import MEM_WORKLOADS

    if workload not in MEM_WORKLOADS:
        console.print(f"[red]error:[/] unknown workload {workload!r}; known: {', '.join(MEM_WORKLOADS.names())}")
        raise typer.Exit(2)
    try:
        spec = MemCaptureSpec(workload, out, params=_params(param), accesses_per_us=accesses_per_us,
                              window_us=window_us, max_accesses=max_accesses, skip=skip, instr=instr, seed=seed,
                              timeout_s=parse_duration(timeout), command=_command_line())
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2)
    try:
        if dry_run:
            s = capture_mem(spec, dry_run=True)
            console.print(f"[dim]would run: {s['command']} | convert -> {out}[/]")
            return
        with Progress(TextColumn("[bold]lackey[/] {task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(workload, total=max_accesses, info="")

            def prog(d):
                bar.update(task, completed=d["accesses"],
                           info=f"{d['accesses']:,} accesses, {d['accesses_per_s']:,.0f}/s, {d['records']:,} records")

            s = capture_mem(spec, progress=prog, log=lambda m: bar.console.print(f"[dim]{m}[/]"))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: valgrind stopped, temporary files removed")
        raise typer.Exit(130)
    except (CaptureError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1)
    console.print(f"[green]wrote[/] {out}: {s['accesses']:,} accesses -> {s['records']:,} records, "
                  f"{s['duration_us']:,} us simulated, {'capped' if s['capped'] else 'program finished'}, "
                  f"{s['wall_s']} s")


@app.command("info")
def info(path: str = typer.Argument(..., help="a .kmt or page trace"),
         as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Header, trailer and counts of a captured trace."""
    from rich.console import Console

    console = Console()
    if _is_kmt(path):
        from ..workloads.kmt import KmtFile, KmtFormatError

        try:
            kf = KmtFile(path)
            scan = kf.scan()
        except (KmtFormatError, FileNotFoundError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1)
        d = {"header": kf.header, "trailer": kf.trailer, "scan": scan}
    else:
        from ..workloads import open_page_trace

        w = open_page_trace(path, "pages", fold="none")
        d = {"header": _page_header(path), "describe": w.describe()}
    if as_json:
        console.print_json(json.dumps(d, default=str))
        return
    for k, v in d.items():
        console.print(f"[bold]{k}[/]")
        console.print_json(json.dumps(v, default=str))


@app.command("export")
def export(path: str = typer.Argument(..., help="a .kmt trace"),
           out: str = typer.Option("-", "--out", "-o",
                                   help="CSV output (time_us,op,offset_bytes,size_bytes); - = stdout"),
           completions: bool = typer.Option(False, help="include completion records")) -> None:
    """Export a .kmt trace to the csv trace format."""
    from ..workloads.kmt import export_csv

    counts = export_csv(path, sys.stdout if out == "-" else out, completions=completions)
    typer.echo(f"{counts['rows']} rows, {counts['skipped']} records skipped (flushes, completions)", err=True)


@app.command("workloads")
def workloads() -> None:
    """List the built-in workloads and their parameters."""
    from rich.console import Console
    from rich.table import Table

    from ..linux.memcapture import MEM_WORKLOADS
    from ..linux.workloads_real import BLOCK_WORKLOADS

    t = Table(title="capture workloads")
    for col in ("kind", "name", "what", "parameters (defaults)"):
        t.add_column(col)
    for kind, reg in (("block", BLOCK_WORKLOADS), ("mem", MEM_WORKLOADS)):
        for name in reg.names():
            cls = reg.get(name)
            doc = (cls.__doc__ or "").strip().splitlines()[0]
            t.add_row(kind, name, doc, ", ".join(f"{k}={v}" for k, v in cls.defaults.items()))
    Console().print(t)


@app.command("cleanup")
def cleanup(dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be removed")) -> None:
    """Remove what killed captures left behind (tracefs instances, mounts, loop devices, temp dirs)."""
    from ..linux.stale import remove_stale

    for line in remove_stale(dry_run=dry_run):
        typer.echo(line)


def _command_line() -> str:
    import shlex

    args = sys.argv[1:]
    return "kernelml " + shlex.join(args) if args and args[0] == "capture" else ""


def _is_kmt(path: str) -> bool:
    if path.endswith(".kmt"):
        return True
    from ..workloads.kmt import KmtFile

    try:
        KmtFile(path)
        return True
    except Exception:  # noqa: BLE001
        return False


def _page_header(path: str) -> dict:
    from ..linux.memcapture import read_pages_header

    return read_pages_header(path)


if __name__ == "__main__":  # pragma: no cover
    app()
