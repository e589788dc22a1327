"""Run the user-space agent daemon: connect to a kernel side, learn, recommend, reconnect."""

from __future__ import annotations

import signal
import threading

import typer


def main(
    connect: str = typer.Option(None, "--connect", help="socket or region path of the kernel side "
                                "(default: the kernel side's default for the transport)"),
    transport: str = typer.Option("shm", "--transport", help="unix or shm"),
    learner: str = typer.Option(None, "--learner", help="learner (default: the subsystem's, e.g. lfs-lifetime)"),
    option: list[str] = typer.Option([], "--option", "-o", help="learner option KEY=VALUE (repeatable)"),
    ttl: int = typer.Option(1 << 21, "--ttl", help="kernel ticks a recommendation stays valid"),
    recommend_every: int = typer.Option(1 << 19, "--recommend-every", help="kernel ticks between recommendations"),
    heartbeat: float = typer.Option(0.05, "--heartbeat", help="seconds between heartbeats"),
    checkpoint: str = typer.Option(None, "--checkpoint", help="learner checkpoint file (loaded if present)"),
    checkpoint_s: float = typer.Option(5.0, "--checkpoint-every", help="seconds between checkpoint saves"),
    metrics_port: int = typer.Option(None, "--metrics-port", help="serve Prometheus metrics on 127.0.0.1:PORT"),
    metrics_addr: str = typer.Option("127.0.0.1", "--metrics-addr", help="address for the metrics server"),
    log_json: bool = typer.Option(False, "--log-json", help="structured logs: one JSON object per line"),
    log_file: str = typer.Option(None, "--log-file", help="write logs here (default: stderr)"),
    stats_every: float = typer.Option(1.0, "--stats-every", help="seconds between agent.stats log lines"),
    fault: str = typer.Option("none", "--fault", help="inject a fault: none, flood, garbage, stall"),
    fault_after: float = typer.Option(2.0, "--fault-after", help="seconds after HELLO before the fault starts"),
    fault_for: float = typer.Option(0.0, "--fault-for", help="seconds the fault lasts (0: until the end)"),
    stall_s: float = typer.Option(3.0, "--stall", help="seconds of each stall (--fault stall)"),
    duration: float = typer.Option(None, "--duration", help="stop after this many seconds"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Run the user-space agent daemon: connect to a kernel side, learn, recommend, reconnect.

    Reconnects when the kernel side goes away or restarts, saves its learner
    to --checkpoint periodically and on exit (SIGTERM, SIGINT), and resumes
    from it.  Exit code 0 on a clean stop, 2 for bad options.
    """
    import time

    from ..flow.agentd import AgentOptions, Daemon, parse_options, setup_logging

    try:
        opts = AgentOptions(connect=connect, transport=transport, learner=learner,
                            learner_options=parse_options(option), ttl=ttl, recommend_every=recommend_every,
                            heartbeat_s=heartbeat, checkpoint=checkpoint, checkpoint_s=checkpoint_s,
                            metrics_port=metrics_port, metrics_addr=metrics_addr, log_json=log_json,
                            log_file=log_file, stats_every=stats_every, fault=fault, fault_after=fault_after,
                            fault_for=fault_for, stall_s=stall_s, duration=duration, seed=seed).check()
        setup_logging(log_json, log_file, time.monotonic())
        stop = threading.Event()
        daemon = Daemon(opts, stop)
    except (ValueError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"error: {msg}", err=True)
        raise typer.Exit(2)

    def on_signal(signum, frame):
        stop.set()

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    try:
        daemon.run()
    except OSError as exc:  # e.g. the metrics port is taken
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
