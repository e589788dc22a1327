"""Block-write generators: conformance of every registered name, and the
skews each one promises, measured."""

import numpy as np
import pytest

from kernelml.workloads import (HINT_COLD, HINT_HOT, HINT_WARM, OP_TRIM, OP_WRITE, WORKLOADS, BlockChunk,
                                fill_chunk, fill_chunks, make)

N = 1 << 14


def _all(w, chunk=1 << 16) -> BlockChunk:
    return BlockChunk.concat(list(w.chunks(chunk)))


@pytest.mark.parametrize("name", WORKLOADS.names())
def test_conformance(name):
    w = make(name, N, 3 * N, seed=7)
    assert w.name == name and w.n_blocks == N and w.total_writes == 3 * N
    c = _all(w, 5000)
    assert c.op.dtype == np.int8 and c.lba.dtype == np.int64
    assert c.time_us.dtype == np.int64 and c.hint.dtype == np.int8
    assert int(np.count_nonzero(c.op == OP_WRITE)) == 3 * N
    assert set(np.unique(c.op).tolist()) <= {OP_WRITE, OP_TRIM}
    assert c.lba.min() >= 0 and c.lba.max() < N
    assert (np.diff(c.time_us) >= 0).all()
    assert set(np.unique(c.hint).tolist()) <= {0, 1, 2, 3}
    if not w.has_hints:
        assert not c.hint.any()
    d = w.describe()
    assert d["name"] == name and d["n_blocks"] == N


@pytest.mark.parametrize("name", WORKLOADS.names())
def test_deterministic_and_chunk_independent(name):
    a = _all(make(name, N, 2 * N, seed=3), 1 << 16)
    b = _all(make(name, N, 2 * N, seed=3), 777)
    c = _all(make(name, N, 2 * N, seed=4), 1 << 16)
    for x, y in ((a.op, b.op), (a.lba, b.lba), (a.time_us, b.time_us), (a.hint, b.hint)):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.lba[: c.lba.size], c.lba[: a.lba.size])
    sizes = [len(x) for x in make(name, N, 2 * N, seed=3).chunks(1000)]
    assert all(s == 1000 for s in sizes[:-1]) and 0 < sizes[-1] <= 1000


@pytest.mark.parametrize("name,share,frac", [("hotcold-90-10", 0.9, 0.1), ("hotcold-80-20", 0.8, 0.2)])
def test_hotcold_share(name, share, frac):
    n, writes = 100_000, 400_000
    w = make(name, n, writes, seed=1)
    c = _all(w)
    hot = np.isin(c.lba, w.hot_set())
    assert w.hot_set().size == int(n * frac)
    assert abs(hot.mean() - share) < 0.01
    # inside the hot set writes are uniform: Poisson spread of the counts
    counts = np.bincount(c.lba[hot], minlength=n)[w.hot_set()]
    assert counts.std() < 1.1 * np.sqrt(counts.mean())


def test_hotcold_scatter_spreads_hot_set():
    w = make("hotcold-90-10", 10_000, 50_000, seed=2, scatter=True)
    hs = w.hot_set()
    assert hs.size == 1000 and hs.max() > 5000
    assert abs(np.isin(_all(w).lba, hs).mean() - 0.9) < 0.01


@pytest.mark.parametrize("name,s", [("zipf-0.9", 0.9), ("zipf-1.2", 1.2)])
def test_zipf_rank_frequencies_follow_exponent(name, s):
    n, writes = 2000, 600_000
    w = make(name, n, writes, seed=5)
    ranks = w.sampler.rank_of(_all(w).lba)
    freq = np.bincount(ranks, minlength=n) / writes
    top = np.arange(1, 51)
    slope = np.polyfit(np.log(top), np.log(freq[:50]), 1)[0]
    assert abs(slope + s) < 0.05
    # against the exact pmf: every one of the top 20 ranks within 5 %
    assert np.allclose(freq[:20], w.sampler.pmf[:20], rtol=0.05)
    # popular LBAs are scattered by the permutation
    assert w.sampler.perm[0] != 0 or w.sampler.perm[1] != 1


def test_zipf_sampler_matches_binary_search():
    from kernelml.workloads.zipf import ZipfSampler
    z = ZipfSampler(5000, 1.1, permute=False)
    rng = np.random.default_rng(0)
    u_rng = np.random.default_rng(0)
    got = z.ranks(rng, 100_000)
    want = np.searchsorted(z.cdf, u_rng.random(100_000), side="right")
    assert np.array_equal(got, want)


def test_phase_hot_window_moves():
    n = 20_000
    w = make("phase", n, 4 * n, seed=9)
    c = _all(w)
    starts = set()
    for p in range(4):
        seg = c.lba[p * n:(p + 1) * n]
        a = w.window_start(p)
        starts.add(a)
        inwin = ((seg - a) % n) < w.n_hot
        assert abs(inwin.mean() - (0.9 + 0.1 * w.n_hot / n)) < 0.015
    assert len(starts) == 4


def test_seqrand_sequential_share():
    n = 1 << 20
    w = make("seqrand", n, 500_000, seed=4, seq_share=0.6, run_blocks=32)
    lba = _all(w).lba
    adjacent = np.mean(np.diff(lba) == 1)
    assert abs(adjacent - 0.6 * (1 - 1 / 32)) < 0.02
    w0 = make("seqrand", n, 100_000, seed=4, seq_share=0.0)
    assert np.mean(np.diff(_all(w0).lba) == 1) < 0.001


def test_timing_constant_and_idle_gaps():
    w = make("uniform", 1000, 10_000, seed=1, arrival="constant", interarrival_us=20,
             idle_every=1000, idle_us=500_000)
    t = _all(w, 333).time_us
    gaps = np.diff(t)
    assert t[0] == 0
    assert set(np.unique(gaps).tolist()) == {20, 500_020}
    assert np.flatnonzero(gaps > 20).tolist() == list(range(999, 9999, 1000))
    # timing never changes the block sequence
    w2 = make("uniform", 1000, 10_000, seed=1, interarrival_us=3)
    assert np.array_equal(_all(w).lba, _all(w2).lba)
    tp = _all(make("uniform", 1000, 200_000, seed=1, interarrival_us=10)).time_us
    assert abs(np.diff(tp).mean() - 10) < 0.2


def test_tpcc_model_shape():
    n = 1 << 16
    w = make("tpcc", n, 300_000, seed=2)
    c = _all(w)
    cnt = np.bincount(c.lba, minlength=n)
    lay = w.layout
    share = {t: cnt[v["first_lba"]:v["first_lba"] + v["pages"]].sum() / c.lba.size for t, v in lay.items()}
    assert share["item"] == 0  # read-only table
    assert sum(v["pages"] for v in lay.values()) == n
    # one page write per Payment on WAREHOUSE: 43 % of transactions
    assert 0.03 < share["warehouse"] < 0.08 and share["stock"] > 0.4
    # NURand skew: the hottest stock pages are far above the mean
    a, s = lay["stock"]["first_lba"], lay["stock"]["pages"]
    st = np.sort(cnt[a:a + s])[::-1]
    assert st[: s // 100].sum() > 3 * st.sum() / 100


def test_tpcc_too_small_device():
    with pytest.raises(ValueError):
        make("tpcc", 16, 10, seed=0)


def test_files_replay_is_consistent_and_hints_follow_f2fs():
    from kernelml.workloads.files import CLASS_NAMES, C_DB, C_LOG, C_MEDIA, C_REG
    from kernelml.workloads.temperature import data_hint
    n = 1 << 15
    w = make("files", n, 6 * n, seed=11)
    c = _all(w, 4096)
    live = np.zeros(n, bool)
    bad = 0
    for op, lba in zip(c.op.tolist(), c.lba.tolist()):
        if op == OP_TRIM:
            bad += not live[lba]
            live[lba] = False
        else:
            live[lba] = True
    assert bad == 0  # a trim only ever hits a block that holds data
    assert abs(live.mean() - w.cfg["fill"]) < 0.12
    assert np.count_nonzero(c.op == OP_TRIM) > n  # files do get deleted
    h = c.hint[c.op == OP_WRITE]
    for hint in (HINT_HOT, HINT_WARM, HINT_COLD):
        assert np.count_nonzero(h == hint) > 0.05 * h.size
    assert not c.hint[c.op == OP_TRIM].any()
    # the kernel's class rules are F2FS's rules applied to the class names
    assert data_hint(CLASS_NAMES[C_MEDIA], 1000) == HINT_COLD
    assert data_hint(CLASS_NAMES[C_DB], 1000) == HINT_HOT
    assert data_hint(CLASS_NAMES[C_REG], 16) == HINT_HOT
    assert data_hint(CLASS_NAMES[C_REG], 17) == HINT_WARM
    assert data_hint(CLASS_NAMES[C_LOG], 4) == HINT_HOT


def test_f2fs_extension_rules():
    from kernelml.workloads.temperature import extension_matches, file_temperature
    assert file_temperature("video.MP4") == "cold"
    assert file_temperature("song.mpeg") == "cold"  # prefix "mp"
    assert file_temperature("x.mp4.tmp") == "cold"  # temp suffix allowed
    assert file_temperature("contacts.db") == "hot"
    assert file_temperature("notes.txt") is None
    assert file_temperature("mp4") is None and file_temperature(".so") is None
    assert extension_matches("anything", "*")


def test_fill_helpers():
    c = fill_chunk(1000, time_us=5)
    assert len(c) == 1000 and np.array_equal(c.lba, np.arange(1000)) and (c.op == 0).all()
    parts = list(fill_chunks(1000, 300))
    assert [len(p) for p in parts] == [300, 300, 300, 100]
    assert np.array_equal(np.concatenate([p.lba for p in parts]), np.arange(1000))


def test_bad_parameters():
    with pytest.raises(ValueError):
        make("uniform", 0, 10)
    with pytest.raises(ValueError):
        make("uniform", 10, 10, arrival="bursty")
    with pytest.raises(KeyError):
        make("nope", 10, 10)
