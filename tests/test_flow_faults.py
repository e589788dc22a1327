"""Faults survived by the full flow: the kernel side and the agent as separate
processes over shared memory or a Unix socket.

Each test drives real processes and follows the kernel side's status lines;
waits are generous and nothing is asserted about timing.  The kernel side
writes a 64 MiB device without end and is stopped with SIGTERM (its final
status line carries the invariant checks); every process is stopped and every
file removed at the end.
"""

import signal

import pytest

from flow_helpers import Flow, assert_intact, stop_kernel, wait_mode, wait_status
from kernelml.flow.procs import wait_for

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def flow(tmp_path, request):
    f = Flow(tmp_path, getattr(request, "param", "shm"))
    yield f
    f.close()


EMERGENCY_SILENT = ("agent_silent", "outbox_overflow")


def _clock(watch):
    return watch.last()["clock"]


@pytest.mark.parametrize("flow", ["shm", "unix"], indirect=True)
def test_agent_killed_goes_silent_then_resumes_from_checkpoint(flow):
    kernel, kw = flow.kernel()
    ckpt = f"{flow.dir}/agent.ckpt"
    agent, aw = flow.agent("--checkpoint", ckpt, "--checkpoint-every", "0.3")
    wait_mode(kw, "learning", [kernel])
    # a checkpoint that holds the lfs learner
    assert wait_for(lambda: "lfs" in (aw.last("agent.checkpoint") or {}).get("learners", []), 90, alive=[agent])
    agent.kill()  # SIGKILL: no goodbye, no final checkpoint
    # on a busy machine the outbox may already have overflowed (an earlier emergency trigger, the
    # reason then stays); either way the kernel side must see the agent silent and gone
    st = wait_mode(kw, "emergency", [kernel],
                   extra=lambda s: "agent_silent" in s["health"] and not s["agent"]["connected"])
    assert st["mode_reason"]["placement"] in EMERGENCY_SILENT
    assert st["mode_reason"]["victim"] in EMERGENCY_SILENT
    at = _clock(kw)
    wait_mode(kw, "emergency", [kernel], extra=lambda s: s["clock"] > at + (1 << 20))  # keeps going alone
    agent2, aw2 = flow.agent("--checkpoint", ckpt)
    st = wait_mode(kw, "learning", [kernel, agent2])
    assert st["mode_reason"]["placement"] == "recovered"
    start = aw2.last("agent.start")
    assert start["resumed"] == ["lfs"]  # the restarted agent resumed from its checkpoint
    final = stop_kernel(kernel, kw)
    assert_intact(final)
    timeline = final["mode_timeline"]["placement"]
    into = [i for i, (_at, _src, dst, r) in enumerate(timeline) if dst == "emergency" and r in EMERGENCY_SILENT]
    assert into, timeline
    assert "recovered" in [r for *_x, r in timeline[into[-1] + 1:]], timeline


def test_agent_stopped_past_the_deadline_then_continued(flow):
    kernel, kw = flow.kernel()
    agent, _ = flow.agent()
    wait_mode(kw, "learning", [kernel])
    agent.signal(signal.SIGSTOP)
    at = _clock(kw)
    st = wait_mode(kw, "emergency", [kernel], extra=lambda s: "agent_silent" in s["health"])
    assert st["clock"] > at + (1 << 20)  # the kernel side kept writing past the deadline: it never blocked
    assert st["mode_reason"]["placement"] in ("agent_silent", "outbox_overflow")
    agent.signal(signal.SIGCONT)
    st = wait_mode(kw, "learning", [kernel, agent])
    assert st["mode_reason"]["placement"] == "recovered"
    final = stop_kernel(kernel, kw)
    assert_intact(final)


@pytest.mark.parametrize("fault, reason", [("flood", "flood"), ("garbage", "malformed")])
def test_flood_and_garbage_are_rejected_and_the_kernel_side_keeps_going(flow, fault, reason):
    # the run is endless (its length in wall time must not decide whether the agent had time
    # to misbehave); the kernel side must reject, fall to emergency and keep writing
    kernel, kw = flow.kernel("--wait-agent", "60")
    agent, aw = flow.agent("--fault", fault, "--fault-after", "0.5")
    st = wait_mode(kw, "emergency", [kernel], extra=lambda s: s["mode_reason"]["placement"] == "invalid_share")
    assert st["rejects"].get(reason, 0) > 0
    at = _clock(kw)
    wait_status(kw, lambda s: s["clock"] > at + (1 << 20), [kernel])  # it never waited on the agent
    final = stop_kernel(kernel, kw)
    assert_intact(final)
    assert final["rejects"].get(reason, 0) > 0
    assert "invalid_share" in [r for *_x, r in final["mode_timeline"]["placement"]]
    assert wait_for(lambda: aw.last("agent.fault"), 30), aw.lines[-3:]  # logged at its first injection


def test_a_bounded_run_completes_with_every_write_measured(flow):
    kernel, kw = flow.kernel(writes=["--writes", "3000000"])
    rc = kernel.wait(180)
    assert rc == 0, kernel.log_tail()
    final = kw.last("final")
    assert final["reason"] == "done" and final["completed"]
    assert_intact(final)
    assert final["result"]["measured_writes"] == 3_000_000


@pytest.mark.parametrize("flow", ["shm", "unix"], indirect=True)
def test_kernel_side_restarted_agent_reconnects(flow):
    kernel, kw = flow.kernel()
    agent, aw = flow.agent()
    wait_mode(kw, "learning", [kernel, agent])
    kernel.kill()  # SIGKILL: the socket or region file stays behind, stale
    kernel2, kw2 = flow.kernel()  # replaces the stale file
    st = wait_mode(kw2, "learning", [kernel2, agent])
    assert st["agent"]["connected"] and st["mode_reason"]["placement"] == "recovered"
    final = stop_kernel(kernel2, kw2)
    assert_intact(final)
    assert agent.alive()
    aw.poll()
    hellos = [o for o in aw.lines if o.get("msg", "").startswith("kernel side lfs")]
    assert len({h["msg"] for h in hellos}) >= 2  # two kernel sides, two boot ids
