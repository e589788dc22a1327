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


def _primed(n=4096, bps=64, segs=80, sample=1, background=False):
    """A learner holding four device-fulls of hot/cold writes (of the LBAs ``lba % sample == 0``)."""
    from kernelml.agent.learners.lfs_lifetime import LifetimeTable

    lt = LifetimeTable(background_replay=background)
    lt.device = (n, bps, segs, 2)
    lba, hot = hotcold(n // sample, 4 * n // sample + 4 * n // sample, seed=3)
    lba = lba * sample
    lt._grow(n)
    lt.last_cell[::sample] = 0  # the LBAs whose writes were published (all seen since the fill)
    lt._remember(lba, np.where(hot, 0, 1))
    return lt, lba, hot


USER = np.array([0, 1], dtype=np.int64)  # cell -> class


def test_the_learner_replays_what_it_was_sent():
    lt, _, _ = _primed()
    assert lt._replay_verdict(USER) is True


def test_a_sampled_stream_is_replayed_on_a_device_scaled_to_the_sample():
    # 1/4 of the LBAs published: their writes are replayed as 1,024 LBAs on 20 segments (the
    # device's utilisation), not as a quarter-full 4,096-LBA device
    lt, lba, hot = _primed(sample=4)
    want = prefer_cost_benefit(lba // 4, np.where(hot, 0, 1), 1024, 20, 64, 2)
    assert want is not None and lt._replay_verdict(USER) == want


def test_background_replay_gives_the_same_verdict_and_checkpoints_meanwhile():
    import pickle
    import time

    lt, _, _ = _primed(background=True)
    assert lt._replay_verdict(USER) is None  # started
    pickle.dumps(lt)  # a running replay is not part of a checkpoint
    for _ in range(1000):
        v = lt._replay_verdict(USER)
        if v is not None:
            break
        time.sleep(0.01)
    assert v is True
