"""The .kmt block-trace format: writer/reader round trip, the workload view,
CSV export checked against the csv reader, and the tracefs text parser."""

import io
import os

import numpy as np
import pytest

from kernelml.linux.blockcapture import EventParser
from kernelml.workloads import open_trace
from kernelml.workloads.base import OP_TRIM, OP_WRITE
from kernelml.workloads.kmt import (F_COMPLETE, F_FUA, F_META, F_PREFLUSH, F_RAHEAD, F_SYNC, OP_D, OP_E, OP_F,
                                    OP_N, OP_R, OP_W, KmtFile, KmtFormatError, KmtWriter, export_csv, open_kmt,
                                    rwbs_code, rwbs_string)


def _random_records(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.integers(0, 5000, n)) * 1000 + 10**12
    op = rng.choice([OP_W, OP_W, OP_W, OP_R, OP_D, OP_F], n).astype(np.uint8)
    flags = rng.choice([0, F_SYNC, F_META | F_SYNC, F_FUA, F_COMPLETE], n).astype(np.uint8)
    sector = rng.integers(0, 1 << 21, n) * 8
    nsec = np.where(op == OP_F, 0, rng.integers(1, 64, n) * 8).astype(np.uint32)
    comm = [rng.choice(["fio", "jbd2/loop0-8", "kworker/u4:1"]) for _ in range(n)]
    return t, op, flags, sector, nsec, comm


@pytest.mark.parametrize("compress", ["xz", "gzip", "none"])
def test_round_trip(tmp_path, compress):
    path = str(tmp_path / "t.kmt")
    t, op, flags, sector, nsec, comm = _random_records(5000)
    t0 = int(t[0]) - 777
    w = KmtWriter(path, {"t0_ns": t0, "device_sectors": 1 << 24, "workload": "test"}, compress=compress,
                  frame=999)
    for a in range(0, 5000, 1234):  # several appends, frames cut across them
        w.append(t[a:a + 1234], op[a:a + 1234], flags[a:a + 1234], sector[a:a + 1234], nsec[a:a + 1234],
                 comm[a:a + 1234])
    w.close({"events": 5000, "overrun": 0})
    kf = KmtFile(path)
    assert kf.header["workload"] == "test" and kf.header["version"] == 1
    frames = list(kf.frames())
    assert len(frames) == 6  # 5000 records in frames of at most 999
    got = {k: np.concatenate([getattr(f, k) for f in frames]) for k in ("time_ns", "op", "flags", "sector",
                                                                        "nsectors", "comm")}
    assert np.array_equal(got["time_ns"], t - t0)
    assert np.array_equal(got["op"], op)
    assert np.array_equal(got["flags"], flags)
    assert np.array_equal(got["sector"], sector)
    assert np.array_equal(got["nsectors"], nsec)
    assert [kf.comms[i] for i in got["comm"]] == list(comm)
    assert kf.trailer["events"] == 5000 and kf.trailer["records"] == 5000
    assert not kf.truncated


def test_truncated_file_reads_up_to_the_damage(tmp_path):
    path = str(tmp_path / "t.kmt")
    t, op, flags, sector, nsec, comm = _random_records(3000, seed=1)
    w = KmtWriter(path, {"t0_ns": int(t[0])}, compress="none", frame=1000)
    w.append(t, op, flags, sector, nsec, comm)
    w.close()
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.kmt")
    with open(cut, "wb") as f:
        f.write(data[: len(data) - 30_000])  # loses the trailer and part of the last frames
    kf = KmtFile(cut)
    n = sum(len(fr) for fr in kf.frames())
    assert kf.truncated and kf.trailer is None
    assert 0 < n < 3000 and n % 1000 == 0


def test_not_a_kmt_file(tmp_path):
    p = tmp_path / "x.kmt"
    p.write_bytes(b"hello world, not a trace\n")
    with pytest.raises(KmtFormatError):
        KmtFile(str(p))


@pytest.mark.parametrize("rwbs,op,flags", [
    ("W", OP_W, 0), ("WS", OP_W, F_SYNC), ("WSM", OP_W, F_SYNC | F_META), ("FWFS", OP_W, F_PREFLUSH | F_FUA | F_SYNC),
    ("WFS", OP_W, F_FUA | F_SYNC), ("R", OP_R, 0), ("RA", OP_R, F_RAHEAD), ("RM", OP_R, F_META),
    ("D", OP_D, 0), ("DE", OP_E, 0), ("F", OP_F, 0), ("FF", OP_F, F_PREFLUSH), ("N", OP_N, 0),
])
def test_rwbs(rwbs, op, flags):
    assert rwbs_code(rwbs) == (op, flags)
    assert rwbs_code(rwbs_string(op, flags)) == (op, flags)


def _hand_trace(path, compress="xz"):
    """Writes, a read, a flush, a discard (one partial), a completion."""
    t0 = 5_000_000_000
    rows = [  # time_ns, op, flags, sector, nsectors
        (t0 + 1_000, OP_W, F_SYNC, 800, 16),        # blocks 100, 101
        (t0 + 2_000, OP_R, 0, 8, 8),                # read: skipped
        (t0 + 2_500, OP_W, F_COMPLETE, 800, 16),    # completion: skipped
        (t0 + 3_000, OP_F, F_PREFLUSH, 0, 0),       # flush: skipped
        (t0 + 4_000, OP_W, 0, 8000, 8),             # block 1000
        (t0 + 9_000, OP_W, F_FUA, 804, 8),          # partial blocks 100 and 101: both rewritten
        (t0 + 10_000, OP_D, 0, 800, 8),             # discard of block 100
        (t0 + 11_000, OP_D, 0, 8004, 4),            # half a block: dropped
        (t0 + 12_000, OP_D, 0, 16000, 8),           # block 2000, never written: dropped by the dense fold
    ]
    a = np.array(rows, dtype=np.int64)
    w = KmtWriter(path, {"t0_ns": t0, "device_sectors": 1 << 16}, compress=compress)
    w.append(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], ["x"] * len(rows))
    w.close({"events": len(rows)})


def test_workload_dense_and_modulo(tmp_path):
    path = str(tmp_path / "h.kmt")
    _hand_trace(path)
    w = open_kmt(path)
    c = w.materialize()
    assert w.n_blocks == 3  # blocks 100, 101, 1000
    assert c.op.tolist() == [OP_WRITE, OP_WRITE, OP_WRITE, OP_WRITE, OP_WRITE, OP_TRIM]
    assert c.lba.tolist() == [0, 1, 2, 0, 1, 0]
    assert c.time_us.tolist() == [0, 0, 3, 8, 8, 9]
    st = w.stats
    assert (st.writes, st.trims, st.reads_skipped, st.flushes_skipped) == (3, 3, 1, 1)
    assert (st.partial_trims_dropped, st.unmapped_trims_dropped) == (1, 1)
    assert st.write_blocks == 5 and st.trim_blocks == 1 and w.total_writes == 5
    m = open_kmt(path, fold="modulo")
    assert m.n_blocks == (1 << 16) * 512 // 4096
    cm = m.materialize()
    assert cm.lba.tolist() == [100, 101, 1000, 100, 101, 100, 2000]
    assert cm.op.tolist()[-1] == OP_TRIM
    # replaying gives the same stream; chunk size does not matter
    again = np.concatenate([ch.lba for ch in w.chunks(2)])
    assert again.tolist() == c.lba.tolist()


def test_csv_export_matches_the_csv_reader(tmp_path):
    path = str(tmp_path / "r.kmt")
    t, op, flags, sector, nsec, comm = _random_records(4000, seed=3)
    w = KmtWriter(path, {"t0_ns": int(t[0])})
    w.append(t, op, flags, sector, nsec, comm)
    w.close()
    out = str(tmp_path / "r.csv")
    counts = export_csv(path, out)
    issue = (flags & F_COMPLETE) == 0
    assert counts["rows"] == int(np.count_nonzero(issue & (op != OP_F)))
    a = open_kmt(path).materialize()
    b = open_trace(out, "csv").materialize()
    assert np.array_equal(a.lba, b.lba) and np.array_equal(a.op, b.op) and np.array_equal(a.time_us, b.time_us)
    s = io.StringIO()
    export_csv(path, s)
    assert s.getvalue() == open(out).read()


PIPE_TEXT = (
    b"              dd-18461   [000] .....  1266.524321: block_rq_issue: 7,0 RM 1024 () 8742 + 2 be,0,4 [dd]\n"
    b"          python-18399   [001] ..s..  1266.525364: block_rq_complete: 7,0 RM () 8742 + 2 be,0,4 [0]\n"
    b"    kworker/0:1H-58      [000] .....  1266.532081: block_rq_issue: 7,0 FWFS 4096 () 518 + 8 be,0,4 "
    b"[kworker/0:1H]\n"
    b"    jbd2/loop0-8-99      [001] .....  1266.600000: block_rq_issue: 7,0 FF 0 () 0 + 0 none,0,0 [jbd2/loop0-8]\n"
    b"CPU:1 [LOST 17 EVENTS]\n"
    b"       my prog-7       [000] .....  1266.700001: block_rq_issue: 7,1 W 4096 () 16 + 8 be,0,4 [my prog]\n"
    b"       my prog-7       [000] .....  1266.700002: block_rq_issue: 7,0 DE 4096 () 24 + 8 be,0,4 [my prog]\n"
    b"            rm-9       [000] .....  1266.800000: block_rq_issue: 7,0 D 1048576 () 4096 + 2048 [rm]\n"
)


def test_event_parser_streams_across_buffers():
    whole = EventParser((7, 0)).feed(PIPE_TEXT, final=True)
    p = EventParser((7, 0))
    parts = []
    step = 37  # cut lines in odd places
    for a in range(0, len(PIPE_TEXT), step):
        parts.append(p.feed(PIPE_TEXT[a:a + step]))
    parts.append(p.feed(b"", final=True))
    n = sum(len(x) for x in parts)
    assert n == len(whole) == 6
    assert whole.lost == 17 and whole.other_device == 1 and whole.unparsed_lines == 0
    assert sum(x.lost for x in parts) == 17
    assert whole.time_ns.tolist()[0] == 1266_524321_000
    assert whole.op.tolist() == [OP_R, OP_R, OP_W, OP_F, OP_E, OP_D]
    assert whole.flags.tolist()[1] & F_COMPLETE and whole.flags.tolist()[2] == F_PREFLUSH | F_FUA | F_SYNC
    assert whole.sector.tolist() == [8742, 8742, 518, 0, 24, 4096]
    assert whole.nsectors.tolist() == [2, 2, 8, 0, 8, 2048]
    assert whole.comm[0] == b"dd" and whole.comm[4] == b"my prog" and whole.comm[5] == b"rm"
    for name in ("time_ns", "op", "flags", "sector", "nsectors"):
        assert np.concatenate([getattr(x, name) for x in parts]).tolist() == getattr(whole, name).tolist()


def test_event_parser_counts_garbage():
    first = PIPE_TEXT[:PIPE_TEXT.index(b"\n") + 1]
    ev = EventParser((7, 0)).feed(b"# tracer: nop\nsomething else\n" + first + b"half a li", final=True)
    assert len(ev) == 1 and ev.unparsed_lines == 3  # the cut last line counts too


def test_shipped_kmt_files_open_as_workloads():
    root = os.path.join(os.path.dirname(__file__), "..", "data", "traces")
    files = sorted(f for f in os.listdir(root) if f.endswith(".kmt")) if os.path.isdir(root) else []
    if not files:
        pytest.skip("no shipped .kmt traces")
    w = open_kmt(os.path.join(root, files[0]))
    first = next(iter(w.chunks(4096)))
    assert len(first) > 0 and first.lba.max() < w.n_blocks
