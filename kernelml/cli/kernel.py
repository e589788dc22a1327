"""Run the kernel side (a subsystem and its ML model proxy) as its own process behind a real channel."""

from __future__ import annotations

import signal
import threading

import typer


def main(
    subsystem: str = typer.Option("lfs", "--subsystem", help="subsystem to run (lfs)"),
    workload: str = typer.Option(None, "--workload", "-w", help="registered workload generator"),
    trace: str = typer.Option(None, "--trace", help="block trace file"),
    fmt: str = typer.Option(None, "--format", help="trace format (csv, msr, mqsim, alibaba, blkparse, kmt, ...)"),
    policy: str = typer.Option("f2fs", "--policy", "-p", help="human-made victim policy (the fallback)"),
    placement: str = typer.Option(None, "--placement", help="human-made placement (default: the policy's partner)"),
    writes: int = typer.Option(None, "--writes", help="measured user block writes (default 8 x device)"),
    blocks: int = typer.Option(None, "--blocks", help="logical blocks of 4 KiB (default 262144 = 1 GiB)"),
    warmup: int = typer.Option(None, "--warmup", help="writes after the fill not measured (default one device-full)"),
    spare: float = typer.Option(0.10, "--spare", help="spare factor (physical - logical) / physical"),
    seed: int = typer.Option(0, "--seed"),
    transport: str = typer.Option("shm", "--transport", help="unix (SOCK_SEQPACKET) or shm (shared memory)"),
    path: str = typer.Option(None, "--path", help="socket or region path (default under /dev/shm or $XDG_RUNTIME_DIR)"),
    status: str = typer.Option(None, "--status", help="append JSON status lines to this file (default: stdout)"),
    status_every: float = typer.Option(0.5, "--status-every", help="seconds between status lines"),
    check_every: float = typer.Option(2.0, "--check-every", help="seconds between invariant checks (0: at the end)"),
    sample_shift: int = typer.Option(0, "--sample-shift", help="publish the writes of 1/2^N of the LBAs (0: all)"),
    agent_deadline: int = typer.Option(1 << 20, "--agent-deadline", help="user writes without the agent -> emergency"),
    wait_agent: float = typer.Option(0.0, "--wait-agent", help="seconds to wait for an agent before the first "
                                     "write (0: start at once; the run itself never waits)"),
    no_proxy: bool = typer.Option(False, "--no-proxy", help="the human-made policy alone: no proxy, no channel"),
) -> None:
    """Run the kernel side (a subsystem and its ML model proxy) as its own process behind a real channel.

    Writes as fast as the simulator goes and never waits for the agent;
    SIGTERM or SIGINT stops it after the current run of writes with a final
    status line.  Exit code 0 when every invariant check passed, 1 when one
    failed or the simulation broke, 2 for bad options.
    """
    from ..flow.kernel_side import KernelOptions, run_kernel
    from ..kernel.lfs.sim import SimError
    from ..registry import UnknownName
    from ..transport.base import TransportError

    if subsystem != "lfs":
        typer.echo(f"error: unknown subsystem {subsystem!r}; known: lfs", err=True)
        raise typer.Exit(2)
    opts = KernelOptions(workload=workload, trace=trace, fmt=fmt, policy=policy, placement=placement,
                         writes=writes, blocks=blocks, warmup=warmup, spare=spare, seed=seed,
                         transport=transport, path=path, status=status, status_every=status_every,
                         check_every=check_every, sample_shift=sample_shift, agent_deadline=agent_deadline,
                         wait_agent=wait_agent, proxy=not no_proxy)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        final = run_kernel(opts, stop=stop)
    except (ValueError, UnknownName, TransportError, FileNotFoundError, PermissionError, SimError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"error: {msg}", err=True)
        raise typer.Exit(2)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if not final.get("ok"):
        err = final.get("error") or (final.get("invariants") or {}).get("error") or "failed"
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
