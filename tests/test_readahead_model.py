"""The page cache and on-demand readahead model (kernelml/kernel/readahead):
window sequences against Linux 6.18 itself, the read and fault paths, the
LRU, lineage of useless readahead."""

import numpy as np
import pytest

from kernelml.kernel.readahead import pagecache as pc
from kernelml.kernel.readahead.device import DEVICES, Device
from kernelml.kernel.readahead.sim import RaSim, Requests

LOOP = DEVICES["loop"]
SSD = DEVICES["ssd"]


def reqs(rows):
    """rows: (stream, start, n, kind) -> Requests with no think time."""
    a = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return Requests(a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.zeros(a.shape[0], np.int64))


def windows(sim, req):
    """(request index, (start, size, async, order)) each time stream 0's window changes."""
    out, last = [], None
    for i in range(len(req)):
        sim.run(req, i, i + 1)
        w = tuple(int(sim.st[k, 0]) for k in (pc.S_START, pc.S_SIZE, pc.S_ASYNC, pc.S_ORDER))
        if w != last and req.kind[i] != pc.K_OPEN:
            out.append((int(req.start[i]), w))
            last = w
    return out


def test_ramp_up_matches_linux_6_18_trace():
    """A 4 KiB sequential reader on an ext4 file of a loop device with
    read_ahead_kb 2560 (ra_pages 640), as page_cache_sync_ra /
    page_cache_async_ra printed it on this project's VM (Linux 6.18): the
    window state before each async call was (4,3,0) at index 1, (16,16,2) at
    4, (60,60,4) at 20, (112,112,6) at 80, (192,192,7) at 192, (384,384,8)
    at 384, then (640,640,9) every 640 pages from 768."""
    sim = RaSim([131072], 1, 65536, LOOP)
    sim.set_limits([640])
    req = reqs([(0, 0, 0, pc.K_OPEN)] + [(0, i, 1, pc.K_READ) for i in range(4096)])
    w = windows(sim, req)
    assert w[:8] == [(0, (0, 4, 3, 0)), (1, (4, 16, 16, 2)), (4, (20, 60, 60, 4)), (20, (80, 112, 112, 6)),
                     (80, (192, 192, 192, 7)), (192, (384, 384, 384, 8)), (384, (768, 640, 640, 9)),
                     (768, (1408, 640, 640, 9))]
    assert [x[0] for x in w[8:]] == list(range(1408, 4096, 640))


def test_small_limit_after_random_read_matches_linux_trace():
    """ra_pages 16, a random read at 30000 (no state), then sequential from
    30001: Linux 6.18 printed async calls with states (2,1,0) at 30002,
    (1,1,0) at 30003, (2,2,1) at 30004 and 30006, (4,4,2) at 30008 and 30012,
    (8,8,3) at 30016 and 30024, (16,16,4) from 30032 every 16 pages: the
    alignment of page_cache_async_ra trims windows to 1 and 2 pages."""
    sim = RaSim([131072], 1, 65536, LOOP)
    sim.set_limits([16])
    req = reqs([(0, 0, 0, pc.K_OPEN)] + [(0, i, 1, pc.K_READ) for i in range(30000, 30100)])
    w = windows(sim, req)
    assert w[:10] == [(30000, (0, 0, 0, 0)), (30001, (30001, 2, 1, 0)), (30002, (30003, 1, 1, 0)),
                      (30003, (30004, 2, 2, 1)), (30004, (30006, 2, 2, 1)), (30006, (30008, 4, 4, 2)),
                      (30008, (30012, 4, 4, 2)), (30012, (30016, 8, 8, 3)), (30016, (30024, 8, 8, 3)),
                      (30024, (30032, 16, 16, 4))]


@pytest.mark.parametrize("size,mx,want", [(1, 32, 4), (1, 640, 4), (2, 32, 4), (8, 32, 16), (16, 32, 32),
                                          (1, 16, 2), (64, 640, 128), (200, 640, 640)])
def test_get_init_ra_size(size, mx, want):
    assert pc.get_init_ra_size(size, mx) == want


@pytest.mark.parametrize("cur,mx,want", [(4, 640, 16), (16, 640, 64), (60, 640, 120), (320, 640, 640),
                                         (384, 640, 640), (2, 16, 4), (1, 16, 2), (8, 32, 16)])
def test_get_next_ra_size(cur, mx, want):
    assert pc.get_next_ra_size(cur, mx) == want


def test_random_reads_read_only_what_was_asked():
    rng = np.random.default_rng(1)
    pages = rng.integers(0, 1 << 18, 2000)
    sim = RaSim([1 << 18], 1, 1 << 14, SSD)
    sim.set_limits([32])
    sim.run(reqs([(0, 0, 0, pc.K_OPEN)] + [(0, int(p), 1, pc.K_READ) for p in pages]), 0, 2001)
    t = sim.totals()
    assert t["dev_pages"] <= 2000 * 1.05  # the contig heuristic may read a few extra pages
    assert t["miss_pages"] >= 1900


def test_zero_limit_splits_reads_into_pages_and_fadv_random_reads_the_request():
    sim = RaSim([4096], 2, 4096, SSD)
    sim.set_limits([0, 32])
    sim.run(reqs([(0, 0, 0, pc.K_OPEN), (0, 64, 16, pc.K_READ)]), 0, 2)
    assert sim.totals()["dev_reads"] == 16  # 16 single-page reads
    sim2 = RaSim([4096], 1, 4096, SSD)
    sim2.set_limits([32])
    sim2.run(reqs([(0, 0, pc.FL_FADV_RANDOM, pc.K_OPEN), (0, 64, 16, pc.K_READ), (0, 80, 16, pc.K_READ)]), 0, 3)
    assert sim2.totals()["dev_pages"] == 32  # exactly the requests, even when sequential


def test_mmap_read_around_and_mmap_miss():
    """A major fault reads ra_pages around the page (start = pgoff - ra/2);
    after MMAP_LOTSAMISS misses without hits, read-around stops."""
    sim = RaSim([1 << 16], 1, 1 << 14, SSD)
    sim.set_limits([32])
    sim.run(reqs([(0, 0, 0, pc.K_OPEN), (0, 1000, 1, pc.K_MMAP)]), 0, 2)
    assert sim.totals()["dev_pages"] == 32
    assert int(sim.st[pc.S_START, 0]) == 1000 - 16
    base = sim.fl[pc.FB, 0]
    assert all(sim.pg[pc.PF, base + p] & pc.F_CACHED for p in range(984, 1016))
    # random faults far apart: read-around for the first 100, then single pages
    sim = RaSim([1 << 20], 1, 1 << 16, SSD)
    sim.set_limits([32])
    rows = [(0, 0, 0, pc.K_OPEN)] + [(0, 1000 * (i + 1), 1, pc.K_MMAP) for i in range(300)]
    req = reqs(rows)
    sim.run(req, 0, 101)
    assert sim.totals()["dev_pages"] == 100 * 32
    sim.run(req, 101, 301)
    assert sim.totals()["dev_pages"] == 100 * 32 + 200
    assert int(sim.st[pc.S_MMISS, 0]) == 300


def test_without_large_folios_order_stays_zero_and_windows_reach_the_limit():
    """page_cache_ra_order falls back to order-0 pages (and ra->order 0) on a
    mapping without large folios; the async alignment then differs, so the
    window sizes differ on the way up, but both reach the limit."""
    dev = Device(**{**SSD.describe(), "max_folio_order": 0})
    a, b = RaSim([1 << 16], 1, 1 << 14, SSD), RaSim([1 << 16], 1, 1 << 14, dev)
    for s in (a, b):
        s.set_limits([256])
    req = reqs([(0, 0, 0, pc.K_OPEN)] + [(0, i, 1, pc.K_READ) for i in range(3000)])
    wa, wb = windows(a, req), windows(b, req)
    assert all(x[1][3] == 0 for x in wb)
    assert max(x[1][3] for x in wa) > 0
    assert wa[-1][1][1] == wb[-1][1][1] == 256
    assert np.all(b.pg[pc.PO] == 0)


def test_lru_invariants_and_useless_lineage():
    """A small cache and large windows: useless readahead is counted for the
    source whose window read it, and the LRU stays consistent."""
    rng = np.random.default_rng(3)
    n = 4
    rows = [(s, s, 0, pc.K_OPEN) for s in range(n)]
    order = rng.permutation(np.repeat(np.arange(n), 4000))
    pos = [0] * n
    for s in order:
        rows.append((int(s), pos[s], 1, pc.K_READ))
        pos[s] += 1 + int(rng.integers(0, 3) == 0) * 200  # jumps now and then
    req = reqs(rows)
    sim = RaSim([1 << 16] * n, n, 2048, SSD)
    sim.set_limits([1024] * n)
    sim.set_source(1)
    sim.run(req, 0, len(req) // 2)
    sim.check()
    sim.set_source(0)
    sim.set_limits([4] * n)
    sim.run(req, len(req) // 2, len(req))
    sim.check()
    t = sim.totals()
    assert t["useless_ml"] > t["useless_human"] > 0 or t["useless_ml"] > 0
    assert t["cache_pages"] <= 2048
    flags = sim.pg[pc.PF]
    assert np.all((flags & pc.F_USED)[(flags & pc.F_CACHED) == 0] == 0)


def test_writes_occupy_the_device_and_are_not_waited_for():
    sim = RaSim([1024, 1024], 2, 1024, SSD)
    sim.set_limits([32, 32])
    sim.run(reqs([(0, 0, 0, pc.K_OPEN)] + [(0, i, 1, pc.K_WRITE) for i in range(100)]), 0, 101)
    t = sim.totals()
    assert t["dev_write_pages"] == 100 and t["stall_ns"] == 0 and t["dev_reads"] == 0


def test_limit_cut_applies_to_running_streams():
    sim = RaSim([1 << 16], 1, 1 << 14, SSD)
    sim.set_limits([1024])
    req = reqs([(0, 0, 0, pc.K_OPEN)] + [(0, i, 1, pc.K_READ) for i in range(3000)])
    sim.run(req, 0, 2000)
    assert int(sim.st[pc.S_SIZE, 0]) > 32
    sim.set_limits([32])
    assert int(sim.st[pc.S_SIZE, 0]) <= 32 and int(sim.st[pc.S_RAPAGES, 0]) == 32
    sim.run(req, 2000, 3000)
    assert int(sim.st[pc.S_SIZE, 0]) <= 32


def test_bad_arguments():
    with pytest.raises(ValueError):
        RaSim([], 1, 1024, SSD)
    sim = RaSim([100], 1, 1024, SSD)
    with pytest.raises(ValueError):
        sim.set_limits([1, 2])
    with pytest.raises(ValueError):
        Requests(np.zeros(2), np.zeros(3), np.zeros(2), np.zeros(2), np.zeros(2))
