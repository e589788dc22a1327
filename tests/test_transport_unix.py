"""The Unix-domain SOCK_SEQPACKET channel: frames both ways, a 0600 socket
file, peers refused by uid, a server that never blocks, peer death, oversized
frames, and safe handling of whatever already exists at the path."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import stat
import tempfile
import time

import pytest

from kernelml.transport import Endpoint, TransportError
from kernelml.transport.unix import UnixClient, UnixServer, peer_credentials
from kernelml.uapi import messages as m

pytestmark = pytest.mark.timeout(30)
NOBODY = 65534


@pytest.fixture
def sdir():
    d = tempfile.mkdtemp(prefix="kml-", dir="/tmp")  # short: AF_UNIX paths are limited to 107 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def path(sdir):
    return os.path.join(sdir, "k.sock")


def until(fn, timeout: float = 5.0):
    """Call ``fn`` until it returns something truthy (the server side never waits itself)."""
    deadline = time.monotonic() + timeout
    while True:
        out = fn()
        if out or time.monotonic() > deadline:
            return out
        time.sleep(0.001)


def recv_n(ep, n: int, timeout: float = 5.0) -> list[bytes]:
    got: list[bytes] = []
    until(lambda: got.extend(ep.recv()) or len(got) >= n, timeout)
    return got


def raw_client(path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


def frames():
    rng = random.Random(5)
    return [b"x", bytes(range(64)), rng.randbytes(4096), rng.randbytes(m.MAX_FRAME),
            m.encode(m.Heartbeat(m.Sender.AGENT, 1)), m.encode(m.Recommendation(1, 2, 3, [4, 5, 6]), 9)]


def test_round_trip_both_ways(path):
    with UnixServer(path) as srv, UnixClient(path) as cli:
        assert isinstance(srv, Endpoint) and isinstance(cli, Endpoint)
        assert srv.connection_id is None  # accepted lazily, on the next send/recv
        assert srv.recv() == []
        assert srv.connection_id == 1 and cli.connected
        assert (srv.peer_pid, srv.peer_uid) == (os.getpid(), os.getuid())
        for f in frames():
            assert cli.send(f)
        assert recv_n(srv, len(frames())) == frames()  # boundaries and order kept
        for f in frames():
            assert srv.send(f)
        assert cli.wait(5.0)
        assert recv_n(cli, len(frames())) == frames()
        assert cli.wait(0.01) is False and cli.recv() == []
        assert (srv.accepted, srv.refused_peers, srv.oversized, srv.peers_lost) == (1, 0, 0, 0)


def test_recv_is_bounded_by_max_frames(path):
    with UnixServer(path) as srv, UnixClient(path) as cli:
        for i in range(10):
            cli.send(bytes([i]))
        assert srv.recv(3) == [b"\0", b"\1", b"\2"]
        assert srv.recv() == [bytes([i]) for i in range(3, 10)]


def test_socket_file_is_0600_whatever_the_umask(path):
    old = os.umask(0)
    try:
        srv = UnixServer(path)
    finally:
        restored = os.umask(old)
    try:
        assert restored == 0  # the caller's umask is given back
        st = os.lstat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.getuid()
    finally:
        srv.close()
    assert not os.path.exists(path)  # close removes it


def test_refuses_a_peer_whose_uid_is_not_allowed(path):
    other = os.getuid() + 4242
    with UnixServer(path, allowed_uids=[other]) as srv:
        cli = UnixClient(path, timeout=2.0)
        assert cli.send(m.encode(m.Heartbeat(m.Sender.AGENT, 1)))  # queued before the check
        assert srv.recv() == []
        assert srv.refused_peers == 1 and srv.accepted == 0 and srv.connection_id is None
        assert cli.wait(5.0)  # end of file (or reset) arrives at once
        assert cli.recv() == []
        assert not cli.connected and cli.send(b"more") is False
        assert srv.send(b"to nobody") is False
        cli2 = UnixClient(path)
        until(lambda: srv.recv() or srv.refused_peers == 2)
        assert srv.refused_peers == 2 and srv.connection_id is None
        cli2.close()


def _child_as_nobody(path: str, report_fd: int) -> None:
    """Forked child: drop to uid/gid 65534, try the server, report one byte."""
    code = b"?"
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        try:
            cli = UnixClient(path, timeout=2.0)
        except TransportError as exc:
            code = b"P" if "permission" in str(exc) else b"E"
        else:
            cli.send(m.encode(m.Heartbeat(m.Sender.AGENT, 1)))
            cli.wait(10.0)
            cli.recv()
            code = b"R" if not cli.connected else b"C"  # refused / still connected
    finally:
        os.write(report_fd, code)
        os._exit(0)


def _run_as_nobody(srv: UnixServer, path: str) -> bytes:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        _child_as_nobody(path, w)
    os.close(w)
    try:
        until(lambda: srv.recv() or srv.refused_peers or os.waitpid(pid, os.WNOHANG)[0], 10.0)
        code = os.read(r, 1)
    finally:
        os.close(r)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return code


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a peer under another uid")
def test_root_server_refuses_a_real_peer_of_another_uid(sdir, path):
    os.chmod(sdir, 0o711)  # let uid 65534 reach the socket file
    with UnixServer(path, allowed_uids=[0]) as srv:
        # 1) the 0600 socket file alone keeps the other uid out
        assert _run_as_nobody(srv, path) == b"P"
        assert srv.refused_peers == 0
        # 2) with the file opened up, SO_PEERCRED still refuses it
        os.chmod(path, 0o666)
        assert _run_as_nobody(srv, path) == b"R"
        assert srv.refused_peers == 1 and srv.accepted == 0 and srv.connection_id is None


def test_peer_credentials_of_a_socketpair():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with a, b:
        assert peer_credentials(a) == (os.getpid(), os.getuid(), os.getgid())


@pytest.mark.timeout(20)
def test_server_never_blocks_when_the_peer_stops_reading(path):
    with UnixServer(path) as srv, UnixClient(path) as cli:
        frame = bytes(range(256)) * 16
        sent = 0
        for _ in range(100_000):
            if not srv.send(frame):
                break
            sent += 1
        else:
            pytest.fail("the socket buffer never filled")
        assert sent > 0 and srv.send_full == 1
        assert srv.connection_id == 1  # full is not dead
        assert recv_n(cli, sent) == [frame] * sent
        assert srv.send(frame)  # room again


@pytest.mark.timeout(20)
def test_client_send_gives_up_after_its_timeout(path):
    with UnixServer(path) as srv:
        cli = UnixClient(path, timeout=0.2)
        srv.recv()
        ok = [cli.send(bytes(4096)) for _ in range(1000)]
        assert False in ok and not cli.connected
        assert cli.send(b"x") is False and cli.recv() == [] and cli.wait(0.1) is False


def test_peer_close_is_detected(path):
    with UnixServer(path) as srv:
        cli = UnixClient(path)
        srv.recv()
        assert srv.connection_id == 1
        cli.close()
        assert srv.recv() == []
        assert srv.connection_id is None and srv.peers_lost == 1
        assert srv.send(b"x") is False
        with UnixClient(path) as again:  # a new peer: a new connection id
            again.send(b"hi")
            assert srv.recv() == [b"hi"] and srv.connection_id == 2


def test_killed_peer_is_detected_by_send(path):
    with UnixServer(path) as srv:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                cli = UnixClient(path)  # noqa: F841 - kept open until killed
                time.sleep(60)
            finally:
                os._exit(0)
        try:
            until(lambda: srv.recv() or srv.connection_id, 10.0)
            assert srv.connection_id == 1 and srv.peer_pid == pid
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert srv.send(b"x") is False  # EPIPE: dropped at once
        assert srv.connection_id is None and srv.peers_lost == 1


def test_a_new_peer_replaces_the_old_one(path):
    with UnixServer(path) as srv:
        old = UnixClient(path)
        srv.recv()
        assert srv.connection_id == 1
        new = UnixClient(path)
        new.send(b"from new")
        assert srv.recv() == [b"from new"] and srv.connection_id == 2
        assert old.wait(5.0) and old.recv() == [] and not old.connected
        assert srv.send(b"to new") and new.wait(5.0) and new.recv() == [b"to new"]
        assert srv.accepted == 2
        new.close()


def test_oversized_frames_are_dropped_and_counted(path):
    with UnixServer(path) as srv:
        raw = raw_client(path)
        raw.send(b"a" * (m.MAX_FRAME + 1))
        raw.send(b"b" * m.MAX_FRAME)
        assert recv_n(srv, 1) == [b"b" * m.MAX_FRAME]
        raw.send(b"c" * (2 * m.MAX_FRAME))  # the rest of the datagram is discarded too
        raw.send(b"ok")
        assert recv_n(srv, 1) == [b"ok"]
        assert srv.oversized == 2 and srv.connection_id == 1
        with pytest.raises(ValueError):
            srv.send(bytes(m.MAX_FRAME + 1))
        raw.close()


def test_client_drops_oversized_frames_too(sdir):
    p = os.path.join(sdir, "raw.sock")
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    lst.bind(p)
    lst.listen(1)
    with lst, UnixClient(p) as cli:
        conn, _ = lst.accept()
        with conn:
            conn.send(bytes(m.MAX_FRAME + 1))
            conn.send(b"ok")
            assert cli.wait(5.0) and recv_n(cli, 1) == [b"ok"] and cli.oversized == 1
            with pytest.raises(ValueError):
                cli.send(bytes(m.MAX_FRAME + 1))


def test_an_empty_frame_is_passed_on_not_taken_for_end_of_file(path):
    with UnixServer(path) as srv:
        raw = raw_client(path)
        raw.send(b"")
        raw.send(b"after")
        assert recv_n(srv, 2) == [b"", b"after"]
        assert srv.connection_id == 1
        raw.close()
        assert srv.recv() == [] and srv.connection_id is None


def test_a_stale_socket_file_is_replaced(path):
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    dead.bind(path)
    dead.close()  # a server that died without removing its socket
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    with pytest.raises(TransportError, match="refused"):
        UnixClient(path)
    with UnixServer(path) as srv, UnixClient(path) as cli:
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
        cli.send(b"x")
        assert srv.recv() == [b"x"]


def test_a_live_server_is_not_replaced(path):
    with UnixServer(path) as srv, UnixClient(path) as cli:
        srv.recv()
        with pytest.raises(TransportError, match="already listening"):
            UnixServer(path)
        # the probe did not connect: the live server keeps its peer
        cli.send(b"x")
        assert srv.recv() == [b"x"]
        assert (srv.connection_id, srv.accepted, srv.peers_lost) == (1, 1, 0) and cli.connected
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # a live listener of another type
    other.bind(path)
    other.listen(1)
    with other:
        with pytest.raises(TransportError, match="already listening"):
            UnixServer(path)
        with pytest.raises(TransportError, match="SOCK_SEQPACKET"):
            UnixClient(path)


@pytest.mark.parametrize("kind", ["file", "dir", "symlink"])
def test_a_non_socket_at_the_path_is_not_overwritten(sdir, path, kind):
    target = os.path.join(sdir, "precious")
    with open(target, "w") as f:
        f.write("data")
    if kind == "file":
        os.rename(target, path)
    elif kind == "dir":
        os.mkdir(path)
    else:
        os.symlink(target, path)
    with pytest.raises(TransportError, match="not a socket"):
        UnixServer(path)
    assert os.path.lexists(path)
    if kind != "dir":
        with open(path) as f:
            assert f.read() == "data"


def test_client_errors_name_the_path_and_the_reason(sdir, path):
    with pytest.raises(TransportError, match=f"{path}.*no such file"):
        UnixClient(path)
    with open(path, "w"):
        pass
    with pytest.raises(TransportError, match=f"{path}.*not a socket"):
        UnixClient(path)


def test_close_removes_only_its_own_socket_file(path):
    first = UnixServer(path)
    os.unlink(path)  # someone removed it and started another server
    second = UnixServer(path)
    first.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    second.close()
    assert not os.path.lexists(path)
    second.close()  # twice is harmless
