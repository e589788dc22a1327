"""Every registered reclaim policy: conformance, determinism, and the
oracle's optimality (kernelml.kernel.damon.policies)."""

import numpy as np
import pytest
from test_damon_lib import shifting

from kernelml.bench import damon_run as dr
from kernelml.kernel.damon.policies import POLICIES
from kernelml.kernel.damon.policies.base import ReclaimPolicy

KEYS = {"policy", "workload", "saving_pct", "refaults", "slowdown_pct", "stall_us", "reclaim_cpu_us",
        "footprint_pages", "accesses", "policy_stats"}
FAST = {"damon-reclaim": {"min_age_us": 2_000_000}, "damon-reclaim-psi": {"min_age_us": 2_000_000}}


@pytest.fixture(scope="module")
def trace():
    times, pages = shifting()
    return dr.from_arrays("shifting", times, pages)


@pytest.mark.parametrize("name", POLICIES.names())
def test_conformance(name, trace):
    cls = POLICIES.get(name)
    assert issubclass(cls, ReclaimPolicy) and cls.name == name
    assert (cls.__doc__ or "").strip(), "a policy documents itself"
    module_doc = __import__(cls.__module__, fromlist=["x"]).__doc__ or ""
    if not cls.needs_future and name != "none":
        assert "mm/" in module_doc or "senpai" in module_doc, "a human-made policy names its source"
    r = dr.run_policy(trace, name, seed=1, params=FAST.get(name), check=True)
    assert KEYS <= set(r) and r["policy"] == name and r["accesses"] == trace.n_accesses
    assert 0 <= r["saving_pct"] < 100 and r["slowdown_pct"] >= 0
    r2 = dr.run_policy(trace, name, seed=1, params=FAST.get(name))
    strip = lambda d: {k: v for k, v in d.items() if k not in ("wall_s", "accesses_per_s", "sim_s_per_wall_s")}
    assert strip(r) == strip(r2), "same seed, same result"


def test_none_reclaims_nothing(trace):
    r = dr.run_policy(trace, "none")
    assert r["saving_pct"] == 0 and r["refaults"] == 0 and r["reclaimed"] == 0


@pytest.mark.parametrize("pct", [20, 50])
def test_belady_has_fewest_refaults_at_a_budget(trace, pct):
    b = dr.run_policy(trace, "belady", target_saving_pct=pct, check=True)
    lru = dr.run_policy(trace, "lru", target_saving_pct=pct, check=True)
    assert b["refaults"] <= lru["refaults"]
    assert b["resident_end_pages"] <= trace.n_pages * (100 - pct) // 100
    assert lru["resident_end_pages"] <= trace.n_pages * (100 - pct) // 100
    # MIN keeps exactly the budget once it is full: the saving matches that of the LRU limit
    assert abs(b["saving_pct"] - lru["saving_pct"]) < 5


def test_belady_matches_brute_force_on_a_tiny_trace():
    rng = np.random.default_rng(4)
    pages = rng.integers(0, 6, 60)
    times = np.arange(60, dtype=np.int64) * 1000
    tr = dr.from_arrays("tiny", times, pages)
    r = dr.run_policy(tr, "belady", target_saving_pct=50, check=True)  # budget 3 of 6 pages
    # reference MIN by direct simulation
    cache, misses = set(), 0
    seq = pages.tolist()
    for i, p in enumerate(seq):
        if p in cache:
            continue
        misses += 1
        if len(cache) >= 3:
            nxt = {q: next((j for j in range(i + 1, len(seq)) if seq[j] == q), 10**9) for q in cache}
            cache.remove(max(cache, key=lambda q: (nxt[q], q)))
        cache.add(p)
    assert r["faults"] + r["refaults"] == misses


def test_target_saving_moves_budgeted_policies(trace):
    lo = dr.run_policy(trace, "lru", target_saving_pct=10)
    hi = dr.run_policy(trace, "lru", target_saving_pct=60)
    assert hi["saving_pct"] > lo["saving_pct"] and hi["refaults"] > lo["refaults"]
    s = dr.run_policy(trace, "senpai", target_saving_pct=30)
    assert s["policy_stats"]["min_size_pages"] == trace.n_pages * 70 // 100


def test_oracle_curve_is_monotone(trace):
    pts = dr.oracle_curve(trace, savings=(10, 40, 70))
    assert [p["target_saving_pct"] for p in pts] == [10, 40, 70]
    assert pts[0]["saving_pct"] < pts[1]["saving_pct"] < pts[2]["saving_pct"]
    assert pts[0]["refaults"] <= pts[1]["refaults"] <= pts[2]["refaults"]


def test_unknown_parameters_are_refused(trace):
    with pytest.raises(ValueError):
        dr.run_policy(trace, "damon-reclaim", params={"no_such_knob": 1})
    with pytest.raises(ValueError):
        dr.run_policy(trace, "lru", target_saving_pct=100)


def test_policies_refuse_unknown_parameters(trace):
    for name in POLICIES.names():
        with pytest.raises((TypeError, ValueError)):
            dr.run_policy(trace, name, params={"no_such_knob": 1})


def test_series_and_same_result_with_series(trace):
    plain = dr.run_policy(trace, "lru", target_saving_pct=40)
    r = dr.run_policy(trace, "lru", target_saving_pct=40, series_us=1_000_000)
    s = r["series"]
    assert len(s["t_s"]) == 11 and all(b > a for a, b in zip(s["t_s"], s["t_s"][1:]))
    assert all(res <= t for res, t in zip(s["resident_pages"], s["touched_pages"]))
    assert r["refaults"] == plain["refaults"] and r["saving_pct"] == plain["saving_pct"]


def test_damon_result_does_not_depend_on_how_the_stream_is_cut(trace):
    kw = {"params": {"min_age_us": 2_000_000}}
    a = dr.run_policy(trace, "damon-reclaim", **kw)
    b = dr.run_policy(trace, "damon-reclaim", series_us=700_000, **kw)
    assert (a["saving_pct"], a["refaults"]) == (b["saving_pct"], b["refaults"])
    assert a["policy_stats"]["damon"] == b["policy_stats"]["damon"]
