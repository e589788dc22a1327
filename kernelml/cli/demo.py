"""Run the full flow end to end: kernel side and agent as two processes, with a live view."""

from __future__ import annotations

import typer


def main(
    workload: str = typer.Option("hotcold-90-10", "--workload", "-w", help="registered block workload"),
    writes: int = typer.Option(8 << 20, "--writes", help="measured user block writes"),
    blocks: int = typer.Option(1 << 18, "--blocks", help="logical blocks of 4 KiB (262144 = 1 GiB)"),
    learner: str = typer.Option("lfs-lifetime", "--learner", help="agent learner (lfs-lifetime, lfs-random, "
                                "lfs-inverted)"),
    transport: str = typer.Option("shm", "--transport", help="shm (shared memory) or unix (socket)"),
    policy: str = typer.Option("f2fs", "--policy", help="the kernel's human-made victim policy"),
    seed: int = typer.Option(0, "--seed"),
    spare: float = typer.Option(0.10, "--spare", help="spare factor (physical - logical) / physical"),
    sample_shift: int = typer.Option(2, "--sample-shift", help="telemetry of 1/2^N of the LBAs (0: every write)"),
    metrics_port: int = typer.Option(None, "--metrics-port", help="also serve the agent's Prometheus metrics"),
    keep: bool = typer.Option(False, "--keep", help="keep the logs and status files"),
    workdir: str = typer.Option(None, "--workdir", help="directory for logs and status files (kept)"),
) -> None:
    """Run the full flow end to end: kernel side and agent as two processes, with a live view.

    First the human-made policy alone (the baseline), then the kernel side
    and the agent daemon as separate processes over shared memory (or a Unix
    socket), a live view of the proxy's modes, ML share, write amplification
    against the baseline, recommendation round trip and rejects, and the
    comparison table.  About a minute on two cores.
    """
    from rich.console import Console

    from ..flow.live import DemoOptions, run_demo

    console = Console()
    try:
        opts = DemoOptions(workload=workload, writes=writes, blocks=blocks, learner=learner, transport=transport,
                           policy=policy, seed=seed, spare=spare, sample_shift=sample_shift,
                           metrics_port=metrics_port, keep=keep, workdir=workdir).check()
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2)
    rc = run_demo(opts, console)
    if rc:
        raise typer.Exit(rc)
