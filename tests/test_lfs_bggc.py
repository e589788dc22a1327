"""The F2FS background GC thread replayed on trace timestamps."""

from __future__ import annotations

import numpy as np

from kernelml.kernel.lfs import LfsConfig, LfsSim
from kernelml.kernel.lfs.bggc import BgThread, has_enough_invalid_blocks
from kernelml.kernel.lfs.sim import greedy_fallback

S = 1_000_000  # us per second


def test_sleep_time_rules_follow_gc_h():
    th = BgThread(0, 30 * S, 60 * S, 300 * S, 5 * S)
    assert th.wait == 30 * S and th.next_wake == 30 * S
    th.increase()
    assert th.wait == 60 * S
    th.increase()
    assert th.wait == 60 * S  # capped at max
    th.decrease()
    assert th.wait == 30 * S  # floored at min
    th.wait = 300 * S
    th.increase()
    assert th.wait == 300 * S  # no-GC sleep is sticky for increase
    th.decrease()
    assert th.wait == 30 * S


def test_wake_skips_when_busy_and_collects_when_idle():
    th = BgThread(0, 30 * S, 60 * S, 300 * S, 5 * S)
    ran = []
    th.wake(last_request_us=29 * S, enough_invalid=lambda: True, run_pass=lambda: ran.append(1) or True)
    assert ran == [] and th.busy_wakes == 1 and th.wait == 60 * S
    th.wake(last_request_us=0, enough_invalid=lambda: True, run_pass=lambda: ran.append(1) or True)
    assert ran == [1] and th.wait == 30 * S
    th.wake(last_request_us=0, enough_invalid=lambda: False, run_pass=lambda: False)
    assert th.wait == 300 * S and th.no_victim == 1


def test_has_enough_invalid_blocks():
    # 1000 user blocks, 500 live: 500 invalid > 400; free user blocks vs 40 % of 500
    assert has_enough_invalid_blocks(1000, 500, 2, 1, 100)  # (2-1)*100 = 100 < 200
    assert not has_enough_invalid_blocks(1000, 500, 5, 1, 100)  # 400 >= 200
    assert not has_enough_invalid_blocks(1000, 700, 1, 1, 100)  # 300 invalid <= 400


def _stream(n, m, gap_every, gap_us, seed):
    rng = np.random.default_rng(seed)
    lba = rng.integers(0, n, m)
    i = np.arange(m, dtype=np.int64)
    t = i * 10 + (i // gap_every) * gap_us
    return lba, t


def test_idle_gaps_run_background_gc_with_the_background_chooser():
    n = 1 << 13
    calls = {"fg": 0, "bg": 0}

    def chooser(view):
        calls["fg" if view.foreground else "bg"] += 1
        return greedy_fallback(view)

    lba, t = _stream(n, 4 * n, 4096, 90 * S, 1)
    sim = LfsSim(LfsConfig(n_lbas=n, blocks_per_seg=64, spare_ppm=200_000, debug=True), None, chooser)
    sim.fill()
    sim.apply(lba=lba, time_us=t)
    st = sim.stats()
    assert calls["bg"] > 0 and st["bg_thread"]["passes"] > 0
    assert st["total"]["gcs"] == calls["fg"] + calls["bg"]
    sim.check()
    # the same stream without gaps: the thread never finds the device idle
    lba, t = _stream(n, 4 * n, 4096, 0, 1)
    calls["bg"] = 0
    sim = LfsSim(LfsConfig(n_lbas=n, blocks_per_seg=64, spare_ppm=200_000), None, chooser)
    sim.fill()
    sim.apply(lba=lba, time_us=t)
    assert calls["bg"] == 0


def test_background_gc_lowers_foreground_gc():
    n = 1 << 13
    lba, t = _stream(n, 6 * n, 2048, 120 * S, 2)
    fg = []
    for gaps in (False, True):
        sim = LfsSim(LfsConfig(n_lbas=n, blocks_per_seg=64, spare_ppm=200_000, bg_gc=gaps))
        sim.fill()
        sim.apply(lba=lba, time_us=t)
        fg.append(sim.fg_gcs)
    assert fg[1] < fg[0]
