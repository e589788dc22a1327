"""The ML proxy on DAMON_RECLAIM (kernelml.kernel.damon.ml, policy ``ml``):
validation, lineage charging, safety with a dead or lying agent, telemetry."""

import numpy as np
import pytest
from test_damon_lib import shifting

from kernelml.bench import damon_ml
from kernelml.bench import damon_run as dr
from kernelml.kernel.damon.memory import F_RESIDENT, F_SRC_ML
from kernelml.kernel.damon.ml import OP, ReclaimML, make_proxy, parse_reclaim
from kernelml.kernel.mllib import Reject
from kernelml.transport import InProcChannel
from kernelml.uapi import damon as schema
from kernelml.uapi import messages as m
from kernelml.uapi.messages import RejectReason

PAGE = schema.PAGE_SIZE
TARGET = 2048 * PAGE


def words(*ranges, n=None, head=None):
    body = [x for r in ranges for x in r]
    h = head or [schema.VERSION, len(ranges) if n is None else n, 0, 0]
    return np.array(h + body, np.int64)


@pytest.fixture(scope="module")
def trace():
    times, pages = shifting()
    return dr.from_arrays("shifting", times, pages)


FAST = {"min_age_us": 2_000_000}


# -- validation ----------------------------------------------------------------------
def test_parse_accepts_a_valid_payload():
    rec = parse_reclaim(words((0, 4 * PAGE, 9_000_000), (8 * PAGE, 16 * PAGE, 5_000_000)), TARGET)
    assert rec.start.tolist() == [0, 8] and rec.end.tolist() == [4, 16]
    assert rec.eligible(6_000_000) == 1 and rec.eligible(0) == 2
    assert len(parse_reclaim(words(), TARGET)) == 0


@pytest.mark.parametrize("payload,reason", [
    (np.array([schema.VERSION, 1], np.int64), RejectReason.MALFORMED),  # short
    (words((0, PAGE, 1), head=[9, 1, 0, 0]), RejectReason.MALFORMED),  # version
    (words((0, PAGE, 1), head=[schema.VERSION, 1, 7, 0]), RejectReason.MALFORMED),  # reserved word
    (words((0, PAGE, 1), n=2), RejectReason.MALFORMED),  # count vs length
    (words((0, PAGE, 1), n=schema.MAX_RANGES + 1), RejectReason.OUT_OF_RANGE),  # too many
    (words((0, TARGET + PAGE, 1)), RejectReason.OUT_OF_RANGE),  # beyond the target
    (words((-PAGE, PAGE, 1)), RejectReason.OUT_OF_RANGE),  # negative
    (words((PAGE, PAGE, 1)), RejectReason.OUT_OF_RANGE),  # empty
    (words((0, PAGE + 1, 1)), RejectReason.OUT_OF_RANGE),  # unaligned
    (words((0, PAGE, -1)), RejectReason.OUT_OF_RANGE),  # negative prediction
    (words((0, PAGE, 1), (2 * PAGE, 3 * PAGE, 5)), RejectReason.OUT_OF_RANGE),  # not in priority order
    (words((0, 4 * PAGE, 9), (2 * PAGE, 6 * PAGE, 5)), RejectReason.OUT_OF_RANGE),  # overlap
])
def test_parse_rejects(payload, reason):
    with pytest.raises(Reject) as exc:
        parse_reclaim(payload, TARGET)
    assert exc.value.reason == reason


def test_parse_never_raises_anything_else():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(0, 12))
        w = rng.integers(-2**40, 2**40, n).astype(np.int64)
        if n >= 4 and rng.random() < 0.5:
            w[:4] = [schema.VERSION, (n - 4) // 3, 0, 0]
        try:
            parse_reclaim(w, TARGET)
        except Reject:
            pass


class _Mem:
    n = 2048
    flags = np.zeros(2048, np.uint8)


def test_stale_expired_and_garbage_frames_are_counted_not_applied():
    ch = InProcChannel()
    proxy = make_proxy(ch.kernel)
    ReclaimML(proxy, _Mem(), 1_000_000, 100_000)
    good = words((0, 4 * PAGE, 10**9))
    for frame in (m.encode(m.Recommendation(OP, 5, 10**9, good)),
                  m.encode(m.Recommendation(OP, 5, 10**9, good)),  # stale epoch
                  m.encode(m.Recommendation(OP, 6, 10, good)),  # expired at receipt (now 1000)
                  m.encode(m.Recommendation(OP, 7, 10**9, words((0, PAGE + 3, 1)))),
                  m.encode(m.Recommendation(99, 8, 10**9, good)),  # unknown op kind
                  b"\x00garbage"):
        ch.agent.send(frame)
    proxy.poll(1000)
    r = proxy.rejects
    assert r[RejectReason.STALE_EPOCH] == 1 and r[RejectReason.EXPIRED] == 1
    assert r[RejectReason.OUT_OF_RANGE] == 1 and r[RejectReason.UNKNOWN_OP] == 1 and r[RejectReason.MALFORMED] == 1
    assert proxy.kinds[OP].rec[0] == 5  # the valid one is kept


# -- safety: no agent, a dead one, a lying one ------------------------------------------
def _same(a, b):
    return (a["saving_pct"], a["refaults"], a["reclaimed"], a["reclaim_cpu_us"]) == \
        (b["saving_pct"], b["refaults"], b["reclaimed"], b["reclaim_cpu_us"])


def test_without_an_agent_ml_is_exactly_damon_reclaim(trace):
    alone = dr.run_policy(trace, "damon-reclaim", seed=3, params=FAST)
    ml = damon_ml.run_ml(trace, None, seed=3, params=FAST, check=True)
    assert _same(alone, ml) and ml["mode"] == "emergency" and ml["ml_share_pm"] == 0


def test_garbage_agent_is_rejected_and_the_run_is_damon_reclaim(trace):
    alone = dr.run_policy(trace, "damon-reclaim", seed=3, params=FAST)
    ml = damon_ml.run_ml(trace, "damon-reuse", garbage=True, seed=3, params=FAST, check=True)
    assert _same(alone, ml)
    st = ml["policy_stats"]["ml"]
    assert st["rejects_total"] > 10 and st["mode"] == "emergency"
    assert "INVALID_SHARE" in [t["reason"] for t in st["mode_timeline"]]
    assert st["evicted"]["ml"] == 0


def test_agent_killed_goes_to_emergency_and_the_run_completes(trace):
    r = damon_ml.run_ml(trace, "damon-reuse", kill_agent_at_us=5_000_000, seed=1, params=FAST, check=True)
    reasons = [t["reason"] for t in r["mode_timeline"]]
    assert reasons[-1] == "AGENT_SILENT" and r["mode"] == "emergency"


def test_slow_agent_never_blocks_the_kernel_side(trace):
    r = damon_ml.run_ml(trace, "damon-reuse", delay_us=700_000, seed=1, params=FAST, check=True)
    assert r["accesses"] == trace.n_accesses and r["agent"]["learner_errors"] == 0


# -- lineage ----------------------------------------------------------------------------------
class FixedAgent:
    """Always recommends the same ranges, with heartbeats: a deterministic ML source."""

    def __init__(self, endpoint, ranges):
        self.endpoint = endpoint
        self.payload = words(*ranges)
        self.epoch = 0

    def __call__(self, now):
        self.epoch += 1
        self.endpoint.send(m.encode(m.Recommendation(OP, self.epoch, now + 10**7, self.payload)))
        self.endpoint.send(m.encode(m.Heartbeat(m.Sender.AGENT, self.epoch, now, schema.SUBSYSTEM_ID)))


def hot_cold(n=1024, hot=128, seconds=30, rate=20_000, seed=0):
    rng = np.random.default_rng(seed)
    t_touch = np.arange(n, dtype=np.int64) * 50
    k = seconds * rate
    times = 100_000 + np.arange(k, dtype=np.int64) * 1_000_000 // rate
    pages = rng.integers(0, hot, k)
    cold = rng.random(k) < 0.001
    pages[cold] = rng.integers(hot, n, int(cold.sum()))
    return dr.from_arrays("hc", np.concatenate([t_touch, times]), np.concatenate([np.arange(n), pages]))


@pytest.mark.parametrize("charge", ["lineage", "horizon"])
def test_refaults_are_charged_to_the_source_that_reclaimed(charge):
    tr = hot_cold()
    ch = InProcChannel(capacity=1 << 14)
    # ML insists on the hot set (pages 0..127); the human-made rule reclaims cold regions
    agent = FixedAgent(ch.agent, [(0, 128 * PAGE, 10**12)])
    params = {"endpoint": ch.kernel, "peer": agent, "pin": "collaboration", "charge": charge,
              "min_age_us": 2_000_000, "horizon_us": 3_000_000}
    r = dr.run_policy(tr, "ml", params=params, check=True)
    st = r["policy_stats"]["ml"]
    assert st["evicted"]["ml"] > 0 and st["evicted"]["human"] > 0
    assert st["evicted"]["ml"] + st["evicted"]["human"] == r["reclaimed"]
    ml, hu = st["charged"]["ml"], st["charged"]["human"]
    if charge == "lineage":
        assert ml["refaults"] == r["refaults_ml"] and hu["refaults"] == r["refaults"] - r["refaults_ml"]
        assert ml["units"] == st["evicted"]["ml"] and hu["units"] == st["evicted"]["human"]
    else:
        assert 0 < ml["refaults"] <= r["refaults_ml"] and hu["refaults"] <= r["refaults"] - r["refaults_ml"]
    # the hot pages ML reclaimed come back: ML pays far more per unit than the human-made rule
    assert ml["refaults"] * max(hu["units"], 1) > 2 * hu["refaults"] * max(ml["units"], 1)


def test_ml_reclaims_only_inside_its_ranges_and_splits_regions_for_them():
    tr = hot_cold(seconds=20)
    ch = InProcChannel(capacity=1 << 14)
    lo, hi = 300, 420  # starts inside whatever region covers it
    agent = FixedAgent(ch.agent, [(lo * PAGE, hi * PAGE, 10**12)])
    params = {"endpoint": ch.kernel, "peer": agent, "pin": "recommendation", "min_age_us": 60_000_000}
    r = dr.run_policy(tr, "ml", params=params, check=True)
    st = r["policy_stats"]["ml"]
    assert st["evicted"]["ml"] > 0 and st["evicted"]["human"] == 0  # min_age 60 s: DAMOS finds nothing
    assert st["splits"] > 0


def test_ml_evictions_stay_inside_the_recommended_range():
    from kernelml.kernel.damon.policies.ml import MLReclaim
    from kernelml.kernel.damon.policies.base import Setup

    tr = hot_cold(seconds=10)
    ch = InProcChannel(capacity=1 << 14)
    lo, hi = 300, 420
    agent = FixedAgent(ch.agent, [(lo * PAGE, hi * PAGE, 10**12)])
    pol = MLReclaim(endpoint=ch.kernel, peer=agent, pin="recommendation", min_age_us=60_000_000)
    setup = Setup(n_pages=tr.n_pages, t0_us=tr.t0_us, end_us=tr.end_us)
    mem = pol.memory(setup)
    mem.start(tr.t0_us)
    pol.start(mem, setup)
    pol.feed(tr.times, tr.pages.astype(np.int64))
    pol.finish(tr.end_us)
    ml_pages = np.flatnonzero((mem.flags & F_SRC_ML) != 0)
    assert ml_pages.size > 0 and ml_pages.min() >= lo and ml_pages.max() < hi
    assert not ((mem.flags[ml_pages] & F_RESIDENT) != 0).any()


# -- telemetry ----------------------------------------------------------------------------------
def test_telemetry_follows_the_schema(trace):
    msgs = damon_ml.sample_session(seed=2)
    hello = next(x for x in msgs if isinstance(x, m.Hello))
    assert hello.name == schema.NAME and hello.op_kinds == {OP: "reclaim"}
    for rk, fields in schema.RECORDS.items():
        assert hello.features(rk) == fields
    tel = [x for x in msgs if isinstance(x, m.Telemetry)]
    kinds = {x.record_kind for x in tel}
    assert kinds == set(schema.RECORDS)
    A = schema.field_index(schema.AGGR_FIELDS)
    aggr = np.concatenate([x.records for x in tel if x.record_kind == schema.REC_AGGR])
    assert (np.diff(aggr[:, A["seq"]]) == 1).all() and (np.diff(aggr[:, A["now_us"]]) > 0).all()
    outs = np.concatenate([x.records for x in tel if x.record_kind == schema.REC_PAGEOUT])
    assert int(aggr[:, A["reclaimed"]].sum()) == int(outs[:, 3].sum()) > 0
    regions = np.concatenate([x.records for x in tel if x.record_kind == schema.REC_REGION])
    assert (regions[:, 2] > regions[:, 1]).all() and (regions[:, 1] % PAGE == 0).all()


# -- the learner with the proxy -----------------------------------------------------------------
@pytest.fixture(scope="module")
def scan():
    w = dr.make_workload("scan", n_pages=2048, duration_s=200, seed=0, rate=50_000, scan_period_s=20)
    return dr.load(w)


SCAN = {"min_age_us": 10_000_000}


@pytest.fixture(scope="module")
def scan_damon(scan):
    return dr.run_policy(scan, "damon-reclaim", params=SCAN)


def test_good_learner_reaches_recommendation_and_beats_damon(scan, scan_damon):
    s = int(round(scan_damon["saving_pct"]))
    r = damon_ml.run_ml(scan, "damon-reuse", params=SCAN, target_saving_pct=s, check=True)
    reasons = [t["reason"] for t in r["mode_timeline"]]
    assert r["mode"] == "recommendation" and reasons[:4] == ["START", "RECOVERED", "MATURE", "BETTER"]
    assert abs(r["saving_pct"] - scan_damon["saving_pct"]) < 4
    assert r["refaults"] < 0.8 * scan_damon["refaults"]
    assert r["agent"]["learner_errors"] == 0 and sum(r["rejects"].values()) == 0


@pytest.mark.parametrize("adversary", ["random", "inverted"])
def test_adversaries_never_reach_recommendation(scan, scan_damon, adversary):
    s = int(round(scan_damon["saving_pct"]))
    r = damon_ml.run_ml(scan, adversary, params=SCAN, target_saving_pct=s, check=True)
    modes = {t["to"] for t in r["mode_timeline"]}
    assert "recommendation" not in modes
    assert r["mode"] in ("learning", "emergency", "collaboration")


def test_same_seed_same_run(trace):
    a = damon_ml.run_ml(trace, "damon-reuse", seed=4, params=FAST, target_saving_pct=30)
    b = damon_ml.run_ml(trace, "damon-reuse", seed=4, params=FAST, target_saving_pct=30)
    keys = ("saving_pct", "refaults", "refaults_ml", "reclaimed", "mode", "mode_timeline", "ml_share_pm", "rejects")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert a["policy_stats"]["ml"]["charged"] == b["policy_stats"]["ml"]["charged"]


def test_a_target_does_not_change_the_human_made_side(scan, scan_damon):
    # the target's allowance limits ML's batches only: with no agent the run is DAMON_RECLAIM's
    r = damon_ml.run_ml(scan, None, params=SCAN, target_saving_pct=int(scan_damon["saving_pct"]) // 2)
    assert _same(r, scan_damon)


def test_the_target_is_tracked_when_ml_decides(scan):
    r = damon_ml.run_ml(scan, "damon-reuse", params=SCAN, target_saving_pct=30, check=True)
    assert r["mode"] == "recommendation" and abs(r["saving_pct"] - 30) < 4


def test_bad_parameters_are_refused(trace):
    for params in ({"charge": "nope"}, {"choose": lambda v: []}, {"max_batches": 0}):
        with pytest.raises((ValueError, TypeError)):
            dr.run_policy(trace, "ml", params=dict(FAST, **params))
    with pytest.raises(ValueError):
        dr.run_policy(trace, "ml", params=FAST, target_saving_pct=0)
