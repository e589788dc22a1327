"""Block trace readers: every format on a small fixture (with malformed
lines), folding, streaming, and the real MQSim traces when present."""

from pathlib import Path

import numpy as np
import pytest

from kernelml.workloads import BLOCK_FORMATS, BlockChunk, open_trace
from kernelml.workloads.readers import TraceFormatError

DATA = Path(__file__).parent / "data" / "workloads"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "traces"


def _all(w, chunk=1 << 16) -> BlockChunk:
    return BlockChunk.concat(list(w.chunks(chunk)))


def test_csv_fixture_exact():
    w = open_trace(DATA / "block.csv", "csv")
    s = w.stats
    assert (s.requests, s.reads_skipped, s.writes, s.trims) == (7, 1, 4, 2)
    assert (s.malformed, s.first_bad_line, s.header_lines, s.blank_lines) == (2, 8, 1, 2)
    assert w.n_blocks == 4 and s.distinct_blocks == 4 and s.complete
    c = _all(w, 4)
    assert c.op.tolist() == [0, 0, 0, 1, 0, 0, 1, 1, 1]
    assert c.lba.tolist() == [0, 1, 2, 1, 0, 3, 0, 1, 2]
    assert c.time_us.tolist() == [0, 50, 50, 150, 200, 300, 500, 500, 500]
    assert (s.write_blocks, s.trim_blocks, w.total_writes) == (5, 4, 5)
    assert s.bytes_written == 4096 + 8192 + 100 + 4096 and s.bytes_read == 4096


def test_csv_modulo_keeps_raw_blocks():
    w = open_trace(DATA / "block.csv", "csv", fold="modulo")
    assert w.n_blocks == 11  # largest block (40960 // 4096 = 10) + 1
    assert _all(w).lba.tolist() == [0, 1, 2, 1, 0, 10, 0, 1, 2]
    w = open_trace(DATA / "block.csv", "csv", n_blocks=4, fold="modulo")
    assert _all(w).lba.tolist() == [0, 1, 2, 1, 0, 2, 0, 1, 2]
    assert w.stats.folded and w.stats.folded_blocks == 1


def test_msr_fixture():
    w = open_trace(DATA / "msr.csv", "msr")
    s = w.stats
    assert (s.requests, s.reads_skipped, s.writes, s.malformed, s.first_bad_line) == (5, 1, 4, 1, 5)
    c = _all(w)
    # FILETIME is in 100 ns ticks, converted to us before taking differences
    assert c.time_us[0] == 128166372016382155 // 10 - 128166372003061629 // 10
    # blocks 321641, 321642 (disk 1), 321641 (disk 0), 594834, 321642 -> first-write order
    assert c.lba.tolist() == [0, 1, 0, 2, 1]
    w1 = open_trace(DATA / "msr.csv", "msr", device=1)
    assert w1.stats.other_device == 1 and w1.stats.writes == 3


def test_cloudphysics_fixture():
    w = open_trace(DATA / "cloudphysics.csv", "cloudphysics", fold="modulo")
    s = w.stats
    assert (s.header_lines, s.requests, s.reads_skipped, s.other_skipped) == (1, 6, 1, 1)
    assert (s.writes, s.malformed, s.first_bad_line) == (4, 1, 7)
    c = _all(w)
    # lbn in 512-byte sectors: 42932745 * 512 // 4096 = 5366593 (a partial block);
    # 4096 bytes at sector 100 straddle blocks 12 and 13
    assert c.lba.tolist() == [5366593, 5366594, 5366593, 5366594, 12, 13]
    assert c.time_us.tolist() == [0, 0, 2_000_000, 2_000_000, 3_000_000, 3_000_000]  # seconds


def test_alibaba_fixture_and_device_filter():
    w = open_trace(DATA / "alibaba.csv", "alibaba")
    s = w.stats
    assert (s.requests, s.reads_skipped, s.writes, s.malformed, s.first_bad_line) == (6, 1, 5, 1, 6)
    w3 = open_trace(DATA / "alibaba.csv", "alibaba", device=3, fold="modulo")
    c = _all(w3)
    assert c.lba.tolist() == [0, 2, 3, 0, 1] and w3.stats.other_device == 1
    assert c.time_us.tolist() == [0, 10, 10, 40, 60]


def test_mqsim_fixture():
    w = open_trace(DATA / "mqsim.trace", "mqsim", fold="modulo")
    s = w.stats
    assert (s.requests, s.reads_skipped, s.writes, s.malformed, s.first_bad_line) == (5, 1, 4, 2, 5)
    c = _all(w)
    first = 264719034 * 512 // 4096
    assert c.lba[:3].tolist() == [first, first + 1, first + 2]  # 16 sectors, unaligned: 3 blocks
    assert c.lba[-1] == 1 and c.time_us[-1] == (939200000 - 938513000) // 1000


def test_blkparse_fixture_actions():
    w = open_trace(DATA / "blkparse.txt", "blkparse", fold="modulo")
    s = w.stats
    # D events: W 223490+16, R 4096+8, D(iscard) 8192+64, flush, bad sector, W on 8,16, FWFS 100+8
    assert (s.requests, s.writes, s.reads_skipped, s.trims, s.other_skipped) == (6, 3, 1, 1, 1)
    assert (s.malformed, s.first_bad_line) == (1, 12)
    c = _all(w)
    assert c.op.tolist() == [0, 0, 0] + [1] * 8 + [0, 0, 0]
    assert c.lba[:3].tolist() == [223490 * 512 // 4096 + i for i in range(3)]
    assert c.time_us[3] == 2000 - 10 and c.time_us[-1] == 5000 - 10  # from the first D event
    assert np.count_nonzero(c.op == 1) == 8  # 64 sectors = 32 KiB = 8 blocks trimmed
    wq = open_trace(DATA / "blkparse.txt", "blkparse", action="Q", fold="modulo")
    assert wq.stats.writes == 1 and wq.stats.write_blocks == 2  # 8 unaligned sectors: 2 blocks
    wd = open_trace(DATA / "blkparse.txt", "blkparse", device="8,16", fold="modulo")
    assert wd.stats.writes == 1 and wd.stats.other_device == 6


def test_tracefs_blk_fixture():
    w = open_trace(DATA / "tracefs_blk.txt", "blkparse", fold="modulo")
    s = w.stats
    assert (s.writes, s.trims, s.malformed) == (2, 1, 0)
    c = _all(w)
    assert c.lba[:3].tolist() == [256, 257, 258] and c.time_us[1] == 460
    assert np.count_nonzero(c.op == 1) == 512


@pytest.mark.parametrize("fmt", BLOCK_FORMATS)
def test_nothing_valid_is_a_clear_error(fmt):
    with pytest.raises(TraceFormatError, match="valid"):
        open_trace(DATA / "notatrace.txt", fmt)


def test_wrong_format_reports_first_bad_line():
    with pytest.raises(TraceFormatError, match="first at line 2"):
        open_trace(DATA / "mqsim.trace", "msr")


def _random_csv(path, rng, n, lba_range, trim_p=0.05):
    ops = np.where(rng.random(n) < trim_p, "T", np.where(rng.random(n) < 0.2, "R", "W"))
    lbas = rng.integers(0, lba_range, n) * 3 + 1000
    sizes = rng.integers(1, 4, n) * 4096
    with open(path, "w") as f:
        for i, (o, l, z) in enumerate(zip(ops, lbas, sizes)):
            f.write(f"{i},{o},{l * 4096},{z}\n")
    return ops, lbas, sizes


def _reference_dense(ops, lbas, sizes, n_blocks):
    seen, out = {}, []
    for o, l, z in zip(ops, lbas, sizes):
        if o == "R":
            continue
        for b in range(l, l + z // 4096):
            if b not in seen:
                if o == "T":
                    continue
                seen[b] = len(seen)
            out.append((0 if o == "W" else 1, seen[b] % n_blocks))
    return out, len(seen)


@pytest.mark.parametrize("n_blocks", [None, 200, 50])
def test_dense_fold_matches_reference(tmp_path, n_blocks):
    rng = np.random.default_rng(1)
    ops, lbas, sizes = _random_csv(tmp_path / "t.csv", rng, 3000, 400)
    w = open_trace(tmp_path / "t.csv", "csv", n_blocks=n_blocks, read_bytes=4096)
    c = _all(w, 1000)
    ref, distinct = _reference_dense(ops, lbas, sizes, n_blocks or 10**9)
    assert list(zip(c.op.tolist(), c.lba.tolist())) == ref
    assert w.n_blocks == (n_blocks or distinct)
    assert w.stats.folded == (n_blocks is not None and distinct > n_blocks)
    assert c.lba.max() < w.n_blocks
    # a replay gives the same stream
    assert np.array_equal(_all(w, 333).lba, c.lba)


def test_streaming_does_not_load_the_whole_file(tmp_path):
    path = tmp_path / "big.csv"
    n = 50_000
    with open(path, "w") as f:
        f.writelines(f"{i},W,{(i * 7919 % 100_003) * 4096},4096\n" for i in range(n))
    size = path.stat().st_size
    w = open_trace(path, "csv", n_blocks=1 << 20, read_bytes=1 << 15)
    it = w.chunks(4096)
    first = next(it)
    assert len(first) == 4096 and w.bytes_consumed < size // 4
    rest = list(it)
    assert len(rest) + 1 == -(-n // 4096)
    assert all(len(x) == 4096 for x in rest[:-1])
    assert w.stats.buffers > size // (1 << 15) - 1 and w.stats.requests == n


def test_gzip_is_read(tmp_path):
    import gzip
    src = (DATA / "block.csv").read_bytes()
    with gzip.open(tmp_path / "b.csv.gz", "wb") as f:
        f.write(src)
    a = _all(open_trace(DATA / "block.csv", "csv"))
    b = _all(open_trace(tmp_path / "b.csv.gz", "csv"))
    assert np.array_equal(a.lba, b.lba) and np.array_equal(a.time_us, b.time_us)


def test_line_without_final_newline(tmp_path):
    (tmp_path / "x.csv").write_bytes(b"0,W,0,4096\n10,W,4096,4096")
    w = open_trace(tmp_path / "x.csv", "csv")
    assert w.stats.writes == 2 and _all(w).lba.tolist() == [0, 1]


def test_time_steps_back_are_clamped(tmp_path):
    (tmp_path / "x.csv").write_text("100,W,0,4096\n90,W,4096,4096\n120,W,0,4096\n")
    w = open_trace(tmp_path / "x.csv", "csv")
    assert _all(w).time_us.tolist() == [0, 0, 20] and w.stats.time_steps_back == 1


@pytest.mark.skipif(not (SHARED / "mqsim-tpcc-small.trace").exists(), reason="shared MQSim traces absent")
def test_real_mqsim_tpcc():
    w = open_trace(SHARED / "mqsim-tpcc-small.trace", "mqsim")
    s = w.stats
    assert (s.requests, s.reads_skipped, s.writes, s.malformed) == (6999, 4381, 2618, 0)
    assert s.write_blocks == 7995 and w.n_blocks == s.distinct_blocks == 7859
    c = _all(w)
    assert c.lba.max() == w.n_blocks - 1 and (np.diff(c.time_us) >= 0).all()
    small = open_trace(SHARED / "mqsim-tpcc-small.trace", "mqsim", n_blocks=4096)
    _all(small)
    assert small.stats.folded and small.stats.folded_blocks > 0


@pytest.mark.skipif(not (SHARED / "mqsim-wsrch-small.trace").exists(), reason="shared MQSim traces absent")
def test_real_mqsim_websearch_is_read_mostly():
    w = open_trace(SHARED / "mqsim-wsrch-small.trace", "mqsim")
    s = w.stats
    assert s.reads_skipped > 24_000 and s.writes == 4 and s.malformed == 0
    assert len(_all(w)) == s.write_blocks == 8
