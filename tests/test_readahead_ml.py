"""The ML proxy in the readahead path: validation, charging, modes, the
learner against the kernel default, adversaries, a dead agent."""

import numpy as np
import pytest

from kernelml.bench.readahead_run import run_ra, sample_session
from kernelml.kernel.mllib import Reject
from kernelml.kernel.readahead import pagecache as pc
from kernelml.kernel.readahead.device import DEVICES
from kernelml.kernel.readahead.ml import RaMlConfig, RaProxy, parse_window
from kernelml.kernel.readahead.sim import RaSim
from kernelml.transport import InProcChannel
from kernelml.uapi import messages as m
from kernelml.uapi import readahead as schema
from kernelml.uapi.messages import RejectReason


def w(*words):
    return np.array(words, dtype=np.int64)


def test_parse_window_accepts_and_clamps():
    dev, keys, pages = parse_window(w(schema.VERSION, 64, 2, 0, 3, 8, 5, 4096), 4, 1024)
    assert dev == 64 and keys.tolist() == [3, 5] and pages.tolist() == [8, 1024]
    dev, keys, pages = parse_window(w(schema.VERSION, 0, 0, 0), 16, 64)
    assert dev == 16 and keys.size == 0


@pytest.mark.parametrize("words,reason", [
    ((), RejectReason.MALFORMED),
    ((9, 32, 0, 0), RejectReason.MALFORMED),  # version
    ((schema.VERSION, 32, 0, 1), RejectReason.MALFORMED),  # padding
    ((schema.VERSION, 32, 1, 0), RejectReason.MALFORMED),  # length
    ((schema.VERSION, -1, 0, 0), RejectReason.OUT_OF_RANGE),
    ((schema.VERSION, schema.MAX_RA_PAGES + 1, 0, 0), RejectReason.OUT_OF_RANGE),
    ((schema.VERSION, 32, 1, 0, 0, -4), RejectReason.OUT_OF_RANGE),
    ((schema.VERSION, 32, 2, 0, 1, 4, 1, 8), RejectReason.OUT_OF_RANGE),  # repeated key
    ((schema.VERSION, 32, 1, 0, -1, 4), RejectReason.OUT_OF_RANGE),
    ((schema.VERSION, 32, schema.MAX_ENTRIES + 1, 0), RejectReason.OUT_OF_RANGE),
])
def test_parse_window_rejects(words, reason):
    with pytest.raises(Reject) as e:
        parse_window(w(*words))
    assert e.value.reason == reason


def small(**kw):
    return {"scale": 0.25, **kw}


def test_no_agent_is_the_kernel_default_exactly():
    a = run_ra("mixed", "default", **small())
    b = run_ra("mixed", "ml", learner=None, **small())
    assert b["mode"] == "emergency" and b["ml_share"] == 0
    assert a["throughput_mib_s"] == b["throughput_mib_s"] and a["dev_reads"] == b["dev_reads"]
    assert b["useless_ml"] == 0


def test_learner_beats_the_default_on_the_mix_and_reaches_recommendation():
    d = run_ra("kv-mix", "default", **small())
    r = run_ra("kv-mix", "ml", **small())
    assert r["mode"] == "recommendation"
    assert [t[3] for t in r["timeline"]][:4] == ["START", "RECOVERED", "MATURE", "BETTER"]
    assert r["throughput_mib_s"] > 1.2 * d["throughput_mib_s"]
    assert not r["rejects"]


@pytest.mark.parametrize("workload", ["seq", "random", "streams"])
def test_never_much_below_the_default(workload):
    d = run_ra(workload, "default", **small())
    r = run_ra(workload, "ml", **small())
    assert r["throughput_mib_s"] >= 0.95 * d["throughput_mib_s"]


@pytest.mark.parametrize("adversary", ["random", "inverted"])
@pytest.mark.parametrize("workload", ["seq", "kv-mix"])
def test_adversaries_never_reach_recommendation(workload, adversary):
    r = run_ra(workload, "ml", learner=adversary, **small())
    assert "BETTER" not in [t[3] for t in r["timeline"]]
    assert r["mode"] in ("learning", "collaboration", "emergency")


def test_breaker_cuts_catastrophic_blocks_short():
    r = run_ra("kv-mix", "ml", learner="inverted", **small())
    assert r["fallbacks"] > 0  # blocks ended early: the rest fell back to the default
    assert r["rejects"].get("inapplicable", 0) == r["fallbacks"]


def test_agent_killed_falls_back_and_keeps_serving():
    r = run_ra("kv-mix", "ml", kill_agent_at=20_000, **small())
    reasons = [t[3] for t in r["timeline"]]
    assert reasons[-1] == "AGENT_SILENT" and r["mode"] == "emergency"
    assert r["requests"] > 0 and r["pages"] > 0


def test_same_seed_same_run():
    a = run_ra("phases", "ml", seed=3, **small())
    b = run_ra("phases", "ml", seed=3, **small())
    keys = ("throughput_mib_s", "dev_reads", "useless_pages", "timeline", "ml_share", "mode")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_useless_readahead_is_charged_to_the_source_that_read_it():
    """Only ML's windows read pages while ML decides; the pages it read and
    never used are ML's, whoever is in control when they are evicted."""
    from kernelml.workloads.readahead import make

    wl = make("streams", scale=0.1)
    sim = RaSim(wl.file_pages, wl.n_streams, 1024, DEVICES["ssd"])
    rp = RaProxy(sim, None, RaMlConfig())
    sim.set_source(1)
    sim.set_limits(np.full(wl.n_streams, 1024))
    sim.run(wl.requests, 0, len(wl.requests) // 2)
    sim.set_source(0)
    sim.set_limits(np.full(wl.n_streams, 4))
    sim.run(wl.requests, len(wl.requests) // 2, len(wl.requests))
    t = sim.totals()
    assert t["useless_ml"] > 10 * max(1, t["useless_human"])
    rp.end_epoch()
    assert rp.debt[1] == t["useless_ml"] * rp.useless_ns and rp.debt[0] == t["useless_human"] * rp.useless_ns


def test_units_do_not_depend_on_the_source():
    """The work units an epoch is divided by count the pages asked for and the
    requests that jump: the same read() requests give the same units whatever
    the limit (mapped accesses count their faults, which fault-around can
    spare, so there the units move a little with the limit)."""
    from kernelml.workloads.readahead import make

    wl = make("kv-readrandomwriterandom", scale=0.1)
    out = []
    for ra in (4, 1024):
        sim = RaSim(wl.file_pages, wl.n_streams, 4096, DEVICES["ssd"])
        sim.set_limits(np.full(wl.n_streams, ra))
        sim.run(wl.requests, 0, 2000)
        out.append((int(sim.gv[pc.G_PAGES]), int(sim.gv[pc.G_NONSEQ])))
    assert out[0] == out[1]


def test_sample_session_is_what_a_learner_sees():
    msgs = sample_session(seed=1)
    hello = next(x for x in msgs if isinstance(x, m.Hello))
    assert hello.name == schema.NAME and hello.subsystem == schema.SUBSYSTEM_ID
    assert hello.features(schema.REC_FILE) == schema.FILE_FIELDS
    tel = [x for x in msgs if isinstance(x, m.Telemetry)]
    assert {t.record_kind for t in tel} == {schema.REC_FILE, schema.REC_EPOCH}
    recs = np.concatenate([t.records for t in tel if t.record_kind == schema.REC_FILE])
    assert (recs[:, schema.FILE_FIELDS.index("requests")] >= 0).all()


def test_bad_frames_and_floods_are_counted_not_fatal():
    ch = InProcChannel()
    wl = __import__("kernelml.workloads.readahead", fromlist=["make"]).make("seq", scale=0.05)
    sim = RaSim(wl.file_pages, wl.n_streams, 2048, DEVICES["ssd"])
    rp = RaProxy(sim, ch.kernel, RaMlConfig())
    ch.agent.send(b"junk")
    ch.agent.send(m.encode(m.Recommendation(schema.OP_WINDOW, 1, 10**9, w(schema.VERSION, -5, 0, 0))))
    for e in range(2, 60):
        ch.agent.send(m.encode(m.Recommendation(schema.OP_WINDOW, e, 10**9, w(schema.VERSION, 64, 0, 0))))
    rp.poll()
    assert rp.proxy.rejects[RejectReason.MALFORMED] == 1
    assert rp.proxy.rejects[RejectReason.FLOOD] > 0
    assert rp.proxy.rejects[RejectReason.OUT_OF_RANGE] == 1
