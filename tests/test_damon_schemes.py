"""DAMOS on the monitor: pageout of cold regions, quotas, the choice hook,
watermarks, and intervals auto-tuning (mm/damon/core.c, mm/damon/reclaim.c)."""

import numpy as np
from test_damon_lib import hot_cold

from kernelml.kernel.damon import reclaim
from kernelml.kernel.damon.attrs import DamonAttrs, IntervalsGoal
from kernelml.kernel.damon.memory import C_RECLAIMED, C_RECLAIMED_ML, F_RESIDENT, Machine, MemoryModel
from kernelml.kernel.damon.monitor import Kdamond
from kernelml.kernel.damon.quota import Quota
from kernelml.kernel.damon.schemes import AccessPattern, Action, Scheme
from kernelml.kernel.damon.watermarks import Watermarks, WmarkMetric

KIB = 1024


def cold_pageout(min_age=10, **quota):
    return Scheme(AccessPattern(min_sz_region=4096, max_nr_accesses=0, min_age_region=min_age), Action.PAGEOUT,
                  quota=Quota(reset_interval_ms=1000, weight_age=1, **quota))


def simulate(schemes, n_pages=1024, hot=128, duration_s=8, machine=None, attrs=None, on_refault=None,
             seed=0, hook=None):
    times, pages = hot_cold(n_pages=n_pages, hot=hot, duration_s=duration_s, rate=20_000, seed=seed)
    mem = MemoryModel(n_pages, machine=machine, on_refault=on_refault)
    mem.start(0)
    k = Kdamond(mem, attrs or DamonAttrs(), schemes, seed=seed, on_aggregate=hook)
    k.start(0)
    for a in range(0, times.shape[0], 30_000):
        k.feed(times[a:a + 30_000], pages[a:a + 30_000])
    k.finish(int(times[-1]) + 1)
    mem.check_integrity()
    return k, mem


def test_cold_regions_are_paged_out_hot_ones_kept():
    s = cold_pageout(min_age=10)
    k, mem = simulate([s])
    cold_resident = int(np.count_nonzero(mem.flags[128:] & F_RESIDENT))
    assert cold_resident < 896 // 10  # almost all cold memory reclaimed
    assert np.count_nonzero(mem.flags[:128] & F_RESIDENT) > 120
    assert mem.counters()["refaults"] < 50
    assert s.stat.nr_applied > 0 and s.stat.sz_applied == int(mem.ctr[C_RECLAIMED]) * 4096


def test_size_quota_caps_each_window():
    s = cold_pageout(min_age=10, sz=64 * KIB)
    k, mem = simulate([s], duration_s=6)
    windows = 6 + 1
    assert s.stat.sz_tried <= windows * 64 * KIB
    assert s.stat.qt_exceeds > 0
    assert int(mem.ctr[C_RECLAIMED]) > 0


def test_time_quota_uses_measured_throughput():
    s = cold_pageout(min_age=10, ms=1)
    simulate([s], duration_s=5)
    q = s.quota
    assert q.total_charged_ns > 0 and q.total_charged_sz > 0
    assert q.esz < 4096 * 1024  # no longer the initial guess of PAGE_SIZE * 1024 bytes per ms
    q.new_window(10**12, None)
    assert q.esz == q.total_charged_sz * 1_000_000 // q.total_charged_ns * 1


def test_choose_hook_lineage_validation_and_quota():
    seen = []

    def greedy_ml(view):
        seen.append(view)
        out = [(i, int(view.end[i] - view.start[i]), 1) for i in range(view.nr_regions)]
        return out + [(-1, 4096), ("x", 1), (0, 4096)]  # invalid entries are dropped

    s = cold_pageout(min_age=0, sz=256 * KIB)
    s.choose = greedy_ml
    charged = []
    k, mem = simulate([s], on_refault=lambda src, n: charged.append((src, n)), duration_s=5)
    assert seen and all(v.quota_esz == 256 * KIB for v in seen)
    assert s.rejected >= 3 * len(seen) - 3
    assert int(mem.ctr[C_RECLAIMED_ML]) == int(mem.ctr[C_RECLAIMED]) > 0
    assert s.stat.sz_tried <= (5 + 1) * 256 * KIB  # the quota holds whatever the chooser asks
    assert charged and {src for src, _ in charged} == {1}  # reclaiming hot pages refaults, charged to ML
    v = seen[-1]
    assert v.refaults.shape == (v.nr_regions,) and v.refaults.dtype == np.int64
    assert not v.start.flags.writeable


def test_watermarks_deactivate_on_free_memory():
    wm = Watermarks(WmarkMetric.FREE_MEM_RATE, 1_000_000, 500, 400, 200)
    s = cold_pageout(min_age=10)
    s.wmarks = wm
    # a roomy machine: free memory stays above the high watermark, nothing is reclaimed
    k, mem = simulate([s], machine=Machine(total=10_000, other=0), duration_s=4)
    st = k.stats()
    assert st["scheme0"]["activated"] == 0 and st["slept_us"] > 3_000_000
    assert int(mem.ctr[C_RECLAIMED]) == 0 and st["samples"] < 200
    # a tight machine (free between low and mid): active, reclaims
    s2 = cold_pageout(min_age=10)
    s2.wmarks = Watermarks(WmarkMetric.FREE_MEM_RATE, 1_000_000, 500, 400, 200)
    k2, mem2 = simulate([s2], machine=Machine(total=2048, other=410), duration_s=4)  # 299 pm free
    assert int(mem2.ctr[C_RECLAIMED]) > 0


def test_reclaim_module_defaults():
    p = reclaim.ReclaimParams()
    attrs, s = reclaim.build(p)
    assert (attrs.sample_interval_us, attrs.aggr_interval_us) == (5000, 100_000)
    assert (attrs.min_nr_regions, attrs.max_nr_regions) == (10, 1000)
    assert s.pattern.min_age_region == 1200 and s.pattern.max_nr_accesses == 0
    assert s.pattern.min_sz_region == 4096
    q = s.quota
    assert (q.ms, q.sz, q.reset_interval_ms) == (10, 128 << 20, 1000)
    assert (q.weight_sz, q.weight_nr_accesses, q.weight_age) == (0, 0, 1) and not q.goals
    assert (s.wmarks.high, s.wmarks.mid, s.wmarks.low, s.wmarks.interval_us) == (500, 400, 200, 5_000_000)
    _, s_psi = reclaim.build(reclaim.ReclaimParams(quota_mem_pressure_us=1000, quota_autotune_feedback=5000))
    assert [g.target_value for g in s_psi.quota.goals] == [1000, 10000]
    a_auto, _ = reclaim.build(reclaim.ReclaimParams(autotune_monitoring_intervals=True))
    assert a_auto.intervals_goal == IntervalsGoal(40, 3, 5000, 10_000_000)
    _, off = reclaim.build(reclaim.ReclaimParams(wmarks=False))
    assert off.wmarks.metric == WmarkMetric.NONE


def test_intervals_autotuning_moves_sampling_within_bounds():
    attrs = DamonAttrs(intervals_goal=IntervalsGoal(access_bp=40, aggrs=3, min_sample_us=5000,
                                                    max_sample_us=50_000))
    k, mem = simulate([], attrs=attrs, duration_s=8)
    assert k.tunes > 0
    assert 5000 <= k.attrs.sample_interval_us <= 50_000
    assert k.attrs.aggr_interval_us == k.attrs.sample_interval_us * 20


def test_scheme_run_is_deterministic():
    a = simulate([cold_pageout(min_age=5, sz=128 * KIB)], seed=3)[1].counters()
    b = simulate([cold_pageout(min_age=5, sz=128 * KIB)], seed=3)[1].counters()
    assert a == b


def test_walk_resumes_after_the_last_charged_region():
    mem = MemoryModel(400)
    s = cold_pageout(min_age=0, sz=64 * KIB)
    k = Kdamond(mem, DamonAttrs(), [s], init_regions="even")
    k.R[:2, :4] = np.array([[0, 100, 200, 300], [100, 200, 300, 400]])
    k.ms[5] = 4  # MS_NR
    s.quota.charge_addr_from = 200  # the previous window stopped after region [100, 200)
    first = k._skip_charged(s)
    # damos_skip_charged_region: charge_addr_from is end + 1 byte, so the first
    # page of the next region is skipped too: [200, 201) split off, walk from [201, 300)
    assert k.nr_regions == 5 and first == 3
    assert (k.R[0, 3], k.R[1, 3]) == (201, 300) and s.quota.charge_addr_from == -1
    s.quota.charge_addr_from = 350  # inside the last region: the kernel skips the rest
    assert k._skip_charged(s) == k.nr_regions
