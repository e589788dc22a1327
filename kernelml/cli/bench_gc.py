"""`kernelml bench gc`: the GC track matrix."""

from __future__ import annotations

import os

import typer


def main(quick: bool = typer.Option(False, "--quick", help="small devices and a few policies (CI-sized)"),
         seeds: int = typer.Option(2, "--seeds", help="seeds per synthetic workload"),
         traces: bool = typer.Option(True, "--traces/--no-traces", help="include the shipped real traces"),
         workloads: str = typer.Option(None, "--workloads", help="comma list (default: all synthetic)"),
         workers: int = typer.Option(2, "--workers", help="parallel runs"),
         out: str = typer.Option(os.path.join("results", "gc"), "--out", help="output directory")) -> None:
    """Run the GC track matrix (workloads x policies x seeds) and write results/gc/."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..bench.gc_matrix import SYNTHETIC, run_matrix, summarize, write_results

    wl = [w.strip() for w in workloads.split(",")] if workloads else None
    if wl:
        unknown = [w for w in wl if w not in SYNTHETIC]
        if unknown:
            typer.echo(f"error: unknown workload(s) {', '.join(unknown)}; known: {', '.join(SYNTHETIC)}", err=True)
            raise typer.Exit(2)
    if seeds < 1 or workers < 1:
        typer.echo("error: --seeds and --workers must be at least 1", err=True)
        raise typer.Exit(2)
    with Progress(TextColumn("GC matrix"), BarColumn(), TextColumn("{task.completed}/{task.total} runs"),
                  TimeElapsedColumn()) as prog:
        task = prog.add_task("runs", total=None)
        m = run_matrix(quick=quick, seeds=seeds, traces=traces, workers=workers, workloads=wl,
                       progress=lambda done, total: prog.update(task, completed=done, total=total))
    files = write_results(m, out)
    for row in summarize(m):
        if "ml_vs_best_pct" in row:
            typer.echo(f"{row['track']:24} best human {row['best_human']:24} {row['best_human_waf']:.3f}  "
                       f"ML {row['ml_vs_best_pct']:+.1f} % vs best, "
                       f"{row.get('ml_vs_default_pct', float('nan')):+.1f} % vs F2FS default")
    typer.echo("wrote " + ", ".join(files))
