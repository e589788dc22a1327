"""Per-policy tests of the human-made GC victim policies: formulas pinned on
hand-computed examples, and the vectorised F2FS code checked against plain
loop models written from the kernel's control flow."""

from __future__ import annotations

import bisect
from fractions import Fraction

import numpy as np
import pytest

from kernelml.kernel.lfs import intmath
from kernelml.kernel.lfs.intmath import UINT_MAX, ULLONG_MAX
from kernelml.kernel.lfs.view import SegmentView
from kernelml.kernel.lfs.victims.cat import CostAgeTimes
from kernelml.kernel.lfs.victims.cost_benefit import CostBenefit
from kernelml.kernel.lfs.victims.d_choices import DChoices
from kernelml.kernel.lfs.victims.f2fs_atgc import F2FSAgeThreshold, atgc_scores
from kernelml.kernel.lfs.victims.f2fs_cb import F2FSCostBenefit, cb_costs
from kernelml.kernel.lfs.victims.greedy import F2FSScan, Greedy
from kernelml.kernel.lfs.victims.nilfs2_timestamp import Nilfs2Timestamp


def view(valid, *, B=512, now=1000, mtime=None, lastmod=None, erase=None, candidate=None, created=None,
         foreground=False, free=0, total=None, seed=0):
    valid = np.asarray(valid, dtype=np.int32)
    n = valid.size
    z = np.zeros(n, dtype=np.int64)
    return SegmentView(
        valid=valid,
        mtime=z.copy() if mtime is None else np.asarray(mtime, dtype=np.int64),
        lastmod=z.copy() if lastmod is None else np.asarray(lastmod, dtype=np.int64),
        erase=np.zeros(n, dtype=np.int32) if erase is None else np.asarray(erase, dtype=np.int32),
        candidate=np.ones(n, dtype=bool) if candidate is None else np.asarray(candidate, dtype=bool),
        blocks_per_seg=B, now=now, foreground=foreground, free_segments=free,
        total_segments=n if total is None else total, rng=np.random.default_rng(seed),
        created=None if created is None else np.asarray(created, dtype=np.int64),
    )


# ---------------------------------------------------------------- intmath
def test_isqrt_scalar_and_array():
    rng = np.random.default_rng(1)
    vals = [0, 1, 2, 3, 4, 15, 16, 17, 99, 100, (1 << 62) - 1, (1 << 63) - 1, (1 << 40) + 12345]
    vals += [int(x) for x in rng.integers(0, 1 << 62, 500)]
    for n in vals:
        r = intmath.isqrt(n)
        assert r * r <= n < (r + 1) * (r + 1)
    arr = intmath.isqrt_array(np.array(vals, dtype=np.int64))
    assert [int(x) for x in arr] == [intmath.isqrt(n) for n in vals]
    with pytest.raises(ValueError):
        intmath.isqrt(-1)


def test_bit_length_matches_python():
    vals = [0, 1, 2, 3, 255, 256, (1 << 40), (1 << 63) - 1]
    got = intmath.bit_length(np.array(vals, dtype=np.int64))
    assert [int(x) for x in got] == [v.bit_length() for v in vals]


def test_argmax_ratio_is_exact():
    rng = np.random.default_rng(2)
    for _ in range(300):
        n = int(rng.integers(1, 12))
        num = rng.integers(0, 6, n).astype(np.int64)
        den = rng.integers(0, 6, n).astype(np.int64)
        got = intmath.argmax_ratio(num, den)
        inf = [i for i in range(n) if den[i] == 0]
        if inf:
            assert got == inf[0]
        else:
            ratios = [Fraction(int(a), int(b)) for a, b in zip(num, den)]
            assert got == ratios.index(max(ratios))
    # two ratios a hair apart at large magnitudes: the fixed-point keys tie, exactness decides
    d, n1 = 1 << 20, (1 << 55) + 12345
    n0 = n1 * (d + 1) // d  # n0/(d+1) is just below n1/d
    num = np.array([n0, n1], dtype=np.int64)
    den = np.array([d + 1, d], dtype=np.int64)
    k = 62 - n0.bit_length()
    assert (n0 << k) // (d + 1) == (n1 << k) // d  # the keys tie
    assert Fraction(n0, d + 1) < Fraction(n1, d)
    assert intmath.argmax_ratio(num, den) == 1
    assert intmath.argmax_ratio(num[::-1].copy(), den[::-1].copy()) == 0


# ---------------------------------------------- F2FS scan: a loop model
def ref_scan(cand, last_victim, max_search):
    """Plain transliteration of the f2fs_get_victim() scan loop."""
    if max_search == 0:
        return [], last_victim
    N = len(cand)
    last_segment, offset, sm_lv, lv_local = N, last_victim, last_victim, last_victim
    visited, nsearched = [], 0
    while True:
        segno = next((s for s in range(offset, last_segment) if cand[s]), last_segment)
        if segno >= last_segment:
            if sm_lv:
                last_segment, sm_lv, offset = sm_lv, 0, 0
                continue
            break
        offset = segno + 1
        nsearched += 1
        visited.append(segno)
        if nsearched >= max_search:
            sm_lv = lv_local + 1 if (not sm_lv and segno <= lv_local) else segno + 1
            sm_lv %= N
            break
    return visited, sm_lv


def test_f2fs_scan_matches_kernel_loop():
    rng = np.random.default_rng(3)
    for _ in range(400):
        N = int(rng.integers(1, 40))
        cand = rng.random(N) < rng.random()
        start = int(rng.integers(0, N))
        cap = None if rng.random() < 0.5 else int(rng.integers(1, 10))
        sc = F2FSScan()
        sc.last_victim = start
        got = sc.visit(cand, cap)
        n = int(cand.sum())
        exp, exp_lv = ref_scan(list(cand), start, n if cap is None else min(n, cap))
        assert list(got) == exp
        assert sc.last_victim == exp_lv


def test_greedy_fewest_valid_ties_follow_cursor():
    v = view([7, 3, 9, 3, 5])
    g = Greedy()
    assert g.select(v) == 1  # cursor 0: first of the two 3s
    # full scan ended at segment 4: cursor = 5 % 5 = 0 ... set it explicitly
    g.scan.last_victim = 2
    assert g.select(v) == 3  # from 2 upwards, 3 comes before 1 (wrapped)
    g.reset()
    assert g.scan.last_victim == 0 and g.select(v) == 1


def test_greedy_background_cap_and_foreground_full_scan():
    v = view([5, 6, 7, 1], foreground=False)
    g = Greedy(max_victim_search=2)
    assert g.select(v) == 0  # only segments 0 and 1 examined
    assert g.scan.last_victim == 2
    assert g.select(v) == 3  # next pass: 2, 3
    fg = view([5, 6, 7, 1], foreground=True)
    assert Greedy(max_victim_search=2).select(fg) == 3


def test_greedy_picks_full_segment_when_it_is_all_there_is():
    assert Greedy().select(view([512, 512], candidate=[False, True])) == 1


# ------------------------------------------------------------- f2fs-cb
def test_cb_cost_hand_values():
    # B = 512 (log 9): valid 128 -> u = 12800 >> 9 = 25; mtime 250 in [0, 1000] -> age 75
    cost, lo, hi = cb_costs(np.array([128]), np.array([250]), 512, 0, 1000)
    assert int(cost[0]) == UINT_MAX - (100 * 75 * 75) // 125 == UINT_MAX - 4500
    assert (lo, hi) == (0, 1000)
    # empty and oldest: u = 0, age = 100 -> benefit 10000
    assert int(cb_costs(np.array([0]), np.array([0]), 512, 0, 1000)[0][0]) == UINT_MAX - 10000
    # 511/512 valid: u = 51100 >> 9 = 99 (the shift truncates)
    assert int(cb_costs(np.array([511]), np.array([0]), 512, 0, 1000)[0][0]) == UINT_MAX - (100 * 1 * 100) // 199
    # the youngest (mtime == max) has age 0: cost UINT_MAX
    assert int(cb_costs(np.array([10]), np.array([1000]), 512, 0, 1000)[0][0]) == UINT_MAX
    # min == max: age 0
    assert int(cb_costs(np.array([10]), np.array([7]), 512, 7, 7)[0][0]) == UINT_MAX
    # age truncation: 100 * 333 / 1000 = 33 -> age 67; B = 500 is not a power of two: u = v*100 // 500
    c = cb_costs(np.array([125]), np.array([333]), 500, 0, 1000)[0][0]
    assert int(c) == UINT_MAX - (100 * 75 * 67) // 125


def test_cb_running_bounds_as_in_the_scan():
    # bounds widen in scan order: the first segment is scored before the second lowers min_mtime
    cost, lo, hi = cb_costs(np.array([0, 0]), np.array([50, 10]), 512, 40, 100)
    # seg0: min 40, max 100, mtime 50 -> age = 100 - 100*10/60 = 100 - 16 = 84
    # seg1: min 10 (itself), mtime 10 -> age 100
    assert int(cost[0]) == UINT_MAX - (100 * 100 * 84) // 100
    assert int(cost[1]) == UINT_MAX - (100 * 100 * 100) // 100
    assert (lo, hi) == (10, 100)


def ref_cb_select(valid, mtime, order, B, min_mtime, max_mtime):
    """Loop model of get_cb_cost() inside the scan; returns (segno, min, max)."""
    log = B.bit_length() - 1
    best, min_cost = -1, UINT_MAX
    for s in order:
        m = int(mtime[s])
        u = (int(valid[s]) * 100) >> log
        min_mtime, max_mtime = min(min_mtime, m), max(max_mtime, m)
        age = 0 if max_mtime == min_mtime else 100 - (100 * (m - min_mtime)) // (max_mtime - min_mtime)
        cost = UINT_MAX - (100 * (100 - u) * age) // (100 + u)
        if cost < min_cost:
            best, min_cost = s, cost
    return best, min_mtime, max_mtime


def test_f2fs_cb_matches_loop_model():
    rng = np.random.default_rng(4)
    for trial in range(200):
        N, B = int(rng.integers(1, 30)), 64
        now = int(rng.integers(1, 10_000))
        valid = rng.integers(0, B + 1, N)
        mtime = rng.integers(0, now + 1, N)
        cand = rng.random(N) < 0.7
        v = view(valid, B=B, now=now, mtime=mtime, candidate=cand, foreground=bool(trial % 2))
        p = F2FSCostBenefit(foreground_greedy=False, max_victim_search=int(rng.integers(1, 40)))
        got = p.select(v)
        n = int(cand.sum())
        limit = n if v.foreground else min(n, p.max_victim_search)
        order, _ = ref_scan(list(cand), 0, limit)
        exp, lo, hi = ref_cb_select(valid, mtime, order, B, int(mtime.min()), now)
        assert got == exp
        if order:
            assert (p.min_mtime, p.max_mtime) == (lo, hi)


def test_f2fs_cb_no_victim_when_every_benefit_is_zero():
    # all candidates are the youngest (mtime == now == max_mtime): age 0 -> -1, as -ENODATA
    v = view([10, 20], now=500, mtime=[500, 500])
    assert F2FSCostBenefit().select(v) == -1


def test_f2fs_cb_mount_uses_all_segments_and_foreground_is_greedy():
    # non-candidate segment 0 holds the smallest mtime: it sets min_mtime at "mount"
    v = view([100, 100, 200], now=1000, mtime=[0, 900, 500], candidate=[False, True, True])
    p = F2FSCostBenefit()
    # seg1: age = 100 - 90 = 10, u = 19 -> 100*81*10/119 = 680; seg2: age 50, u = 39 -> 100*61*50/139 = 2194
    assert p.select(v) == 2
    assert p.min_mtime == 0 and p.max_mtime == 1000
    fg = view([100, 100, 200], now=1000, mtime=[0, 900, 500], candidate=[False, True, True], foreground=True)
    assert F2FSCostBenefit(foreground_greedy=True).select(fg) == 1  # greedy in the foreground
    assert F2FSCostBenefit().select(fg) == 2


def test_f2fs_atgc_foreground_greedy_option():
    fg = view([90, 10, 50, 5], B=100, now=200, mtime=[0, 50, 99, 150], foreground=True)
    assert F2FSAgeThreshold(age_threshold=0, foreground_greedy=False).select(fg) == 1
    assert F2FSAgeThreshold(age_threshold=0).select(fg) == 3  # greedy in the foreground by default


# ----------------------------------------------------------- f2fs-atgc
def test_atgc_score_hand_values():
    # dirty mtimes 0, 50, 99 -> max 99 + 1 = 100, total 100, accu = min(ULLONG_MAX/100/100, 10000) = 10000
    cost, age = atgc_scores(np.array([0, 50, 99]), np.array([90, 10, 50]), 100, 0, 99, 60)
    assert list(age) == [600000, 300000, 6000]
    # u = 10000*(100 - v)/100 * 40
    assert [UINT_MAX - int(c) for c in cost] == [600000 + 40000, 300000 + 360000, 6000 + 200000]


def test_atgc_accuracy_class_shrinks_for_huge_spans():
    span = 1 << 60
    accu = min(ULLONG_MAX // span // 100, 10000)
    assert accu == 0  # kernel arithmetic: all scores collapse to 0 beyond ~1.8e15 s
    cost, _ = atgc_scores(np.array([0]), np.array([1]), 8, 0, span - 1, 60)
    assert int(cost[0]) == UINT_MAX


def test_atgc_picks_best_weighted_score_among_oldest():
    # same as the hand example, threshold 0
    v = view([90, 10, 50], B=100, now=200, mtime=[0, 50, 99])
    assert F2FSAgeThreshold(age_threshold=0).select(v) == 1


def test_atgc_threshold_retry():
    v = view([10, 10, 10], B=100, now=1000, mtime=[900, 950, 990])
    # threshold 500 ticks: nothing is 500 older than the youngest dirty section
    assert F2FSAgeThreshold(age_threshold=500, elapsed_time=10_000).select(v) == -1  # no retry
    # elapsed_time (0) < threshold: retry with threshold 0 -> the oldest wins (equal u)
    assert F2FSAgeThreshold(age_threshold=500).select(v) == 0
    # ticks_per_second scales the 7-day default
    assert F2FSAgeThreshold(ticks_per_second=3).age_threshold == 3 * 604800


def test_atgc_threshold_uses_running_max_in_scan_order():
    v = view([10, 10], B=100, now=1000, mtime=[0, 100])
    # cursor 0: seg0 is scanned while dirty_max_mtime is still 0 -> "young"; seg1 young too
    p = F2FSAgeThreshold(age_threshold=50, elapsed_time=10**9)
    assert p.select(v) == -1
    # cursor 1: seg1 first raises dirty_max_mtime to 100, then seg0 (100 older) qualifies
    q = F2FSAgeThreshold(age_threshold=50, elapsed_time=10**9)
    q.scan.last_victim = 1
    assert q.select(v) == 0


def test_atgc_dirty_max_mtime_persists_across_passes():
    p = F2FSAgeThreshold(age_threshold=50, elapsed_time=10**9)
    p.scan.last_victim = 1
    assert p.select(view([10, 10], B=100, now=1000, mtime=[0, 100])) == 0
    assert p.dirty_max_mtime == 100
    # segment 1 gone; segment 0 is still 100 older than the remembered maximum
    assert p.select(view([10, 10], B=100, now=1000, mtime=[0, 100], candidate=[True, False])) == 0
    p.reset()
    assert p.dirty_max_mtime == 0


def test_atgc_examines_only_the_oldest_entries():
    # 30 entries: dirty_threshold = max(10, 20*30/100 = 6) = 10 -> only the 10 oldest are scored
    n = 30
    mtime = np.arange(n) * 10
    valid = np.full(n, 90)
    valid[10] = 1  # 11th oldest: nearly empty, but never examined
    v = view(valid, B=100, now=1000, mtime=mtime)
    assert F2FSAgeThreshold(age_threshold=0).select(v) == 0
    valid[9] = 1  # 10th oldest is examined
    assert F2FSAgeThreshold(age_threshold=0).select(view(valid, B=100, now=1000, mtime=mtime)) == 9
    # 60 entries: max(10, 12) = 12 -> the 12th oldest counts
    n = 60
    valid = np.full(n, 90)
    valid[11] = 1
    v = view(valid, B=100, now=1000, mtime=np.arange(n) * 10)
    assert F2FSAgeThreshold(age_threshold=0).select(v) == 11


def ref_atgc_select(valid, mtime, order, B, dirty_max, threshold, ratio=20, count=10, weight=60):
    """Loop model of add_victim_entry() + atgc_lookup_victim(); returns (segno, dirty_max)."""
    dirty_min = ULLONG_MAX
    tree = []  # (mtime, insertion number, segno); bisect_right keeps equal keys in order
    for k, s in enumerate(order):
        m = int(mtime[s])
        dirty_min, dirty_max = min(dirty_min, m), max(dirty_max, m)
        if dirty_max - m < threshold:
            continue
        bisect.insort_right(tree, (m, k, s))
    if not order or dirty_max < dirty_min:
        return -1, dirty_max
    dthr = max(count, ratio * len(tree) // 100)
    top = dirty_max + 1
    total = top - dirty_min
    accu = min(ULLONG_MAX // total // 100, 10000)
    best, min_cost, oldest, it = -1, UINT_MAX, 0, 0
    for m, _, s in tree:
        if not (m >= top or m < dirty_min):
            age = (accu * (top - m)) // total * weight
            u = (accu * (B - int(valid[s]))) // B * (100 - weight)
            cost = UINT_MAX - (age + u)
            it += 1
            if cost < min_cost or (cost == min_cost and age > oldest):
                best, min_cost, oldest = s, cost, age
        if it >= dthr:
            break
    return best, dirty_max


def test_f2fs_atgc_matches_loop_model():
    rng = np.random.default_rng(5)
    for trial in range(300):
        N, B = int(rng.integers(1, 80)), 32
        now = int(rng.integers(1, 5000))
        valid = rng.integers(1, B, N)
        mtime = rng.integers(0, now + 1, N) // int(rng.integers(1, 50)) * 7  # ties happen
        cand = rng.random(N) < 0.8
        thr = int(rng.integers(0, 2000))
        start = int(rng.integers(0, N))
        ratio, count = (20, 10) if trial % 3 else (int(rng.integers(0, 50)), int(rng.integers(0, 4)))
        p = F2FSAgeThreshold(age_threshold=thr, elapsed_time=10**9, candidate_ratio=ratio, max_candidate_count=count)
        p.scan.last_victim = start
        p.dirty_max_mtime = int(rng.integers(0, 3000))
        dmax0 = p.dirty_max_mtime
        got = p.select(view(valid, B=B, now=now, mtime=mtime, candidate=cand))
        order, _ = ref_scan(list(cand), start, int(cand.sum()))
        exp, dmax = ref_atgc_select(valid, mtime, order, B, dmax0, thr, ratio, count)
        assert got == exp
        assert p.dirty_max_mtime == dmax


# -------------------------------------------------------- cost-benefit
def test_sprite_cost_benefit_hand_values():
    # B = 4: seg0 v=1 age 10 -> 3*10/5 = 6; seg1 v=2 age 20 -> 2*20/6 = 6.67; seg2 v=0 age 1 -> 4/4 = 1
    v = view([1, 2, 0], B=4, now=100, lastmod=[90, 80, 99])
    assert CostBenefit().select(v) == 1
    # equal ratios -> lowest segment number: v=1 age 5 (3*5/5 = 3) vs v=2 age 9 (2*9/6 = 3)
    assert CostBenefit().select(view([2, 1], B=4, now=10, lastmod=[1, 5])) == 0
    # age 0 everywhere: all benefits 0 -> the first candidate
    assert CostBenefit().select(view([1, 2], B=4, now=10, lastmod=[10, 10], candidate=[False, True])) == 1


def test_sprite_cost_benefit_exact_at_large_ages():
    B, now = 512, 1 << 40
    ages = [(1 << 39) + 1, 1 << 39]
    valid = [100, 99]
    lastmod = [now - a for a in ages]
    ratios = [Fraction((B - v) * a, B + v) for v, a in zip(valid, ages)]
    assert CostBenefit().select(view(valid, B=B, now=now, lastmod=lastmod)) == ratios.index(max(ratios))


# ------------------------------------------------------------------ CAT
def test_cat_prefers_least_erased_at_equal_u_and_age():
    v = view([256, 256, 256], B=512, now=1000, created=[0, 0, 0], erase=[5, 2, 9])
    assert CostAgeTimes().select(v) == 1


def test_cat_formula_hand_values():
    # A: u = 1/2 -> u/(1-u) = 1, e+1 = 1, age 100 -> 0.01
    # B: u = 1/4 -> 1/3, e+1 = 5, age 100 -> 0.0167; A wins despite more valid data
    v = view([256, 128], B=512, now=100, created=[0, 0], erase=[0, 4])
    assert CostAgeTimes().select(v) == 0
    # age matters: B three times older than A flips it (0.0167/3 < 0.01)
    v = view([256, 128], B=512, now=300, created=[200, 0], erase=[0, 4])
    assert CostAgeTimes().select(v) == 1
    # an empty segment (cost 0) wins at once; a full one loses to anything else
    assert CostAgeTimes().select(view([512, 0, 5], B=512, now=10, created=[0, 9, 0], erase=[0, 50, 0])) == 1
    assert CostAgeTimes().select(view([512, 500], B=512, now=10, created=[0, 9])) == 1


def test_cat_falls_back_to_lastmod_without_created():
    v = view([256, 256], B=512, now=1000, lastmod=[900, 100])
    assert CostAgeTimes().select(v) == 1
    v = view([256, 256], B=512, now=1000, lastmod=[900, 100], created=[0, 500])
    assert CostAgeTimes().select(v) == 0


# ------------------------------------------------------------ d-choices
def test_d_choices_replays_the_rng():
    valid = np.array([9, 3, 7, 3, 1, 8, 6, 2])
    cand = np.array([1, 1, 1, 1, 0, 1, 1, 1], dtype=bool)
    v = view(valid, candidate=cand, seed=42)
    got = DChoices(d=3).select(v)
    idx = np.flatnonzero(cand)
    pick = idx[np.random.default_rng(42).integers(0, idx.size, size=3)]
    assert got == int(pick[np.argmin(valid[pick])])
    assert got != 4


def test_d_choices_without_replacement_covers_small_sets():
    valid = np.array([9, 3, 7, 2, 1])
    cand = np.array([1, 1, 1, 1, 0], dtype=bool)
    for seed in range(20):
        assert DChoices(d=10, replace=False).select(view(valid, candidate=cand, seed=seed)) == 3


def test_d_choices_is_usually_good_with_d_10():
    rng = np.random.default_rng(7)
    valid = rng.integers(0, 512, 1000)
    ranks = []
    for seed in range(200):
        s = DChoices().select(view(valid, seed=seed))
        ranks.append(int((valid < valid[s]).sum()))
    # the best of 10 uniform draws sits around the 9th percentile on average
    assert 40 < np.mean(ranks) < 160


# ------------------------------------------------------------- NILFS2
def test_nilfs2_selects_oldest_outside_protection():
    now = 10_000
    lm = [5000, 7000, 6399, 6399, 9000]  # prottime = now - 3600 = 6400
    v = view([1, 1, 1, 1, 1], now=now, lastmod=lm, candidate=[False, True, True, True, True])
    p = Nilfs2Timestamp()
    assert p.select(v) == 2  # 6399 < 6400, ties -> lowest segment number
    v = view([1, 1], now=now, lastmod=[6400, 9000])
    assert p.select(v) == -1  # everything is protected
    assert Nilfs2Timestamp(protection_period=0).select(v) == 0
    # importance threshold (ss_nongc_ctime = now): a segment written at 'now' is never selected
    assert Nilfs2Timestamp(protection_period=0).select(view([1], now=now, lastmod=[now])) == -1
    assert Nilfs2Timestamp(ticks_per_second=2).protection == 7200


def test_nilfs2_schedule_around_min_and_max_clean_segments():
    total = 1000  # r = max(50, 8) = 50; low = 100 + 50 = 150; high = 200 + 50 = 250
    n = 20
    lm = np.arange(n)  # all far older than the protection period at t >= 10_000

    def at(now, free):
        return view(np.ones(n), now=now, lastmod=lm, free=free, total=total)

    p = Nilfs2Timestamp()
    t0 = 10_000
    assert p.segments_to_clean(at(t0, 300)) == 0  # starts paused (automatic suspend), plenty free
    assert p.next_wake == t0 + 10  # clean_check_interval
    assert p.segments_to_clean(at(t0 + 5, 100)) == 0  # asleep until the next check
    assert p.segments_to_clean(at(t0 + 10, 160)) == 0  # 160 >= low: stays paused
    # below low: resume, accelerated (4 segments, 1 s cadence); late versus target -> again at once
    assert p.segments_to_clean(at(t0 + 20, 149)) == 4
    assert p.next_wake == t0 + 20 and p.target == t0 + 21
    assert p.segments_to_clean(at(t0 + 20, 149)) == 4  # the immediate run; now on cadence
    assert p.next_wake == t0 + 21 and p.target == t0 + 22
    assert p.segments_to_clean(at(t0 + 20, 149)) == 0
    # between low and high: running at the normal pace, 2 segments, 5 s cadence
    assert p.segments_to_clean(at(t0 + 21, 200)) == 2
    assert p.next_wake == t0 + 22 and p.target == t0 + 27
    # above high: pause
    assert p.segments_to_clean(at(t0 + 22, 251)) == 0
    assert p.running == 0 and p.next_wake == t0 + 32
    # paused and between thresholds: stays paused (hysteresis)
    assert p.segments_to_clean(at(t0 + 32, 200)) == 0 and p.running == 0


def test_nilfs2_schedule_waits_for_protection_to_expire():
    total, t0 = 1000, 10_000
    p = Nilfs2Timestamp()
    v = view(np.ones(3), now=t0, lastmod=[t0 - 100, t0 - 50, t0 - 10], free=10, total=total)
    assert p.segments_to_clean(v) == 0  # running (free < low) but all protected
    # sleeps until the oldest leaves the protection period: oldest - prottime + 1
    assert p.next_wake == t0 + ((t0 - 100) - (t0 - 3600) + 1)
    # no reclaimable segment at all: pause and sleep a protection period
    q = Nilfs2Timestamp()
    w = view(np.ones(3), now=t0, lastmod=[t0, t0, t0], candidate=[False, False, False], free=10, total=total)
    assert q.segments_to_clean(w) == 0
    assert q.running == 0 and q.next_wake == t0 + 3600


def test_nilfs2_schedule_caps_at_selectable_count_and_resets():
    total, t0 = 1000, 10_000
    p = Nilfs2Timestamp()
    v = view(np.ones(3), now=t0, lastmod=[1, t0 - 1, 2], free=10, total=total)
    assert p.segments_to_clean(v) == 2  # mc wants 4, two are outside the protection period
    p.reset()
    assert p.next_wake is None and p.running == 1
