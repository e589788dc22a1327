"""Sample sessions: what a subsystem's kernel side publishes in a short run
with no agent attached (HELLO, TELEMETRY, FEEDBACK...), as decoded messages.

Learners are developed and conformance-tested against these: they are
exactly what a learner would receive, nothing more.
"""

from __future__ import annotations

from ..registry import Registry
from ..transport import InProcChannel
from ..uapi import messages as m

SESSIONS = Registry("sample session", {
    "toy-dispatch": "kernelml.bench.samples:toy_session",
    "damon": "kernelml.bench.damon_ml:sample_session",
    "lfs": "kernelml.bench.gc_ml:sample_session",
    "readahead": "kernelml.bench.readahead_run:sample_session",
})


def drain(channel: InProcChannel) -> list:
    channel.set_time(10**18)
    out = []
    while True:
        frames = channel.agent.recv(1024)
        if not frames:
            return out
        out += [m.decode(f) for f in frames]


def toy_session(seed: int = 0, jobs: int = 2_000) -> list:
    from ..kernel.toy.dispatch import Dispatch, make_proxy

    ch = InProcChannel(capacity=1 << 16)
    proxy = make_proxy(ch.kernel, outbox_capacity=1 << 14)
    sub = Dispatch(proxy, seed=seed)
    for _ in range(jobs):
        sub.step()
    sub.flush()
    return drain(ch)
