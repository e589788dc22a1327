"""Future-knowledge annotation and the dense block map, against brute force."""

import numpy as np
import pytest

from kernelml.workloads import annotate_next_access, annotate_next_write, make
from kernelml.workloads.fold import DenseMap, expand_requests


def _brute_next(keys, valid):
    out = np.full(len(keys), -1, np.int64)
    for i in range(len(keys)):
        if not valid[i]:
            continue
        for j in range(i + 1, len(keys)):
            if valid[j] and keys[j] == keys[i]:
                out[i] = j
                break
    return out


@pytest.mark.parametrize("seed", range(5))
def test_next_write_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    lbas = rng.integers(0, int(rng.integers(1, 60)), n)
    ops = rng.integers(0, 2, n).astype(np.int8)
    got = annotate_next_write(lbas, ops)
    assert got.dtype == np.int64
    assert np.array_equal(got, _brute_next(lbas, np.ones(n, bool)))
    assert np.array_equal(annotate_next_write(lbas), got)


def test_next_write_ignores_other_ops_and_sparse_keys():
    lbas = np.array([5, 5, 5, 1 << 50, 5, 1 << 50], np.int64)
    ops = np.array([0, 2, 1, 0, 0, 1], np.int8)  # op 2: not a write or trim
    assert annotate_next_write(lbas, ops).tolist() == [2, -1, 4, 5, -1, -1]
    with pytest.raises(ValueError):
        annotate_next_write(lbas, ops[:3])


@pytest.mark.parametrize("seed", range(3))
def test_next_access_matches_brute_force_on_sparse_pages(seed):
    rng = np.random.default_rng(seed)
    pages = rng.integers(0, 30, 300) * 0x10_0000_0000 + 0x7FFF_0000
    assert np.array_equal(annotate_next_access(pages), _brute_next(pages, np.ones(300, bool)))


def test_annotation_on_a_generated_stream():
    c = make("zipf-1.2", 1000, 20_000, seed=1).materialize()
    nxt = annotate_next_write(c.lba, c.op)
    has = nxt >= 0
    assert (nxt[has] > np.flatnonzero(has)).all()
    assert np.array_equal(c.lba[nxt[has]], c.lba[has])
    # the last write of each LBA has no next write
    assert int((~has).sum()) == np.unique(c.lba).size
    assert annotate_next_write(np.empty(0, np.int64)).size == 0


def test_dense_map_first_write_order_and_replay():
    m = DenseMap(capacity=4)
    a = m.map(np.array([9, 7, 9, 100, 7], np.int64), np.zeros(5, np.int8))
    assert a.tolist() == [0, 1, 0, 2, 1] and len(m) == 3
    b = m.map(np.array([555, 9, 42], np.int64), np.array([1, 1, 0], np.int8), pos0=5)
    assert b.tolist() == [-1, 0, 3]  # trim of an unseen block is dropped
    # replay from the start: the trim of 42 before its first write stays dropped
    r = m.map(np.array([42, 9], np.int64), np.array([1, 0], np.int8), pos0=0)
    assert r.tolist() == [-1, 0]
    # without positions a known block is always mapped
    assert m.map(np.array([42], np.int64), np.array([1], np.int8)).tolist() == [3]
    big = np.random.default_rng(0).integers(0, 1 << 40, 100_000)
    ids = m.map(big, np.zeros(big.size, np.int8), pos0=10)
    uniq, first = np.unique(big, return_index=True)
    assert len(m) == 4 + uniq.size
    order = np.argsort(first)
    assert np.array_equal(ids[np.sort(first)], 4 + np.arange(uniq.size))
    assert np.array_equal(np.unique(ids[first[order]]), 4 + np.arange(uniq.size))


def test_expand_requests_alignment_rules():
    off = np.array([0, 1000, 4096, 100, 4096], np.int64)
    size = np.array([4096, 4096, 8192, 12000, 4095], np.int64)
    op = np.array([0, 0, 1, 1, 1], np.int8)
    lba, bop, t, dropped = expand_requests(off, size, op, np.arange(5))
    # write 0: block 0; write 1000+4096: blocks 0,1; trim 4096+8192: 1,2;
    # trim 100..12100 covers block 1 only; trim 4096+4095 covers no whole block
    assert lba.tolist() == [0, 0, 1, 1, 2, 1] and bop.tolist() == [0, 0, 0, 1, 1, 1]
    assert t.tolist() == [0, 1, 1, 2, 2, 3] and dropped == 1
