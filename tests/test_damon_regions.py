"""Adaptive regions: merge, split, and the monitor's region accounting
(mm/damon/core.c kdamond_merge_regions, kdamond_split_regions)."""

import numpy as np
import pytest
from test_damon_lib import all_pages_every_ms, hot_cold

from kernelml.kernel.damon import rng as drng
from kernelml.kernel.damon.attrs import DamonAttrs
from kernelml.kernel.damon.memory import MemoryModel
from kernelml.kernel.damon.monitor import Kdamond
from kernelml.kernel.damon.regions import (
    AGE, END, LAST, NR, START, merge_regions, merge_regions_of, new_regions, split_region_at,
    split_regions,
)


def regions(spec, cap=64):
    """spec: list of (start, end, nr, last, age)."""
    R = np.zeros((6, cap), np.int64)
    for i, (s, e, nr, last, age) in enumerate(spec):
        R[START, i], R[END, i], R[NR, i], R[LAST, i], R[AGE, i] = s, e, nr, last, age
    return R, len(spec)


def test_merge_weighted_average_and_age_rules():
    # [0,10) nr 4 age 7, [10,40) nr 5 age 3 (both steady) -> merged, weighted
    R, nr = regions([(0, 10, 4, 4, 7), (10, 40, 5, 5, 3), (40, 50, 20, 0, 9)])
    nr = merge_regions_of(R, nr, 2, 1000)
    assert nr == 2
    assert (R[START, 0], R[END, 0]) == (0, 40)
    assert R[NR, 0] == (4 * 10 + 5 * 30) // 40
    assert R[AGE, 0] == (8 * 10 + 4 * 30) // 40  # ages incremented before merging
    # third region changed by 20 > thres: age restarts, no merge (|4 - 20| > 2)
    assert R[AGE, 1] == 0 and (R[START, 1], R[END, 1]) == (40, 50)


def test_merge_respects_size_limit_and_threshold():
    R, nr = regions([(0, 10, 1, 1, 0), (10, 20, 1, 1, 0), (20, 30, 1, 1, 0)])
    assert merge_regions_of(R, nr, 0, 15) == 3  # any merge would exceed 15 pages
    R, nr = regions([(0, 10, 1, 1, 0), (10, 20, 3, 3, 0)])
    assert merge_regions_of(R, nr, 1, 100) == 2  # |1 - 3| > 1
    R, nr = regions([(0, 10, 1, 1, 0), (10, 20, 3, 3, 0)])
    assert merge_regions_of(R, nr, 2, 100) == 1


def test_merge_repeats_until_below_max():
    spec = [(i, i + 1, i % 7, i % 7, 0) for i in range(50)]
    R, nr = regions(spec)
    nr = merge_regions(R, nr, 0, 1000, max_nr_regions=10, max_thres=20)
    assert nr <= 10


def test_split_counts_and_coverage():
    st = drng.new_state(3)
    R, nr = regions([(0, 100, 3, 2, 5), (100, 102, 1, 1, 1), (102, 400, 0, 0, 9)])
    scratch = np.zeros_like(R)
    nr2, last = split_regions(R, nr, max_nr_regions=1000, last_nr_regions=0, rng=st, scratch=scratch)
    assert last == 3 and nr2 == 5  # two-page region is not split; others in two
    assert R[START, 0] == 0 and R[END, nr2 - 1] == 400
    assert np.all(R[START, 1:nr2] == R[END, :nr2 - 1]) and np.all(R[END, :nr2] > R[START, :nr2])
    # children copy the parent's monitoring results
    kids = (R[START, :nr2] >= 102)
    assert np.all(R[AGE, :nr2][kids] == 9) and np.all(R[NR, :nr2][kids] == 0)
    # same count as last time and below max/3: three-way split
    R1, n1 = regions([(0, 1000, 0, 0, 0)])
    n3, _ = split_regions(R1, n1, 1000, last_nr_regions=1, rng=st, scratch=np.zeros_like(R1))
    assert n3 == 3 and R1[START, 0] == 0 and R1[END, 2] == 1000
    nr3 = nr2
    # above max/2: no split
    nr4, _ = split_regions(R, nr3, max_nr_regions=2 * nr3 - 1, last_nr_regions=0, rng=st, scratch=scratch)
    assert nr4 == nr3


def test_split_cut_points_are_tenths():
    st = drng.new_state(1)
    for _ in range(50):
        R, nr = regions([(0, 1000, 0, 0, 0)])
        scratch = np.zeros_like(R)
        nr2, _ = split_regions(R, nr, 1000, 0, st, scratch)
        assert nr2 == 2 and R[END, 0] % 100 == 0 and 100 <= R[END, 0] <= 900


def test_split_region_at():
    R, nr = regions([(0, 10, 2, 1, 4), (10, 20, 0, 0, 0)])
    nr = split_region_at(R, nr, 0, 3)
    assert nr == 3 and list(R[START, :3]) == [0, 3, 10] and list(R[END, :3]) == [3, 10, 20]
    assert R[AGE, 1] == 4 and R[NR, 1] == 2 and R[LAST, 1] == 1
    with pytest.raises(ValueError):
        split_region_at(R, nr, 0, 3)


def _monitor(times, pages, n_pages, seed=0, attrs=None, hook=None, init="paddr"):
    mem = MemoryModel(n_pages)
    mem.start(int(times[0]))
    k = Kdamond(mem, attrs or DamonAttrs(), [], seed=seed, init_regions=init, on_aggregate=hook)
    k.start(int(times[0]))
    k.feed(times, pages)
    k.finish(int(times[-1]) + 1)
    return k, mem


def test_region_count_stays_within_bounds():
    times, pages = hot_cold(n_pages=4096, hot=300, hot_start=1000, duration_s=6, rate=50_000)
    counts = []
    k, mem = _monitor(times, pages, 4096, hook=lambda now, rec: counts.append((now, rec.shape[0])))
    attrs = DamonAttrs()
    after = [c for t, c in counts if t >= 1_000_000]
    assert after and min(after) >= attrs.min_nr_regions and max(after) <= attrs.max_nr_regions
    mem.check_integrity()


def test_region_count_within_small_max():
    times, pages = hot_cold(n_pages=2048, hot=100, duration_s=4, rate=20_000)
    attrs = DamonAttrs(min_nr_regions=5, max_nr_regions=40)
    counts = []
    _monitor(times, pages, 2048, attrs=attrs, hook=lambda now, rec: counts.append((now, rec.shape[0])))
    after = [c for t, c in counts if t >= 1_000_000]
    assert min(after) >= 5 and max(after) <= 40


def test_fully_accessed_region_reaches_max_nr_accesses():
    times, pages = all_pages_every_ms(n_pages=100, duration_s=2)
    seen = []
    _monitor(times, pages, 100, hook=lambda now, rec: seen.append(rec.copy()))
    attrs = DamonAttrs()
    assert attrs.aggr_interval_us // attrs.sample_interval_us == 20
    for rec in seen[1:]:
        assert np.all(rec[:, 2] == 20)


def test_records_cover_the_space_and_are_deterministic():
    times, pages = hot_cold(n_pages=1024, hot=64, duration_s=3)
    a, b = [], []
    _monitor(times, pages, 1024, seed=5, hook=lambda now, rec: a.append(rec.copy()))
    _monitor(times, pages, 1024, seed=5, hook=lambda now, rec: b.append(rec.copy()))
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    for rec in a:
        assert rec.dtype == np.int64 and rec.shape[1] == 4
        assert rec[0, 0] == 0 and rec[-1, 1] == 1024 * 4096
        assert np.all(rec[1:, 0] == rec[:-1, 1])
    c = []
    _monitor(times, pages, 1024, seed=6, hook=lambda now, rec: c.append(rec.copy()))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))


def test_hot_and_cold_regions_are_told_apart():
    times, pages = hot_cold(n_pages=2048, hot=256, hot_start=512, duration_s=5, rate=100_000)
    last = []
    _monitor(times, pages, 2048, hook=lambda now, rec: last.append(rec.copy()))
    rec = last[-1]
    mid = (rec[:, 0] + rec[:, 1]) // 2 // 4096
    hot = (mid >= 512) & (mid < 768)
    assert rec[hot, 2].min() > rec[~hot, 2].max()
    assert new_regions(8, 0, 10)[1] == 1
