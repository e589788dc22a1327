"""Page-access workloads: generators (incl. masim emulation), readers,
and the per-interval reduction."""

from pathlib import Path

import numpy as np
import pytest

from kernelml.workloads import PAGE_FORMATS, PAGE_WORKLOADS, PageChunk, make_pages, open_page_trace
from kernelml.workloads import touched_per_interval
from kernelml.workloads.readers import TraceFormatError

DATA = Path(__file__).parent / "data" / "workloads"
NP = 1 << 12


def _all(w, chunk=1 << 16) -> PageChunk:
    return PageChunk.concat(list(w.chunks(chunk)))


@pytest.mark.parametrize("name", PAGE_WORKLOADS.names())
def test_conformance(name):
    w = make_pages(name, NP, duration_s=2.0, seed=3, rate=50_000)
    c = _all(w, 7000)
    assert w.n_pages == NP and len(c) == 100_000
    assert c.page.dtype == np.int64 and c.time_us.dtype == np.int64
    assert c.page.min() >= 0 and c.page.max() < NP
    assert (np.diff(c.time_us) >= 0).all() and c.time_us[-1] < w.duration_us
    assert c.write is not None and c.write.dtype == bool
    again = _all(make_pages(name, NP, duration_s=2.0, seed=3, rate=50_000), 333)
    assert np.array_equal(c.page, again.page) and np.array_equal(c.write, again.write)
    other = _all(make_pages(name, NP, duration_s=2.0, seed=4, rate=50_000))
    assert not np.array_equal(c.page, other.page) or name.startswith("masim")
    assert w.describe()["name"] == name


def test_first_touch_and_rate():
    w = make_pages("hotcold", 1000, duration_s=1.0, seed=1, rate=10_000)
    c = _all(w)
    assert np.array_equal(c.page[:1000], np.arange(1000)) and c.write[:1000].all()
    assert c.time_us[1] == 100 and len(c) == 10_000


def test_hotcold_pages_cold_share():
    w = make_pages("hotcold", 50_000, duration_s=20.0, seed=2, cold_share=0.01)
    c = _all(w)
    rest = c.page[50_000:]
    hot = (rest >= w.hot_start) & (rest < w.hot_start + w.n_hot)
    assert abs((1 - hot.mean()) - 0.01) < 0.001
    assert abs(c.write[50_000:].mean() - 0.3) < 0.01


def test_phases_working_set_moves():
    w = make_pages("phases", 10_000, duration_s=40.0, seed=5, phase_s=10.0, rate=20_000)
    c = _all(w)
    for p in range(4):
        m = (c.time_us >= p * 10_000_000 + 1_000_000) & (c.time_us < (p + 1) * 10_000_000)
        a = w.window_start(p)
        pg = c.page[m]
        assert ((pg >= a) & (pg < a + w.n_ws)).all()


def test_scan_covers_the_cold_area_each_period():
    w = make_pages("scan", 20_000, duration_s=35.0, seed=1, scan_period_s=10.0, rate=40_000)
    c = _all(w, 5000)
    for k in (1, 2, 3):
        m = (c.time_us >= k * 10_000_000) & (c.time_us < (k + 1) * 10_000_000)
        pg = c.page[m]
        sc = pg[pg >= w.n_hot]
        assert np.array_equal(sc, np.arange(w.n_hot, 20_000))  # once each, in address order
    quiet = (c.time_us > 1_000_000) & (c.time_us < 10_000_000)
    assert (c.page[quiet] < w.n_hot).all()


def test_zipf_pages_skew():
    w = make_pages("zipf", 5000, duration_s=10.0, seed=2, first_touch=False)
    ranks = w.sampler.rank_of(_all(w).page)
    f = np.bincount(ranks, minlength=5000)
    assert f[0] > 5 * f[20] and np.allclose(f[:10] / f.sum(), w.sampler.pmf[:10], rtol=0.05)


def test_masim_zigzag_structure():
    w = make_pages("masim-zigzag", None, duration_s=70.0, seed=1)
    a0, ap = w.region_pages["a"]
    b0, bp = w.region_pages["b"]
    assert ap == bp == -(-100_000_000 // 4096) and b0 == a0 + ap and w.n_pages == 2 * ap
    c = _all(w)
    in_a = c.page < b0
    init = c.time_us < 10_000_000
    assert 0.45 < in_a[init].mean() < 0.55  # initial phase: both regions, equal weights
    for i in range(6):
        lo = (c.time_us >= 10_000_000 + i * 10_000_000) & (c.time_us < 15_000_000 + i * 10_000_000)
        hi = (c.time_us >= 15_000_000 + i * 10_000_000) & (c.time_us < 20_000_000 + i * 10_000_000)
        assert in_a[lo].all() and not in_a[hi].any()
    # sequential with a 4 KiB stride: masim starts at offset `stride`, wraps to 0
    lo0 = c.page[(c.time_us >= 10_000_000) & (c.time_us < 15_000_000)]
    d = np.diff(lo0)
    assert np.mean(d == 1) > 0.99


def test_masim_stairs_and_scaling():
    w = make_pages("masim-stairs", 1 << 15, duration_s=60.0, seed=1)
    assert len(w.region_pages) == 10 and sum(p for _, p in w.region_pages.values()) <= 1 << 15
    c = _all(w)
    for i in range(10):
        m = (c.time_us >= 10_000_000 + i * 5_000_000) & (c.time_us < 15_000_000 + i * 5_000_000)
        a, p = w.region_pages[f"s{i}"]
        assert ((c.page[m] >= a) & (c.page[m] < a + p)).all()


def test_masim_config_weights_random_and_modes():
    from kernelml.workloads.masim import masim_config
    cfg = """#regions
x, 4096000
y, 4096000

# one phase, two patterns
mixed
1000
x, 1, 64, 3, ro
y, 0, 8192, 1, wo
"""
    w = masim_config(cfg, duration_s=4.0, seed=2, rate=100_000, time_scale=2.0, burst=16)
    c = _all(w)
    y0 = w.region_pages["y"][0]
    in_y = c.page >= y0
    assert abs(in_y.mean() - 0.25) < 0.02
    assert not c.write[~in_y].any() and c.write[in_y].all()
    assert np.all(np.diff(c.page[in_y][:16]) == 2)  # 8 KiB stride: every other page
    assert len(np.unique(c.page[~in_y])) > 900  # random over region x
    with pytest.raises(ValueError):
        masim_config("#regions\nx, 10\n\nphase\n10\nz, 0, 4096, 1\n")


def test_touched_per_interval_matches_brute_force():
    w = make_pages("scan", 3000, duration_s=3.0, seed=2, scan_period_s=1.0, rate=30_000)
    c = _all(w)
    ref = {}
    for t, p in zip((c.time_us // 5000).tolist(), c.page.tolist()):
        ref.setdefault(t, set()).add(p)
    got = list(touched_per_interval(w, 5000, chunk=777))
    assert {s // 5000: set(p.tolist()) for s, p in got} == ref
    assert all((np.diff(p) > 0).all() for _, p in got)
    assert [s for s, _ in got] == sorted(s for s, _ in got)


def test_lackey_reader():
    w = open_page_trace(DATA / "lackey.txt", "lackey", fold="none", rate=1_000_000)
    s = w.stats
    assert (s.records, s.malformed, s.first_bad_line, s.instr_skipped, s.crossings) == (5, 1, 11, 3, 1)
    c = _all(w)
    assert c.page.tolist() == [0xBEE4F, 0x0401F, 0x0401F, 0x04020, 0x04021, 0x0401F]
    assert c.write.tolist() == [True, False, True, False, False, True]
    assert c.time_us.tolist() == [0, 1, 2, 3, 3, 4]
    wi = open_page_trace(DATA / "lackey.txt", "lackey", include_instr=True)
    assert wi.stats.records == 8 and wi.stats.instr_skipped == 0
    wc = open_page_trace(DATA / "lackey.txt", "lackey")
    assert wc.n_pages == 4 and _all(wc).page.tolist() == [3, 0, 0, 1, 2, 0]


def test_vmtrace_reader():
    w = open_page_trace(DATA / "vmtrace.txt", "vmtrace", fold="offset", rate=1000)
    s = w.stats
    assert (s.records, s.malformed, s.first_bad_line, s.writes) == (7, 2, 6, 2)
    c = _all(w)
    assert c.page[0] == 0x0041F - 0x0041F and w.n_pages == 0x31348 - 0x0041F + 1
    assert c.time_us[-1] == 6000 and c.write.tolist() == [False] * 4 + [True, True, False]


def test_pages_text_and_npz(tmp_path):
    from kernelml.workloads.pagereaders import save_pages_npz
    w = open_page_trace(DATA / "pages.txt", "pages", fold="none")
    s = w.stats
    assert (s.records, s.malformed, s.first_bad_line) == (5, 1, 6)
    c = _all(w)
    assert c.page.tolist() == [10, 11, 10, 32, 10] and c.time_us.tolist() == [0, 5, 5, 9, 12]
    assert c.write.tolist() == [False, True, False, True, False] and w.n_pages == 33
    g = make_pages("hotcold", 500, duration_s=0.5, seed=1, rate=10_000)
    save_pages_npz(tmp_path / "g.npz", g)
    r = open_page_trace(tmp_path / "g.npz", "pages", fold="none")
    a, b = _all(g), _all(r)
    assert np.array_equal(a.page, b.page) and np.array_equal(a.write, b.write)
    assert np.array_equal(a.time_us, b.time_us)


@pytest.mark.parametrize("fmt", PAGE_FORMATS)
def test_page_reader_rejects_garbage(fmt):
    with pytest.raises(TraceFormatError):
        open_page_trace(DATA / "notatrace.txt", fmt)


def test_page_reader_streams(tmp_path):
    path = tmp_path / "big.vm"
    with open(path, "w") as f:
        f.writelines(f"{(i * 2654435761) % (1 << 32):08x} {'RW'[i % 3 == 0]}\n" for i in range(40_000))
    w = open_page_trace(path, "vmtrace", read_bytes=1 << 14)
    assert w.stats.buffers >= 20 and w.stats.records == 40_000
    sizes = [len(x) for x in w.chunks(4096)]
    assert len(sizes) == 10 and sum(sizes) == 40_000


def test_two_passes_at_once_do_not_share_state():
    w = make_pages("scan", 4000, duration_s=4.0, seed=1, scan_period_s=1.0, rate=20_000)
    a, b = w.chunks(1000), w.chunks(1000)
    for x, y in zip(a, b):
        assert np.array_equal(x.page, y.page)
