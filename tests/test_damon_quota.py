"""Quotas, scores, the prioritisation cut, goals and watermarks
(mm/damon/core.c, mm/damon/ops-common.c)."""

import numpy as np

from kernelml.kernel.damon.choose import RegionsView, damos_choose
from kernelml.kernel.damon.goals import GoalMetric, QuotaGoal, feed_loop_next_input, quota_score
from kernelml.kernel.damon.quota import Quota, cold_scores, hot_scores
from kernelml.kernel.damon.watermarks import W_ACTIVATED, Watermarks, WmarkMetric, wmark_wait_us

MIB = 1 << 20


def test_hot_score_known_values():
    # not accessed, age 0: age subscore 50 -> hot 49, cold 50 (age weight only)
    assert hot_scores(np.array([0]), np.array([0]), 20, 100_000, 0, 1)[0] == 49
    assert cold_scores(np.array([0]), np.array([0]), 20, 100_000, 0, 1)[0] == 50
    # not accessed for 120 s (1200 aggregations): log2 bits of 120 = 7 -> (32-7)*100/32/2 = 39 -> 38
    assert hot_scores(np.array([0]), np.array([1200]), 20, 100_000, 0, 1)[0] == 38
    # fully accessed, frequency weight only: 100 -> 99
    assert hot_scores(np.array([20]), np.array([0]), 20, 100_000, 1, 0)[0] == 99
    # no weights: hotness is not divided, just scaled
    assert hot_scores(np.array([10]), np.array([0]), 20, 100_000, 0, 0)[0] == 0


def test_cold_score_grows_with_idle_age_and_falls_with_access():
    ages = np.array([0, 10, 100, 1000, 10000, 100000])
    cold = cold_scores(np.zeros(6, np.int64), ages, 20, 100_000, 0, 1)
    assert np.all(np.diff(cold) >= 0) and cold[-1] > cold[0]
    hot_age = hot_scores(np.full(6, 5), ages, 20, 100_000, 1, 1)
    assert np.all(np.diff(hot_age) >= 0)  # accessed regions get hotter with age


def test_time_quota_converts_to_size_by_throughput():
    q = Quota(ms=10, reset_interval_ms=1000)
    q.new_window(0, None)
    assert q.esz == 4096 * 1024 * 10  # PAGE_SIZE * 1024 bytes per ms before any charge
    q.charged_sz = 8 * MIB
    q.total_charged_ns = 2_000_000  # 8 MiB took 2 ms: 4 MiB per ms
    assert not q.new_window(999_999, None)  # window not over yet
    q.new_window(1_000_000, None)
    assert q.total_charged_sz == 8 * MIB and q.charged_sz == 0
    assert q.esz == (8 * MIB * 1_000_000 // 2_000_000) * 10
    q2 = Quota(ms=10, sz=1 * MIB, reset_interval_ms=1000)
    q2.new_window(0, None)
    assert q2.esz == 1 * MIB  # the size quota caps the time quota


def test_window_reports_exceeded_quota():
    q = Quota(sz=MIB, reset_interval_ms=1000)
    q.new_window(0, None)
    q.charged_sz = MIB
    assert q.exhausted()
    assert q.new_window(1_000_000, None) is True
    assert not q.exhausted()


def test_min_score_cut_takes_the_coldest_up_to_quota():
    q = Quota(sz=3 * MIB, reset_interval_ms=1000)
    q.new_window(0, None)
    scores = np.array([10, 90, 50, 90, 70, 20])
    sizes = np.full(6, MIB)
    valid = np.ones(6, bool)
    q.set_min_score(scores, sizes, valid)
    assert q.min_score == 70  # 90, 90, 70 reach 3 MiB
    valid[4] = False
    q.set_min_score(scores, sizes, valid)
    assert q.min_score == 50


def _view(ages, sizes_pages, esz, first=0, min_score=0):
    n = len(ages)
    start = np.concatenate([[0], np.cumsum(sizes_pages)[:-1]]) * 4096
    end = np.cumsum(sizes_pages) * 4096
    nr = np.zeros(n, np.int64)
    age = np.array(ages, np.int64)
    scores = cold_scores(nr, age, 20, 100_000, 0, 1)
    q = Quota(sz=esz, reset_interval_ms=1000)
    q.new_window(0, None)
    q.set_min_score(scores, end - start, np.ones(n, bool))
    eligible = scores >= q.min_score
    z = np.zeros(n, np.int64)
    return RegionsView(0, start, end, nr, age, z, z, z, scores, eligible, first, 2, q.min_score, q.esz, 0,
                       5000, 100_000, 20, 300)


def test_default_choice_is_coldest_regions_in_address_order_cut_at_quota():
    # four regions of 256 pages (1 MiB); ages make regions 1 and 3 coldest
    v = _view([10, 100000, 100, 50000], [256] * 4, esz=int(1.5 * MIB))
    chosen = damos_choose(v)
    assert [i for i, _ in chosen] == [1, 3]
    assert chosen[0][1] == MIB and chosen[1][1] == MIB // 2
    assert sum(sz for _, sz in chosen) == v.quota_esz
    # the walk starts at ``first`` (regions charged in the previous window are skipped)
    v2 = _view([10, 100000, 100, 50000], [256] * 4, esz=int(1.5 * MIB), first=2)
    assert [i for i, _ in damos_choose(v2)] == [3]


def test_feed_loop_direction():
    assert feed_loop_next_input(100_000, 5000) > 100_000  # under-achieving: more
    assert feed_loop_next_input(100_000, 15000) < 100_000  # over-achieving: less
    assert feed_loop_next_input(100_000, 10000) == 100_000
    assert feed_loop_next_input(100_000, 20000) == 10000  # far over: minimum
    assert feed_loop_next_input(10000, 19999) == 10000  # never below the minimum
    assert feed_loop_next_input(100_000, 0) == 200_000


class _Env:
    def __init__(self):
        self.psi = 0

    def psi_total_us(self):
        return self.psi

    def used_bp(self):
        return 6000

    def free_bp(self):
        return 4000


def test_psi_goal_tunes_the_quota_both_ways():
    env = _Env()
    q = Quota(sz=128 * MIB, reset_interval_ms=1000, goals=[QuotaGoal(GoalMetric.SOME_MEM_PSI_US, 1000)])
    sizes = []
    for w in range(30):  # no stall: the effective quota grows
        q.new_window(w * 1_000_000, env)
        sizes.append(q.esz)
    assert all(b >= a for a, b in zip(sizes, sizes[1:])) and sizes[-1] > sizes[0]
    grown = q.esz
    for w in range(30, 35):  # 5 ms of stall per window, 5x the goal: it shrinks
        env.psi += 5000
        q.new_window(w * 1_000_000, env)
    assert q.esz < grown


def test_quota_score_takes_the_highest_goal():
    env = _Env()
    goals = [QuotaGoal(GoalMetric.NODE_MEM_USED_BP, 5000), QuotaGoal(GoalMetric.USER_INPUT, 10000, 5000)]
    assert quota_score(goals, env) == 12000  # used 6000 / 5000


def test_watermarks_activate_and_deactivate_at_thresholds():
    row = Watermarks(WmarkMetric.FREE_MEM_RATE, 5_000_000, 500, 400, 200).row()
    assert wmark_wait_us(row, 300) == 0 and row[W_ACTIVATED] == 1  # between low and mid
    assert wmark_wait_us(row, 450) == 0 and row[W_ACTIVATED] == 1  # active stays active below high
    assert wmark_wait_us(row, 501) == 5_000_000 and row[W_ACTIVATED] == 0  # above high
    assert wmark_wait_us(row, 450) == 5_000_000 and row[W_ACTIVATED] == 0  # inactive between mid and high
    assert wmark_wait_us(row, 400) == 5_000_000 and row[W_ACTIVATED] == 0  # mid is still "at or above mid"
    assert wmark_wait_us(row, 399) == 0 and row[W_ACTIVATED] == 1  # below mid: activate
    assert wmark_wait_us(row, 199) == 5_000_000 and row[W_ACTIVATED] == 0  # below low
    assert wmark_wait_us(row, 200) == 0 and row[W_ACTIVATED] == 1  # low itself is inside the band
    none = Watermarks().row()
    assert wmark_wait_us(none, 999) == 0 and none[W_ACTIVATED] == 1
