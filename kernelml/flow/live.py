"""``kernelml demo``: the full flow as separate processes, with a live view.

1. The human-made policy alone runs first, in this process (the same
   workload, seed and device: the baseline every number is compared with).
2. The agent daemon starts (``kernelml agent``), then the kernel side
   (``kernelml kernel``, waiting up to ``wait_agent`` seconds for the agent
   before its first write, never after), both as child processes talking
   over shared memory or a Unix socket.
3. A live view follows the kernel side's status lines and the agent's JSON
   log: mode and ML share per op kind, write amplification so far against
   the human-made policy alone at the same point of the same stream,
   recommendation round trip, rejects, dropped telemetry.
4. The comparison table closes it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass

from .procs import StatusWatch, start_agent, start_kernel

MODE_STYLE = {"emergency": "bold red", "learning": "yellow", "collaboration": "cyan",
              "recommendation": "bold green"}


@dataclass
class DemoOptions:
    workload: str = "hotcold-90-10"
    writes: int = 8 << 20
    blocks: int = 1 << 18
    learner: str = "lfs-lifetime"
    transport: str = "shm"
    policy: str = "f2fs"
    seed: int = 0
    spare: float = 0.10
    sample_shift: int = 2
    wait_agent: float = 30.0
    timeout: float = 900.0
    workdir: str | None = None  # default: a temporary directory, removed at the end
    keep: bool = False
    metrics_port: int | None = None

    def check(self) -> "DemoOptions":
        from ..agent.learners import LEARNERS
        from ..workloads import WORKLOADS

        if self.workload not in WORKLOADS.names():
            raise ValueError(f"unknown workload {self.workload!r}; known: {', '.join(WORKLOADS.names())}")
        if self.learner not in LEARNERS or not self.learner.startswith("lfs-"):
            lfs = [n for n in LEARNERS.names() if n.startswith("lfs-")]
            raise ValueError(f"learner must be one of {', '.join(lfs)} (got {self.learner!r})")
        if self.transport not in ("shm", "unix"):
            raise ValueError(f"--transport must be shm or unix (got {self.transport!r})")
        if self.writes <= 0 or self.blocks < 4096:
            raise ValueError("--writes must be positive and --blocks at least 4096")
        if not 0.0 < self.spare < 1.0:
            raise ValueError(f"--spare must be strictly between 0 and 1 (got {self.spare})")
        if not 0 <= self.sample_shift <= 16:
            raise ValueError("--sample-shift must be in 0..16")
        return self


def baseline_at(timeline: list, writes: int) -> float | None:
    """The human-made run's cumulative WAF at ``writes`` measured writes
    (the last sample at or before it)."""
    best = None
    for u, waf in timeline:
        if u <= writes and waf is not None:
            best = waf
        elif u > writes:
            break
    return best


def _fmt(x, spec: str = ".3f", none: str = "-") -> str:
    return none if x is None else format(x, spec)


def _mode(name: str | None) -> str:
    if not name:
        return "-"
    return f"[{MODE_STYLE.get(name, '')}]{name}[/]"


class View:
    """Builds the live view from the latest status and agent stats."""

    def __init__(self, opts: DemoOptions, base: dict) -> None:
        self.o = opts
        self.base = base
        self.t0 = time.monotonic()

    def render(self, st: dict | None, ag: dict | None, transitions: list):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        o = self.o
        head = Text.from_markup(
            f"[bold]kernelml demo[/]  {o.workload} on a {o.blocks * 4 // 1024} MiB device, {o.writes:,} measured "
            f"writes, {o.transport} channel, learner {o.learner}, fallback {o.policy}  "
            f"[dim]({time.monotonic() - self.t0:.0f} s)[/]")
        if st is None:
            return Group(head, Text("waiting for the kernel side ..."))
        phase = st.get("phase", "?")
        done = st.get("measured_writes", 0)
        prog = Text.from_markup(
            f"kernel side: {phase}, {st.get('user_writes', 0):,} writes ({done:,} / {o.writes:,} measured, "
            f"{done * 100 // max(1, o.writes)} %), {st.get('writes_per_s', 0):,} writes/s, "
            f"agent {'[green]connected[/]' if (st.get('agent') or {}).get('connected') else '[red]absent[/]'}")
        t = Table(title="the ML model proxy", expand=False)
        for col in ("op kind", "mode", "why", "ML share now", "ML share so far"):
            t.add_column(col)
        for name, mode in (st.get("modes") or {}).items():
            now = (st.get("ml_share_window") or {}).get(name)
            t.add_row(name, _mode(mode), (st.get("mode_reason") or {}).get(name) or "-",
                      _fmt(now * 100 if now is not None else None, ".0f") + " %",
                      _fmt(st.get("ml_share", {}).get(name, 0) * 100, ".1f") + " %")
        w = Table(title="write amplification (lower is better)", expand=False)
        for col in ("", "so far", "last interval"):
            w.add_column(col)
        w.add_row("ML proxy + agent", _fmt(st.get("waf")), _fmt(st.get("waf_window")))
        w.add_row(f"human-made {o.policy} alone, same point", _fmt(baseline_at(self.base["waf_over_time"], done)),
                  "")
        w.add_row(f"human-made {o.policy} alone, whole run", _fmt(self.base["waf"]), "")
        a = Table(title="channel and agent", expand=False, show_header=False)
        a.add_column("")
        a.add_column("")
        rej = st.get("rejects") or {}
        a.add_row("recommendation round trip p50 / p99",
                  f"{_fmt((ag or {}).get('rtt_ms_p50'), '.1f')} / {_fmt((ag or {}).get('rtt_ms_p99'), '.1f')} ms"
                  f" ({(ag or {}).get('rtt_n', 0)} samples)")
        a.add_row("telemetry records/s at the agent", f"{(ag or {}).get('records_per_s', 0):,}")
        a.add_row("telemetry frames dropped (kernel side)", f"{st.get('telemetry_dropped', 0):,}")
        a.add_row("rejected recommendations", ", ".join(f"{k} {v}" for k, v in rej.items()) or "none")
        model = (ag or {}).get("model") or {}
        if model.get("mae_log2_buckets") is not None:
            a.add_row("model error (log2 lifetime buckets)", f"{model['mae_log2_buckets']:.2f}")
        a.add_row("invariant checks", f"{st.get('invariants', {}).get('checks', 0)} "
                  f"{'ok' if st.get('invariants', {}).get('ok', True) else '[red]FAILED[/]'}")
        tr = Table(title="latest mode transitions", expand=False)
        for col in ("at write", "op kind", "from", "to", "reason"):
            tr.add_column(col)
        for at, op, src, dst, reason in transitions[-6:]:
            tr.add_row(f"{at:,}", op, _mode(src), _mode(dst), reason)
        return Group(head, prog, t, w, a, tr)

    def line(self, st: dict | None, ag: dict | None) -> str:
        if st is None:
            return "waiting for the kernel side ..."
        modes = " ".join(f"{k}={v}" for k, v in (st.get("modes") or {}).items())
        done = st.get("measured_writes", 0)
        alone = baseline_at(self.base["waf_over_time"], done)
        return (f"[{time.monotonic() - self.t0:5.0f} s] {st.get('phase')} {done:,} writes "
                f"WAF {_fmt(st.get('waf'))} (alone {_fmt(alone)}) "
                f"{modes} rtt p50 {_fmt((ag or {}).get('rtt_ms_p50'), '.1f')} ms")


def _agent_stats(watch: StatusWatch) -> dict | None:
    watch.poll()
    return watch.latest.get("agent.stats")


def run_demo(opts: DemoOptions, console=None) -> int:
    """Run the demo; returns the exit code (0 success, 1 a process failed)."""
    from rich.console import Console
    from rich.live import Live
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ..bench.gc_run import run_gc

    o = opts.check()
    console = console or Console()
    work = o.workdir or tempfile.mkdtemp(prefix="kernelml-demo-")
    os.makedirs(work, exist_ok=True)
    if o.transport == "shm":
        shm_dir = "/dev/shm" if os.path.isdir("/dev/shm") else work
        path = os.path.join(shm_dir, f"kernelml-demo-{os.getpid()}.kml")
    else:
        path = os.path.join(work, "kernel.sock")
    status = os.path.join(work, "kernel.status.jsonl")
    agent_json = os.path.join(work, "agent.jsonl")
    ckpt = os.path.join(work, "agent.ckpt")
    procs = []
    try:
        console.print(f"[bold]1.[/] the human-made policy alone ({o.policy}) on {o.workload}: "
                      f"{o.blocks * 4 // 1024} MiB device, {o.writes:,} measured writes, seed {o.seed}")
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("human-made alone", total=o.writes + o.blocks)
            base = run_gc(o.workload, policy=o.policy, n_blocks=o.blocks, writes=o.writes, warmup=o.blocks,
                          seed=o.seed, spare=o.spare, samples=200,
                          progress=lambda d, t: bar.update(task, completed=d))
        console.print(f"   WAF {base['waf']:.3f}, {base['gc_writes']:,} GC writes, "
                      f"{base['user_writes_per_s']:,.0f} writes/s")
        console.print(f"[bold]2.[/] the agent and the kernel side as two processes over {o.transport} "
                      f"({path}); logs in {work}")
        agent_args = ["--connect", path, "--transport", o.transport, "--learner", o.learner,
                      "--checkpoint", ckpt, "--stats-every", "0.5", "--seed", str(o.seed)]
        if o.metrics_port is not None:
            agent_args += ["--metrics-port", str(o.metrics_port)]
        agent = start_agent(agent_args, os.path.join(work, "agent.log"), agent_json)
        procs.append(agent)
        kernel = start_kernel(["--workload", o.workload, "--writes", str(o.writes), "--blocks", str(o.blocks),
                               "--policy", o.policy, "--seed", str(o.seed), "--spare", str(o.spare),
                               "--transport", o.transport, "--path", path, "--sample-shift", str(o.sample_shift),
                               "--wait-agent", str(o.wait_agent), "--status-every", "0.25"],
                              status, os.path.join(work, "kernel.log"))
        procs.append(kernel)
        kw, aw = StatusWatch(status), StatusWatch(agent_json)
        view = View(o, base)
        end = time.monotonic() + o.timeout
        if console.is_terminal:
            with Live(view.render(None, None, []), console=console, refresh_per_second=4) as live:
                while kernel.alive() and time.monotonic() < end:
                    time.sleep(0.25)
                    live.update(view.render(kw.last(), _agent_stats(aw), kw.transitions()))
                live.update(view.render(kw.last(), _agent_stats(aw), kw.transitions()))
        else:
            next_line = 0.0
            while kernel.alive() and time.monotonic() < end:
                time.sleep(0.25)
                if time.monotonic() >= next_line:
                    next_line = time.monotonic() + 2.0
                    console.print(view.line(kw.last(), _agent_stats(aw)))
        if kernel.alive():
            console.print(f"[red]error:[/] the kernel side did not finish within {o.timeout:.0f} s")
            kernel.stop()
            agent.stop()
            return 1
        krc = kernel.stop()
        arc = agent.stop()
        final = kw.last("final")
        ag = _agent_stats(aw) or {}
        stop_ev = aw.latest.get("agent.stop") or {}
        if final is None:
            console.print(f"[red]error:[/] the kernel side exited ({krc}) without a final status:\n"
                          f"{kernel.log_tail()}")
            return 1
        res = final["result"]
        table = Table(title=f"{o.workload}: the human-made policy alone vs the ML proxy with its agent")
        for col in ("run", "WAF", "GC writes", "writes/s", "ML share (placement / victim)", "final modes"):
            table.add_column(col, justify="left" if col in ("run", "final modes") else "right")
        table.add_row(f"human-made {o.policy} alone", f"{base['waf']:.3f}", f"{base['gc_writes']:,}",
                      f"{base['user_writes_per_s']:,.0f}", "0 / 0 %", "-")
        share = final.get("ml_share", {})
        modes = final.get("modes", {})
        waf = res.get("waf")
        table.add_row(f"ML proxy + {o.learner} over {o.transport}", _fmt(waf), f"{res.get('gc_writes', 0):,}",
                      f"{res.get('writes_per_s') or 0:,}",
                      f"{share.get('placement', 0) * 100:.0f} / {share.get('victim', 0) * 100:.0f} %",
                      " ".join(f"{k}: {_mode(v)}" for k, v in modes.items()))
        console.print(table)
        if waf is not None and base["waf"]:
            gain = (base["gc_writes"] - res["gc_writes"]) / base["gc_writes"] if base["gc_writes"] else 0.0
            verdict = ("[green]ML wins[/]" if waf < base["waf"] * 0.99 else
                       "[yellow]no measurable gain[/]" if waf <= base["waf"] * 1.01 else "[red]ML lost[/]")
            console.print(f"{verdict}: WAF {base['waf']:.3f} -> {waf:.3f}, {gain * 100:+.1f} % fewer GC writes "
                          "(same workload, seed and device)")
        rtt = stop_ev or ag
        console.print(f"recommendation round trip p50 {_fmt(rtt.get('rtt_ms_p50'), '.1f')} ms, "
                      f"p99 {_fmt(rtt.get('rtt_ms_p99'), '.1f')} ms; rejected recommendations: "
                      f"{final.get('rejects_total', 0)}; "
                      f"telemetry frames dropped: {final.get('telemetry_dropped', 0):,}; "
                      f"invariant checks: {final['invariants']['checks']} "
                      f"{'passed' if final['invariants']['ok'] else 'FAILED'}; mapped LBAs "
                      f"{res['mapped_lbas']:,} / {res['n_lbas']:,}")
        timeline = final.get("mode_timeline", {})
        for op, trs in timeline.items():
            path_s = " -> ".join(f"{dst}@{at:,}" for at, _src, dst, _r in trs[-8:])
            console.print(f"[dim]{op} timeline (last {min(8, len(trs))} of {len(trs)}): {path_s}[/]")
        ok = final.get("ok") and krc == 0 and arc == 0
        if not ok:
            console.print(f"[red]error:[/] kernel side exit code {krc}, agent exit code {arc}")
            if arc != 0:
                console.print(agent.log_tail())
        return 0 if ok else 1
    except KeyboardInterrupt:
        console.print("interrupted: stopping both processes")
        return 130
    finally:
        for p in procs:
            p.stop(timeout=10)
        if o.transport == "shm" and os.path.exists(path):
            try:  # normally removed by the kernel side; a killed one leaves it behind
                os.unlink(path)
            except OSError:
                pass
        if not o.keep and o.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
