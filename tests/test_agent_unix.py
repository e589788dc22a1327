"""The agent daemon over a real Unix socket: it connects, helps, and follows
a restarted kernel side (new proxy, new boot id) by reconnecting."""

import threading
import time

import pytest

from kernelml.agent import Agent
from kernelml.kernel.toy.dispatch import Dispatch, make_proxy
from kernelml.transport.unix import UnixClient, UnixServer
from kernelml.uapi import toy as schema
from kernelml.uapi.messages import Mode


def run_kernel(path, boot_id, until, jobs_max=400_000):
    """The kernel side: runs jobs (pacing itself a little) until ``until(proxy)`` or jobs_max."""
    server = UnixServer(path)
    proxy = make_proxy(server, agent_deadline=100_000)
    proxy.boot_id = boot_id
    sub = Dispatch(proxy, seed=boot_id)
    try:
        while sub.now < jobs_max and not until(proxy):
            for _ in range(64):
                sub.step()
            time.sleep(0.0002)
        sub.flush()
        return proxy
    finally:
        server.close()


def not_emergency(proxy):
    return proxy.mode(schema.OP_DISPATCH) != Mode.EMERGENCY and proxy.kinds[schema.OP_DISPATCH].counter > 5_000


@pytest.mark.timeout(120)
def test_agent_reconnects_to_restarted_kernel_side(tmp_path):
    path = str(tmp_path / "kml.sock")
    agent = Agent("toy-table", recommend_every=256, heartbeat_every=256, heartbeat_period_s=0.01,
                  checkpoint=str(tmp_path / "agent.ckpt"))
    stop = threading.Event()

    def connect():
        return UnixClient(path, timeout=1.0)

    t = threading.Thread(target=agent.run, kwargs={"connect": connect, "stop": stop, "reconnect_s": 0.05},
                         daemon=True)
    t.start()
    try:
        first = run_kernel(path, 1, not_emergency)
        assert not_emergency(first), "the kernel side never left emergency with the agent attached"
        assert sum(first.rejects) == 0
        second = run_kernel(path, 2, not_emergency)  # the kernel side restarted
        assert not_emergency(second), "the agent did not come back after the kernel side restarted"
        assert sum(second.rejects) == 0
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
    assert (tmp_path / "agent.ckpt").exists()  # saved on the way out
