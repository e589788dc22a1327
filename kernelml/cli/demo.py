"""Run the full flow end to end and show the proxy's four modes at work."""

from __future__ import annotations

import typer


def main(jobs: int = typer.Option(30_000, help="operations to simulate"),
         learner: str = typer.Option("toy-table", help="agent learner (toy-table, toy-random, toy-inverted)"),
         seed: int = typer.Option(0, help="random seed"),
         delay: int = typer.Option(0, help="channel delay in operations (a slow agent)")) -> None:
    """Run the kernel side, the agent and the channel end to end; print the mode timeline."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ..agent.learners import LEARNERS
    from ..bench.toy_run import run_toy

    console = Console()
    if learner not in LEARNERS:
        console.print(f"[red]error:[/] unknown learner {learner!r}; known: {', '.join(LEARNERS.names())}")
        raise typer.Exit(2)
    if jobs <= 0 or delay < 0:
        console.print("[red]error:[/] --jobs must be positive and --delay non-negative")
        raise typer.Exit(2)
    console.print(f"[bold]toy dispatch subsystem[/]: {jobs} jobs, learner {learner}, seed {seed}, "
                  f"channel delay {delay}")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("simulating", total=jobs)
        result = run_toy(jobs, learner=learner, seed=seed, delay=delay,
                         progress=lambda j: bar.update(task, completed=j))
        alone = run_toy(jobs, learner=None, seed=seed)
    timeline = Table(title="mode timeline (proxy transitions)")
    for col in ("at op", "from", "to", "reason"):
        timeline.add_column(col)
    for at, src, dst, reason in result["timeline"]:
        timeline.add_row(str(at), src, dst, reason.lower())
    console.print(timeline)
    cmp = Table(title="cost per job (µs, lower is better)")
    for col in ("run", "mean cost", "ML share"):
        cmp.add_column(col)
    cmp.add_row("human-made policy alone", str(alone["mean_cost_us"]), "0 %")
    cmp.add_row(f"ML proxy + agent ({learner})", str(result["mean_cost_us"]),
                f"{result['ml_share_pm'] / 10:.1f} %")
    cmp.add_row("best possible (hidden means)", str(result["best_cost_us"]), "-")
    console.print(cmp)
    console.print(f"final mode: [bold]{result['mode']}[/]; rejected recommendations: {sum(result['rejects'])}")
