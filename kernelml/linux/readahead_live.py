"""The readahead ML proxy on a real kernel: ``read_ahead_kb`` of one device,
decided by an :class:`~kernelml.kernel.mllib.MLModelProxy` in user space.

Pieces (each step through :class:`~kernelml.linux.sysio.KernelIO`, each
reversal on the :class:`~kernelml.linux.sysio.Undo` stack):

* :class:`LiveEnv` — a temporary directory, a file-backed loop device with
  direct I/O and an ext4 file system on it (:class:`~.loopdev.LoopFS`) — or
  a device the user named explicitly, left as it is —, a private tracefs
  instance with the readahead and filemap tracepoints filtered to it
  (:class:`~.readahead_trace.RaTrace`), the device's knob
  (:class:`~.readahead_knob.ReadaheadKnob`, with its guardian process), and
  optionally a memory cgroup (v1) that limits the page cache of the
  workloads run in it (so the cache is smaller than the data, as in the
  model);
* :class:`LiveController` — the proxy's rules in user space: one
  ``OP_WINDOW`` decision per epoch (``epoch_ms``); the human-made policy is
  the device's original value (the kernel default); a recommendation is
  validated at receipt (the schema's bounds, then clamped to the knob's
  ``[min_kb, max_kb]``) and written at most once per ``min_interval_s``;
  the modes, the switchback blocks, the washout, the confidence test and the
  safety triggers are the proxy's own (``MLModelProxy``, clock in
  milliseconds).  The agent is another process behind a Unix socket
  (``SOCK_SEQPACKET``, peer credentials checked): when it dies or stops
  talking, the proxy falls into emergency within ``agent_deadline_ms`` and
  the knob goes back to the original value;
* :func:`run_live` — ``kernelml readahead live``: the environment, the
  agent process, and the controller loop until the duration ends or a
  signal arrives; the original value is restored on the way out.

What the controller publishes is :mod:`kernelml.uapi.readahead`, read off
the tracepoints by :class:`~.readahead_features.LiveFeatures`.  An epoch's
cost is its wall time; its units are the pages the application was given
(``progress()``: the workload's own count when the caller has one, else
the pages of the traced requests) plus ``alpha`` per request that did not
continue the previous one — the model's units.

Linux reads ``read_ahead_kb`` when a file is opened: a new value applies to
files opened afterwards.  A workload that keeps its files open for the
whole run never sees the proxy's decisions (the bench's drivers reopen).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kernelml.kernel.mllib import HUMAN, MLModelProxy, OpKind, ProxyConfig
from kernelml.kernel.mllib.modes import ModeConfig
from kernelml.kernel.readahead.ml import parse_window
from kernelml.bench.proxy_report import proxy_report
from kernelml.kernel.readahead.policies import kml
from kernelml.linux.loopdev import LoopFS
from kernelml.linux.readahead_features import LiveFeatures
from kernelml.linux.readahead_knob import ReadaheadKnob
from kernelml.linux.readahead_trace import CACHE_EVENTS, DEFAULT_EVENTS, READ_EVENTS, RaTrace
from kernelml.linux.sysio import CaptureError, KernelIO, Undo, interrupts_raise, kill_group
from kernelml.uapi import readahead as schema
from kernelml.uapi.messages import Mode

MEMCG_ROOT = "/sys/fs/cgroup/memory"


@dataclass
class LiveConfig:
    epoch_ms: int = 250
    block_epochs: int = 4  # epochs per switchback block
    washout_epochs: int = 1
    min_kb: int = 0
    max_kb: int = 16384
    min_interval_s: float = 0.2  # at most one knob change per this interval
    agent_deadline_ms: int = 3000
    heartbeat_ms: int = 500
    feedback_ms: int = 2000
    rec_limit: int = 16  # recommendations accepted per rec_window_ms
    rec_window_ms: int = 2000
    min_dwell: int = 8
    min_batches: int = 3
    batch_window: int = 24
    alpha: int = 50  # work units per non-sequential request (device miss latency / page transfer)
    trace_get_pages: bool = False  # mm_filemap_get_pages (every read(): heavy)
    trace_cache: bool = False  # page-cache insert/delete (per folio: heavy; gives useless readahead)


# ------------------------------------------------------------------ environment
class MemCgroup:
    """A v1 memory cgroup of our own whose limit caps the workloads' page cache."""

    def __init__(self, io: KernelIO, limit_bytes: int, name: str = "") -> None:
        self.io = io
        self.limit = int(limit_bytes)
        self.path = os.path.join(MEMCG_ROOT, name or f"kernelml_ra_{os.getpid()}")

    @staticmethod
    def available() -> bool:
        return os.path.exists(os.path.join(MEMCG_ROOT, "memory.limit_in_bytes"))

    def setup(self, undo: Undo) -> None:
        self.io.mkdir(self.path, "memcg")
        undo.push(f"rmdir {self.path}", self._remove)
        self.io.write(os.path.join(self.path, "memory.limit_in_bytes"), str(self.limit), "memcg-limit")

    def _remove(self) -> None:
        if not self.io.dry_run and os.path.isdir(self.path):
            for pid in KernelIO.read(os.path.join(self.path, "cgroup.procs")).split():
                try:  # a straggler: back to the root cgroup, then the directory can go
                    self.io.write(os.path.join(MEMCG_ROOT, "cgroup.procs"), pid, "memcg-evacuate")
                except (CaptureError, OSError):
                    pass
        self.io.rmdir(self.path, "cleanup-memcg", retries=20, delay=0.25)

    def preexec(self) -> Callable[[], None]:
        procs = os.path.join(self.path, "cgroup.procs")

        def enter() -> None:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        return enter


@dataclass
class LiveEnv:
    io: KernelIO
    device: str | None = None  # an existing device to tune (None: create a loop device)
    size_bytes: int = 4 << 30
    memcg_bytes: int = 0  # 0: no cgroup
    trace: bool = True
    cfg: LiveConfig = field(default_factory=LiveConfig)
    tmpdir: str | None = None
    workdir: str = ""
    mountpoint: str = ""
    lfs: LoopFS | None = None
    knob: ReadaheadKnob | None = None
    tracer: RaTrace | None = None
    memcg: MemCgroup | None = None
    dev_name: str = ""
    dev_t: int = 0

    def setup(self, undo: Undo) -> None:
        io = self.io
        if not io.dry_run and os.geteuid() != 0:
            raise CaptureError("the live readahead controller needs root (loop devices, tracefs, the knob)")
        if io.dry_run:
            self.workdir = os.path.join(self.tmpdir or tempfile.gettempdir(), f"kernelml-ra-{os.getpid()}-XXXX")
            io.step("workdir", f"mkdir {self.workdir}")
        else:
            self.workdir = tempfile.mkdtemp(prefix=f"kernelml-ra-{os.getpid()}-", dir=self.tmpdir)
            os.chmod(self.workdir, 0o755)
            wd = self.workdir
            undo.push(f"rm -r {wd}", lambda: (io.step("cleanup-workdir", f"rm -r {wd}"),
                                                shutil.rmtree(wd, ignore_errors=True)))
        if self.device is None:
            self.lfs = LoopFS(io, self.workdir, self.size_bytes, "ext4", discard=False)
            self.lfs.setup(undo)
            self.mountpoint = self.lfs.mountpoint
            self.dev_name = os.path.basename(self.lfs.device)
            self.dev_t = self.lfs.dev_t
            devpath = self.lfs.device
        else:
            devpath = self.device
        self.knob = ReadaheadKnob(io, devpath, self.cfg.min_kb, self.cfg.max_kb, self.cfg.min_interval_s)
        self.knob.open()
        undo.push(f"restore {self.knob.path}", self.knob.restore)
        if self.device is not None:
            self.dev_name = self.knob.name
            rdev = self.knob.dev_t
            self.dev_t = (os.major(rdev) << 20) | os.minor(rdev) if rdev else 0
        if self.trace:
            events = DEFAULT_EVENTS + (CACHE_EVENTS if self.cfg.trace_cache else ()) + (
                READ_EVENTS if self.cfg.trace_get_pages else ())
            self.tracer = RaTrace(io, self.workdir, self.dev_t, events=events)
            self.tracer.setup(undo)
            self.tracer.open_pipe(undo)
        if self.memcg_bytes and MemCgroup.available():
            self.memcg = MemCgroup(io, self.memcg_bytes)
            self.memcg.setup(undo)

    def describe(self) -> dict:
        return {"device": self.dev_name, "created": self.device is None, "workdir": self.workdir,
                "mountpoint": self.mountpoint, "original_kb": self.knob.original_kb if self.knob else None,
                "memcg_bytes": self.memcg_bytes if self.memcg else 0,
                "loop": self.lfs.describe() if self.lfs else None}


# ------------------------------------------------------------------ controllers
class LiveController:
    """The proxy in user space: one decision per epoch, the knob as the choice."""

    def __init__(self, knob: ReadaheadKnob, tracer: RaTrace | None, endpoint, cfg: LiveConfig | None = None,
                 progress: Callable[[], int] | None = None, dev_name: str = "", memcg_bytes: int = 0) -> None:
        self.cfg = cfg = cfg or LiveConfig()
        self.knob = knob
        self.tracer = tracer
        self.progress = progress
        self.features = LiveFeatures(dev_name, alpha=cfg.alpha, get_pages=cfg.trace_get_pages)
        self.cache_cap = memcg_bytes // 4096 if memcg_bytes else -1
        self.original_pages = max(0, knob.original_kb // schema.PAGE_KB)
        pcfg = ProxyConfig(agent_deadline=cfg.agent_deadline_ms, heartbeat_interval=cfg.heartbeat_ms,
                           feedback_interval=cfg.feedback_ms, rec_limit=cfg.rec_limit, rec_window=cfg.rec_window_ms,
                           outbox_capacity=512, mode=ModeConfig(min_dwell=cfg.min_dwell))
        self.t0 = time.monotonic()
        self.proxy = MLModelProxy(schema.SUBSYSTEM_ID, schema.NAME, endpoint, pcfg, tick_ns=1_000_000)
        eff = {"batch_units": 1, "window": cfg.batch_window, "min_batches": cfg.min_batches, "min_gain_pm": 20}
        lo, hi = cfg.min_kb // schema.PAGE_KB, cfg.max_kb // schema.PAGE_KB
        self.proxy.register(OpKind(schema.OP_WINDOW, "window", human=lambda ctx: self.original_pages,
                                   parse=lambda w: parse_window(w, lo, hi), apply=lambda rec, ctx: int(rec[0]),
                                   block=cfg.block_epochs, washout=cfg.washout_epochs, efficiency=eff))
        self.proxy.register_record(schema.REC_FILE, schema.FILE_FIELDS)
        self.proxy.register_record(schema.REC_EPOCH, schema.EPOCH_FIELDS)
        self.source = HUMAN
        self.epoch_start = time.monotonic()
        self.progress_prev = progress() if progress else 0
        self.epochs: list[dict] = []

    def now(self) -> int:
        return int((time.monotonic() - self.t0) * 1000)

    def resume(self) -> None:
        """Start a fresh epoch after a pause (another policy had the device):
        what the trace and the counters hold from the gap is dropped."""
        if self.tracer is not None:
            self.tracer.read()
        self.features.close_epoch(self.now(), 0, self.source, self.original_pages, self.knob.current_kb // 4)
        self.features.epoch -= 1
        self.epoch_start = time.monotonic()
        self.progress_prev = self.progress() if self.progress else 0

    def step(self) -> None:
        """Read the trace; at an epoch's end publish, charge, decide and apply."""
        if self.tracer is not None:
            self.features.feed(self.tracer.read())
        t = time.monotonic()
        if (t - self.epoch_start) * 1000 < self.cfg.epoch_ms:
            self.proxy.poll(self.now())
            return
        self._close_epoch(t)

    def _close_epoch(self, t: float) -> None:
        now = self.now()
        elapsed_us = int((t - self.epoch_start) * 1e6)
        self.epoch_start = t
        dev_pages = self.knob.current_kb // schema.PAGE_KB
        recs, ep, tot = self.features.close_epoch(now, elapsed_us, self.source, self.original_pages, dev_pages,
                                                  self.cache_cap)
        if self.progress is not None:
            cur = self.progress()
            pages = max(0, cur - self.progress_prev)
            self.progress_prev = cur
            ep[0, schema.EPOCH_FIELDS.index("pages")] = pages
        else:
            pages = tot["pages"]
        units = pages + self.cfg.alpha * tot["nonseq"]
        p = self.proxy
        if recs.shape[0]:
            p.publish(schema.REC_FILE, recs, now)
        p.publish(schema.REC_EPOCH, ep, now)
        if units > 0:
            p.charge(schema.OP_WINDOW, elapsed_us * 1000, units)
        p.poll(now)
        source, pages_choice = p.decide(schema.OP_WINDOW, None, now)
        self.source = source
        wrote = self.knob.set_kb(int(pages_choice) * schema.PAGE_KB, force=source == HUMAN)
        self.epochs.append({"t_ms": now, "source": int(source), "mode": int(p.mode(schema.OP_WINDOW)),
                            "kb": self.knob.current_kb, "wanted_kb": int(pages_choice) * schema.PAGE_KB,
                            "wrote": wrote, "units": units, "pages": pages, "elapsed_us": elapsed_us,
                            "useless": tot["useless"], "sync_ra": tot["sync_ra"], "async_ra": tot["async_ra"]})

    def summary(self, since: int = 0) -> dict:
        """The proxy's state; ``ml_kb``: the knob values of ML's epochs from epoch ``since`` on."""
        ml_kb: dict[int, int] = {}
        for e in self.epochs[since:]:
            if e["source"] != HUMAN:
                ml_kb[e["kb"]] = ml_kb.get(e["kb"], 0) + 1
        return {
            **proxy_report(self.proxy, schema.OP_WINDOW, self.now()),
            "ml_kb": dict(sorted(ml_kb.items())),
            "knob": {"original_kb": self.knob.original_kb, "writes": self.knob.writes,
                     "rate_limited": self.knob.rate_limited, "clamped": self.knob.clamped},
            "trace": {"events": self.features.events, "lost": self.features.lost,
                      "skipped_bytes": self.tracer.skipped_bytes if self.tracer else 0,
                      "ring": self.tracer.stats() if self.tracer else {}},
            "epochs": len(self.epochs),
        }


class KmlLiveController:
    """The KML-like static classifier on a real kernel: every epoch, the
    page-weighted majority class of the traced inodes picks the knob from
    the classifier's fixed table (``kernelml.kernel.readahead.policies.kml``)."""

    def __init__(self, knob: ReadaheadKnob, tracer: RaTrace, cfg: LiveConfig | None = None, dev_name: str = "") -> None:
        self.cfg = cfg or LiveConfig()
        self.knob = knob
        self.tracer = tracer
        self.features = LiveFeatures(dev_name, alpha=self.cfg.alpha, get_pages=self.cfg.trace_get_pages)
        self.epoch_start = time.monotonic()
        self.epochs: list[dict] = []

    def resume(self) -> None:
        self.tracer.read()
        self.features.close_epoch(0, 0, 0, 0, 0)
        self.epoch_start = time.monotonic()

    def step(self) -> None:
        self.features.feed(self.tracer.read())
        t = time.monotonic()
        if (t - self.epoch_start) * 1000 < self.cfg.epoch_ms:
            return
        self.epoch_start = t
        recs, _, _ = self.features.close_epoch(0, 0, 0, 0, self.knob.current_kb // schema.PAGE_KB)
        F = {n: i for i, n in enumerate(schema.FILE_FIELDS)}
        weight = np.zeros(len(kml.TABLE))
        for r in recs:
            c = kml.classify(int(r[F["requests"]]), int(r[F["seq"]]), int(r[F["back"]]), int(r[F["jumps"]]),
                             int(r[F["gap_log2_x16"]]) * max(1, int(r[F["jumps"]])), max(0, int(r[F["writes"]])))
            if c != kml.NONE:
                weight[c] += max(1, int(r[F["pages"]]))
        if weight.sum() > 0:
            cls = int(weight.argmax())
            self.knob.set_kb(kml.TABLE[cls] * schema.PAGE_KB)
            self.epochs.append({"class": kml.CLASS_NAMES[cls], "kb": self.knob.current_kb})

    def summary(self) -> dict:
        classes: dict = {}
        for e in self.epochs:
            classes[e["class"]] = classes.get(e["class"], 0) + 1
        return {"classes": classes, "knob_writes": self.knob.writes}


# ------------------------------------------------------------------ the agent process
def start_agent(socket_path: str, learner: str, seed: int = 0, log_path: str | None = None) -> subprocess.Popen:
    """The user-space agent, in its own process group (killed by the caller's cleanup)."""
    argv = [sys.executable, "-m", "kernelml.linux.readahead_agent", "--socket", socket_path, "--learner", learner,
            "--seed", str(seed)]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    finally:
        if log_path:
            out.close()


class MlSession:
    """A controller with its agent process and socket, started once and
    stepped by the caller (the live command, the live bench)."""

    def __init__(self, env: LiveEnv, undo: Undo, learner: str = "readahead-window", seed: int = 0,
                 progress: Callable[[], int] | None = None, agent: bool = True) -> None:
        from kernelml.transport.unix import UnixServer

        self.sock = os.path.join(env.workdir, "proxy.sock")
        self.server = UnixServer(self.sock, allowed_uids=[os.geteuid()])
        undo.push("close the proxy socket", self.server.close)
        self.ctl = LiveController(env.knob, env.tracer, self.server, env.cfg, progress, env.dev_name,
                                  env.memcg_bytes if env.memcg else 0)
        self.agent: subprocess.Popen | None = None
        self.learner = learner
        self.seed = seed
        self.log = os.path.join(env.workdir, "agent.log")
        if agent:
            self.start_agent()
        undo.push("stop the agent", self.stop_agent)

    def start_agent(self) -> None:
        self.agent = start_agent(self.sock, self.learner, self.seed, self.log)

    def kill_agent(self) -> None:
        if self.agent is not None and self.agent.poll() is None:
            os.killpg(self.agent.pid, signal.SIGKILL)
            self.agent.wait(5)

    def stop_agent(self) -> None:
        if self.agent is not None:
            kill_group(self.agent, grace=2.0)
            self.agent = None

    def step(self) -> None:
        self.ctl.step()

    def resume(self) -> None:
        self.ctl.resume()


def run_live(duration_s: float = 60.0, device: str | None = None, learner: str = "readahead-window",
             cfg: LiveConfig | None = None, io: KernelIO | None = None, kill_agent_after_s: float | None = None,
             size_bytes: int = 2 << 30, log: Callable[[str], None] | None = None, seed: int = 0,
             progress_cb: Callable[[dict], None] | None = None) -> dict:
    """``kernelml readahead live``: control ``read_ahead_kb`` of a loop device
    this command creates (or of ``device``) for ``duration_s`` seconds while
    the user's workload runs on it (its mount point is printed)."""
    io = io or KernelIO(log=log)
    cfg = cfg or LiveConfig()
    undo = Undo()
    out: dict = {}
    with interrupts_raise():
        try:
            env = LiveEnv(io, device, size_bytes, cfg=cfg)
            env.setup(undo)
            out["env"] = env.describe()
            if io.dry_run:
                io.step("agent", f"python -m kernelml.linux.readahead_agent --socket {env.workdir}/proxy.sock "
                                 f"--learner {learner}")
                io.step("control", f"every {cfg.epoch_ms} ms: trace -> telemetry -> decide -> "
                                   f"{env.knob.path} for {duration_s} s")
                return {"dry_run": True, "actions": list(io.actions)}
            if log:
                log(f"device {env.dev_name} (read_ahead_kb {env.knob.original_kb}); "
                    + (f"workload mount point {env.mountpoint}" if env.mountpoint else "existing device"))
            ses = MlSession(env, undo, learner, seed)
            t_end = time.monotonic() + duration_s
            killed = False
            last = 0.0
            while time.monotonic() < t_end:
                ses.step()
                if kill_agent_after_s is not None and not killed and \
                        time.monotonic() > t_end - duration_s + kill_agent_after_s:
                    ses.kill_agent()
                    killed = True
                    if log:
                        log("agent killed (SIGKILL)")
                if progress_cb is not None and time.monotonic() - last > 1.0:
                    last = time.monotonic()
                    progress_cb({"mode": Mode(ses.ctl.proxy.mode(schema.OP_WINDOW)).name.lower(),
                                 "kb": env.knob.current_kb, "epochs": len(ses.ctl.epochs)})
                time.sleep(0.02)
            out.update(ses.ctl.summary())
            out["knob_history"] = [[round(t - ses.ctl.t0, 3), kb] for t, kb in env.knob.history]
            out["agent_killed"] = killed
            return out
        finally:
            errors = undo.unwind()
            out["restored"] = not errors
            if errors:
                out["cleanup_errors"] = errors


def dumps(result: dict) -> str:
    return json.dumps(result, indent=1, default=str)
