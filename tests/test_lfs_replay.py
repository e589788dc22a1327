"""The learner's what-if replay picks the victim rule the real simulator would."""

import numpy as np

from kernelml.agent.learners.lfs_replay import prefer_cost_benefit, replay


def hotcold(n, m, seed=0):
    rng = np.random.default_rng(seed)
    hot = rng.random(m) < 0.9
    lba = np.where(hot, rng.integers(0, n // 10, m), rng.integers(n // 10, n, m))
    return lba.astype(np.int64), hot


def test_replay_counts_and_is_deterministic():
    lba, hot = hotcold(4096, 40_000)
    cls = np.where(hot, 0, 1)
    a = replay(lba, cls, 4096, 80, 64, 2, False, 20_000)
    b = replay(lba, cls, 4096, 80, 64, 2, False, 20_000)
    assert a == b and a[0] == 20_000 and a[1] > 0


def test_cost_benefit_preferred_on_separated_hot_cold():
    lba, hot = hotcold(4096, 40_000)
    assert prefer_cost_benefit(lba, np.where(hot, 0, 1), 4096, 80, 64, 2) is True


def test_greedy_kept_on_uniform_writes():
    rng = np.random.default_rng(1)
    lba = rng.integers(0, 4096, 40_000).astype(np.int64)
    assert prefer_cost_benefit(lba, np.zeros(lba.size, np.int64), 4096, 80, 64, 1) is False


def test_no_verdict_without_enough_history():
    lba = np.arange(100, dtype=np.int64)
    assert prefer_cost_benefit(lba, np.zeros(100, np.int64), 4096, 80, 64, 1) is None
