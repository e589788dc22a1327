"""Run the toy dispatch subsystem with an in-process agent (deterministic)."""

from __future__ import annotations

from ..agent import Agent
from ..kernel.toy.dispatch import Dispatch, make_proxy
from ..transport import InProcChannel
from ..uapi import toy as schema
from ..uapi.messages import Mode, Reason


def run_toy(jobs: int = 20_000, learner: str | None = "toy-table", seed: int = 0, delay: int = 0,
            agent_every: int = 16, drift_at: int | None = None, kill_agent_at: int | None = None,
            progress=None) -> dict:
    """Simulate ``jobs`` jobs; the agent (if any) is stepped every ``agent_every`` jobs."""
    channel = InProcChannel(delay=delay)
    proxy = make_proxy(channel.kernel)
    sub = Dispatch(proxy, seed=seed, drift_at=drift_at)
    agent = Agent(learner, seed=seed, recommend_every=256, heartbeat_every=128) if learner else None
    if agent is not None:
        agent.attach(channel.agent)
    for j in range(jobs):
        channel.set_time(sub.now)
        sub.step()
        if agent is not None and j % agent_every == 0:
            if kill_agent_at is not None and j >= kill_agent_at:
                agent = None
            else:
                agent.step()
        if progress is not None and j % 1024 == 0:
            progress(j)
    sub.flush()
    trs = proxy.transitions(schema.OP_DISPATCH)
    fb = proxy.feedback(schema.OP_DISPATCH, sub.now)
    return {
        "jobs": jobs,
        "mean_cost_us": sum(sub.total_cost) // max(1, jobs),
        "human_only_cost_us": int(sum(sub.mean_us[c, c % schema.N_SERVERS] for c in range(schema.N_CLASSES))
                                  // schema.N_CLASSES),
        "best_cost_us": int(sub.mean_us.min(axis=1).sum() // schema.N_CLASSES),
        "ml_share_pm": proxy.ml_share_pm(schema.OP_DISPATCH),
        "mode": Mode(proxy.mode(schema.OP_DISPATCH)).name.lower(),
        "timeline": [(t.at, Mode(t.src).name.lower(), Mode(t.dst).name.lower(), Reason(t.reason).name)
                     for t in trs],
        "rejects": list(fb.rejects),
        "human_mean_ppm": fb.human_mean,
        "ml_mean_ppm": fb.ml_mean,
    }
