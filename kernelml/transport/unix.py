"""A Unix-domain ``SOCK_SEQPACKET`` channel between the proxy and the agent.

``SOCK_SEQPACKET`` keeps message boundaries (one ``send`` is one frame, never
split or merged), is reliable and ordered, and reports a peer's death as
end-of-file, so no framing code is needed on top.

:class:`UnixServer` is the kernel side.  It follows the kernel-side rules:

* nothing blocks: the listening and the connected sockets are non-blocking,
  a new peer is accepted lazily inside :meth:`~UnixServer.send` and
  :meth:`~UnixServer.recv` (no thread), a full socket buffer makes ``send``
  return False (the proxy's outbox keeps the frame or drops it, and counts);
* user space is not trusted: the peer's credentials (``SO_PEERCRED``: pid,
  uid, gid, recorded by the kernel at ``connect``) are checked against
  ``allowed_uids``; a refused peer is closed at once and counted; a frame
  larger than :data:`~kernelml.uapi.messages.MAX_FRAME` is dropped and
  counted, never passed on;
* the socket file is mode 0600 from the moment it exists (bound under umask
  0177, then checked with ``stat``), an existing file that is not a socket
  is never overwritten, a live one is left alone, and a stale socket left by
  a dead server (nothing bound to it any more) is replaced;
* one peer at a time: a newly accepted, allowed peer replaces the current
  one (an agent restarted while its old connection is half dead), and
  ``connection_id`` changes so the proxy says HELLO again.

:class:`UnixClient` is the user side: it may block (``send`` up to
``timeout`` seconds, :meth:`~UnixClient.wait`), and reports a failed
``connect`` as a :class:`~kernelml.transport.base.TransportError` that names
the path and the reason.

Counters (attributes, never reset): ``accepted``, ``refused_peers``,
``peers_lost``, ``oversized``, ``send_full``.
"""

from __future__ import annotations

import errno
import math
import os
import select
import socket
import stat
import struct
import time

from ..uapi.messages import MAX_FRAME
from .base import Endpoint, TransportError

_UCRED = struct.Struct("=iII")  # struct ucred { pid_t pid; uid_t uid; gid_t gid; }
_RECV_FLAGS = socket.MSG_DONTWAIT | socket.MSG_TRUNC  # MSG_TRUNC: return the real length
_SEND_FLAGS = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL
_HUP = select.POLLHUP | select.POLLRDHUP | select.POLLERR
_LOST = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ECONNABORTED)
MAX_ACCEPTS_PER_CALL = 8  # bounded work: connections accepted per send/recv call


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the process at the other end of a connected
    Unix socket, as the kernel recorded them at ``connect`` (``SO_PEERCRED``)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return _UCRED.unpack(raw)


def _check_frame_size(frame) -> None:
    if len(frame) > MAX_FRAME:
        raise ValueError(f"frame of {len(frame)} bytes exceeds MAX_FRAME {MAX_FRAME}")


class _Receiver:
    """Non-blocking frame reception shared by both sides (one buffer, reused)."""

    def __init__(self) -> None:
        self._buf = bytearray(MAX_FRAME + 1)
        self._view = memoryview(self._buf)
        self.oversized = 0

    def read(self, sock: socket.socket, max_frames: int) -> tuple[list[bytes], bool]:
        """Up to ``max_frames`` frames; the flag is True when the peer is gone.
        At most ``max_frames`` datagrams are read, dropped ones included."""
        out: list[bytes] = []
        for _ in range(max_frames):
            try:
                n = sock.recv_into(self._buf, len(self._buf), _RECV_FLAGS)
            except (BlockingIOError, InterruptedError):
                return out, False
            except OSError as exc:
                if exc.errno in _LOST:
                    return out, True
                raise
            if n == 0 and _peer_hung_up(sock):
                return out, True  # end of file (an empty frame from a live peer is passed on)
            if n > MAX_FRAME:
                self.oversized += 1  # the kernel already discarded the rest of the datagram
                continue
            out.append(bytes(self._view[:n]))
        return out, False


def _poll(sock: socket.socket, events: int, timeout: float) -> int:
    """Events ready on ``sock`` within ``timeout`` seconds (0: none)."""
    p = select.poll()
    p.register(sock, events)
    ready = p.poll(max(0, math.ceil(timeout * 1000)))
    return ready[0][1] if ready else 0


def _peer_hung_up(sock: socket.socket) -> bool:
    return bool(_poll(sock, select.POLLIN | select.POLLRDHUP, 0) & _HUP)


class UnixServer(Endpoint):
    """The kernel side: listens on ``path``, one allowed peer at a time.

    ``allowed_uids``: uids whose connections are accepted (default: only the
    uid of this process).  ``backlog``: pending connections the kernel queues
    before refusing more.
    """

    def __init__(self, path: str | os.PathLike, allowed_uids=None, backlog: int = 4) -> None:
        self.path = os.fspath(path)
        self.allowed_uids = frozenset([os.getuid()] if allowed_uids is None else allowed_uids)
        self.accepted = 0
        self.refused_peers = 0
        self.peers_lost = 0
        self.send_full = 0
        self.peer_pid: int | None = None
        self.peer_uid: int | None = None
        self._peer: socket.socket | None = None
        self._generation = 0
        self._rx = _Receiver()
        self._clear_path()
        self._listener = self._bind(backlog)

    # -- setting up --------------------------------------------------------
    def _clear_path(self) -> None:
        """Refuse a non-socket or a live socket at ``path``; remove a stale one."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise TransportError(f"{self.path}: exists and is not a socket; refusing to replace it")
        # Probe with a datagram connect: it reaches a live socket of any type
        # (EPROTOTYPE for a stream or seqpacket listener) without queueing a
        # connection that a live server would accept as its new peer.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.connect(self.path)
        except ConnectionRefusedError:
            os.unlink(self.path)  # stale: nothing is bound to it any more
            return
        except OSError as exc:
            if exc.errno != errno.EPROTOTYPE:
                raise TransportError(f"{self.path}: cannot probe the existing socket: "
                                     f"{exc.strerror}") from None
        finally:
            probe.close()
        raise TransportError(f"{self.path}: a server is already listening there")

    def _bind(self, backlog: int) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        old = os.umask(0o177)  # the file is created 0600; umask is per process, restored at once
        try:
            sock.bind(self.path)
        except OSError as exc:
            sock.close()
            raise TransportError(f"{self.path}: cannot bind: {exc.strerror}") from None
        finally:
            os.umask(old)
        st = os.lstat(self.path)
        if stat.S_IMODE(st.st_mode) != 0o600:
            sock.close()
            os.unlink(self.path)
            raise TransportError(f"{self.path}: socket created with mode "
                                 f"{stat.S_IMODE(st.st_mode):o}, expected 600")
        self._ident = (st.st_dev, st.st_ino)
        sock.setblocking(False)
        sock.listen(backlog)
        return sock

    # -- peers -------------------------------------------------------------
    def accept_pending(self) -> None:
        """Accept queued connections (bounded); ``send`` and ``recv`` call it."""
        if self._listener is None:
            return
        for _ in range(MAX_ACCEPTS_PER_CALL):
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # the peer gave up before we accepted it
                raise
            try:
                pid, uid, _gid = peer_credentials(conn)
            except OSError:
                conn.close()
                self.refused_peers += 1
                continue
            if uid not in self.allowed_uids:
                conn.close()
                self.refused_peers += 1
                continue
            conn.setblocking(False)
            if self._peer is not None:
                self._peer.close()  # replaced by the new peer
            self._peer = conn
            self.peer_pid, self.peer_uid = pid, uid
            self._generation += 1
            self.accepted += 1

    def _drop_peer(self) -> None:
        if self._peer is not None:
            self._peer.close()
            self._peer = None
            self.peer_pid = self.peer_uid = None
            self.peers_lost += 1

    @property
    def connection_id(self) -> int | None:
        """1, 2, ... for each accepted peer; None while there is none."""
        return self._generation if self._peer is not None else None

    @property
    def oversized(self) -> int:
        """Frames larger than MAX_FRAME that were dropped."""
        return self._rx.oversized

    # -- frames ------------------------------------------------------------
    def send(self, frame: bytes) -> bool:
        """Send one frame without blocking; False when full or without a peer.
        A frame over MAX_FRAME is a caller's error (ValueError)."""
        _check_frame_size(frame)
        self.accept_pending()
        if self._peer is None:
            return False
        try:
            self._peer.send(frame, _SEND_FLAGS)
            return True
        except (BlockingIOError, InterruptedError):
            self.send_full += 1
            return False
        except OSError as exc:
            if exc.errno not in _LOST:
                raise
            self._drop_peer()
            return False

    def recv(self, max_frames: int = 64) -> list[bytes]:
        """Up to ``max_frames`` frames already received, without blocking."""
        self.accept_pending()
        if self._peer is None:
            return []
        out, gone = self._rx.read(self._peer, max_frames)
        if gone:
            self._drop_peer()
        return out

    def fileno(self) -> int:
        """The listening socket (for a caller that multiplexes several endpoints)."""
        return self._listener.fileno() if self._listener is not None else -1

    def close(self) -> None:
        """Close both sockets and remove the socket file (if it is still ours)."""
        if self._peer is not None:
            self._peer.close()
            self._peer = None
        if self._listener is None:
            return
        self._listener.close()
        self._listener = None
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._ident:
                os.unlink(self.path)
        except FileNotFoundError:
            pass


class UnixClient(Endpoint):
    """The user side: connects to a :class:`UnixServer` at ``path``.

    ``timeout`` (seconds) bounds ``connect`` and each ``send``; a send that
    fails (timeout, peer gone) returns False and marks the client
    disconnected.  ``recv`` never blocks; ``wait`` does.
    """

    def __init__(self, path: str | os.PathLike, timeout: float = 5.0) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._rx = _Receiver()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.settimeout(timeout)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise TransportError(f"{self.path}: cannot connect: {self._reason(exc)}") from None
        sock.setblocking(False)  # recv never waits; send waits by polling, up to timeout
        self._sock: socket.socket | None = sock

    def _reason(self, exc: OSError) -> str:
        if isinstance(exc, FileNotFoundError):
            return "no such file (is the kernel side running?)"
        if isinstance(exc, PermissionError):
            return "permission denied (the socket is mode 0600 and owned by another user)"
        if isinstance(exc, ConnectionRefusedError):
            try:
                is_sock = stat.S_ISSOCK(os.stat(self.path).st_mode)
            except OSError:
                is_sock = False
            return ("connection refused (nobody is listening: stale socket file?)" if is_sock
                    else "not a socket")
        if isinstance(exc, (TimeoutError, BlockingIOError)):
            return f"timed out after {self.timeout} s (server backlog full?)"
        if exc.errno == errno.EPROTOTYPE:
            return "the listener is not a SOCK_SEQPACKET socket"
        return exc.strerror or str(exc)

    @property
    def connection_id(self) -> int | None:
        return 1 if self._sock is not None else None

    @property
    def oversized(self) -> int:
        return self._rx.oversized

    def _lost(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def send(self, frame: bytes) -> bool:
        """Send one frame, blocking up to ``timeout``; False (and disconnected) on failure."""
        _check_frame_size(frame)
        if self._sock is None:
            return False
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self._sock.send(frame, _SEND_FLAGS)
                return True
            except (BlockingIOError, InterruptedError):
                left = deadline - time.monotonic()
                if left <= 0 or not _poll(self._sock, select.POLLOUT, left):
                    self._lost()  # the kernel side stopped reading
                    return False
            except OSError:  # EPIPE, ECONNRESET, ...
                self._lost()
                return False

    def recv(self, max_frames: int = 64) -> list[bytes]:
        if self._sock is None:
            return []
        out, gone = self._rx.read(self._sock, max_frames)
        if gone:
            self._lost()
        return out

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s until a frame (or end of file) can be read.
        Returns False at once when disconnected."""
        if self._sock is None:
            return False
        return bool(_poll(self._sock, select.POLLIN | select.POLLRDHUP, timeout))

    def fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else -1

    def close(self) -> None:
        self._lost()
