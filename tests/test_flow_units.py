"""The flow's pieces in one process: status lines, the telemetry sample, the
kernel side without an agent, round-trip matching, option checks."""

import os

import numpy as np
import pytest

from kernelml.flow.agentd import AgentOptions, RoundTrips, StampedEndpoint, parse_options
from kernelml.flow.kernel_side import KernelOptions, run_kernel
from kernelml.flow.live import baseline_at
from kernelml.flow.status import StatusTail, StatusWriter, read_all
from kernelml.kernel.lfs.ml import sampled
from kernelml.transport import InProcChannel
from kernelml.uapi import messages as m

SMALL = dict(workload="hotcold-90-10", blocks=16384, writes=200_000, status_every=0.05, check_every=0.2)


def test_status_tail_reads_whole_lines_only(tmp_path):
    path = str(tmp_path / "s.jsonl")
    tail = StatusTail(path)
    assert tail.read() == []  # no file yet
    w = StatusWriter(path)
    w.write("start", a=1)
    with open(path, "a") as f:
        f.write('{"event": "status", "b"')  # a torn line: not returned yet
    got = tail.read()
    assert [o["event"] for o in got] == ["start"] and got[0]["a"] == 1 and "t" in got[0]
    with open(path, "a") as f:
        f.write(': 2}\nnot json\n')
    got = tail.read()
    assert got == [{"event": "status", "b": 2}] and tail.bad == 1
    w.write("final", c=np.int64(3), d=np.arange(2))
    assert read_all(path)[-1]["c"] == 3 and read_all(path)[-1]["d"] == [0, 1]
    w.close()


def test_telemetry_sample_is_by_lba_and_deterministic():
    lba = np.arange(1 << 16, dtype=np.int64)
    assert sampled(lba, 0).all()
    for shift in (1, 2, 4):
        s = sampled(lba, shift)
        assert abs(s.mean() - 1 / (1 << shift)) < 0.01
        assert (sampled(lba[::-1], shift) == s[::-1]).all()  # a property of the LBA, not of its position
    # nested: every LBA in the 1/4 sample is in the 1/2 sample
    assert not (sampled(lba, 2) & ~sampled(lba, 1)).any()


@pytest.mark.parametrize("transport", ["shm", "unix"])
def test_kernel_side_alone_runs_to_the_end_and_cleans_up(tmp_path, transport):
    path = str(tmp_path / ("k.kml" if transport == "shm" else "k.sock"))
    status = str(tmp_path / "status.jsonl")
    final = run_kernel(KernelOptions(transport=transport, path=path, status=status, **SMALL))
    assert not os.path.exists(path)  # the channel file is removed
    lines = read_all(status)
    assert lines[0]["event"] == "start" and lines[0]["deadlines_ticks"]["agent_deadline"] == 1 << 20
    assert lines[-1] == final and final["event"] == "final"
    assert final["reason"] == "done" and final["ok"] and final["invariants"]["ok"]
    assert final["result"]["measured_writes"] == 200_000
    assert final["modes"] == {"placement": "emergency", "victim": "emergency"}
    assert final["health"].get("agent_silent")
    assert final["ml_share"] == {"placement": 0.0, "victim": 0.0}
    assert not final["agent"]["connected"]
    statuses = [o for o in lines if o["event"] == "status"]
    assert statuses, "no status line"
    for key in ("clock", "modes", "ml_share", "waf", "rejects", "telemetry_dropped", "agent", "invariants",
                "writes_per_s", "health", "transitions"):
        assert key in statuses[-1], key


def test_kernel_side_without_proxy_and_stop(tmp_path):
    import threading

    stop = threading.Event()
    stop.set()  # stopped at the first run of writes: a clean final status all the same
    status = str(tmp_path / "status.jsonl")
    final = run_kernel(KernelOptions(proxy=False, status=status, **{**SMALL, "writes": 10_000_000}), stop=stop)
    assert final["reason"] == "stopped" and final["ok"]
    assert "modes" not in final and final["result"]["mapped_lbas"] == 16384


@pytest.mark.parametrize("bad, msg", [
    (dict(workload=None), "exactly one"),
    (dict(trace="/nonexistent", fmt="csv", workload=None), "not found"),
    (dict(transport="tcp"), "transport"),
    (dict(sample_shift=40), "sample-shift"),
    (dict(writes=-1), "positive"),
    (dict(spare=1.5), "spare"),
])
def test_kernel_options_are_checked(bad, msg):
    with pytest.raises(ValueError, match=msg):
        KernelOptions(**{**SMALL, **bad}).resolved()


def test_round_trips_match_acknowledged_epochs():
    ch = InProcChannel()
    rtt = RoundTrips()
    seen = []
    rtt.observers.append(seen.append)
    ep = StampedEndpoint(ch.agent, rtt)
    for epoch in (5, 6, 7):
        assert ep.send(m.encode(m.Recommendation(1, epoch, 100, np.zeros(3, np.int64))))
    assert [e for e, _ in rtt.pending[1]] == [5, 6, 7]
    fb = m.Feedback(op_kind=1, mode=1, pinned=False, now=0, epoch=6, human_decisions=0, ml_decisions=0,
                    fallbacks=0, human_cost=0, human_units=0, ml_cost=0, ml_units=0, human_mean=0, ml_mean=0,
                    human_batches=0, ml_batches=0, outbox_dropped=0, rejects=(0,) * m.N_REJECT_REASONS,
                    transitions=())
    ch.kernel.send(m.encode(fb))
    frames = ep.recv()
    assert len(frames) == 1
    assert rtt.samples == 1 and rtt.superseded == 1 and len(seen) == 1 and seen[0] >= 0
    assert [e for e, _ in rtt.pending[1]] == [7]
    q = rtt.quantiles()
    assert q["rtt_n"] == 1 and q["rtt_ms_p50"] is not None
    ep.send(m.encode(m.Heartbeat(m.Sender.AGENT, 1, 0)))  # not a recommendation: not stamped
    assert [e for e, _ in rtt.pending[1]] == [7]


def test_agent_options():
    assert parse_options(["ttl=5", "min-gap=1.5", "rate_map=false", "mode=age"]) == {
        "ttl": 5, "min_gap": 1.5, "rate_map": False, "mode": "age"}
    with pytest.raises(ValueError):
        parse_options(["novalue"])
    for bad in (dict(fault="meteor"), dict(transport="tcp"), dict(learner="nope"), dict(metrics_port=70000)):
        with pytest.raises(ValueError):
            AgentOptions(**bad).check()


def test_baseline_lookup():
    tl = [[100, 3.0], [200, 2.5], [300, None], [400, 2.0]]
    assert baseline_at(tl, 50) is None
    assert baseline_at(tl, 250) == 2.5 and baseline_at(tl, 350) == 2.5 and baseline_at(tl, 10**9) == 2.0


def test_agent_daemon_imports_nothing_from_the_kernel_side():
    import ast

    import kernelml.flow.agentd as mod

    tree = ast.parse(open(mod.__file__).read())
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert names and not [n for n in names if "kernel" in n.split(".")[:2]], names
