import numpy as np
import pytest

from kernelml.kernel.mllib.efficiency import HUMAN, ML, SCALE, Efficiency


def feed(eff, source, ratios_ppm, units=100):
    for r in ratios_ppm:
        eff.account(source, r * units // SCALE, units)


def test_batches_close_on_units():
    eff = Efficiency(batch_units=100, window=4, min_batches=2)
    eff.account(HUMAN, 50, 60)
    assert len(eff.sides[HUMAN].ratios) == 0
    eff.account(HUMAN, 30, 40)
    assert list(eff.sides[HUMAN].ratios) == [80 * SCALE // 100]
    assert eff.totals(HUMAN) == (0, 80, 100)


def test_window_is_bounded():
    eff = Efficiency(batch_units=1, window=4, min_batches=2)
    for i in range(10):
        eff.account(ML, i, 1)
    assert len(eff.sides[ML].ratios) == 4


def test_verdict_needs_maturity():
    eff = Efficiency(batch_units=1, window=8, min_batches=4)
    for _ in range(3):
        eff.account(HUMAN, 10, 1)
        eff.account(ML, 1, 1)
    v = eff.verdict()
    assert not v.mature and not v.better and not v.worse and not v.not_worse


def test_better_with_confidence_only_when_clear():
    rng = np.random.default_rng(1)
    eff = Efficiency(batch_units=1000, window=16, min_batches=6)
    for _ in range(16):
        eff.account(HUMAN, int(rng.integers(1900, 2100)), 1000)
        eff.account(ML, int(rng.integers(1500, 1700)), 1000)
    v = eff.verdict()
    assert v.mature and v.better and not v.worse and v.not_worse and not v.no_longer_better


def test_identical_sources_are_not_better_or_worse():
    rng = np.random.default_rng(2)
    false_calls = 0
    for trial in range(50):
        eff = Efficiency(batch_units=1000, window=16, min_batches=6)
        for _ in range(16):
            eff.account(HUMAN, int(rng.integers(1000, 3000)), 1000)
            eff.account(ML, int(rng.integers(1000, 3000)), 1000)
        v = eff.verdict()
        false_calls += v.better or v.worse
    assert false_calls <= 1  # z = 3: about 0.3 % per look, two-sided


def test_worse_and_tolerance():
    eff = Efficiency(batch_units=1, window=8, min_batches=4, tolerance_pm=20)
    for i in range(8):
        eff.account(HUMAN, 1000 + (i % 2), 1)
        eff.account(ML, 1010 + (i % 2), 1)  # 1 % dearer: within tolerance
    v = eff.verdict()
    assert v.not_worse and not v.worse and v.no_longer_better
    eff2 = Efficiency(batch_units=1, window=8, min_batches=4, tolerance_pm=20)
    for i in range(8):
        eff2.account(HUMAN, 1000 + (i % 2), 1)
        eff2.account(ML, 1100 + (i % 2), 1)  # 10 % dearer
    v2 = eff2.verdict()
    assert v2.worse and not v2.not_worse


def test_forget_and_bad_arguments():
    eff = Efficiency(batch_units=1, window=4, min_batches=2)
    eff.account(ML, 1, 1)
    eff.forget(ML)
    assert len(eff.sides[ML].ratios) == 0 and eff.totals(ML)[2] == 1
    with pytest.raises(ValueError):
        eff.account(ML, -1, 1)
    with pytest.raises(ValueError):
        Efficiency(batch_units=0)
