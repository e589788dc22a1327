"""GC with the ML proxy: the LFS device, its proxy, an in-process channel and
the agent, stepped in lock-step so a run is deterministic under its seed.

:func:`run_gc_ml` is :func:`~kernelml.bench.gc_run.run_gc` with policy
``ml``: the human-made fallback is the configured victim policy and
placement (default: the F2FS composite with its hot/warm/cold logs), the
agent runs the named learner.  The result adds ``mode_timeline`` (every
transition of each op kind), ``modes`` (sampled over time for the plots),
``ml_share`` (per op kind), ``rejects`` (per reason) and the agent's view of
its model.
"""

from __future__ import annotations

from ..agent import Agent
from ..kernel.lfs.ml import LfsMlConfig, LfsProxy
from ..transport import InProcChannel
from ..uapi import lfs as schema
from ..uapi.messages import Mode, Reason, RejectReason
from .gc_run import run_gc

LEARNER_ALIASES = {"random": "lfs-random", "inverted": "lfs-inverted"}
DEFAULT_LEARNER = "lfs-lifetime"
OPS = {schema.OP_PLACEMENT: "placement", schema.OP_VICTIM: "victim"}


class MlController:
    """The run_gc controller: decides placement per run of writes, moves the
    channel's clock, polls the proxy and steps the agent."""

    def __init__(self, sim, learner: str | None, seed: int = 0, delay: int = 0,
                 config: LfsMlConfig | None = None, agent_every: int = 1, samples: int = 400,
                 expect_writes: int = 0, learner_options: dict | None = None) -> None:
        self.channel = InProcChannel(delay=delay, capacity=1 << 16)
        self.lp = LfsProxy(sim, sim.chooser, self.channel.kernel, config)
        self.agent = None
        if learner is not None:
            name = LEARNER_ALIASES.get(learner, learner)
            every = max(1 << 12, min(1 << 16, sim.n_lbas // 4))  # a quarter of the device, at most 64 Ki
            self.agent = Agent(name, seed=seed, recommend_every=every, heartbeat_every=every // 4,
                               learner_options=learner_options)
            self.agent.attach(self.channel.agent)
        self.agent_every = max(1, agent_every)
        self.parts = 0
        self.sample_every = max(1 << 14, expect_writes // max(1, samples)) if expect_writes else 1 << 16
        self.next_sample = 0
        self.modes: list[list[int]] = []

    def next_part(self, max_writes: int) -> int:
        self.channel.set_time(self.lp.now())
        return self.lp.next_part(max_writes)

    def after_part(self) -> None:
        now = self.lp.now()
        self.channel.set_time(now)
        self.lp.poll(now)
        self.parts += 1
        if self.agent is not None and self.parts % self.agent_every == 0:
            self.agent.step()
        if now >= self.next_sample:
            self.next_sample = now + self.sample_every
            p = self.lp.proxy
            self.modes.append([now, int(p.mode(schema.OP_PLACEMENT)), int(p.mode(schema.OP_VICTIM)),
                               p.ml_share_pm(schema.OP_PLACEMENT), p.ml_share_pm(schema.OP_VICTIM)])

    def result(self) -> dict:
        p = self.lp.proxy
        timeline = {name: [[t.at, Mode(t.src).name.lower(), Mode(t.dst).name.lower(),
                            Reason(t.reason).name.lower()] for t in p.transitions(op)]
                    for op, name in OPS.items()}
        out = {
            "mode_timeline": timeline,
            "modes": self.modes,
            "ml_share": {name: p.ml_share_pm(op) / 1000 for op, name in OPS.items()},
            "final_mode": {name: Mode(p.mode(op)).name.lower() for op, name in OPS.items()},
            "rejects": {r.name.lower(): int(p.rejects[r]) for r in RejectReason},
            "efficiency": {name: {"human_mean_ppm": f.human_mean, "ml_mean_ppm": f.ml_mean,
                                  "human_batches": f.human_batches, "ml_batches": f.ml_batches}
                           for op, name in OPS.items() for f in [p.feedback(op, self.lp.now())]},
            "telemetry_dropped_frames": p.outbox.dropped,
        }
        if self.agent is not None and self.agent.links:
            link = self.agent.links[0]
            out["agent"] = {"learner": type(link.learner).__name__ if link.learner else None,
                            "recommendations": link.stats.recommendations,
                            "records": link.stats.records,
                            "model": link.learner.describe() if link.learner else {}}
        return out


def run_gc_ml(workload=None, *, learner: str | None = DEFAULT_LEARNER, fallback: str = "f2fs",
              placement: str | None = None, seed: int = 0, delay: int = 0,
              config: LfsMlConfig | None = None, learner_options: dict | None = None, **kw) -> dict:
    """One GC run with the ML proxy (see module docstring).  ``fallback`` is
    the human-made victim policy (and, with ``placement``, placement)."""
    writes = kw.get("writes")
    n = kw.get("n_blocks") or (1 << 18)
    expect = int(writes) if writes is not None else 8 * int(n)

    def make(sim):
        return MlController(sim, learner, seed=seed, delay=delay, config=config,
                            expect_writes=expect, learner_options=learner_options)

    res = run_gc(workload, policy=fallback, placement=placement, seed=seed, controller=make, **kw)
    res["fallback_policy"] = res["policy"]
    res["policy"] = "ml"
    res["learner"] = learner
    return res


def sample_session(seed: int = 0, n_blocks: int = 1 << 13, writes: int = 1 << 16) -> list:
    """What the LFS kernel side publishes on a small hot/cold device with no
    agent attached (for learner development and the conformance suite)."""
    from .samples import drain

    holder = {}

    def make(sim):
        holder["c"] = c = MlController(sim, None, seed=seed, expect_writes=writes)
        return c

    run_gc("hotcold-90-10", policy="f2fs", controller=make, n_blocks=n_blocks, writes=writes, seed=seed,
           samples=0, blocks_per_seg=64)
    return drain(holder["c"].channel)
