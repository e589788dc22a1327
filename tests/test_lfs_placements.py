"""Placement rules, one by one, on hand-made streams."""

from __future__ import annotations

import numpy as np
import pytest

from kernelml.kernel.lfs import LfsConfig, LfsSim
from kernelml.kernel.lfs.layout import CLASS, FMAP, SEALED, STATE, VALID
from kernelml.kernel.lfs.placement import PLACEMENTS
from kernelml.kernel.lfs.placement.fk import FK
from kernelml.kernel.lfs.placement.sepbit import S_L16, S_LSET, SepBIT
from kernelml.kernel.lfs.placement.table import check_table

from lfs_helpers import hotcold, simulate, uniform, waf


def classes_of(sim, lba, **kw):
    got = []
    sim.on_writes = lambda l, t, h, c, age: got.append(c.copy())
    sim.apply(lba=np.asarray(lba, np.int64), **kw)
    sim.on_writes = None
    return np.concatenate(got)


def seg_class_of(sim, x):
    return int(sim.segi[CLASS, sim.lbat[FMAP, x] // sim.bps])


def test_f2fs_temp_follows_hints_and_sends_gc_to_cold():
    sim = LfsSim(LfsConfig(n_lbas=4096, blocks_per_seg=64, spare_ppm=250_000),
                 PLACEMENTS.make("f2fs-temp"))
    c = classes_of(sim, [0, 1, 2, 3], hint=np.array([0, 1, 2, 3]))
    assert c.tolist() == [1, 0, 1, 2]  # none->warm, hot, warm, cold
    sim.fill()
    rng = np.random.default_rng(1)
    for _ in range(6):
        sim.apply(lba=rng.integers(0, 4096, 4096))
    gc_classes = {int(sim.segi[CLASS, s]) for s in range(sim.n_segs)
                  if sim.segi[STATE, s] == SEALED}
    assert gc_classes <= {1, 2}  # warm user data, cold GC data
    atgc = LfsSim(LfsConfig(n_lbas=4096, blocks_per_seg=64, spare_ppm=250_000),
                  PLACEMENTS.make("f2fs-temp", atgc=True))
    assert atgc.n_classes_h == 4
    with pytest.raises(ValueError):
        PLACEMENTS.make("f2fs-temp", active_logs=5)


def test_dac_promotes_on_update_and_demotes_on_gc():
    sim = LfsSim(LfsConfig(n_lbas=4096, blocks_per_seg=64, spare_ppm=250_000),
                 PLACEMENTS.make("dac", regions=4))
    assert classes_of(sim, [7, 7, 7, 7, 7]).tolist() == [0, 1, 2, 3, 3]
    lvl = int(sim.lb[7]) - 1
    assert lvl == 3
    from kernelml.kernel.lfs.placement import dac

    assert dac.gc_class(sim.lb, 7) == 2 and int(sim.lb[7]) == 3


def test_sepbit_rules():
    sim = LfsSim(LfsConfig(n_lbas=1024, blocks_per_seg=64, regime="sepbit"), SepBIT())
    # l unknown: class 0 iff now - last_write < FIFO size; the FIFO holds at
    # most the log's valid blocks before this write (the artifact counts the
    # request's blocks after it), so the very first entry is evicted at once
    c = classes_of(sim, [10, 11, 12, 13, 12, 11])
    assert c.tolist() == [1, 1, 1, 1, 0, 1]
    # once l is known (16 class-0 segments collected), age classes apply to GC writes
    from kernelml.kernel.lfs.placement import sepbit as sb

    pp = sim.pp
    ps = sim.ps.copy()
    ps[S_L16], ps[S_LSET] = 16 * 100, 1
    ps[sb.S_CURCLS] = 1
    ages = [0, 399, 400, 1599, 1600, 10**6]
    got = [sb.gc_class(pp, ps, 10**7 - a, 10**7) for a in ages]
    assert got == [3, 3, 4, 4, 5, 5]
    ps[sb.S_CURCLS] = 0
    assert sb.gc_class(pp, ps, 0, 10**7) == 2
    # threshold update: mean lifespan of 16 collected class-0 segments
    ps = np.zeros_like(ps)
    for k in range(16):
        sb.on_collect(pp, ps, 0, 1000 + k, 2000 + k)
    assert ps[S_LSET] == 1 and ps[S_L16] == 16 * 1000


def test_fk_classes_are_geometric_in_remaining_lifetime():
    from kernelml.kernel.lfs.layout import NEVER
    from kernelml.kernel.lfs.placement import fk as fkmod

    pl = FK(classes=8, width=10)
    pl.bind(1 << 20, 4096, 512)  # plenty of spare: keep 8 classes
    pp = pl.params(1 << 20, 512)
    now = 1000
    got = [fkmod.lifetime_class(pp, now + r, now) for r in (0, 9, 10, 29, 30, 69, 70, 10**9)]
    assert got == [0, 0, 1, 1, 2, 2, 3, 7]
    assert fkmod.lifetime_class(pp, NEVER, now) == 7
    lin = FK(classes=6, width=512, scale="linear")
    lin.bind(1 << 20, 4096, 512)
    pl2 = lin.params(1 << 20, 512)
    assert [fkmod.lifetime_class(pl2, now + r, now) for r in (0, 511, 512, 5000)] == [0, 0, 1, 5]
    small = FK()
    small.bind(1 << 15, 72, 512)  # 8 spare segments: 2 classes
    assert small.n_classes(1 << 15, 512) == 2


def test_table_lookup_and_validation():
    n = 1 << 12
    table = np.array([0, 1, 2, 1] * 4, np.int32)
    sim = LfsSim(LfsConfig(n_lbas=n, blocks_per_seg=64, spare_ppm=250_000),
                 PLACEMENTS.make("table", table=table, shift=8, classes=3))
    lba = np.arange(0, n, 128)
    assert classes_of(sim, lba).tolist() == table[lba >> 8].tolist()
    with pytest.raises(ValueError):
        check_table(np.array([0, 5]), n, 8, 3)
    with pytest.raises(ValueError):
        check_table(np.array([0, 1]), n, 8, 3)  # too short for the LBA space
    with pytest.raises(ValueError):
        check_table(np.array([[0]]), n, 8, 3)


def test_ssdfs_keeps_each_segment_to_one_leb_and_stimulates_migration():
    n = 1 << 14
    sim = simulate(hotcold(n, 3 * n, 2), n, spare=0.25, bps=64,
                   placement=PLACEMENTS.make("ssdfs"), debug=True)
    leb = sim.placement._leb(64)
    x = np.flatnonzero(sim.lbat[FMAP] >= 0)
    seg = sim.lbat[FMAP][x] // 64
    assert np.array_equal(sim.segi[CLASS][seg], x // leb)  # one LEB per segment
    st = sim.stats()["measured"]
    assert st["stim"] > 0 and st["stim"] <= st["gcw"]


def test_separation_beats_single_log_on_hot_cold():
    n = 1 << 16
    lba = hotcold(n, 5 * n, 4)
    base = waf(simulate(lba, n, warmup=2 * n))
    sep = waf(simulate(lba, n, warmup=2 * n, placement=PLACEMENTS.make("sepgc")))
    assert sep < base


def test_every_placement_is_registered_and_documented():
    for name in PLACEMENTS.names():
        cls = PLACEMENTS.get(name)
        doc = (cls.__doc__ or "").strip()
        assert doc, name
        mod = __import__(cls.__module__, fromlist=["x"])
        assert len((mod.__doc__ or "").strip()) > 100, f"{name}: module docstring names its source"
        assert cls.name == name
