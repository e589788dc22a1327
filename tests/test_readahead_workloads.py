"""Readahead workload generators, the tracepoint reader and the live features."""

import gzip

import numpy as np
import pytest

from kernelml.kernel.readahead import pagecache as pc
from kernelml.linux.readahead_features import LiveFeatures, gap16
from kernelml.uapi import readahead as schema
from kernelml.workloads import readahead_trace as rt
from kernelml.workloads.readahead import WORKLOADS, make


@pytest.mark.parametrize("name", WORKLOADS.names())
def test_generators_are_deterministic_and_well_formed(name):
    a, b = make(name, seed=5, scale=0.05), make(name, seed=5, scale=0.05)
    r = a.requests
    for f in ("stream", "start", "n", "kind", "think"):
        assert np.array_equal(getattr(r, f), getattr(b.requests, f))
    assert len(r) > 0 and r.stream.max() < a.n_streams and r.stream.min() >= 0
    opened = {}
    for i in range(len(r)):  # every access is to an open stream, inside its file
        s, k = int(r.stream[i]), int(r.kind[i])
        if k == pc.K_OPEN:
            assert 0 <= r.start[i] < a.file_pages.size
            opened[s] = int(r.start[i])
        elif k == pc.K_CLOSE:
            opened.pop(s, None)
        else:
            assert s in opened, f"request {i} on a stream that is not open"
            assert 0 <= r.start[i] < a.file_pages[opened[s]]
    assert a.cache_pages > 0


def test_phases_are_marked_in_order():
    wl = make("kv-mix", scale=0.05)
    idx = [i for _, i in wl.phases]
    assert idx == sorted(idx) and len(idx) == 12 and idx[-1] < len(wl.requests)


SAMPLE = b"""\
         fio-1234    [001] ..... 100.000001: page_cache_sync_ra: dev=7:0 ino=c index=0 req_count=1 order=0 size=0 async_size=0 ra_pages=640 mmap_miss=0 prev_pos=-1
         fio-1234    [001] ..... 100.000002: mm_filemap_add_to_page_cache: dev 7:0 ino c pfn=0x1234 ofs=0 order=2
         fio-1234    [001] ..... 100.000003: page_cache_async_ra: dev=7:0 ino=c index=1 req_count=1 order=0 size=4 async_size=3 ra_pages=640 mmap_miss=0 prev_pos=4096
         fio-1234    [001] ..... 100.000004: mm_filemap_get_pages: dev=7:0 ino=c ofs=4096-8191
         fio-1234    [001] ..... 100.000005: mm_filemap_fault: dev=7:0 ino=1f ofs=40960
         fio-1234    [001] ..... 100.000006: page_cache_ra_order: dev=7:0 ino=1f index=0 order=0 size=640 async_size=160 ra_pages=640
         fio-1234    [001] ..... 100.000007: mm_filemap_delete_from_page_cache: dev 7:0 ino c pfn=0x1234 ofs=8192 order=0
         fio-1234    [001] ..... 100.000008: mm_filemap_map_pages: dev=7:0 ino=1f ofs=0-65535
CPU:1 [LOST 7 EVENTS]
         fio-1234    [001] ..... 100.000009: mm_filemap_fault: dev=8:0 ino=2 ofs=0
some other line
"""


def test_parser_reads_every_event_kind():
    ev = rt.RaEventParser().feed(SAMPLE, final=True)
    assert ev.counts() == {"sync_ra": 1, "async_ra": 1, "ra_order": 1, "add": 1, "delete": 1, "get_pages": 1,
                           "fault": 2, "map_pages": 1}
    assert ev.lost == 7 and ev.unparsed == 1
    assert ev.t_ns[0] == 100_000_001_000 and list(ev.t_ns) == sorted(ev.t_ns)
    add = ev.select(ev.kind == rt.ADD)
    assert add.a[0, 0] == 4 and add.ino[0] == 0xC
    gp = ev.select(ev.kind == rt.GET_PAGES)
    assert gp.index[0] == 1 and gp.a[0, 0] == 1
    s = ev.select(ev.kind == rt.ASYNC_RA)
    assert s.a[0].tolist() == [1, 0, 4, 3, 640] and s.prev_pos[0] == 4096
    only7 = rt.RaEventParser(dev=7 << 20).feed(SAMPLE, final=True)
    assert len(only7) == len(ev) - 1


def test_parser_keeps_partial_lines_and_reads_files(tmp_path):
    p = rt.RaEventParser()
    cut = SAMPLE.index(b"page_cache_async_ra") + 10
    a = p.feed(SAMPLE[:cut])
    b = p.feed(SAMPLE[cut:], final=True)
    assert len(a) + len(b) == 9
    f = tmp_path / "t.txt.gz"
    f.write_bytes(gzip.compress(SAMPLE))
    assert len(rt.read_trace(str(f))) == 9


def test_live_features_from_events():
    feats = LiveFeatures(get_pages=False)
    feats.feed(rt.RaEventParser().feed(SAMPLE, final=True))
    recs, ep, tot = feats.close_epoch(now=250, elapsed_us=250_000, source=0, ra_default=640, ra_device=640)
    F = {n: i for i, n in enumerate(schema.FILE_FIELDS)}
    by = {int(r[F["key"]]): r for r in recs}
    assert by[0xC][F["sync_ra"]] == 1 and by[0xC][F["async_ra"]] == 1
    assert by[0xC][F["seq"]] == 1  # the async call continues the stream
    assert by[0x1F][F["mmap"]] == 1
    assert by[0xC][F["useless"]] == 1  # pages 0-3 inserted, 1 reached by the async call, 2 deleted unused
    assert ep.shape == (1, len(schema.EPOCH_FIELDS)) and ep[0, 1] == 250
    assert tot["requests"] == 5  # sync, async, get_pages, two faults


def test_live_features_useless_pages():
    feats = LiveFeatures(get_pages=True)
    lines = b"".join([
        b"x 1.0: mm_filemap_add_to_page_cache: dev 7:0 ino 5 pfn=0x1 ofs=0 order=3\n",
        b"x 1.1: mm_filemap_get_pages: dev=7:0 ino=5 ofs=0-8191\n",
        b"x 1.2: mm_filemap_delete_from_page_cache: dev 7:0 ino 5 pfn=0x1 ofs=0 order=3\n",
    ])
    feats.feed(rt.RaEventParser().feed(lines, final=True))
    recs, _, _ = feats.close_epoch(1, 1, 0, 32, 32)
    assert recs[0, schema.FILE_FIELDS.index("useless")] == 6  # 8 inserted, 2 read


@pytest.mark.parametrize("gap", [1, 2, 7, 8, 100, 4095])
def test_gap16_is_the_models_fixed_point_log(gap):
    k = (gap + 1).bit_length() - 1
    assert 16 * k <= gap16(gap) < 16 * (k + 1)
