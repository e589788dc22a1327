"""The kernel side as its own process: an LFS device (:class:`~kernelml.kernel.lfs.sim.LfsSim`)
and its ML model proxy (:class:`~kernelml.kernel.lfs.ml.LfsProxy`) behind a
real channel (:class:`~kernelml.transport.unix.UnixServer` or
:class:`~kernelml.transport.shm.ShmServer`), fed a workload as fast as the
simulator goes.  It never waits for the agent: the proxy is polled between
runs of writes (bounded, non-blocking), and a missing, slow, stalled or
hostile agent only changes the proxy's mode.

Clock and deadlines
===================
The proxy's clock is the device's logical clock: one tick per user write
(the warm-up fill included).  On this machine the kernel side writes about
1-2 M blocks/s, so a tick is roughly 0.5-1 µs of wall time, and the
deadlines of :class:`~kernelml.kernel.lfs.ml.LfsMlConfig` mean:

=======================  ===========  ==========================================
deadline                 ticks        wall time at 1-2 M writes/s
=======================  ===========  ==========================================
``placement_op``         4096         2-4 ms: the proxy is polled (and may switch
                                      placement source) once per run of writes
``heartbeat_interval``   2^15         16-33 ms between kernel heartbeats
``feedback_interval``    2^16         33-66 ms between FEEDBACK frames
``rec_window``           2^16         33-66 ms; at most ``rec_limit`` (128)
                                      recommendations per op kind in it
``agent_deadline``       2^20         0.5-1 s without a valid agent message ->
                                      emergency (``agent_silent``)
=======================  ===========  ==========================================

The agent daemon heartbeats on the wall clock (every 50 ms by default), far
inside the deadline; the deadline is long enough that a garbage-collection
pause of the agent does not trip it, short enough that a dead agent costs
under a second of ML-free operation (which is no loss: the human-made policy
runs at once).

Acknowledgements
================
After each poll, a recommendation the proxy accepted (its op kind's epoch
moved) is acknowledged at once with a FEEDBACK frame for that op kind, queued
behind the telemetry already waiting (FIFO, so the agent never sees an older
state after a newer one).  The agent daemon measures the recommendation
round trip from its send to that acknowledgement.

Status
======
JSON lines (:mod:`.status`): ``start`` (configuration, deadlines), ``status``
every ``status_every`` seconds, ``final``.  The fields are documented in
``docs/flow.md``.  The simulator's invariants (:meth:`LfsSim.check`) run every
``check_every`` seconds and at the end.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

from ..bench.gc_ml import OPS
from ..bench.gc_run import DEFAULT_BLOCKS, DEFAULT_WRITE_FACTOR, run_gc
from ..kernel.lfs.invariants import IntegrityError
from ..kernel.lfs.layout import FMAP
from ..kernel.lfs.ml import LfsMlConfig, LfsProxy
from ..kernel.lfs.sim import SimError
from ..uapi import messages as m
from ..uapi.messages import Mode, Reason, RejectReason
from .status import StatusWriter

TRANSPORTS = ("unix", "shm")
# Shared-memory region of the LFS kernel side.  slots=1: no LFS op kind has a
# latest-wins slot, every recommendation goes through the control ring (FIFO):
# an OP_PLACEMENT recommendation carries its hint map in several frames that
# must all arrive, and a slot would keep only the last one the agent wrote.
SHM_RING_BYTES = 1 << 23  # telemetry: 8 MiB, about 128 full frames (150 k write records)
SHM_CONTROL_BYTES = 1 << 22  # agent -> kernel: 4 MiB, 60 full-size recommendation frames
SHM_SLOTS = 1
# The proxy's outbox (frames waiting for the channel).  Small: telemetry that
# waits longer than the agent's recommendations live is worth nothing, and a
# returning agent should not have to chew through seconds of stale records.
FLOW_OUTBOX = 256  # frames of at most 64 KiB: about 300 k write records


def default_path(transport: str) -> str:
    """Where the kernel side listens unless told: ``/dev/shm/kernelml-lfs-<uid>.kml``
    (shm) or ``$XDG_RUNTIME_DIR`` (else the temporary directory)
    ``/kernelml-lfs-<uid>.sock`` (unix)."""
    if transport == "shm":
        from ..transport.shm_region import default_path as shm_default

        return shm_default("kernelml-lfs")
    if transport == "unix":
        d = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        return os.path.join(d, f"kernelml-lfs-{os.getuid()}.sock")
    raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")


def open_server(transport: str, path: str):
    """The kernel side's endpoint (raises TransportError naming the path)."""
    if transport == "unix":
        from ..transport.unix import UnixServer

        return UnixServer(path)
    if transport == "shm":
        from ..transport.shm import ShmServer

        return ShmServer(path, ring_bytes=SHM_RING_BYTES, control_bytes=SHM_CONTROL_BYTES, slots=SHM_SLOTS)
    raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")


@dataclass
class KernelOptions:
    """What ``kernelml kernel`` runs.  ``writes``, ``blocks`` and ``warmup``
    default as in ``kernelml gc run`` (8 device-fulls, 1 GiB, one device-full
    of warm-up for generators and none for traces)."""

    workload: str | None = None
    trace: str | None = None
    fmt: str | None = None
    policy: str = "f2fs"
    placement: str | None = None
    writes: int | None = None
    blocks: int | None = None
    warmup: int | None = None
    spare: float = 0.10
    seed: int = 0
    segment_blocks: int = 512
    transport: str = "shm"
    path: str | None = None
    status: str | None = None  # file of JSON lines; None or "-": standard output
    status_every: float = 0.5  # seconds between status lines
    check_every: float = 2.0  # seconds between invariant checks (0: only at the end)
    proxy: bool = True  # False: the human-made policy alone, no proxy and no channel
    sample_shift: int = 0  # publish the writes of 1 / 2**sample_shift of the LBAs (0: all)
    agent_deadline: int = 1 << 20  # ticks (user writes) without a valid agent message
    outbox: int = FLOW_OUTBOX
    wait_agent: float = 0.0  # seconds to wait for an agent before the first write (0: none)

    def resolved(self) -> "KernelOptions":
        o = KernelOptions(**{**asdict(self)})
        if (o.workload is None) == (o.trace is None):
            raise ValueError("give exactly one of --workload NAME or --trace FILE")
        from ..kernel.lfs.placement import PLACEMENTS
        from ..kernel.lfs.victims import VICTIMS
        from ..workloads import WORKLOADS

        if o.workload is not None and o.workload not in WORKLOADS.names():
            raise ValueError(f"unknown workload {o.workload!r}; known: {', '.join(WORKLOADS.names())}")
        if o.policy not in VICTIMS.names():
            raise ValueError(f"unknown victim policy {o.policy!r}; known: {', '.join(VICTIMS.names())}")
        if o.placement is not None and o.placement not in PLACEMENTS.names():
            raise ValueError(f"unknown placement {o.placement!r}; known: {', '.join(PLACEMENTS.names())}")
        if o.trace is not None:
            if o.fmt is None:
                raise ValueError("--trace needs --format (e.g. csv, msr, mqsim, alibaba, blkparse, kmt)")
            if not os.path.isfile(o.trace):
                raise ValueError(f"trace file not found: {o.trace}")
        if o.blocks is None and o.trace is None:
            o.blocks = DEFAULT_BLOCKS
        if o.warmup is None:
            o.warmup = 0 if o.trace is not None else int(o.blocks)
        if o.writes is None and o.trace is None:
            o.writes = DEFAULT_WRITE_FACTOR * int(o.blocks)
        if o.writes is not None and o.writes <= 0:
            raise ValueError("--writes must be positive")
        if not 0.0 < o.spare < 1.0:
            raise ValueError(f"--spare must be strictly between 0 and 1 (got {o.spare})")
        if o.transport not in TRANSPORTS:
            raise ValueError(f"--transport must be one of {', '.join(TRANSPORTS)} (got {o.transport!r})")
        if not 0 <= o.sample_shift <= 16:
            raise ValueError("--sample-shift must be in 0..16")
        if o.agent_deadline <= 0 or o.outbox <= 0:
            raise ValueError("--agent-deadline and the outbox size must be positive")
        if o.status_every <= 0:
            raise ValueError("--status-every must be positive")
        if o.proxy and o.path is None:
            o.path = default_path(o.transport)
        return o

    def ml_config(self) -> LfsMlConfig:
        return LfsMlConfig(agent_deadline=self.agent_deadline, telemetry_sample_shift=self.sample_shift,
                           outbox_capacity=self.outbox)


class Stopped(Exception):
    """Raised between two runs of writes when a stop was requested."""


def _names(op_map: dict, values: dict) -> dict:
    return {name: values[op] for op, name in op_map.items()}


class FlowKernel:
    """The :func:`~kernelml.bench.gc_run.run_gc` controller of the kernel side:
    before each run of writes the proxy is polled and decides placement
    (:meth:`LfsProxy.next_part`) and accepted recommendations are
    acknowledged; after each run, status lines and invariant checks are due
    on the wall clock, and a requested stop is honoured."""

    PART = 4096  # writes per run without a proxy (status granularity)

    def __init__(self, sim, endpoint, writer: StatusWriter, opts: KernelOptions,
                 stop: threading.Event | None = None, clock=time.monotonic) -> None:
        self.sim = sim
        self.ep = endpoint
        self.w = writer
        self.opts = opts
        self.stop = stop
        self.clock = clock
        # a new boot id per kernel-side process (the agent sees a restart in HELLO)
        self.boot_id = (time.time_ns() // 1_000_000) & 0xFFFFFFFF or 1
        self.lp = (LfsProxy(sim, sim.chooser, endpoint, opts.ml_config(), boot_id=self.boot_id)
                   if opts.proxy else None)
        self.fill_writes = int(sim.n_lbas)
        self.measure_from = self.fill_writes + int(opts.warmup or 0)
        t = clock()
        self.t_start = t
        self.next_status = t + opts.status_every
        self.next_check = t + opts.check_every if opts.check_every > 0 else float("inf")
        self.checks = 0
        self.check_error: str | None = None
        self.acked = {op: 0 for op in OPS}
        self.acks = 0
        self.unsent = 0  # telemetry frames discarded while no agent was attached
        self.seen_tr = {op: 0 for op in OPS}
        self.last = (t, 0, 0, {op: [0, 0] for op in OPS})  # wall, user, gc writes, decisions per op
        self.conn_ids: set = set()
        self.connected_at: float | None = None

    # -- the run_gc controller hooks ------------------------------------------------
    def next_part(self, max_writes: int) -> int:
        if self.lp is None:
            return min(max_writes, self.PART)
        n = self.lp.next_part(max_writes)  # polls the proxy when a placement op starts
        self._ack(self.lp.now())
        return n

    def after_part(self) -> None:
        if self.ep is not None and self.ep.connection_id is None:
            self._discard()
        t = self.clock()
        if t >= self.next_status:
            self.next_status = t + self.opts.status_every
            self.status(t)
        if t >= self.next_check:
            self.next_check = t + self.opts.check_every
            self.check()
        if self.stop is not None and self.stop.is_set():
            raise Stopped()

    # -- no agent ---------------------------------------------------------------------------
    def _discard(self) -> None:
        """While no agent is attached, queued telemetry is discarded at once
        (counted in ``telemetry_unsent``): nobody will ever read it, and a
        returning agent gets HELLO and fresh records instead of a backlog.  So
        a dead agent shows as ``agent_silent`` (past the deadline), not as an
        outbox overflow; a live agent that does not keep up still overflows."""
        box = self.lp.proxy.outbox
        n = len(box.frames)
        if n:
            box.frames.clear()
            self.unsent += n

    # -- acknowledgements ----------------------------------------------------------------
    def _ack(self, now: int) -> None:
        p = self.lp.proxy
        sent = False
        for op in OPS:
            epoch = p.kind_state(op).last_epoch
            if epoch != self.acked[op]:
                self.acked[op] = epoch
                p.outbox.push(m.encode(p.feedback(op, now)))
                self.acks += 1
                sent = True
        if sent and self.ep is not None:
            p.outbox.drain(self.ep.send, 8)

    # -- checks -----------------------------------------------------------------------------
    def check(self) -> bool:
        """Run the simulator's invariant checks; the first failure is kept."""
        self.checks += 1
        try:
            self.sim.check()
        except IntegrityError as exc:
            if self.check_error is None:
                self.check_error = str(exc) or type(exc).__name__
            return False
        return True

    # -- status ---------------------------------------------------------------------------------
    def _agent(self) -> dict:
        ep = self.ep
        if ep is None:
            return {"connected": False}
        if hasattr(ep, "accept_pending"):
            ep.accept_pending()
        cid = ep.connection_id
        if cid is not None:
            self.conn_ids.add(cid)
        out = {"connected": cid is not None, "connection": cid, "connections": len(self.conn_ids),
               "pid": getattr(ep, "peer_pid", None)}
        ch = {}
        for name in ("sent", "drops", "send_full", "accepted", "attaches", "peers_lost", "refused_peers",
                     "oversized", "torn_reads", "slot_corrupt", "control_corrupt", "unread"):
            v = getattr(ep, name, None)
            if isinstance(v, int):
                ch[name] = v
        out["channel"] = ch
        return out

    def proxy_state(self, now: int, window: dict | None = None) -> dict:
        """Modes, shares, rejects and health of the proxy (JSON-ready)."""
        p = self.lp.proxy
        modes, reasons, share, share_w, decided, trs = {}, {}, {}, {}, {}, []
        for op, name in OPS.items():
            k = p.kind_state(op)
            modes[name] = k.mode.name.lower()
            reasons[name] = Reason(k.last_transition.reason).name.lower() if k.last_transition else None
            h, ml = k.decided
            decided[name] = [h, ml]
            share[name] = round(ml / (h + ml), 4) if h + ml else 0.0
            if window is not None:
                dh, dml = h - window[op][0], ml - window[op][1]
                share_w[name] = round(dml / (dh + dml), 4) if dh + dml else None
            new = k.n_transitions - self.seen_tr[op]
            if new > 0:
                log = p.transitions(op)
                for tr in log[-min(new, len(log)):]:
                    trs.append([tr.at, name, Mode(tr.src).name.lower(), Mode(tr.dst).name.lower(),
                                Reason(tr.reason).name.lower()])
                self.seen_tr[op] = k.n_transitions
        h = p.health(now)
        rejects = {r.name.lower(): int(p.rejects[r]) for r in RejectReason if p.rejects[r]}
        out = {"modes": modes, "mode_reason": reasons, "ml_share": share, "decisions": decided,
               "rejects": rejects, "rejects_total": int(sum(p.rejects)),
               "telemetry_dropped": p.outbox_state()[1],
               "telemetry_dropped_records": p.outbox_state()[2],
               "telemetry_unsent": self.unsent, "outbox": p.outbox_state()[0], "acks": self.acks,
               "health": {k: v for k, v in asdict(h).items() if v},
               "epochs": _names(OPS, {op: p.kind_state(op).last_epoch for op in OPS}),
               "transitions": sorted(trs)}
        if window is not None:
            out["ml_share_window"] = share_w
        return out

    def status(self, t: float | None = None) -> dict:
        t = self.clock() if t is None else t
        st = self.sim.stats()
        tot, meas = st["total"], st["measured"]
        user, gcw = tot["user"], tot["gcw"]
        t0, u0, g0, dec0 = self.last
        du, dg, dt = user - u0, gcw - g0, max(t - t0, 1e-9)
        measuring = user >= self.measure_from
        fields = {
            "clock": st["state"]["now"],
            "phase": "measure" if measuring else ("warmup" if user >= self.fill_writes else "fill"),
            "user_writes": user,
            "measured_writes": meas["user"] if measuring else 0,
            "waf": round((meas["user"] + meas["gcw"]) / meas["user"], 5) if measuring and meas["user"] else None,
            "waf_window": round((du + dg) / du, 5) if du else None,
            "writes_per_s": round(du / dt),
            "free_segments": st["state"]["free"],
            "gc_invocations": tot["gcs"],
            "invariants": {"checks": self.checks, "ok": self.check_error is None},
        }
        if self.lp is not None:
            now = self.lp.now()
            fields.update(self.proxy_state(now, dec0))
            fields["agent"] = self._agent()
            dec = {op: list(self.lp.proxy.kind_state(op).decided) for op in OPS}
        else:
            dec = dec0
        self.last = (t, user, gcw, dec)
        return self.w.write("status", **fields)


def _result_summary(res: dict | None, sim, fk: FlowKernel) -> dict:
    st = sim.stats()
    tot, meas = st["total"], st["measured"]
    measuring = tot["user"] >= fk.measure_from
    elapsed = fk.clock() - fk.t_start
    out = {
        "user_writes": tot["user"],
        "measured_writes": meas["user"] if measuring else 0,
        "gc_writes": meas["gcw"] if measuring else 0,
        "waf": (meas["user"] + meas["gcw"]) / meas["user"] if measuring and meas["user"] else None,
        "trims": meas["trim"] if measuring else 0,
        "elapsed_s": round(elapsed, 3),
        "writes_per_s": round(tot["user"] / elapsed) if elapsed > 0 else None,
        "mapped_lbas": int((sim.lbat[FMAP] >= 0).sum()),
        "live_lbas": st["state"]["live"],
        "n_lbas": sim.n_lbas,
        "device": st["device"],
    }
    if res is not None:  # the run reached the end of its workload: run_gc's own summary
        for k in ("workload", "policy", "placement"):
            out[k] = res.get(k)
    return out


def run_kernel(opts: KernelOptions, stop: threading.Event | None = None, writer: StatusWriter | None = None,
               endpoint=None) -> dict:
    """Run the kernel side to the end of its workload (or until ``stop`` is
    set) and return the ``final`` status object.  ``endpoint``: an already
    open server endpoint (default: opened here from ``opts``, closed at the
    end).  Raises ValueError / TransportError for bad options before any write."""
    o = opts.resolved()
    own_writer = writer is None
    w = writer or StatusWriter(o.status)
    own_ep = endpoint is None and o.proxy
    ep = endpoint if endpoint is not None else (open_server(o.transport, o.path) if o.proxy else None)
    holder: dict = {}
    try:
        ml = o.ml_config() if o.proxy else None
        w.write("start", pid=os.getpid(), subsystem="lfs", workload=o.workload, trace=o.trace, fmt=o.fmt,
                policy=o.policy, placement=o.placement, writes=o.writes, blocks=o.blocks, warmup=o.warmup,
                spare=o.spare, seed=o.seed, proxy=o.proxy, transport=o.transport if o.proxy else None,
                path=o.path if o.proxy else None, sample_shift=o.sample_shift,
                deadlines_ticks=None if ml is None else {
                    "agent_deadline": ml.agent_deadline, "heartbeat_interval": ml.heartbeat_interval,
                    "feedback_interval": ml.feedback_interval, "rec_window": ml.rec_window,
                    "rec_limit": ml.rec_limit, "placement_op": ml.placement_op},
                clock="user writes")
        if ep is not None and o.wait_agent > 0:
            _wait_for_agent(ep, o.wait_agent, stop)

        def make(sim):
            holder["fk"] = FlowKernel(sim, ep, w, o, stop)
            return holder["fk"]

        res, reason, error = None, "done", None
        try:
            res = run_gc(o.workload, trace=o.trace, fmt=o.fmt, policy=o.policy, placement=o.placement,
                         spare=o.spare, seed=o.seed, writes=o.writes, warmup=o.warmup, n_blocks=o.blocks,
                         blocks_per_seg=o.segment_blocks, controller=make, samples=0)
        except Stopped:
            reason = "stopped"
        except (SimError, IntegrityError) as exc:
            reason, error = "error", f"{type(exc).__name__}: {exc}"
        fk = holder.get("fk")
        if fk is None:  # failed before the device existed
            return w.write("final", reason="error", error=error or "no device", ok=False)
        ok = fk.check() and error is None
        summary = _result_summary(res, fk.sim, fk)
        fields = {"reason": reason, "completed": reason == "done", "ok": ok and fk.check_error is None,
                  "error": error, "result": summary,
                  "invariants": {"checks": fk.checks, "ok": fk.check_error is None, "error": fk.check_error}}
        if fk.lp is not None:
            p = fk.lp.proxy
            now = fk.lp.now()
            fields.update(fk.proxy_state(now))
            fields["agent"] = fk._agent()
            fields["mode_timeline"] = {name: [[t.at, Mode(t.src).name.lower(), Mode(t.dst).name.lower(),
                                               Reason(t.reason).name.lower()] for t in p.transitions(op)]
                                       for op, name in OPS.items()}
        fields["ok"] = bool(fields["ok"])
        return w.write("final", **fields)
    finally:
        if own_ep and ep is not None:
            ep.close()
        if own_writer:
            w.close()


def _wait_for_agent(ep, seconds: float, stop: threading.Event | None) -> bool:
    """Before the first write only: wait up to ``seconds`` for an agent to
    connect (a convenience that makes demo runs comparable; the run itself
    never waits)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if stop is not None and stop.is_set():
            return False
        if hasattr(ep, "accept_pending"):
            ep.accept_pending()
        if ep.connection_id is not None:
            return True
        time.sleep(0.01)
    return False


__all__ = ["KernelOptions", "FlowKernel", "run_kernel", "open_server", "default_path", "Stopped",
           "SHM_RING_BYTES", "SHM_CONTROL_BYTES", "FLOW_OUTBOX"]
