"""The user-space agent: connects to one or more proxies, learns from their
telemetry, sends recommendations and heartbeats, follows their feedback,
survives proxy restarts, and checkpoints its learners.

The agent reaches the kernel side only through uapi frames on a transport
endpoint.  ``step()`` never blocks (deterministic runs drive it in lock-step
with the simulated kernel); ``run()`` is the daemon loop that waits on the
channel and reconnects when the kernel side goes away.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..uapi import messages as m
from .checkpoint import load_checkpoint, save_checkpoint
from .learner import Learner
from .learners import LEARNERS

log = logging.getLogger("kernelml.agent")

# subsystem name (from HELLO) -> default learner name
DEFAULT_LEARNERS = {"toy-dispatch": "toy-table", "lfs": "lfs-lifetime"}


@dataclass
class LinkStats:
    frames_in: int = 0
    frames_out: int = 0
    bad_frames: int = 0
    records: int = 0
    records_dropped_by_kernel: int = 0
    recommendations: int = 0
    send_failures: int = 0
    learner_errors: int = 0
    hellos: int = 0
    modes: dict = field(default_factory=dict)  # op kind -> mode
    rejects: tuple = ()
    ml_share: dict = field(default_factory=dict)


class Link:
    """The agent's state for one connection to one proxy."""

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint
        self.hello: m.Hello | None = None
        self.learner: Learner | None = None
        self.kernel_now = 0
        self.last_rec = None
        self.last_hb = None
        self.last_hb_wall = 0.0
        self.hb_seq = 0
        self.stats = LinkStats()
        self.feedback: dict[int, m.Feedback] = {}


class Agent:
    """``learner``: a registered learner name used for every subsystem, a
    mapping subsystem name -> learner name, or a callable ``Hello -> Learner``.
    Intervals are in kernel clock ticks (as learnt from telemetry and
    heartbeats); ``heartbeat_period_s`` adds a wall-clock heartbeat for
    daemons (None in deterministic runs)."""

    def __init__(self, learner: str | dict | Callable[[m.Hello], Learner] | None = None, *,
                 learner_options: dict | None = None, seed: int = 0, recommend_every: int = 1024,
                 heartbeat_every: int = 256, heartbeat_period_s: float | None = None,
                 checkpoint: str | None = None, checkpoint_every: int = 64, max_frames: int = 256) -> None:
        self.learner_spec = learner
        self.learner_options = dict(learner_options or {})
        self.seed = seed
        self.recommend_every = recommend_every
        self.heartbeat_every = heartbeat_every
        self.heartbeat_period_s = heartbeat_period_s
        self.checkpoint_path = checkpoint
        self.checkpoint_every = checkpoint_every
        self.max_frames = max_frames
        self.links: list[Link] = []
        self.epochs: dict[str, int] = {}  # subsystem name -> last epoch sent
        self.saved: dict[str, Learner] = {}
        self.recs_since_checkpoint = 0
        if checkpoint:
            state = load_checkpoint(checkpoint)
            if state is not None:
                self.saved = state["learners"]
                self.epochs = state["epochs"]

    # -- connections -------------------------------------------------------
    def attach(self, endpoint) -> Link:
        link = Link(endpoint)
        self.links.append(link)
        return link

    def detach(self, link: Link) -> None:
        if link.learner is not None and link.hello is not None:
            self.saved[link.hello.name] = link.learner
        self.links.remove(link)

    def _make_learner(self, hello: m.Hello) -> Learner:
        if hello.name in self.saved:
            return self.saved[hello.name]
        spec = self.learner_spec
        if callable(spec):
            return spec(hello)
        if isinstance(spec, dict):
            name = spec.get(hello.name)
        else:
            name = spec or DEFAULT_LEARNERS.get(hello.name)
        if name is None:
            raise LookupError(f"no learner for subsystem {hello.name!r}")
        learner = LEARNERS.make(name, seed=self.seed, **self.learner_options)
        if learner.subsystem != hello.name:
            raise LookupError(f"learner {name!r} is for {learner.subsystem!r}, not {hello.name!r}")
        return learner

    # -- the non-blocking step -----------------------------------------------
    def step(self) -> int:
        """Handle what has arrived on every link and send what is due; never blocks."""
        n = 0
        for link in list(self.links):
            n += self._step_link(link)
        return n

    def _step_link(self, link: Link) -> int:
        frames = link.endpoint.recv(self.max_frames)
        for frame in frames:
            link.stats.frames_in += 1
            try:
                msg = m.decode(frame)
            except m.FrameError as exc:
                link.stats.bad_frames += 1
                log.debug("bad frame from kernel side: %s", exc)
                continue
            self._handle(link, msg)
        if link.hello is not None and link.learner is not None:
            self._maybe_recommend(link)
        self._maybe_heartbeat(link)
        return len(frames)

    def _handle(self, link: Link, msg) -> None:
        if isinstance(msg, m.Hello):
            link.stats.hellos += 1
            if link.learner is not None and link.hello is not None:
                self.saved[link.hello.name] = link.learner
            link.hello = msg
            link.kernel_now = msg.now
            link.last_rec = None
            self.epochs[msg.name] = max(self.epochs.get(msg.name, 0), msg.epoch)
            link.learner = self._make_learner(msg)
            self._call(link, link.learner.hello, msg)
            log.info("kernel side %s (boot %d) connected, %d op kinds", msg.name, msg.boot_id,
                     len(msg.op_kinds))
        elif isinstance(msg, m.Telemetry):
            link.kernel_now = max(link.kernel_now, msg.now)
            link.stats.records += msg.records.shape[0]
            link.stats.records_dropped_by_kernel += msg.dropped
            if link.learner is not None:
                self._call(link, link.learner.learn_many, msg.record_kind, msg.records)
        elif isinstance(msg, m.Heartbeat):
            link.kernel_now = max(link.kernel_now, msg.now)
        elif isinstance(msg, m.Feedback):
            link.kernel_now = max(link.kernel_now, msg.now)
            link.feedback[msg.op_kind] = msg
            link.stats.modes[msg.op_kind] = m.Mode(msg.mode).name.lower()
            link.stats.rejects = msg.rejects
            total = msg.human_decisions + msg.ml_decisions
            link.stats.ml_share[msg.op_kind] = msg.ml_decisions / total if total else 0.0
            if link.learner is not None:
                self._call(link, link.learner.on_feedback, msg)

    def _call(self, link: Link, fn, *args):
        try:
            return fn(*args)
        except Exception:  # a learner bug must not take the agent down
            link.stats.learner_errors += 1
            log.exception("learner error")
            return None

    def _maybe_recommend(self, link: Link) -> None:
        if link.last_rec is not None and link.kernel_now - link.last_rec < self.recommend_every:
            return
        link.last_rec = link.kernel_now
        advice = self._call(link, link.learner.recommend, link.kernel_now) or []
        name = link.hello.name
        for adv in advice:
            self.epochs[name] = self.epochs.get(name, 0) + 1
            rec = m.Recommendation(adv.op_kind, self.epochs[name], link.kernel_now + adv.ttl,
                                   np.asarray(adv.words, dtype=np.int64), adv.model_id)
            try:
                frame = m.encode(rec)
            except ValueError:
                link.stats.learner_errors += 1
                continue
            if self._send(link, frame):
                link.stats.recommendations += 1
                self.recs_since_checkpoint += 1
        if self.checkpoint_path and self.recs_since_checkpoint >= self.checkpoint_every:
            self.save()

    def _maybe_heartbeat(self, link: Link) -> None:
        due = link.last_hb is None or link.kernel_now - link.last_hb >= self.heartbeat_every
        if self.heartbeat_period_s is not None:
            due = due or time.monotonic() - link.last_hb_wall >= self.heartbeat_period_s
        if not due:
            return
        link.last_hb = link.kernel_now
        link.last_hb_wall = time.monotonic()
        link.hb_seq += 1
        sub = link.hello.subsystem if link.hello else 0
        self._send(link, m.encode(m.Heartbeat(m.Sender.AGENT, link.hb_seq, link.kernel_now, sub)))

    def _send(self, link: Link, frame: bytes) -> bool:
        ok = link.endpoint.send(frame)
        if ok:
            link.stats.frames_out += 1
        else:
            link.stats.send_failures += 1
        return ok

    # -- operator commands relayed to the proxy ---------------------------------
    def send_mode(self, link: Link, op_kind: int, action: m.ModeAction, mode: int = 0) -> bool:
        return self._send(link, m.encode(m.ModeCommand(op_kind, action, mode)))

    # -- checkpoints ---------------------------------------------------------------
    def save(self) -> None:
        if not self.checkpoint_path:
            return
        learners = dict(self.saved)
        for link in self.links:
            if link.learner is not None and link.hello is not None:
                learners[link.hello.name] = link.learner
        save_checkpoint(self.checkpoint_path, {"learners": learners, "epochs": dict(self.epochs)})
        self.recs_since_checkpoint = 0

    # -- the daemon loop ------------------------------------------------------------
    def run(self, connect: Callable[[], object], stop=None, duration_s: float | None = None,
            reconnect_s: float = 0.2, on_step: Callable[["Agent"], None] | None = None) -> None:
        """Serve one proxy: connect, step while frames come, reconnect when it
        goes away.  Stops when ``stop`` (a threading.Event) is set or after
        ``duration_s``.  Saves a checkpoint on the way out."""
        deadline = None if duration_s is None else time.monotonic() + duration_s

        def done() -> bool:
            return (stop is not None and stop.is_set()) or (deadline is not None and time.monotonic() >= deadline)

        try:
            while not done():
                try:
                    endpoint = connect()
                except OSError as exc:
                    log.info("kernel side not reachable (%s); retrying", exc)
                    time.sleep(reconnect_s)
                    continue
                link = self.attach(endpoint)
                try:
                    while not done() and endpoint.connected:
                        endpoint.wait(0.01)
                        self._step_link(link)
                        if on_step is not None:
                            on_step(self)
                finally:
                    self.detach(link)
                    endpoint.close()
                if not done():
                    log.info("kernel side went away; reconnecting")
                    time.sleep(reconnect_s)
        finally:
            self.save()
