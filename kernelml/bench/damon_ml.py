"""Run the ``ml`` reclaim policy with an agent, in-process and in lock-step.

:func:`run_ml` simulates DAMON_RECLAIM with the ML proxy (policy ``ml``)
on a :class:`~kernelml.bench.damon_run.Trace`, with a user-space
:class:`~kernelml.agent.Agent` on an :class:`~kernelml.transport.InProcChannel`.
The kernel side publishes at every aggregation and lets the agent run
right after (the policy's ``peer`` hook), so a run is deterministic under
its seed; ``delay_us`` delays every frame by that much simulated time (a
slow agent).  The agent learns only from the frames it receives.

Failure injection for the safety tests: ``kill_agent_at_us`` (the agent
stops), ``garbage`` (an agent that sends malformed and out-of-range
recommendations instead of a learner's).

Learner names: any registered ``damon-*`` learner, or the short forms
``reuse``, ``random``, ``inverted``; ``none`` runs without an agent.
"""

from __future__ import annotations

import numpy as np

from ..agent import Agent
from ..transport import InProcChannel
from ..uapi import damon as schema
from ..uapi import messages as m
from . import damon_run as dr

ALIASES = {"reuse": "damon-reuse", "random": "damon-random", "inverted": "damon-inverted"}
DEFAULT_LEARNER = "damon-reuse"


def learner_name(name: str | None) -> str | None:
    """The registered learner for a CLI name (None / 'none': no agent)."""
    if name is None or name == "none":
        return None
    return ALIASES.get(name, name)


class GarbageAgent:
    """Sends malformed frames and out-of-range recommendations, and heartbeats
    (so the proxy hears a live peer that talks nonsense)."""

    def __init__(self, endpoint, seed: int = 0) -> None:
        self.endpoint = endpoint
        self.rng = np.random.default_rng(seed)
        self.epoch = 0
        self.sent = 0

    def step(self, now: int) -> None:
        self.epoch += 1
        kind = self.epoch % 4
        if kind == 0:
            frame = bytes(self.rng.integers(0, 256, 40, dtype=np.uint8))
        elif kind == 1:  # out of the target and unaligned
            words = [schema.VERSION, 1, 0, 0, 1 << 50, (1 << 50) + 7, 10**9]
            frame = m.encode(m.Recommendation(schema.OP_RECLAIM, self.epoch, now + 10**6, np.array(words)))
        elif kind == 2:  # wrong length
            frame = m.encode(m.Recommendation(schema.OP_RECLAIM, self.epoch, now + 10**6, np.arange(7)))
        else:  # not in priority order
            words = [schema.VERSION, 2, 0, 0, 0, 4096, 1, 8192, 12288, 10**12]
            frame = m.encode(m.Recommendation(schema.OP_RECLAIM, self.epoch, now + 10**6, np.array(words)))
        self.endpoint.send(frame)
        self.endpoint.send(m.encode(m.Heartbeat(m.Sender.AGENT, self.epoch, now, schema.SUBSYSTEM_ID)))
        self.sent += 1


class Wiring:
    """The channel, the agent and the ``peer`` hook for one run."""

    def __init__(self, learner: str | None = DEFAULT_LEARNER, seed: int = 0, delay_us: int = 0,
                 kill_agent_at_us: int | None = None, garbage: bool = False, learner_options: dict | None = None,
                 recommend_every_us: int = 100_000, heartbeat_every_us: int = 500_000) -> None:
        self.channel = InProcChannel(delay=delay_us, capacity=4096)
        self.learner = learner_name(learner)
        self.kill_at = kill_agent_at_us
        self.agent = None
        self.garbage = GarbageAgent(self.channel.agent, seed) if garbage else None
        if self.learner is not None and not garbage:
            self.agent = Agent(self.learner, seed=seed, learner_options=learner_options,
                               recommend_every=recommend_every_us, heartbeat_every=heartbeat_every_us,
                               max_frames=4096)
            self.link = self.agent.attach(self.channel.agent)
        self.steps = 0

    def peer(self, now: int) -> None:
        self.channel.set_time(now)
        if self.kill_at is not None and now >= self.kill_at:
            return
        if self.agent is not None:
            self.agent.step()
        elif self.garbage is not None:
            self.garbage.step(now)
        self.steps += 1

    def params(self) -> dict:
        return {"endpoint": self.channel.kernel, "peer": self.peer}

    def summary(self) -> dict:
        out = {"learner": self.learner if self.garbage is None else "garbage", "agent_steps": self.steps}
        if self.agent is not None:
            st = self.link.stats
            out["agent"] = {"frames_in": st.frames_in, "frames_out": st.frames_out, "bad_frames": st.bad_frames,
                            "records": st.records, "recommendations": st.recommendations,
                            "learner_errors": st.learner_errors}
            if self.link.learner is not None:
                out["model"] = self.link.learner.describe()
        return out


def run_ml(trace: dr.Trace, learner: str | None = DEFAULT_LEARNER, *, seed: int = 0, device: str = "zram",
           target_saving_pct: int | None = None, watermarks: bool = True, params: dict | None = None,
           delay_us: int = 0, kill_agent_at_us: int | None = None, garbage: bool = False,
           learner_options: dict | None = None, progress=None, check: bool = False, series_us: int = 0) -> dict:
    """Simulate policy ``ml`` with an agent running ``learner``; the result of
    :func:`~kernelml.bench.damon_run.run_policy` plus the proxy's story:
    ``mode``, ``mode_timeline``, ``ml_share_pm``, ``rejects``."""
    w = Wiring(learner, seed=seed, delay_us=delay_us, kill_agent_at_us=kill_agent_at_us, garbage=garbage,
               learner_options=learner_options)
    kw = dict(params or {})
    kw.update(w.params())
    r = dr.run_policy(trace, "ml", seed=seed, device=device, target_saving_pct=target_saving_pct,
                      watermarks=watermarks, params=kw, progress=progress, check=check, series_us=series_us)
    ml = r["policy_stats"].get("ml", {})
    r.update({k: ml.get(k) for k in ("mode", "mode_timeline", "ml_share_pm", "rejects", "decisions")})
    r.update(w.summary())
    return r


_SESSIONS: dict = {}


def sample_session(seed: int = 0) -> list:
    """What the ``damon`` kernel side publishes in a short run with no agent
    (HELLO, TELEMETRY of every record kind, FEEDBACK), decoded: a shifting
    working set over 2,048 pages for 40 s with ``min_age`` 2 s and a 30 %
    target, so that pageouts and refaults happen.  Cached per seed (the
    messages are immutable dataclasses; do not modify their arrays)."""
    if seed in _SESSIONS:
        return _SESSIONS[seed]
    from .samples import drain

    rng = np.random.default_rng(seed)
    n, rate, dur = 2048, 20_000, 40
    times = np.arange(dur * rate, dtype=np.int64) * 1_000_000 // rate
    base = ((times // 4_000_000) * 613) % (n - 256)
    pages = base + rng.integers(0, 256, times.shape[0])
    spread = rng.random(times.shape[0]) < 0.1
    pages[spread] = rng.integers(0, n, int(spread.sum()))
    tr = dr.from_arrays("sample", np.concatenate([np.arange(n, dtype=np.int64) * 10, times + n * 10]),
                        np.concatenate([np.arange(n), pages]))
    ch = InProcChannel(capacity=1 << 16)
    dr.run_policy(tr, "ml", seed=seed, target_saving_pct=30,
                  params={"endpoint": ch.kernel, "min_age_us": 2_000_000, "proxy": {"outbox_capacity": 1 << 14}})
    msgs = drain(ch)
    _SESSIONS[seed] = msgs
    return msgs
