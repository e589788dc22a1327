"""The agent daemon: :meth:`kernelml.agent.Agent.run` on a real channel, with
reconnects, checkpoints, Prometheus metrics, structured logs, and injected
faults for testing the kernel side's defences.

It reaches the kernel side only through uapi frames on a
:class:`~kernelml.transport.unix.UnixClient` or
:class:`~kernelml.transport.shm.ShmClient` (this module imports nothing
from ``kernelml.kernel``).

Recommendation round trip
=========================
Every RECOMMENDATION the agent sends is stamped with its wall-clock send time
(by a thin wrapper around the endpoint).  The kernel side of the flow
acknowledges each accepted recommendation with a FEEDBACK frame of its op
kind carrying the accepted epoch (see :mod:`.kernel_side`); when such a
frame arrives, the round trip of that epoch is its arrival time minus its
send time: channel there, the wait for the kernel side's next poll (one run
of writes), the proxy's validation, and the channel back behind whatever
telemetry was already queued.  Recommendations superseded before they were
acknowledged (several sent in one round, or rejected) give no sample.

Faults (``--fault``)
====================
``none``; ``flood``: bursts of recommendations far above the proxy's rate
limit (copies of the agent's own latest recommendation with fresh epochs);
``garbage``: bursts of malformed frames, recommendations for unknown op
kinds and stale epochs; ``stall``: the daemon stops reading and
heartbeating for ``stall_s`` seconds every ``stall_every`` seconds (as a
SIGSTOP would).  Faults start ``fault_after`` seconds after the kernel
side's HELLO and last ``fault_for`` seconds (0: until the end); the normal
work (learning, recommending, heartbeats) goes on between bursts.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..agent import Agent
from ..agent.agent import DEFAULT_LEARNERS
from ..agent.learners import LEARNERS
from ..transport.base import Endpoint
from ..uapi import messages as m

log = logging.getLogger("kernelml.flow.agent")
FAULTS = ("none", "flood", "garbage", "stall")
TRANSPORTS = ("unix", "shm")


@dataclass
class AgentOptions:
    connect: str | None = None  # socket or region path (default: the kernel side's default)
    transport: str = "shm"
    learner: str | None = None  # None: the default learner of the subsystem that says HELLO
    learner_options: dict = field(default_factory=dict)
    ttl: int | None = 1 << 21  # kernel ticks a recommendation lives (if the learner takes ``ttl``)
    recommend_every: int = 1 << 19  # kernel ticks between recommendation rounds
    heartbeat_s: float = 0.05  # wall-clock heartbeat period
    checkpoint: str | None = None
    checkpoint_s: float = 5.0  # also save at most this often (wall clock), besides every 64 recommendations
    metrics_port: int | None = None  # Prometheus exposition on 127.0.0.1:port (0: any free port)
    metrics_addr: str = "127.0.0.1"
    log_json: bool = False
    log_file: str | None = None  # default: standard error
    stats_every: float = 1.0  # seconds between agent.stats log lines
    fault: str = "none"
    fault_after: float = 2.0
    fault_for: float = 0.0
    burst: int = 64  # frames per step of flood / garbage
    stall_s: float = 3.0
    stall_every: float = 10.0
    duration: float | None = None
    reconnect_s: float = 0.2
    seed: int = 0

    def check(self) -> "AgentOptions":
        if self.transport not in TRANSPORTS:
            raise ValueError(f"--transport must be one of {', '.join(TRANSPORTS)} (got {self.transport!r})")
        if self.fault not in FAULTS:
            raise ValueError(f"--fault must be one of {', '.join(FAULTS)} (got {self.fault!r})")
        if self.learner is not None and self.learner not in LEARNERS:
            raise ValueError(f"unknown learner {self.learner!r}; known: {', '.join(LEARNERS.names())}")
        if self.recommend_every <= 0 or self.heartbeat_s <= 0 or self.stats_every <= 0:
            raise ValueError("--recommend-every, the heartbeat period and --stats-every must be positive")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"--metrics-port must be in 0..65535 (got {self.metrics_port})")
        return self


# -- structured logs ---------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``t`` (seconds since start), ``level``,
    ``logger``, ``event`` (or the message), and the record's ``fields``."""

    def __init__(self, t0: float) -> None:
        super().__init__()
        self.t0 = t0

    def format(self, record: logging.LogRecord) -> str:
        obj = {"ts": round(record.created, 6), "t": round(time.monotonic() - self.t0, 4),
               "level": record.levelname.lower(), "logger": record.name}
        fields = getattr(record, "fields", None)
        if fields:
            obj["event"] = record.getMessage()
            obj.update(fields)
        else:
            obj["event"] = "log"
            obj["msg"] = record.getMessage()
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        msg = record.getMessage()
        if fields:
            msg += " " + " ".join(f"{k}={json.dumps(v, default=str, separators=(',', ':'))}"
                                  for k, v in fields.items())
        s = f"{time.strftime('%H:%M:%S')} {record.levelname.lower():7} {msg}"
        if record.exc_info:
            s += "\n" + self.formatException(record.exc_info)
        return s


def setup_logging(json_lines: bool, path: str | None, t0: float) -> logging.Handler:
    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(t0) if json_lines else TextFormatter())
    root = logging.getLogger("kernelml")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    return handler


def event(name: str, **fields) -> None:
    log.info(name, extra={"fields": fields or {"_": None}})


# -- round trips -----------------------------------------------------------------------------
class RoundTrips:
    """Send times of recommendations per (op kind, epoch), matched against
    the kernel side's FEEDBACK epochs."""

    def __init__(self, keep: int = 2048) -> None:
        self.pending: dict[int, deque] = {}
        self.recent: deque = deque(maxlen=keep)  # seconds
        self.samples = 0
        self.superseded = 0
        self.observers: list = []
        self.last_frames: dict[int, bytes] = {}  # op kind -> latest recommendation frame sent

    def sent(self, frame: bytes, t: float) -> None:
        try:
            rec = m.decode(frame)
        except m.FrameError:
            return
        if not isinstance(rec, m.Recommendation):
            return
        q = self.pending.setdefault(rec.op_kind, deque(maxlen=256))
        q.append((rec.epoch, t))
        self.last_frames[rec.op_kind] = frame

    def feedback(self, fb: m.Feedback, t: float) -> None:
        q = self.pending.get(fb.op_kind)
        while q and q[0][0] <= fb.epoch:
            epoch, t0 = q.popleft()
            if epoch == fb.epoch:
                dt = t - t0
                self.recent.append(dt)
                self.samples += 1
                for ob in self.observers:
                    ob(dt)
            else:
                self.superseded += 1

    def reset(self) -> None:
        """A new connection: what was in flight will never be acknowledged."""
        self.pending.clear()

    def quantiles(self) -> dict:
        if not self.recent:
            return {"rtt_ms_p50": None, "rtt_ms_p99": None, "rtt_n": 0}
        a = np.sort(np.fromiter(self.recent, dtype=np.float64))
        return {"rtt_ms_p50": round(float(a[len(a) // 2]) * 1e3, 3),
                "rtt_ms_p99": round(float(a[min(len(a) - 1, len(a) * 99 // 100)]) * 1e3, 3),
                "rtt_n": int(len(a))}


class StampedEndpoint(Endpoint):
    """Wraps the agent's endpoint: stamps recommendations on their way out,
    matches acknowledgements on their way in, counts telemetry bytes."""

    def __init__(self, inner, rtt: RoundTrips) -> None:
        self.inner = inner
        self.rtt = rtt
        self.bytes_in = 0
        rtt.reset()

    def send(self, frame) -> bool:
        ok = self.inner.send(frame)
        if ok and len(frame) >= m.HEADER.size and (frame[6] | frame[7] << 8) == m.MsgType.RECOMMENDATION:
            self.rtt.sent(bytes(frame), time.monotonic())
        return ok

    def recv(self, max_frames: int = 64) -> list[bytes]:
        frames = self.inner.recv(max_frames)
        if frames:
            t = time.monotonic()
            for f in frames:
                self.bytes_in += len(f)
                if len(f) >= m.HEADER.size and (f[6] | f[7] << 8) == m.MsgType.FEEDBACK:
                    try:
                        fb = m.decode(f)
                    except m.FrameError:
                        continue
                    self.rtt.feedback(fb, t)
        return frames

    def wait(self, timeout: float) -> bool:
        return self.inner.wait(timeout)

    @property
    def connection_id(self):
        return self.inner.connection_id

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name):  # counters of the inner endpoint (drops, kernel_drops, ...)
        return getattr(self.inner, name)


# -- metrics ------------------------------------------------------------------------------------
MODE_HELP = "0 emergency, 1 learning, 2 collaboration, 3 recommendation"


class Metrics:
    """Prometheus metrics of the daemon (its own registry)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        r = self.registry = CollectorRegistry()
        self.connected = Gauge("kernelml_agent_connected", "1 while a kernel side is connected", registry=r)
        self.connections = Counter("kernelml_agent_connections", "connections to a kernel side", registry=r)
        self.mode = Gauge("kernelml_proxy_mode", f"proxy mode per op kind ({MODE_HELP})", ["op_kind"], registry=r)
        self.ml_share = Gauge("kernelml_proxy_ml_share", "share of decisions ML made (per the proxy's feedback)",
                              ["op_kind"], registry=r)
        self.rejects = Gauge("kernelml_proxy_rejects", "recommendations the proxy rejected, per reason "
                             "(its counters since it started, from feedback)", ["reason"], registry=r)
        self.recs = Counter("kernelml_agent_recommendations", "recommendations sent", registry=r)
        self.rtt = Histogram("kernelml_agent_recommendation_rtt_seconds",
                             "recommendation sent -> accepted epoch acknowledged by the kernel side",
                             buckets=(1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
                                      0.5, 1.0, 2.5, 5.0), registry=r)
        self.records = Counter("kernelml_agent_telemetry_records", "telemetry records received", registry=r)
        self.records_rate = Gauge("kernelml_agent_telemetry_records_per_second",
                                  "telemetry records received per second (last stats interval)", registry=r)
        self.dropped = Counter("kernelml_agent_telemetry_dropped_by_kernel",
                               "records the kernel side reported dropped before sending", registry=r)
        self.bad = Counter("kernelml_agent_bad_frames", "undecodable frames from the kernel side", registry=r)
        self.send_fail = Counter("kernelml_agent_send_failures", "frames the channel did not take", registry=r)
        self.learner_err = Counter("kernelml_agent_learner_errors", "learner exceptions caught", registry=r)
        self.model_error = Gauge("kernelml_agent_model_error", "the learner's own error measure "
                                 "(lfs-lifetime: mean absolute error in log2 lifetime buckets)", registry=r)
        self.model_obs = Gauge("kernelml_agent_model_observations", "labels the learner has scored", registry=r)
        self.kernel_clock = Gauge("kernelml_agent_kernel_clock", "latest kernel clock seen (ticks)", registry=r)
        self.faults = Counter("kernelml_agent_faults_injected", "frames or stalls injected", ["kind"], registry=r)
        self.server = None

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        from prometheus_client import start_http_server

        self.server, _ = start_http_server(port, addr=addr, registry=self.registry)
        return int(self.server.server_port)

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# -- the daemon --------------------------------------------------------------------------------
class Daemon:
    """One agent daemon (see the module docstring).  ``run()`` blocks until
    ``stop`` is set or ``duration`` passes."""

    def __init__(self, opts: AgentOptions, stop: threading.Event | None = None) -> None:
        self.o = opts.check()
        self.stop = stop or threading.Event()
        self.path = opts.connect or _default_path(opts.transport)
        self.rtt = RoundTrips()
        self.metrics = Metrics() if opts.metrics_port is not None else None
        if self.metrics is not None:
            self.rtt.observers.append(self.metrics.rtt.observe)
        self.agent = Agent(self._make_learner, seed=opts.seed, recommend_every=opts.recommend_every,
                           heartbeat_every=1 << 30, heartbeat_period_s=opts.heartbeat_s,
                           checkpoint=opts.checkpoint, checkpoint_every=64)
        self.rng = np.random.default_rng(opts.seed + 1)
        self.ep: StampedEndpoint | None = None
        self.link_seen = None
        self.hello_at: float | None = None
        self.next_stats = 0.0
        self.next_metrics = 0.0
        self.next_ckpt = time.monotonic() + opts.checkpoint_s
        self.prev = {"records": 0, "recs": 0, "bad": 0, "send_fail": 0, "learner": 0, "dropped": 0}
        self.last_stats = (time.monotonic(), 0)
        self.totals = {"records": 0, "recommendations": 0, "connections": 0, "faults": 0}
        self.next_stall = None
        self.port = None

    # -- learners ------------------------------------------------------------------------------
    def _make_learner(self, hello: m.Hello):
        name = self.o.learner or DEFAULT_LEARNERS.get(hello.name)
        if name is None:
            raise LookupError(f"no learner for subsystem {hello.name!r}")
        cls = LEARNERS.get(name)
        opts = dict(self.o.learner_options)
        params = inspect.signature(cls).parameters
        if self.o.ttl is not None and "ttl" in params and "ttl" not in opts:
            opts["ttl"] = self.o.ttl
        if "background_replay" in params and "background_replay" not in opts:
            opts["background_replay"] = True  # long analyses off the loop that heartbeats
        unknown = [k for k in opts if k not in params]
        if unknown:
            raise TypeError(f"learner {name!r} takes no option(s) {', '.join(unknown)}")
        learner = cls(seed=self.o.seed, **opts)
        if learner.subsystem != hello.name:
            raise LookupError(f"learner {name!r} is for {learner.subsystem!r}, not {hello.name!r}")
        event("agent.learner", learner=name, subsystem=hello.name, options=opts)
        return learner

    # -- connections --------------------------------------------------------------------------
    def connect(self):
        if self.o.transport == "shm":
            from ..transport.shm import ShmClient

            inner = ShmClient(self.path)
        else:
            from ..transport.unix import UnixClient

            inner = UnixClient(self.path, timeout=1.0)
        self.ep = StampedEndpoint(inner, self.rtt)
        self.totals["connections"] += 1
        self.hello_at = None
        self.next_stall = None
        if self.metrics is not None:
            self.metrics.connections.inc()
        event("agent.connected", transport=self.o.transport, path=self.path,
              generation=getattr(inner, "generation", None))
        return self.ep

    # -- the per-step hook ------------------------------------------------------------------------
    def on_step(self, agent: Agent) -> None:
        link = agent.links[-1] if agent.links else None
        if link is None:
            return
        t = time.monotonic()
        if link is not self.link_seen:
            self.link_seen = link
            self.prev.update(records=0, recs=0, bad=0, send_fail=0, learner=0, dropped=0)
        if link.hello is not None and self.hello_at is None:
            self.hello_at = t
        self._count(link)
        if self.o.fault != "none" and self.hello_at is not None:
            self._fault(link, t)
        if self.o.checkpoint and t >= self.next_ckpt:
            self.next_ckpt = t + self.o.checkpoint_s
            agent.save()
            names = sorted(set(agent.saved) | {lk.hello.name for lk in agent.links
                                                 if lk.hello is not None and lk.learner is not None})
            event("agent.checkpoint", path=self.o.checkpoint, learners=names)
        if self.metrics is not None and t >= self.next_metrics:
            self.next_metrics = t + 0.2
            self._metrics(link)
        if t >= self.next_stats:
            self.next_stats = t + self.o.stats_every
            self._stats(link, t)

    def _count(self, link) -> None:
        s, p = link.stats, self.prev
        d_rec = s.records - p["records"]
        d_recs = s.recommendations - p["recs"]
        self.totals["records"] += d_rec
        self.totals["recommendations"] += d_recs
        if self.metrics is not None:
            mt = self.metrics
            mt.records.inc(d_rec)
            mt.recs.inc(d_recs)
            mt.bad.inc(s.bad_frames - p["bad"])
            mt.send_fail.inc(s.send_failures - p["send_fail"])
            mt.learner_err.inc(s.learner_errors - p["learner"])
            mt.dropped.inc(s.records_dropped_by_kernel - p["dropped"])
        p.update(records=s.records, recs=s.recommendations, bad=s.bad_frames, send_fail=s.send_failures,
                 learner=s.learner_errors, dropped=s.records_dropped_by_kernel)

    def _view(self, link) -> dict:
        names = link.hello.op_kinds if link.hello is not None else {}
        modes = {names.get(k, str(k)): v for k, v in link.stats.modes.items()}
        share = {names.get(k, str(k)): round(v, 4) for k, v in link.stats.ml_share.items()}
        rejects = {}
        if link.stats.rejects:
            rejects = {m.RejectReason(i).name.lower(): int(n) for i, n in enumerate(link.stats.rejects)
                       if n and i < len(m.RejectReason)}
        model = {}
        if link.learner is not None:
            try:
                model = link.learner.describe()
            except Exception:  # a learner bug must not take the daemon down
                model = {}
        return {"modes": modes, "ml_share": share, "rejects": rejects, "model": model}

    def _metrics(self, link) -> None:
        mt = self.metrics
        mt.connected.set(1 if link.endpoint.connected else 0)
        mt.kernel_clock.set(link.kernel_now)
        v = self._view(link)
        for name, mode in v["modes"].items():
            mt.mode.labels(name).set(int(m.Mode[mode.upper()]))
        for name, share in v["ml_share"].items():
            mt.ml_share.labels(name).set(share)
        for reason in m.RejectReason:
            mt.rejects.labels(reason.name.lower()).set(v["rejects"].get(reason.name.lower(), 0))
        err = v["model"].get("mae_log2_buckets")
        if isinstance(err, (int, float)):
            mt.model_error.set(err)
        obs = v["model"].get("observed_overwrites")
        if isinstance(obs, (int, float)):
            mt.model_obs.set(obs)

    def _stats(self, link, t: float) -> None:
        t0, r0 = self.last_stats
        rate = (self.totals["records"] - r0) / max(t - t0, 1e-9)
        self.last_stats = (t, self.totals["records"])
        if self.metrics is not None:
            self.metrics.records_rate.set(rate)
        s = link.stats
        v = self._view(link)
        event("agent.stats", connected=link.endpoint.connected, kernel_clock=link.kernel_now,
              records=self.totals["records"], records_per_s=round(rate),
              recommendations=self.totals["recommendations"], **self.rtt.quantiles(),
              rtt_superseded=self.rtt.superseded, modes=v["modes"], ml_share=v["ml_share"],
              rejects=v["rejects"], model=v["model"], bad_frames=s.bad_frames, send_failures=s.send_failures,
              learner_errors=s.learner_errors, dropped_by_kernel=s.records_dropped_by_kernel,
              connections=self.totals["connections"], faults=self.totals["faults"],
              channel_drops=getattr(link.endpoint, "drops", None),
              kernel_drops=getattr(link.endpoint, "kernel_drops", None))

    # -- faults --------------------------------------------------------------------------------------
    def _fault(self, link, t: float) -> None:
        since = t - self.hello_at
        if since < self.o.fault_after or (self.o.fault_for > 0 and since > self.o.fault_after + self.o.fault_for):
            return
        kind = self.o.fault
        if kind == "stall":
            if self.next_stall is None:
                self.next_stall = t
            if t < self.next_stall:
                return
            self.next_stall = t + self.o.stall_s + self.o.stall_every
            self._inject("stall", 1, seconds=self.o.stall_s)
            end = time.monotonic() + self.o.stall_s
            while time.monotonic() < end and not self.stop.is_set():
                time.sleep(0.05)  # no reads, no heartbeats: as silent as a stopped process
            return
        frames = self._flood(link) if kind == "flood" else self._garbage(link)
        sent = sum(1 for f in frames if link.endpoint.send(f))
        self._inject(kind, sent)

    def _inject(self, kind: str, n: int, **fields) -> None:
        if not n:
            return
        first = self.totals["faults"] == 0
        self.totals["faults"] += n
        if self.metrics is not None:
            self.metrics.faults.labels(kind).inc(n)
        if first or kind == "stall":
            event("agent.fault", kind=kind, frames=n if kind != "stall" else 0, **fields)

    def _next_epoch(self, link) -> int:
        name = link.hello.name
        self.agent.epochs[name] = self.agent.epochs.get(name, 0) + 1
        return self.agent.epochs[name]

    def _flood(self, link) -> list[bytes]:
        """Copies of the smallest recommendation sent so far, each with a
        fresh epoch: valid frames, far too many of them.  Nothing until the
        learner has sent one (a made-up payload would be malformed, a
        different fault)."""
        if not self.rtt.last_frames:
            return []
        base = m.decode(min(self.rtt.last_frames.values(), key=len))
        out = []
        for _ in range(self.o.burst):
            rec = m.Recommendation(base.op_kind, self._next_epoch(link), link.kernel_now + (1 << 22),
                                   base.words, base.model_id)
            out.append(m.encode(rec))
        return out

    def _garbage(self, link) -> list[bytes]:
        """Random bytes, frames with a corrupted header, recommendations for
        an op kind that does not exist and with a stale epoch."""
        out = []
        for i in range(self.o.burst):
            k = i % 4
            if k == 0:
                out.append(self.rng.integers(0, 256, int(self.rng.integers(1, 512)), dtype=np.uint8).tobytes())
            elif k == 1:
                f = bytearray(m.encode(m.Heartbeat(m.Sender.AGENT, 1, link.kernel_now)))
                f[8] ^= 0x5A  # the length field no longer matches
                out.append(bytes(f))
            elif k == 2:
                out.append(m.encode(m.Recommendation(0x7FF0, self._next_epoch(link), link.kernel_now + (1 << 22),
                                                     np.zeros(4, np.int64))))
            else:
                ops = sorted(link.hello.op_kinds) if link.hello is not None else []
                op = ops[0] if ops else 1
                out.append(m.encode(m.Recommendation(op, 1, link.kernel_now + (1 << 22), np.zeros(4, np.int64))))
        return out

    # -- running ------------------------------------------------------------------------------------
    def run(self) -> None:
        o = self.o
        if self.metrics is not None:
            self.port = self.metrics.serve(o.metrics_port, o.metrics_addr)
            event("agent.metrics", addr=o.metrics_addr, port=self.port)
        event("agent.start", pid=os.getpid(), transport=o.transport, path=self.path, learner=o.learner,
              checkpoint=o.checkpoint, fault=o.fault, resumed=sorted(self.agent.saved))
        try:
            self.agent.run(self.connect, stop=self.stop, duration_s=o.duration, reconnect_s=o.reconnect_s,
                           on_step=self.on_step)
        finally:
            if self.metrics is not None:
                self.metrics.close()
            event("agent.stop", records=self.totals["records"], recommendations=self.totals["recommendations"],
                  connections=self.totals["connections"], faults=self.totals["faults"], **self.rtt.quantiles())


def _default_path(transport: str) -> str:
    # the kernel side's default (kept here so the daemon does not import the kernel side)
    if transport == "shm":
        from ..transport.shm_region import default_path

        return default_path("kernelml-lfs")
    import tempfile

    d = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(d, f"kernelml-lfs-{os.getuid()}.sock")


def parse_options(items: list[str]) -> dict:
    """``KEY=VALUE`` strings -> learner options (ints, floats, true/false, else strings)."""
    out = {}
    for it in items:
        key, sep, val = it.partition("=")
        if not sep or not key:
            raise ValueError(f"learner option {it!r} is not KEY=VALUE")
        v: object = val
        for conv in (int, float):
            try:
                v = conv(val)
                break
            except ValueError:
                continue
        if val.lower() in ("true", "false"):
            v = val.lower() == "true"
        out[key.replace("-", "_")] = v
    return out
