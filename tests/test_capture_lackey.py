"""valgrind lackey -> page trace conversion, on a canned lackey output
(data/traces/fixtures/lackey-true.txt: valgrind on /bin/true, truncated)."""

import os
import shutil

import numpy as np
import pytest

from kernelml.linux.memcapture import (MARKER_ADDR, LackeyConverter, MemCaptureSpec, capture_mem, convert_lackey_file,
                                       read_pages_header)
from kernelml.workloads import open_page_trace

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "data", "traces", "fixtures", "lackey-true.txt")


def reference(text: bytes, per_us, cap=10**18, skip=0, instr=True, window_us=1):
    """Plain-Python statement of the conversion rules."""
    out = []
    bucket, seen, first, order = None, {}, {}, []
    count = 0
    for raw in text.splitlines():
        line = raw.decode()
        if line.startswith("==") or not line.strip():
            continue
        kind = line[:2]
        if kind not in ("I ", " L", " S", " M"):
            continue
        addr, size = line[2:].strip().split(",")
        addr, size = int(addr, 16), int(size)
        n = count
        count += 1
        if n < skip:
            continue
        if n - skip >= cap:
            break
        t = (n - skip) // per_us
        win = (n - skip) // (per_us * window_us)
        if win != bucket:
            out += [(first[p], p, seen[p]) for p in order]
            bucket, seen, first, order = win, {}, {}, []
        if kind == "I " and not instr:
            continue
        w = kind in (" S", " M")
        for p in range(addr >> 12, ((addr + size - 1) >> 12) + 1):
            if p not in seen:
                seen[p] = w
                first[p] = t
                order.append(p)
            else:
                seen[p] = seen[p] or w
    out += [(first[p], p, seen[p]) for p in order]
    return out


def run(conv, text, step):
    parts = [conv.feed(text[a:a + step]) for a in range(0, len(text), step)]
    parts.append(conv.finish())
    t = np.concatenate([p[0] for p in parts])
    p = np.concatenate([p[1] for p in parts])
    w = np.concatenate([p[2] for p in parts])
    return list(zip(t.tolist(), p.tolist(), w.tolist()))


@pytest.fixture(scope="module")
def text():
    with open(FIXTURE, "rb") as f:
        return f.read()


@pytest.mark.parametrize("per_us,window,skip,cap,instr", [
    (1, 1, 0, 10**9, True), (10, 1, 0, 10**9, True), (7, 1, 25, 200, True), (10, 1, 0, 10**9, False),
    (64, 1, 3, 150, False), (1, 16, 0, 10**9, True), (10, 100, 0, 10**9, True), (3, 5, 11, 300, False)])
def test_matches_reference_and_any_split(text, per_us, window, skip, cap, instr):
    want = reference(text, per_us, cap, skip, instr, window)
    assert want
    times = [t for t, _, _ in want]
    assert times == sorted(times)
    for step in (len(text), 4096, 97, 13):
        got = run(LackeyConverter(per_us, cap, skip, instr, window), text, step)
        assert got == want, step


def test_stats(text):
    conv = LackeyConverter(10, 10**9)
    run(conv, text, 1000)
    s = conv.stats()
    n_instr = sum(1 for ln in text.splitlines() if ln.startswith(b"I "))
    n_data = sum(1 for ln in text.splitlines() if ln[:2] in (b" L", b" S", b" M"))
    assert (s["instr_accesses"], s["data_accesses"]) == (n_instr, n_data)
    assert s["valgrind_messages"] == sum(1 for ln in text.splitlines() if ln.startswith(b"=="))
    assert s["malformed"] == 0 and not s["capped"]
    assert s["duration_us"] == (n_instr + n_data + 9) // 10


def test_cap_marks_capped(text):
    conv = LackeyConverter(5, 100, window_us=1)
    got = run(conv, text, 512)
    assert conv.done and conv.stats()["accesses"] == 100
    assert max(t for t, _, _ in got) == 19


def test_page_crossing_and_dedup():
    text = (b"==1== hello\n"
            b" L 0000ffff,2\n"     # crosses pages 15 and 16
            b" S 00010008,8\n"     # page 16 again, a store: one record, marked w
            b"I  00020000,4\n"
            b"bogus line\n"
            b" M 00030000,4\n")    # the fourth access: next bucket (per_us = 3)
    conv = LackeyConverter(3, 100, window_us=1)
    got = run(conv, text, 5)
    assert got == [(0, 15, False), (0, 16, True), (0, 32, False), (1, 48, True)]
    assert conv.stats()["malformed"] == 1


def test_file_conversion_reads_back(tmp_path):
    out = str(tmp_path / "true.pages.gz")
    s = convert_lackey_file(FIXTURE, out, accesses_per_us=10, window_us=3, meta={"workload": "true"})
    w = open_page_trace(out, "pages", fold="none")
    c = w.materialize()
    want = reference(open(FIXTURE, "rb").read(), 10, window_us=3)
    assert len(c) == len(want) == s["records"]
    assert c.page.tolist() == [p for _, p, _ in want]
    assert c.time_us.tolist() == [t for t, _, _ in want]
    assert c.write.tolist() == [x for _, _, x in want]
    head = read_pages_header(out)
    assert head["accesses_per_us"] == 10 and head["workload"] == "true" and head["summary"]["records"] == len(c)


def test_bad_parameters():
    with pytest.raises(ValueError):
        LackeyConverter(0, 10)
    with pytest.raises(ValueError):
        LackeyConverter(1000, 10, window_us=1000)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_real_lackey_run_is_capped_and_cleaned(tmp_path):
    out = str(tmp_path / "sort.pages")
    before = set(os.listdir(tmp_path))
    s = capture_mem(MemCaptureSpec("sort", out, params={"input_mib": 1}, max_accesses=200_000, tmpdir=str(tmp_path)))
    assert s["accesses"] == 200_000 and s["capped"]
    assert set(os.listdir(tmp_path)) - before == {"sort.pages"}  # the temporary inputs are gone
    w = open_page_trace(out, "pages", fold="none")
    assert s["duration_us"] == 20_000 and len(w.materialize()) == s["records"]


def test_start_marker():
    marker = MARKER_ADDR
    text = (b"I  00001000,4\n"
            b" L 00002000,8\n"
            + f" S {marker:x},1\n".encode() +   # recording starts after this access
            b"I  00003000,4\n"
            b" S 00004000,8\n")
    conv = LackeyConverter(1, 100, window_us=1, start_marker=True)
    assert run(conv, text, 7) == [(0, 3, False), (1, 4, True)]
    s = conv.stats()
    assert s["marker_seen"] and s["before_marker"] == 3 and s["accesses"] == 2
    conv = LackeyConverter(1, 100, window_us=1, start_marker=True)
    assert run(conv, text[:40], 7) == [] and conv.stats()["marker_seen"] is False
