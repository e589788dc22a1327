"""The agent with the toy subsystem: end to end, adversaries, restarts, checkpoints."""

import numpy as np
import pytest

from kernelml.agent import Agent
from kernelml.agent.checkpoint import load_checkpoint
from kernelml.bench.toy_run import run_toy
from kernelml.kernel.toy.dispatch import Dispatch, make_proxy
from kernelml.transport import InProcChannel
from kernelml.uapi import messages as m
from kernelml.uapi import toy as schema
from kernelml.uapi.messages import Mode


def test_good_learner_reaches_recommendation_and_beats_human():
    r = run_toy(20_000, learner="toy-table", seed=0)
    assert r["mode"] == "recommendation"
    assert [t[3] for t in r["timeline"]] == ["START", "RECOVERED", "MATURE", "BETTER"]
    assert r["mean_cost_us"] < r["human_only_cost_us"] * 0.85


@pytest.mark.parametrize("adversary", ["toy-random", "toy-inverted"])
def test_adversaries_are_held_in_learning_and_cost_little(adversary):
    for seed in range(3):
        r = run_toy(40_000, learner=adversary, seed=seed)
        alone = run_toy(40_000, learner=None, seed=seed)  # the same job stream, human-made only
        assert r["mode"] == "learning"
        assert "BETTER" not in [t[3] for t in r["timeline"]]
        assert r["mean_cost_us"] <= alone["mean_cost_us"] * 1.03


def test_no_agent_means_emergency_and_human_cost():
    r = run_toy(5_000, learner=None)
    assert r["mode"] == "emergency" and r["ml_share_pm"] == 0


def test_agent_killed_goes_to_emergency_and_keeps_running():
    r = run_toy(20_000, kill_agent_at=8_000)
    reasons = [t[3] for t in r["timeline"]]
    assert reasons[-1] == "AGENT_SILENT" and r["mode"] == "emergency"


def test_slow_agent_still_helps_and_never_blocks():
    r = run_toy(20_000, delay=500)
    assert r["mode"] == "recommendation"


def test_drift_demotes_then_recovers():
    r = run_toy(30_000, drift_at=10_000)
    reasons = [t[3] for t in r["timeline"]]
    assert "NOT_BETTER" in reasons or "WORSE" in reasons
    assert r["mode"] == "recommendation"


def drive(proxy, sub, agent, channel, jobs):
    for j in range(jobs):
        channel.set_time(sub.now)
        sub.step()
        if agent is not None and j % 16 == 0:
            agent.step()


def test_checkpoint_resume_and_proxy_restart(tmp_path):
    ckpt = str(tmp_path / "agent.ckpt")
    ch = InProcChannel()
    proxy = make_proxy(ch.kernel)
    sub = Dispatch(proxy, seed=3)
    agent = Agent("toy-table", checkpoint=ckpt, checkpoint_every=4, recommend_every=256)
    agent.attach(ch.agent)
    drive(proxy, sub, agent, ch, 6_000)
    agent.save()
    state = load_checkpoint(ckpt)
    learned = state["learners"][schema.NAME].n.sum()
    assert learned > 1000 and state["epochs"][schema.NAME] > 0

    # a restarted agent resumes from its checkpoint: its first table is already good,
    # and its epochs continue above what the kernel side accepted
    agent2 = Agent("toy-table", checkpoint=ckpt, recommend_every=256)
    assert agent2.saved[schema.NAME].n.sum() == learned
    ch.reconnect()
    agent2.attach(ch.agent)
    drive(proxy, sub, agent2, ch, 4_000)
    assert sum(proxy.rejects) == 0
    assert proxy.mode(schema.OP_DISPATCH) in (Mode.COLLABORATION, Mode.RECOMMENDATION, Mode.LEARNING)

    # the kernel side restarts (new proxy, new boot id, epoch 0): the agent follows the new HELLO
    ch2 = InProcChannel()
    proxy2 = make_proxy(ch2.kernel)
    proxy2.boot_id = 2
    sub2 = Dispatch(proxy2, seed=3)
    agent2.links.clear()
    agent2.attach(ch2.agent)
    drive(proxy2, sub2, agent2, ch2, 6_000)
    assert agent2.links[0].stats.hellos == 1
    assert proxy2.mode(schema.OP_DISPATCH) == Mode.RECOMMENDATION
    assert sum(proxy2.rejects) == 0


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.ckpt"
    p.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="unreadable"):
        Agent("toy-table", checkpoint=str(p))


def test_agent_survives_garbage_from_kernel_side_and_learner_errors():
    ch = InProcChannel()
    agent = Agent("toy-table")
    link = agent.attach(ch.agent)
    ch.kernel.send(b"garbage")
    ch.kernel.send(m.encode(m.Hello(schema.SUBSYSTEM_ID, schema.NAME, 1)))
    ch.kernel.send(m.encode(m.Telemetry(schema.SUBSYSTEM_ID, schema.REC_JOB, np.zeros((2, 3), np.int64))))
    agent.step()
    assert link.stats.bad_frames == 1 and link.stats.hellos == 1
    assert link.stats.learner_errors == 1  # wrong record width: the learner raised, the agent went on


def test_unknown_subsystem_is_a_clear_error():
    ch = InProcChannel()
    agent = Agent()
    agent.attach(ch.agent)
    ch.kernel.send(m.encode(m.Hello(99, "nosuch", 1)))
    with pytest.raises(LookupError, match="nosuch"):
        agent.step()
