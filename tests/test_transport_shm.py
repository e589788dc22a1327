"""The shared-memory channel: rings (wrap-around, drops), the seqlock table
(torn reads given up on boundedly, latest wins), generations and liveness,
bad regions, and the proxy and the agent running over it in two processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import shutil
import signal
import stat
import struct
import tempfile
import time
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernelml.agent import Agent
from kernelml.kernel.toy.dispatch import Dispatch, make_proxy
from kernelml.transport import Endpoint, TransportError
from kernelml.transport.shm import (HEADER, IDX, LAYOUT_VERSION, RING_MIN, ShmClient, ShmServer,
                                    default_path)
from kernelml.transport.shm_ring import RingConsumer, RingProducer, record_bytes
from kernelml.uapi import messages as m
from kernelml.uapi import toy as schema
from kernelml.uapi.messages import Mode

pytestmark = pytest.mark.timeout(60)
FORK = mp.get_context("fork")
STOP = b"STOP"


@pytest.fixture
def path():
    d = tempfile.mkdtemp(prefix="kml-shm-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    yield os.path.join(d, "region.kml")
    shutil.rmtree(d, ignore_errors=True)


def until(fn, timeout: float = 10.0):
    """Call ``fn`` until it returns something truthy (test-driver waiting, never the kernel side's)."""
    deadline = time.monotonic() + timeout
    while True:
        out = fn()
        if out or time.monotonic() > deadline:
            return out
        time.sleep(0.0005)


def recv_n(ep, n: int, timeout: float = 10.0) -> list[bytes]:
    got: list[bytes] = []
    until(lambda: got.extend(ep.recv()) or len(got) >= n, timeout)
    return got


def pair(path, **kw) -> tuple[ShmServer, ShmClient]:
    srv = ShmServer(path, **kw)
    cli = ShmClient(path)
    assert srv.connection_id == cli.generation
    return srv, cli


def rec(op_kind: int, epoch: int, n_words: int = 3) -> bytes:
    return m.encode(m.Recommendation(op_kind, epoch, 10_000, np.arange(n_words, dtype=np.int64)))


def doorbell(cli: ShmClient) -> None:
    """What the table writer does after a slot write (for tests that write slots by hand)."""
    cli._table._summary += 1
    cli._q[IDX["table_seq"]] = cli._table._summary


def hb(seq: int) -> bytes:
    return m.encode(m.Heartbeat(m.Sender.AGENT, seq))


def blobs(seed: int, n: int, hi: int = 9000) -> list[bytes]:
    """Frames of random sizes that are not RECOMMENDATION frames (they take the rings)."""
    rng = random.Random(seed)
    return [b"\xee" + rng.randbytes(rng.randrange(hi)) for _ in range(n)]


# -- one process ------------------------------------------------------------------
def test_round_trip_both_ways(path):
    with ShmServer(path) as srv:
        assert srv.connection_id is None and srv.send(b"nobody") is False
        with ShmClient(path) as cli:
            assert isinstance(srv, Endpoint) and isinstance(cli, Endpoint)
            assert srv.connection_id == 1 and cli.connection_id == 1 and srv.peer_pid == os.getpid()
            down = [b"", b"x", bytes(range(256)) * 16, b"\xee" * m.MAX_FRAME, hb(1)]
            for f in down:
                assert srv.send(f)
            assert cli.wait(1.0)
            assert recv_n(cli, len(down)) == down  # boundaries and order kept
            up = [hb(1), m.encode(m.ModeCommand(1, m.ModeAction.PIN, 2)), b"\xee" * m.MAX_FRAME, b""]
            for f in up:
                assert cli.send(f)
            assert cli.send(rec(3, 7))  # a recommendation takes its slot
            assert srv.recv() == [rec(3, 7)] + up  # slots first, then the control ring
            assert srv.recv() == [] and cli.recv() == []
            assert cli.wait(0.001) is False
            with pytest.raises(ValueError):
                srv.send(bytes(m.MAX_FRAME + 1))
            with pytest.raises(ValueError):
                cli.send(bytes(m.MAX_FRAME + 1))
            assert srv.drops == 0 and cli.kernel_drops == 0 and srv.torn_reads == 0


def test_recv_is_bounded_by_max_frames(path):
    srv, cli = pair(path)
    with srv, cli:
        for k in range(4):
            cli.send(rec(k, 1))
        for i in range(5):
            cli.send(hb(i))
        got = srv.recv(3)
        assert got == [rec(0, 1), rec(1, 1), rec(2, 1)]
        assert srv.recv(3) == [rec(3, 1), hb(0), hb(1)]  # the rest of the table, then the ring
        assert srv.recv() == [hb(2), hb(3), hb(4)]
        for i in range(10):
            srv.send(bytes([i]))
        assert cli.recv(4) == [bytes([i]) for i in range(4)]
        assert cli.recv() == [bytes([i]) for i in range(4, 10)]


def test_region_file_is_0600_whatever_the_umask_and_close_removes_it(path):
    old = os.umask(0o277)  # would even take the owner's write bit
    try:
        srv = ShmServer(path)
    finally:
        restored = os.umask(old)
    assert restored == 0o277
    st_ = os.lstat(path)
    assert stat.S_ISREG(st_.st_mode) and stat.S_IMODE(st_.st_mode) == 0o600 and st_.st_uid == os.getuid()
    assert st_.st_size == srv.geometry.total_bytes
    cli = ShmClient(path)
    srv.close()
    assert not os.path.exists(path)
    srv.close()  # twice is harmless
    assert cli.connection_id is None and cli.send(hb(1)) is False and cli.wait(1.0) is False
    cli.close()
    cli.close()


def test_header_layout_one_writer_per_cache_line():
    assert HEADER.size == 512 and "struct kml_shm_header" in HEADER.c_struct()
    owners = {"kernel": ["kernel_pid", "kernel_state", "kernel_beat", "torn_reads", "ring_prod", "ring_drops",
                         "control_cons"],
              "agent": ["attach", "agent_pid", "agent_beat", "control_start", "ring_cons", "control_prod",
                        "control_drops", "table_seq"]}
    lines = {side: {IDX[f] * 8 // 64 for f in fields} for side, fields in owners.items()}
    assert not lines["kernel"] & lines["agent"]
    assert 0 not in lines["kernel"] | lines["agent"]  # the geometry line is read-only


def test_default_path_is_per_user():
    assert default_path("x").endswith(f"x-{os.getuid()}.kml")


# -- rings ----------------------------------------------------------------------------
def test_ring_wrap_around_with_variable_sizes_kernel_to_user(path):
    srv, cli = pair(path, ring_bytes=RING_MIN)
    with srv, cli:
        frames = blobs(1, 3000)
        rng = random.Random(2)
        sent = got = 0
        received: list[bytes] = []
        while got < len(frames):
            for _ in range(rng.randrange(1, 40)):  # bursts that fill the ring now and then
                if sent < len(frames) and srv.send(frames[sent]):
                    sent += 1
            batch = cli.recv(rng.randrange(1, 30))
            received += batch
            got += len(batch)
        assert received == frames
        assert srv._ring.prod > 20 * RING_MIN  # wrapped many times
        assert srv.drops == cli.kernel_drops > 0  # the bursts did fill it: counted, then retried


def test_ring_wrap_around_with_variable_sizes_user_to_kernel(path):
    srv, cli = pair(path, control_bytes=RING_MIN)
    with srv, cli:
        frames = blobs(3, 3000)
        rng = random.Random(4)
        received: list[bytes] = []
        sent = 0
        while len(received) < len(frames):
            for _ in range(rng.randrange(1, 40)):
                if sent < len(frames) and cli.send(frames[sent]):
                    sent += 1
            received += srv.recv(rng.randrange(1, 30))
        assert received == frames and cli.drops == srv.control_drops > 0


def _fits(prod: int, cons: int, size: int, n: int) -> bool:
    total = record_bytes(n)
    off = prod % size
    pad = size - off if total > size - off else 0
    return prod - cons + pad + total <= size


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.integers(0, 70_000), st.integers(0, 5)), min_size=1, max_size=150),
       st.sampled_from([RING_MIN, 2 * RING_MIN]))
def test_ring_takes_a_frame_iff_it_fits_contiguously(ops, size):
    """Against a model: a push succeeds iff the record (and the padding it
    needs to start at offset 0) fits; everything taken comes out, in order."""
    region = memoryview(bytearray(64 + size))
    q = region.cast("Q")
    prod = RingProducer(q, region, 64, size, 0, 1, 2, m.MAX_FRAME)
    cons = RingConsumer(q, region, 64, size, 0, 1, 2, m.MAX_FRAME)
    model: deque[bytes] = deque()
    drops = 0
    for i, (n, pops) in enumerate(ops):
        n = min(n, m.MAX_FRAME)
        frame = bytes([i % 251]) * n
        expect = _fits(prod.prod, cons.cons, size, n)
        assert prod.push(frame) is expect
        if expect:
            model.append(frame)
        else:
            drops += 1
        for f in cons.pop(pops):
            assert f == model.popleft()
        assert 0 <= prod.prod - cons.cons <= size and prod.prod % 8 == 0
    assert cons.pop(10_000) == list(model) and cons.drops == drops and cons.corrupt == 0


def test_every_frame_fits_into_an_empty_ring_wherever_it_stands():
    size = RING_MIN
    region = memoryview(bytearray(64 + size))
    q = region.cast("Q")
    prod = RingProducer(q, region, 64, size, 0, 1, 2, m.MAX_FRAME)
    cons = RingConsumer(q, region, 64, size, 0, 1, 2, m.MAX_FRAME)
    big = b"\xab" * m.MAX_FRAME
    for filler in range(0, size, 4096 - 16):
        prod.push(bytes(filler % m.MAX_FRAME))
        cons.pop(10)
        assert prod.push(big) and cons.pop(10) == [big]
    with pytest.raises(ValueError):
        RingProducer(q, region, 64, size // 2, 0, 1, 2, m.MAX_FRAME)  # could not promise that


def test_full_ring_drops_counts_and_never_blocks(path):
    srv, cli = pair(path, ring_bytes=RING_MIN)
    with srv, cli:
        frame = bytes(range(256)) * 16
        sent = 0
        while srv.send(frame):
            sent += 1
        assert sent == RING_MIN // record_bytes(len(frame))
        for _ in range(100):  # keeps refusing at once, and counting
            assert srv.send(frame) is False
        assert srv.drops == 101 and cli.kernel_drops == 101  # visible to the consumer
        assert srv.header()["ring_drops"] == 101 and srv.unread == sent * record_bytes(len(frame))
        small = 0
        while srv.send(b"s" * 8):  # variable length: what is left still takes small frames
            small += 1
        assert small == (RING_MIN - sent * record_bytes(len(frame))) // 16 and srv.drops == 102
        assert srv.connection_id == 1  # full is not dead
        assert recv_n(cli, sent + small) == [frame] * sent + [b"s" * 8] * small
        assert srv.unread == 0 and srv.send(frame)


def test_a_corrupt_control_ring_is_skipped_and_counted(path):
    srv, cli = pair(path)
    with srv, cli:
        cli.send(hb(1))
        base = srv.geometry.control_off
        q = srv._q
        q[base // 8] = 1 << 40  # a record header of an unknown kind, written by a bad agent
        assert srv.recv() == [] and srv.control_corrupt == 1
        assert cli.header()["control_corrupt"] == 1  # visible to user space
        cli._ctl.prod = q[IDX["control_prod"]]
        assert cli.send(hb(2)) and srv.recv() == [hb(2)]
        q[IDX["control_prod"]] += 3  # a misaligned position
        assert srv.recv() == [] and srv.control_corrupt == 2
        q[IDX["control_prod"]] = srv._ctl.cons + 16  # a header stating more than was published
        q[(base + srv._ctl.cons % srv.geometry.control_bytes) // 8] = 4000
        assert srv.recv() == [] and srv.control_corrupt == 3


def test_a_bad_consumer_position_makes_the_producer_refuse_not_overwrite(path):
    srv, cli = pair(path)
    with srv, cli:
        assert srv.send(b"a")
        srv._q[IDX["ring_cons"]] = srv._ring.prod + 8  # ahead of the producer: nonsense
        assert srv.send(b"b") is False and srv._ring.bad_cons == 1


# -- the recommendation table ------------------------------------------------------------
def test_latest_recommendation_per_slot_wins(path):
    srv, cli = pair(path, slots=4)
    with srv, cli:
        for e in range(1, 6):
            cli.send(rec(1, e))
        cli.send(rec(2, 9, 40))
        cli.send(rec(2, 10, 5))  # shorter than what the slot held
        assert srv.recv() == [rec(1, 5), rec(2, 10, 5)]
        assert srv.recv() == []  # nothing changed since
        cli.send(rec(1, 6))
        assert srv.recv() == [rec(1, 6)]
        for e in range(3):  # a kind without a slot goes through the control ring, in order
            cli.send(rec(7, e))
        assert srv.recv() == [rec(7, 0), rec(7, 1), rec(7, 2)]
        assert srv.torn_reads == 0


def test_slot_size_is_enforced_with_a_clear_error(path):
    srv, cli = pair(path, slot_bytes=128)
    with srv, cli:
        assert cli.send(rec(0, 1, (128 - 48) // 8))  # exactly 128 bytes
        with pytest.raises(ValueError, match="slot size of 128 bytes"):
            cli.send(rec(0, 2, 11))
        assert srv.recv() == [rec(0, 1, 10)]
    with pytest.raises(ValueError, match="slot_bytes"):
        ShmServer(path, slot_bytes=100)


def test_seqlock_writer_left_odd_reader_gives_up_boundedly_and_counts(path):
    srv, cli = pair(path, read_attempts=3)
    with srv, cli:
        cli.send(rec(1, 1))
        assert srv.recv() == [rec(1, 1)]
        tbl = cli._table
        i = (tbl.base + 1 * tbl.stride) // 8
        s = tbl._seq[1]
        copies = []
        real = srv._table._copy
        srv._table._copy = lambda *a: copies.append(a) or real(*a)
        cli._q[i] = s + 1  # a writer stopped in the middle of a write
        doorbell(cli)
        for poll in range(1, 4):
            assert srv.recv() == []  # gives up ...
            assert srv.torn_reads == poll  # ... counts ...
            assert copies == []  # ... and never copies a slot being written
        assert cli.header()["torn_reads"] == 3
        cli._q[i + 1] = len(rec(1, 2))  # the writer finishes (no new doorbell needed)
        cli._table.buf[tbl.base + tbl.stride + 16:tbl.base + tbl.stride + 16 + len(rec(1, 2))] = rec(1, 2)
        cli._q[i] = s + 2
        assert srv.recv() == [rec(1, 2)] and srv.torn_reads == 3
        assert srv.recv() == []


def test_seqlock_torn_copy_is_detected_and_retried_a_bounded_number_of_times(path):
    srv, cli = pair(path, read_attempts=4)
    with srv, cli:
        cli.send(rec(2, 1))
        tbl = srv._table
        i = (tbl.base + 2 * tbl.stride) // 8
        real = tbl._copy
        calls = []

        def racing_copy(start, n):  # the writer runs again during every copy
            data = real(start, n)
            if start == tbl.base + 2 * tbl.stride + 16:
                calls.append(start)
                srv._q[i] += 2
            return data

        tbl._copy = racing_copy
        assert srv.recv() == [] and srv.torn_reads == 1 and len(calls) == 4
        assert srv.recv() == [] and srv.torn_reads == 2 and len(calls) == 8  # retried next poll, bounded again
        tbl._copy = real
        got = srv.recv()  # a quiet writer: the slot's current content comes through
        assert got == [rec(2, 1)] and srv.torn_reads == 2


def test_an_impossible_slot_length_is_dropped_and_counted(path):
    srv, cli = pair(path, slot_bytes=256)
    with srv, cli:
        cli.send(rec(0, 1))
        tbl = cli._table
        cli._q[tbl.base // 8 + 1] = 1 << 40  # a bad agent claims a huge frame
        doorbell(cli)
        assert srv.recv() == [] and srv.slot_corrupt == 1
        cli.send(rec(0, 2))
        assert srv.recv() == [rec(0, 2)]


# -- connections and liveness -----------------------------------------------------------
def test_generation_bump_changes_connection_id_and_the_proxy_says_hello_again(path):
    with ShmServer(path) as srv:
        proxy = make_proxy(srv)
        Dispatch(proxy, seed=0)
        proxy.poll(0)
        assert srv.connection_id is None
        for gen in (1, 2, 3):
            cli = ShmClient(path)
            assert cli.generation == gen and srv.connection_id == gen
            proxy.poll(gen * 10)
            hellos = [f for f in cli.recv() if m.decode_header(f)["type"] == m.MsgType.HELLO]
            assert len(hellos) == 1 and m.decode(hellos[0]).name == schema.NAME
            cli.send(hb(gen))
            cli.close()
            assert srv.connection_id is None and srv.send(b"x") is False
            assert srv.recv() == [hb(gen)]  # sent before it detached: still delivered
        assert srv.attaches == 3 and srv.peers_lost == 0


def test_a_new_agent_does_not_get_what_the_old_one_left(path):
    with ShmServer(path) as srv:
        old = ShmClient(path)
        srv.connection_id
        srv.send(b"telemetry for the old agent")
        old.send(hb(1))
        old.send(rec(1, 5))
        old.close()
        new = ShmClient(path)
        assert srv.connection_id == 2
        assert new.recv() == [] and srv.recv() == []  # old telemetry, heartbeat and slot all skipped
        new.send(hb(2))
        assert srv.recv() == [hb(2)]
        new.close()


def test_only_one_agent_at_a_time(path):
    srv, cli = pair(path)
    with srv, cli:
        with pytest.raises(TransportError, match=f"another agent \\(pid {os.getpid()}\\)"):
            ShmClient(path)
        assert srv.connection_id == 1 and cli.connection_id == 1


def _attach_and_sleep(path, ready):
    cli = ShmClient(path)  # noqa: F841 - kept until killed
    ready.send(cli.generation)
    time.sleep(60)


def test_a_killed_agent_is_detected(path):
    with ShmServer(path) as srv:
        parent, child = FORK.Pipe()
        p = FORK.Process(target=_attach_and_sleep, args=(path, child), daemon=True)
        p.start()
        assert parent.poll(10) and parent.recv() == 1
        assert srv.connection_id == 1 and srv.peer_pid == p.pid
        os.kill(p.pid, signal.SIGKILL)
        p.join(10)
        assert srv.connection_id is None and srv.peers_lost == 1
        assert srv.send(b"x") is False
        with ShmClient(path) as again:  # the lock went with the process
            assert srv.connection_id == 2


def _serve_and_sleep(path, ready):
    srv = ShmServer(path)  # noqa: F841 - kept until killed
    ready.send(True)
    time.sleep(60)


def test_a_killed_kernel_side_is_detected_and_its_region_replaced(path):
    parent, child = FORK.Pipe()
    p = FORK.Process(target=_serve_and_sleep, args=(path, child), daemon=True)
    p.start()
    assert parent.poll(10) and parent.recv()
    cli = ShmClient(path)
    assert cli.connection_id == 1
    with pytest.raises(TransportError, match="already serving"):
        ShmServer(path)
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)
    assert cli.connection_id is None and cli.send(hb(1)) is False and cli.wait(1.0) is False
    cli.close()
    with pytest.raises(TransportError, match="no kernel side"):
        ShmClient(path)  # the file is still there: stale
    with ShmServer(path) as srv, ShmClient(path) as cli2:  # a stale region is replaced
        assert srv.connection_id == 1 and cli2.send(hb(2)) and srv.recv() == [hb(2)]


def _hold_pipe(r, started):
    started.send(True)  # by now the at-fork hook has run in this process
    os.read(r, 1)


def test_a_forked_child_does_not_keep_the_kernel_side_alive(path):
    srv = ShmServer(path)
    r, w = os.pipe()
    parent, child = FORK.Pipe()
    p = FORK.Process(target=_hold_pipe, args=(r, child), daemon=True)
    p.start()  # inherits the server's file and mapping, and drops them
    try:
        assert parent.poll(10) and parent.recv()
        cli = ShmClient(path)
        assert cli.connection_id == 1
        srv._drop()  # as if the kernel side crashed: the region says "alive", the lock says otherwise
        assert cli.connection_id is None
        cli.close()
    finally:
        os.write(w, b"x")
        p.join(10)
        os.close(r)
        os.close(w)


def _inherit_and_close(srv):
    srv.close()  # the child's copy was forgotten at fork: closing it must not touch the region


def test_a_forked_child_leaves_the_parents_region_alone(path):
    with ShmServer(path) as srv, ShmClient(path) as cli:
        p = FORK.Process(target=_inherit_and_close, args=(srv,), daemon=True)
        p.start()
        p.join(10)
        assert p.exitcode == 0 and os.path.exists(path)
        assert srv.connection_id == 1 and cli.connection_id == 1 and srv.send(b"x") and cli.recv() == [b"x"]


def test_an_endpoint_dropped_without_close_lets_go(path):
    srv = ShmServer(path)
    cli = ShmClient(path)
    assert srv.connection_id == 1
    del cli
    assert srv.connection_id is None
    cli = ShmClient(path)
    assert srv.connection_id == 2
    del srv
    assert not os.path.exists(path) and cli.connection_id is None
    cli.close()


def test_reopen_serves_an_existing_region(path):
    srv = ShmServer(path)
    cli = ShmClient(path)
    assert srv.connection_id == 1
    cli.send(rec(1, 1))
    srv._drop()  # the kernel side went away without closing
    with ShmServer(path, create=False) as again:
        assert again.geometry.total_bytes == srv.geometry.total_bytes
        assert again.connection_id == 1 and again.recv() == []  # what was there is not replayed
        assert again.send(b"after restart")
        assert cli.recv() == [b"after restart"]
        cli.send(rec(1, 2))
        assert again.recv() == [rec(1, 2)]
        with pytest.raises(TransportError, match="already serving"):
            ShmServer(path, create=False)
    assert os.path.exists(path)  # not created here: left in place
    cli.close()


def test_wait_returns_when_telemetry_arrives_or_the_kernel_side_closes(path):
    srv, cli = pair(path)
    assert cli.wait(0.002) is False
    srv.send(b"x")
    assert cli.wait(5.0) and cli.recv() == [b"x"]
    spinner = cli
    spinner.spin_s = 1.0
    srv.send(b"y")
    assert spinner.wait(5.0)
    srv.close()
    assert cli.recv() == [b"y"]
    assert cli.wait(5.0) is False and cli.connection_id is None
    cli.close()


# -- bad regions --------------------------------------------------------------------------
def _write_region(path, **fields):
    with ShmServer(path) as srv:
        raw = bytes(srv._buf)
    buf = bytearray(raw)
    for k, v in fields.items():
        struct.pack_into("=Q", buf, 8 * IDX[k], v)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, bytes(buf))
    os.close(fd)


@pytest.mark.parametrize("fields, reason", [
    ({"magic": 0x1234}, "not a kernelml shared-memory region"),
    ({"version": LAYOUT_VERSION + 1}, "layout version"),
    ({"ring_bytes": RING_MIN + 8}, "bad region geometry"),
    ({"slot_stride": 64}, "slot_stride"),
    ({"total_bytes": 1 << 40}, "total_bytes"),
])
def test_a_client_refuses_a_bad_region(path, fields, reason):
    _write_region(path, **fields)
    with pytest.raises(TransportError, match=reason) as exc:
        ShmClient(path)
    assert path in str(exc.value)


def test_a_client_refuses_a_truncated_region(path):
    srv = ShmServer(path)
    os.truncate(path, srv.geometry.total_bytes - 4096)
    with pytest.raises(TransportError, match="truncated"):
        ShmClient(path)
    os.truncate(path, 100)
    with pytest.raises(TransportError, match="truncated.*100 bytes"):
        ShmClient(path)
    srv._drop()
    os.unlink(path)


def test_client_errors_name_the_path_and_the_reason(path):
    with pytest.raises(TransportError, match=f"{path}.*no such file"):
        ShmClient(path)
    os.mkdir(path)
    with pytest.raises(TransportError, match="not a regular file|Is a directory"):
        ShmClient(path)
    os.rmdir(path)
    with ShmServer(path):
        os.chmod(path, 0o644)
        with pytest.raises(TransportError, match="accessible to other users"):
            ShmClient(path)
        link = path + ".lnk"
        os.symlink(path, link)
        with pytest.raises(TransportError, match="symbolic link"):
            ShmClient(link)
        os.unlink(link)


@pytest.mark.parametrize("kind", ["file", "dir", "symlink"])
def test_create_never_replaces_what_is_not_a_region(path, kind):
    target = path + ".precious"
    with open(target, "w") as f:
        f.write("data" * 2000)
    if kind == "file":
        os.rename(target, path)
    elif kind == "dir":
        os.mkdir(path)
    else:
        os.symlink(target, path)
    with pytest.raises(TransportError, match="not a kernelml region|not a regular file"):
        ShmServer(path)
    assert os.path.lexists(path)
    if kind != "dir":
        with open(path) as f:
            assert f.read() == "data" * 2000


def test_bad_geometry_is_a_value_error(path):
    for kw in ({"ring_bytes": RING_MIN // 2}, {"ring_bytes": RING_MIN * 3}, {"control_bytes": 4096},
               {"slots": 0}, {"slot_bytes": m.MAX_FRAME + 8}):
        with pytest.raises(ValueError):
            ShmServer(path, **kw)
    assert not os.path.exists(path)
    with pytest.raises(TransportError, match="cannot open"):
        ShmServer(path, create=False)


# -- across processes ----------------------------------------------------------------------
def _echo(path):
    cli = ShmClient(path, spin_s=1e-3)
    while cli.connection_id is not None:
        if not cli.wait(5.0):
            continue
        for f in cli.recv():
            if f == STOP:
                for k in range(4):  # recommendations for two kinds: the table keeps the latest
                    cli.send(rec(k % 2, k + 1))
                cli.send(STOP)
                cli.close()
                return
            while not cli.send(f):  # user space may wait for room
                time.sleep(0.0001)
    raise SystemExit(3)


def test_round_trips_across_processes(path):
    with ShmServer(path, ring_bytes=RING_MIN, control_bytes=RING_MIN) as srv:
        p = FORK.Process(target=_echo, args=(path,), daemon=True)
        p.start()
        assert until(lambda: srv.connection_id)
        frames = blobs(7, 2000, hi=20_000)
        back: list[bytes] = []
        for f in frames:
            while not srv.send(f):
                back += srv.recv()  # a kernel-side driver: poll, never wait
        back += recv_n(srv, len(frames) - len(back))
        assert back == frames
        assert srv.send(STOP)
        tail: list[bytes] = []
        assert until(lambda: tail.extend(srv.recv()) or STOP in tail)
        tail += srv.recv()  # the slots were written before STOP: nothing newer can be left behind
        assert tail.count(STOP) == 1
        # the table keeps the latest per kind; a poll between two writes may also have seen an
        # older one, but never out of order and never anything that was not sent
        for kind, epochs in ((0, [1, 3]), (1, [2, 4])):
            seen = [f for f in tail if f != STOP and m.decode(f).op_kind == kind]
            assert seen and seen[-1] == rec(kind, epochs[-1])
            assert seen == [rec(kind, e) for e in epochs if rec(kind, e) in seen]
        p.join(10)
        assert p.exitcode == 0
        assert until(lambda: srv.connection_id is None)
        assert srv.peers_lost == 0  # it detached cleanly


def _agent_daemon(path, stop):
    agent = Agent("toy-table", seed=0, recommend_every=256, heartbeat_every=128)
    agent.run(lambda: ShmClient(path), stop=stop, reconnect_s=0.01)


def test_proxy_and_agent_work_unchanged_across_processes(path):
    with ShmServer(path) as srv:
        proxy = make_proxy(srv)
        sub = Dispatch(proxy, seed=0)
        stop = FORK.Event()
        p = FORK.Process(target=_agent_daemon, args=(path, stop), daemon=True)
        p.start()
        try:
            assert until(lambda: srv.connection_id)
            for _ in range(12_000):
                sub.step()
                if sub.now % sub.publish_every == 0:
                    # the test paces the simulated clock to the agent (the kernel side never
                    # waits): the next batch goes out once the agent has taken this one, so the
                    # agent is at most two polls behind in kernel ticks
                    assert until(lambda: srv.unread == 0), "the agent stopped reading"
            sub.flush()
        finally:
            stop.set()
            p.join(10)
        assert p.exitcode == 0
        mode = proxy.mode(schema.OP_DISPATCH)
        assert mode != Mode.EMERGENCY, proxy.transitions(schema.OP_DISPATCH)
        assert sum(proxy.rejects) == 0, proxy.rejects
        assert proxy.ml_share_pm(schema.OP_DISPATCH) > 0
        assert srv.drops == 0 and srv.torn_reads == 0 and srv.attaches == 1
