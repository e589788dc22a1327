"""Conformance suite for every registered victim policy (VICTIMS): whatever
the policy, it returns a candidate or -1, never a non-candidate, is
deterministic under the view's seeded rng, does not touch the view's
arrays, survives degenerate views and 2**40 clocks, and forgets its state on
reset().  Entries added to the registry later are picked up automatically;
a policy with ``needs_future`` gets ``future_valid`` in its views and is
exempt from the time-shift check."""

from __future__ import annotations

import numpy as np
import pytest

from kernelml.kernel.lfs.view import SegmentView, VictimPolicy
from kernelml.kernel.lfs.victims import VICTIMS

NAMES = VICTIMS.names()
SHIFT = 1 << 40


def make_view(seed: int, *, n: int = 48, B: int = 64, kind: str = "random", foreground: bool = False,
              shift: int = 0, frozen: bool = False) -> SegmentView:
    """A seeded random view.  kind: random | full | empty (valid blocks)."""
    rng = np.random.default_rng(seed)
    now = int(rng.integers(20_000, 2_000_000))
    lastmod = rng.integers(1, now + 1, n).astype(np.int64)
    created = np.maximum(lastmod - rng.integers(0, 50_000, n), 1).astype(np.int64)
    mtime = (created + rng.integers(0, 1 << 30, n) % (lastmod - created + 1)).astype(np.int64)
    if kind == "full":
        valid = np.full(n, B, dtype=np.int32)
    elif kind == "empty":
        valid = np.zeros(n, dtype=np.int32)
    else:
        valid = rng.integers(0, B + 1, n).astype(np.int32)
    future = (valid - rng.integers(0, B + 1, n) % (valid.astype(np.int64) + 1)).astype(np.int32)
    v = SegmentView(
        valid=valid, mtime=mtime + shift, lastmod=lastmod + shift,
        erase=rng.integers(0, 50, n).astype(np.int32), candidate=rng.random(n) < 0.7,
        blocks_per_seg=B, now=now + shift, foreground=foreground,
        free_segments=int(rng.integers(0, n // 3 + 1)), total_segments=n,
        rng=np.random.default_rng(seed + 7), future_valid=future, created=created + shift,
    )
    if frozen:
        for arr in (v.valid, v.mtime, v.lastmod, v.erase, v.candidate, v.future_valid, v.created):
            arr.flags.writeable = False
    return v


def policy(name: str) -> VictimPolicy:
    p = VICTIMS.make(name)
    assert isinstance(p, VictimPolicy)
    return p


def run(p: VictimPolicy, seeds, **kw) -> list[int]:
    out = []
    for i, s in enumerate(seeds):
        v = make_view(s, foreground=bool(i % 3 == 0), **kw)
        out.append(p.select(v))
    return out


def check_pick(v: SegmentView, got) -> None:
    assert isinstance(got, (int, np.integer))
    got = int(got)
    assert got == -1 or (0 <= got < v.candidate.size and bool(v.candidate[got])), got


@pytest.mark.parametrize("name", NAMES)
def test_name_and_construction(name):
    p = policy(name)
    assert p.name == name
    p.reset()


@pytest.mark.parametrize("kind", ["random", "full", "empty"])
@pytest.mark.parametrize("name", NAMES)
def test_returns_a_candidate_or_minus_one(name, kind):
    p = policy(name)
    for seed in range(25):
        for fg in (False, True):
            v = make_view(seed, kind=kind, foreground=fg)
            check_pick(v, p.select(v))


@pytest.mark.parametrize("name", NAMES)
def test_zero_candidates(name):
    p = policy(name)
    for seed in range(5):
        v = make_view(seed)
        v.candidate[:] = False
        assert p.select(v) == -1


@pytest.mark.parametrize("name", NAMES)
def test_empty_device(name):
    v = make_view(0, n=0)
    assert policy(name).select(v) == -1


@pytest.mark.parametrize("name", NAMES)
def test_single_old_half_full_candidate_is_chosen(name):
    for seed, fg in ((1, False), (2, True), (3, False)):
        v = make_view(seed, foreground=fg)
        j = int(np.random.default_rng(seed).integers(0, v.candidate.size))
        v.candidate[:] = False
        v.candidate[j] = True
        v.valid[j] = v.blocks_per_seg // 2
        v.future_valid[j] = v.blocks_per_seg // 4
        v.created[j] = v.mtime[j] = v.lastmod[j] = 1  # written long ago
        assert policy(name).select(v) == j


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_seeded_rng(name):
    seeds = list(range(100, 130))
    assert run(policy(name), seeds) == run(policy(name), seeds)


@pytest.mark.parametrize("name", NAMES)
def test_reset_forgets_state(name):
    p = policy(name)
    run(p, range(200, 215))
    p.reset()
    assert run(p, range(300, 320)) == run(policy(name), range(300, 320))


@pytest.mark.parametrize("name", NAMES)
def test_does_not_mutate_the_view(name):
    p = policy(name)
    for seed in range(15):
        v = make_view(seed, frozen=True, foreground=bool(seed % 2))
        before = {k: getattr(v, k).copy() for k in ("valid", "mtime", "lastmod", "erase", "candidate",
                                                     "future_valid", "created")}
        check_pick(v, p.select(v))  # a write to a frozen array raises
        for k, arr in before.items():
            assert np.array_equal(getattr(v, k), arr), k


@pytest.mark.parametrize("name", NAMES)
def test_huge_clock_does_not_overflow(name):
    p = policy(name)
    seeds = list(range(400, 420))
    shifted = []
    for i, s in enumerate(seeds):
        v = make_view(s, shift=SHIFT, foreground=bool(i % 3 == 0))
        got = p.select(v)
        check_pick(v, got)
        shifted.append(int(got))
    if not getattr(p, "needs_future", False):
        # shifting every time by 2**40 changes nothing for the human-made policies
        assert shifted == run(policy(name), seeds)


@pytest.mark.parametrize("name", NAMES)
def test_large_device(name):
    p = policy(name)
    for seed in range(3):
        v = make_view(seed, n=10_000, B=512, foreground=bool(seed % 2))
        check_pick(v, p.select(v))
