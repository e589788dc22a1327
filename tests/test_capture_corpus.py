"""The shipped corpus (data/traces): every file parses, is described in the
README (generated from the files themselves, and up to date), and the block
traces give a garbage collector work to do."""

import os
import re

import pytest

from kernelml.linux import corpus
from kernelml.workloads import open_page_trace
from kernelml.workloads.kmt import KmtFile, open_kmt

ROOT = os.path.join(os.path.dirname(__file__), "..", "data", "traces")
BLOCK, MEM = corpus.trace_files(ROOT) if os.path.isdir(ROOT) else ([], [])
README = open(os.path.join(ROOT, "README.md")).read() if os.path.isdir(ROOT) else ""
SMALL_FILES = {"README.md", "capture-corpus.sh"}


def all_files():
    out = []
    for d, _, names in os.walk(ROOT):
        for n in names:
            rel = os.path.relpath(os.path.join(d, n), ROOT)
            if rel not in SMALL_FILES:
                out.append(rel)
    return sorted(out)


def test_there_is_a_corpus():
    assert len(BLOCK) >= 4 and len(MEM) >= 4


def test_readme_lists_every_file_and_only_existing_ones():
    files = all_files()
    for rel in files:
        assert f"`{rel}`" in README, f"{rel} is not described in data/traces/README.md"
    for rel in set(re.findall(r"`([\w./-]+\.(?:kmt|pages\.gz|pages\.xz|pages|txt))`", README)):
        assert os.path.exists(os.path.join(ROOT, rel)), f"README mentions {rel}, which does not exist"


def test_corpus_is_small():
    total = sum(os.path.getsize(os.path.join(ROOT, f)) for f in all_files())
    assert total < 8 << 20, f"the corpus is {total >> 20} MiB; keep it to a few MiB"


def test_readme_tables_are_generated_from_the_files():
    assert corpus.render(ROOT) == README, "run: python -m kernelml.linux.corpus readme data/traces"


@pytest.mark.parametrize("path", BLOCK, ids=os.path.basename)
def test_block_trace(path):
    kf = KmtFile(path)
    scan = kf.scan()
    h, tr = kf.header, kf.trailer
    assert not scan["truncated"] and tr is not None and not tr["interrupted"]
    assert tr["records"] == scan["records"] == tr["events"] > 0
    for key in ("kernel", "fs", "workload", "params", "command", "date", "device_sectors"):
        assert h.get(key), key
    assert h["command"].startswith("kernelml capture block") and f"-w {h['workload']}" in h["command"]
    assert scan["max_sector_end"] <= h["device_sectors"]
    assert tr["lost_events"] == 0 and tr["overrun"] == 0 and tr["dropped_events"] == 0
    w = open_kmt(path)
    st = w.scan()
    assert st.write_blocks >= 3 * st.distinct_blocks, "not write-heavy enough to exercise GC"
    first = next(iter(w.chunks(1 << 14)))
    assert first.lba.max() < w.n_blocks and (first.time_us[1:] >= first.time_us[:-1]).all()


@pytest.mark.parametrize("path", MEM, ids=os.path.basename)
def test_memory_trace(path):
    from kernelml.linux.memcapture import read_pages_header

    h = read_pages_header(path)
    s = h["summary"]
    assert h["format"] == "pages" and h["command"].startswith("kernelml capture mem")
    assert s["accesses"] > 0 and s["malformed"] == 0
    w = open_page_trace(path, "pages", fold="none")
    c = w.materialize()
    assert len(c) == s["records"] and w.stats.malformed == 0
    assert (c.time_us[1:] >= c.time_us[:-1]).all() and int(c.time_us[-1]) < s["duration_us"]
    assert c.write is not None and 0 < c.write.mean() < 1
