"""The memory model: faults, refaults and lineage, LRU reclaim under a limit
(mm/vmscan.c, mm/workingset.c), and the DAMOS actions on pages (mm/damon/paddr.c)."""

import numpy as np
import pytest

from kernelml.kernel.damon.memory import (
    C_NR_ACTIVE, C_REFAULTS, C_RESIDENT, C_STALL_NS, DEVICES, F_ACTIVE, F_REFERENCED, F_RESIDENT,
    F_YOUNG, Machine, MemoryModel,
)
from kernelml.kernel.damon.ops import A_LRU_DEPRIO, A_LRU_PRIO, A_PAGEOUT, A_STAT, mkold, pa_apply
from kernelml.kernel.damon.vmscan import access_until, check_references, int_sqrt, reclaim_to_limit

BIG = np.iinfo(np.int64).max


def feed(mem, pages, t0=0, dt=10):
    pages = np.asarray(pages, np.int64)
    times = t0 + np.arange(pages.shape[0], dtype=np.int64) * dt
    access_until(mem.flags, mem.lru, mem.shadow, mem.ctr, mem.prm, mem.rlog, times, pages, 0,
                 pages.shape[0], BIG, mem.use_lists)
    return int(times[-1]) + dt


def pageout(mem, start, end, src=0):
    return pa_apply(mem.flags, mem.lru, mem.shadow, mem.ctr, mem.prm, start, end, A_PAGEOUT, src, mem.use_lists)


def test_refault_lineage_and_callback():
    got = []
    mem = MemoryModel(64, on_refault=lambda src, n: got.append((src, n)))
    mem.start(0)
    t = feed(mem, range(64))
    for p in range(64):
        mkold(mem.flags, p)
    applied, ns = pageout(mem, 0, 16, src=1)
    assert applied == 16 and ns > 0
    applied, _ = pageout(mem, 16, 32, src=0)
    assert applied == 16
    mem.check_integrity()
    feed(mem, list(range(0, 8)) + list(range(16, 20)), t0=t)
    mem.flush_refaults()
    assert sorted(got) == [(0, 4), (1, 8)]
    assert mem.ctr[C_REFAULTS] == 12
    assert mem.ctr[C_STALL_NS] == 12 * DEVICES["zram"].refault_ns
    log = mem.drain_refault_log()
    assert sorted((log >> 1).tolist()) == list(range(8)) + list(range(16, 20))
    assert int((log & 1).sum()) == 8
    mem.check_integrity()
    mem.flush_refaults()
    assert len(got) == 2  # nothing new to report


def test_pageout_skips_young_and_never_made_old_pages():
    mem = MemoryModel(10)
    mem.start(0)
    feed(mem, range(10))
    # fresh pages are not idle: the built-in young filter skips them and makes them old
    assert pageout(mem, 0, 10)[0] == 0
    assert pageout(mem, 0, 10)[0] == 10
    mem.check_integrity()
    mem2 = MemoryModel(10)
    mem2.start(0)
    t = feed(mem2, range(10))
    for p in range(10):
        mkold(mem2.flags, p)
    feed(mem2, [3, 4], t0=t)  # accessed after being made old: young
    assert pageout(mem2, 0, 10)[0] == 8
    assert mem2.flags[3] & F_RESIDENT and mem2.flags[4] & F_RESIDENT


def test_lru_prio_deprio_and_stat():
    mem = MemoryModel(8)
    mem.start(0)
    feed(mem, range(8))
    args = (mem.flags, mem.lru, mem.shadow, mem.ctr, mem.prm)
    assert pa_apply(*args, 0, 4, A_LRU_PRIO, 0, True)[0] == 4
    assert np.all(mem.flags[:4] & F_REFERENCED) and not np.any(mem.flags[:4] & F_ACTIVE)
    pa_apply(*args, 0, 4, A_LRU_PRIO, 0, True)  # second mark: activate
    assert np.all(mem.flags[:4] & F_ACTIVE) and mem.ctr[C_NR_ACTIVE] == 4
    mem.check_integrity()
    pa_apply(*args, 0, 2, A_LRU_DEPRIO, 0, True)
    assert not np.any(mem.flags[:2] & F_ACTIVE) and mem.ctr[C_NR_ACTIVE] == 2
    assert pa_apply(*args, 0, 8, A_STAT, 0, True) == (0, 0)
    mem.check_integrity()


def test_check_references_second_chance():
    mem = MemoryModel(4)
    mem.start(0)
    feed(mem, [0, 1])
    assert check_references(mem.flags, 2) == 0  # never touched, not referenced: reclaim
    assert check_references(mem.flags, 0) == 1  # first reference: keep, mark PG_referenced
    assert mem.flags[0] & F_REFERENCED and not mem.flags[0] & F_YOUNG
    feed(mem, [0], t0=100)
    assert check_references(mem.flags, 0) == 2  # referenced again with the mark: activate
    assert check_references(mem.flags, 1) == 1
    assert check_references(mem.flags, 1) == 0  # unreferenced since: reclaim


def test_limit_is_honoured_and_hot_pages_survive():
    rng = np.random.default_rng(0)
    mem = MemoryModel(1000)
    mem.start(0)
    mem.set_limit(300)
    hot = rng.integers(0, 100, 20000)
    cold = np.arange(100, 1000)
    pages = np.concatenate([np.arange(100), np.stack([hot[:900], cold], 1).ravel(), hot[900:]])
    feed(mem, pages)
    assert mem.ctr[C_RESIDENT] <= 300
    assert np.all(mem.flags[:100] & F_RESIDENT)  # the hot set stays resident
    refaults_hot = int(mem.ctr[C_REFAULTS])
    assert refaults_hot < 400  # a few while the hot set works its way onto the active list
    mem.check_integrity()


def test_reclaim_to_limit_is_not_a_stall():
    mem = MemoryModel(100)
    mem.start(0)
    feed(mem, range(100))
    mem.set_limit(40)
    got = reclaim_to_limit(mem)
    assert got >= 60 and mem.ctr[C_RESIDENT] <= 40 and mem.ctr[C_STALL_NS] == 0
    mem.check_integrity()


def test_free_rate_and_machine_default():
    m = Machine.default(1000)
    assert m.total == 2000 and m.other == 500
    mem = MemoryModel(1000, device=DEVICES["ssd"], machine=m)
    mem.start(0)
    assert mem.free_rate_pm() == 750
    feed(mem, range(1000))
    assert mem.free_rate_pm() == 250
    for p in range(500):
        mkold(mem.flags, p)
    pageout(mem, 0, 500)
    assert mem.free_rate_pm() == 500  # ssd: a reclaimed page takes no RAM
    zmem = MemoryModel(1000, device=DEVICES["zram"], machine=m)
    zmem.start(0)
    feed(zmem, range(1000))
    for p in range(500):
        mkold(zmem.flags, p)
    pageout(zmem, 0, 500)
    assert zmem.free_rate_pm() == (2000 - 500 - 500 - 500 * 333 // 1000) * 1000 // 2000


def test_time_integrals():
    mem = MemoryModel(10)
    mem.start(0)
    feed(mem, range(10), t0=0, dt=100)  # page k touched at 100k us
    mem.advance_to(2000)
    c = mem.counters()
    # touched pages over time: sum over k of (2000 - 100k)
    assert c["touch_int"] == sum(2000 - 100 * k for k in range(10)) and c["res_int"] == c["touch_int"]


def test_int_sqrt():
    for x in [0, 1, 2, 3, 4, 15, 16, 17, 10**12, 10**12 + 1]:
        r = int_sqrt(x)
        assert r * r <= x < (r + 1) * (r + 1)


def test_bad_sizes():
    with pytest.raises(ValueError):
        MemoryModel(0)
