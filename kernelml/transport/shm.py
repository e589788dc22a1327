"""A shared-memory channel between the proxy and the agent, laid out the way
a kernel would share memory with a user-space daemon.

The region
==========

One file (under ``/dev/shm`` or any path the caller gives), created by the
kernel side with ``O_EXCL`` and mode 0600, mapped ``MAP_SHARED`` by both
sides.  In a kernel it would be pages the kernel allocated and a character
device's ``mmap`` handed out; here a file plays that part.  Layout::

    0      header (one page; :data:`~.shm_region.HEADER`: geometry, then
           one 64-byte cache line per writer, so no line is written by both)
    4096   telemetry ring, kernel -> user   (ring_bytes, a power of two)
    +      control ring, user -> kernel     (control_bytes, a power of two)
    +      recommendation table, user -> kernel (slots x stride)

Every header field is a native little-endian u64 with exactly one writer:
the geometry is written once by the kernel side before the magic (the magic
last: a region is valid only once it is complete); the kernel side's line
holds its pid, state (alive / closed), a beat counter (one per ``recv``) and
its error counters (visible to the agent); the agent's line holds
``attach`` = ``generation << 1 | attached``, its pid, a beat counter (one
per ``recv``), ``control_start`` and the table's doorbell ``table_seq``;
each ring position has its own line.  Module layout: this file (the two
endpoints), :mod:`.shm_region` (header, geometry, checks, locks),
:mod:`.shm_ring`, :mod:`.shm_table`.

* **Telemetry ring** (:mod:`.shm_ring`): single producer (kernel), single
  consumer (agent), variable-length records (a whole uapi frame behind an
  8-byte length header, 8-byte aligned), free-running head/tail positions in
  the header, like the BPF ring buffer.  The producer never waits: a frame
  that does not fit is dropped, ``send`` returns False and the drop counter
  in the header (readable by the agent: :attr:`ShmClient.kernel_drops`) is
  incremented.  A record never straddles the end: a padding record covers
  the tail of the area and the record goes to offset 0.  Rings are at least
  ``2 * (MAX_FRAME + 8)`` bytes, so every frame fits into an empty ring.
* **Control ring**: the same structure, user -> kernel, for heartbeats, MODE
  frames and anything else the agent sends that is not a recommendation for
  a kind with a slot; the kernel side validates what it reads.
* **Recommendation table** (:mod:`.shm_table`): ``slots`` slots of
  ``slot_bytes`` (default :data:`~kernelml.uapi.messages.MAX_FRAME`), one per
  op kind.  The agent's ``send`` of a RECOMMENDATION frame for op kind
  ``k < slots`` writes slot ``k`` under a sequence lock (latest wins; a frame
  longer than ``slot_bytes`` is a ValueError naming the slot size); for a
  kind without a slot it goes through the control ring.  The kernel side's
  ``recv`` returns one frame per slot whose sequence changed since its last
  good read, then control-ring frames, ``max_frames`` in all; the reader
  tries a slot at most ``read_attempts`` times per poll, then counts it
  (``torn_reads``) and tries again at the next poll: it never spins on user
  space.  The proxy validates epochs, expiry and rates as for any channel.
  What an agent published before it detached is still delivered; what an
  earlier agent left when a new one attaches is not.

Connections and liveness
========================

The agent attaches by taking an exclusive lock on byte 1 of the file (an
open-file-description lock, ``F_OFD_SETLK``: a second agent is refused
while the first lives), checking the kernel side is alive, emptying what a
previous agent left (telemetry ring: consumer position to the producer's;
table: every slot emptied; control ring: ``control_start`` = its producer
position, so the kernel side skips older records) and then publishing
``attach`` with the generation incremented: that generation is the
``connection_id`` the kernel side reports, so the proxy says HELLO again on
every new agent.  The kernel side holds a lock on byte 0 for its lifetime.

Locks are released by the kernel when the last reference to the open file
goes, including on ``SIGKILL``: that plays the part of a character device's
``release()``.  Each side probes the other's lock (``F_OFD_GETLK``, one
system call, no waiting) in ``connection_id``: a dead agent makes the kernel
side's ``connection_id`` None (``peers_lost``); a dead or closed kernel side
makes the client's None.  Forked children do not inherit an endpoint: their
copy is dropped after ``fork`` (the region is left alone), so a child cannot
keep a dead parent's lock alive.

Memory ordering
===============

Python cannot issue memory barriers, so the design relies on what x86-64
guarantees (TSO): stores become visible to other processors in program
order, loads are not reordered with other loads, and a load is not
reordered with a later store.  Every index, sequence and header word is
read and written as one aligned 8-byte item through a ``memoryview`` cast to
``'Q'`` (CPython copies the item with a fixed-size ``memcpy``, compiled to
one move, which x86-64 performs atomically when aligned); payloads are
copied with slice assignment and ``bytes()``.  Each Python statement is a
call the interpreter cannot reorder.  The arguments:

* ring producer: payload, then record header, then producer position; the
  consumer loads the position, then the header and payload (load-load
  order), so a published position never exposes an unwritten record.  In C:
  ``smp_store_release(&hdr->prod, pos)`` / ``smp_load_acquire(&hdr->prod)``.
* ring consumer: copies the records, then stores its position; the producer
  loads that position before reusing the space.  A load is not reordered
  with a later store, so the copy is complete before the space is handed
  back.  In C: ``smp_store_release(&hdr->cons, pos)`` on the consumer,
  ``smp_load_acquire(&hdr->cons)`` on the producer (as ``bpf_ringbuf``).
* table (seqlock): the writer stores ``seq`` odd, data and length, ``seq``
  even (store order); the reader loads ``seq``, copies, loads ``seq`` again
  (load order): equal and even means the copy is whole.  In C: the writer's
  ``smp_wmb()`` after the odd store and before the even one
  (``write_seqcount_begin/end``), the reader's ``smp_rmb()`` after the first
  load and before the second (``read_seqcount_begin/retry``), all fields
  with ``READ_ONCE``/``WRITE_ONCE`` so the compiler neither tears nor fuses
  them, and the kernel copies into its own buffer before validating (no
  double fetch; here: ``bytes()`` then :func:`~kernelml.uapi.messages.decode`).
* attach: everything the agent resets is stored before ``attach``; the
  kernel side loads ``attach`` before ``control_start``.  In C:
  ``smp_store_release`` / ``smp_load_acquire`` on ``attach``.

On a weakly ordered machine (arm64, POWER) this Python version would need
those barriers; it is a reference for the protocol, not for arm64.

Waiting (user side only)
========================

The kernel side never waits.  :meth:`ShmClient.wait` spins on the telemetry
producer position for ``spin_s`` (default 50 us: a frame that arrives then is
seen within a fraction of a microsecond, at the price of a busy core while
spinning), then sleeps in steps that double from 50 us to ``max_sleep_s``
(default 1 ms): an idle agent wakes about a thousand times a second and a
frame waits at most one step plus the timer slack.  A daemon that wants the
lowest latency sets ``spin_s`` to its whole timeout (a spinning peer).  No
eventfd or pipe wakeup is implemented: it would cost the kernel side a
system call per wakeup (the BPF ring buffer's answer is to wake only when
the consumer has caught up).

Limits of the emulation
=======================

The file can be truncated by its owner while mapped, which would make the
other side fault (SIGBUS); kernel-allocated pages cannot be.  Positions are
64-bit and never wrap in practice (centuries at 1 GB/s).  One agent at a
time; a hung (not dead) agent keeps its lock until it exits.

Counters (attributes): server ``sent``, ``drops``, ``torn_reads``,
``slot_corrupt``, ``control_corrupt``, ``attaches``, ``peers_lost``;
client ``drops``, ``telemetry_corrupt``, and the ``kernel_drops`` property.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import time

from ..uapi.messages import MAGIC as FRAME_MAGIC
from ..uapi.messages import MAX_FRAME, MsgType
from .base import TransportError
from .shm_region import (_ABEAT, _AGENT_BYTE, _ATTACH, _KBEAT, _KERNEL_BYTE, _KSTATE, HEADER, IDX,  # noqa: F401
                         KERNEL_ALIVE, KERNEL_CLOSED, LAYOUT_VERSION, REGION_MAGIC, RING_MIN, Geometry,
                         _held, _lock, _Mapped, _read_header, default_path)
from .shm_ring import RingConsumer, RingProducer
from .shm_table import TableReader, TableWriter


class ShmServer(_Mapped):
    """The kernel side: creates (or, with ``create=False``, reopens) the region
    at ``path`` and serves one agent at a time.

    ``ring_bytes``: telemetry ring size; ``control_bytes``: control ring size
    (powers of two, at least :data:`RING_MIN`); ``slots``: recommendation
    slots, one per op kind ``0 .. slots-1``; ``slot_bytes``: largest
    recommendation frame a slot holds; ``read_attempts``: tries per changed
    slot per ``recv`` before giving up until the next one.

    ``create=True`` refuses to replace anything but a stale region (one with
    the region magic, owned by this uid, whose kernel side is gone);
    ``close()`` then removes the file (if it is still this one).
    ``create=False`` serves an existing region (sizes from its header) and
    leaves the file in place at ``close()``; what the table and the control
    ring held before is not delivered.
    """

    def __init__(self, path: str | os.PathLike, create: bool = True, ring_bytes: int = 1 << 20,
                 control_bytes: int = RING_MIN, slots: int = 16, slot_bytes: int = MAX_FRAME,
                 read_attempts: int = 4) -> None:
        self.path = os.fspath(path)
        self.created = False
        self.sent = 0
        self.attaches = 0
        self.peers_lost = 0
        self._peer: int | None = None  # the attach word of the current agent
        self._lost = 0  # attach word of an agent found dead
        self._ident = None
        self._exported = None
        fd = None
        try:
            if create:
                g = Geometry(ring_bytes, control_bytes, slots, slot_bytes)
                fd = self._create(g)
            else:
                fd, g = self._reopen()
            self._map(fd, g)
        except BaseException:
            if getattr(self, "_fd", None) is not None:
                self._drop()
            elif fd is not None:
                os.close(fd)
            if self.created:
                os.unlink(self.path)
            raise
        q = self._q
        if create:
            for k, v in g.fields().items():
                q[IDX[k]] = v
        self._ring = RingProducer(*self._ring_args("ring"), prod=q[IDX["ring_prod"]])
        self._ctl = RingConsumer(*self._ring_args("control"), cons=q[IDX["control_cons"]])
        self._table = TableReader(*self._table_args(), attempts=read_attempts)
        if not create:  # start fresh: nothing a previous kernel side left unread is replayed
            if q[IDX["ring_prod"]] & 7 or q[IDX["control_prod"]] & 7:
                self._drop()
                raise TransportError(f"{self.path}: region ring positions are not 8-byte aligned")
            self._ctl.skip_to(q[IDX["control_prod"]])
            self._table.mark_all_seen()
            self._peer = q[_ATTACH] if q[_ATTACH] & 1 else None
        q[IDX["kernel_pid"]] = os.getpid()
        q[_KSTATE] = KERNEL_ALIVE
        if create:
            q[IDX["magic"]] = REGION_MAGIC  # last: the region is complete

    # -- setting up --------------------------------------------------------
    def _create(self, g: Geometry) -> int:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            st = None
        if st is not None:
            self._check_stale(st)
            os.unlink(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise TransportError(f"{self.path}: cannot create the region: {exc.strerror}") from None
        self.created = True
        try:
            os.fchmod(fd, 0o600)  # the umask may have taken the owner's bits; never more than 0600
            if not _lock(fd, _KERNEL_BYTE):
                raise TransportError(f"{self.path}: another kernel side locked the new region")
            os.ftruncate(fd, g.total_bytes)
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        self._ident = (st.st_dev, st.st_ino)
        return fd

    def _check_stale(self, st: os.stat_result) -> None:
        """Raise unless ``path`` is a dead region of ours (which may be replaced)."""
        if not stat.S_ISREG(st.st_mode):
            raise TransportError(f"{self.path}: exists and is not a regular file; refusing to replace it")
        if st.st_uid != os.geteuid():
            raise TransportError(f"{self.path}: exists and belongs to uid {st.st_uid}; refusing to replace it")
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise TransportError(f"{self.path}: exists and cannot be checked: {exc.strerror}") from None
        try:
            magic = os.pread(fd, 8, 0)
            if len(magic) < 8 or int.from_bytes(magic, "little") != REGION_MAGIC:
                raise TransportError(f"{self.path}: exists and is not a kernelml region; refusing to replace it")
            if _held(fd, _KERNEL_BYTE):
                raise TransportError(f"{self.path}: a kernel side is already serving this region")
        finally:
            os.close(fd)

    def _reopen(self) -> tuple[int, Geometry]:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise TransportError(f"{self.path}: cannot open the region: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) & 0o077:
                raise TransportError(f"{self.path}: not a regular file of mode 0600")
            hdr, size = _read_header(self.path, fd)
            g = Geometry.check(self.path, hdr, size)
            if not _lock(fd, _KERNEL_BYTE):
                raise TransportError(f"{self.path}: a kernel side is already serving this region")
        except BaseException:
            os.close(fd)
            raise
        return fd, g

    # -- the peer ----------------------------------------------------------
    def _refresh(self, probe: bool) -> int | None:
        """Follow the agent's attach word; with ``probe``, check it is alive."""
        q = self._q
        word = q[_ATTACH]
        if not word & 1 or word == self._lost:
            self._peer = None
            return None
        if word != self._peer:  # a new agent: skip what older agents left in the control ring
            self._peer = word
            self.attaches += 1
            self._ctl.skip_to(q[IDX["control_start"]])
        if probe and not _held(self._fd, _AGENT_BYTE):
            self._lost, self._peer = word, None
            self.peers_lost += 1
            return None
        return word

    @property
    def connection_id(self) -> int | None:
        """The attached agent's generation (1, 2, ...); None without a live agent."""
        if self._q is None:
            return None
        word = self._refresh(probe=True)
        return None if word is None else word >> 1

    @property
    def peer_pid(self) -> int | None:
        return self._q[IDX["agent_pid"]] if self._peer is not None else None

    # -- frames ------------------------------------------------------------
    def send(self, frame) -> bool:
        """Append one frame to the telemetry ring; False when full (dropped and
        counted in the header) or without an agent.  Never waits."""
        if len(frame) > MAX_FRAME:
            raise ValueError(f"frame of {len(frame)} bytes exceeds MAX_FRAME {MAX_FRAME}")
        q = self._q
        if q is None:
            return False
        if q[_ATTACH] != self._peer and self._refresh(probe=False) is None:
            return False
        if self._peer is None:
            return False
        ok = self._ring.push(frame)
        self.sent += ok
        return ok

    def recv(self, max_frames: int = 64) -> list[bytes]:
        """Changed recommendation slots, then control-ring frames: at most
        ``max_frames``, bounded work, never waits.  What an agent published
        before it detached or died is still delivered (as a socket delivers
        what was sent before end of file)."""
        q = self._q
        if q is None:
            return []
        q[_KBEAT] += 1
        if q[_ATTACH] != self._peer:
            self._refresh(probe=False)  # a new agent: skip what older ones left
        t, c = self._table, self._ctl
        out = t.read_changed(max_frames)
        if len(out) < max_frames:
            out += c.pop(max_frames - len(out))
        counts = (t.torn, t.corrupt, c.corrupt)
        if counts != self._exported:  # errors made visible to user space
            self._exported = counts
            q[IDX["torn_reads"]], q[IDX["slot_corrupt"]], q[IDX["control_corrupt"]] = counts
        return out

    # -- counters --------------------------------------------------------------
    @property
    def drops(self) -> int:
        """Telemetry frames dropped because the ring was full."""
        return self._ring.drops

    @property
    def torn_reads(self) -> int:
        return self._table.torn

    @property
    def slot_corrupt(self) -> int:
        return self._table.corrupt

    @property
    def control_corrupt(self) -> int:
        return self._ctl.corrupt

    @property
    def unread(self) -> int:
        """Bytes of telemetry the agent has not consumed yet."""
        return self._ring.prod - self._q[IDX["ring_cons"]] if self._q is not None else 0

    @property
    def control_drops(self) -> int:
        """Frames the agent could not put in the control ring (its counter)."""
        return self._ctl.drops if self._q is not None else 0

    def close(self) -> None:
        """Mark the region closed, remove the file (if created here and still
        ours) and unmap it.  Idempotent."""
        if self._q is None:
            return
        self._q[_KSTATE] = KERNEL_CLOSED
        if self.created:
            try:
                st = os.lstat(self.path)
                if (st.st_dev, st.st_ino) == self._ident:
                    os.unlink(self.path)
            except FileNotFoundError:
                pass
        self._drop()


class ShmClient(_Mapped):
    """The user side: attaches to the region a :class:`ShmServer` serves at ``path``.

    Raises TransportError (naming the path and the reason) for a missing
    file, a file that is not a valid region (magic, version, sizes,
    truncation), a region no kernel side serves, or one another agent is
    attached to.  ``send`` and ``recv`` never block; ``wait`` spins for
    ``spin_s`` then sleeps in doubling steps up to ``max_sleep_s``.
    """

    def __init__(self, path: str | os.PathLike, spin_s: float = 50e-6, max_sleep_s: float = 1e-3) -> None:
        self.path = os.fspath(path)
        self.spin_s = spin_s
        self.max_sleep_s = max_sleep_s
        self.drops = 0
        self._kernel_gone = False
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise TransportError(f"{self.path}: cannot open the region: {self._reason(exc)}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise TransportError(f"{self.path}: not a regular file")
            if stat.S_IMODE(st.st_mode) & 0o077:
                raise TransportError(f"{self.path}: region is accessible to other users "
                                     f"(mode {stat.S_IMODE(st.st_mode):o}); refusing it")
            if not _lock(fd, _AGENT_BYTE):
                hdr = os.pread(fd, HEADER.size, 0)
                pid = struct.unpack_from("=Q", hdr, 8 * IDX["agent_pid"])[0] if len(hdr) == HEADER.size else 0
                raise TransportError(f"{self.path}: another agent (pid {pid}) is attached")
            hdr, size = _read_header(self.path, fd)
            g = Geometry.check(self.path, hdr, size)
            if hdr["kernel_state"] != KERNEL_ALIVE or not _held(fd, _KERNEL_BYTE):
                raise TransportError(f"{self.path}: no kernel side is serving this region (stale file?)")
        except BaseException:
            os.close(fd)
            raise
        self._map(fd, g)
        q = self._q
        self._ctl = RingProducer(*self._ring_args("control"), prod=q[IDX["control_prod"]])
        self._tel = RingConsumer(*self._ring_args("ring"), cons=q[IDX["ring_cons"]])
        self._table = TableWriter(*self._table_args())
        self._slots = g.slots
        self._tel.skip_to(q[IDX["ring_prod"]])  # telemetry meant for an earlier agent
        self._table.clear()
        q[IDX["control_start"]] = self._ctl.prod
        q[IDX["agent_pid"]] = os.getpid()
        self.generation = (q[_ATTACH] >> 1) + 1
        q[_ATTACH] = self.generation << 1 | 1  # last: the attachment is published

    @staticmethod
    def _reason(exc: OSError) -> str:
        if isinstance(exc, FileNotFoundError):
            return "no such file (is the kernel side running?)"
        if isinstance(exc, PermissionError):
            return "permission denied (the region is mode 0600 and owned by another user)"
        if exc.errno == errno.ELOOP:
            return "is a symbolic link"
        return exc.strerror or str(exc)

    @property
    def connection_id(self) -> int | None:
        """This attachment's generation while the kernel side is alive, else None."""
        q = self._q
        if q is None or self._kernel_gone:
            return None
        if q[_KSTATE] != KERNEL_ALIVE or not _held(self._fd, _KERNEL_BYTE):
            self._kernel_gone = True  # for good: a new kernel side means a new region
            return None
        return self.generation

    @property
    def kernel_drops(self) -> int:
        """Telemetry frames the kernel side dropped because the ring was full."""
        return self._tel.drops if self._q is not None else 0

    @property
    def telemetry_corrupt(self) -> int:
        return self._tel.corrupt

    @property
    def slot_bytes(self) -> int:
        return self.geometry.slot_bytes

    def send(self, frame) -> bool:
        """A RECOMMENDATION for an op kind with a slot overwrites that slot
        (always taken); anything else goes to the control ring (False when
        full: dropped and counted).  Never blocks."""
        n = len(frame)
        if n > MAX_FRAME:
            raise ValueError(f"frame of {n} bytes exceeds MAX_FRAME {MAX_FRAME}")
        q = self._q
        if q is None or self._kernel_gone or q[_KSTATE] != KERNEL_ALIVE:
            return False
        if (n >= 18 and frame[6] == MsgType.RECOMMENDATION and frame[7] == 0
                and int.from_bytes(frame[0:4], "little") == FRAME_MAGIC):
            kind = frame[16] | frame[17] << 8
            if kind < self._slots:
                if n > self.geometry.slot_bytes:
                    raise ValueError(f"RECOMMENDATION frame of {n} bytes exceeds the slot size of "
                                     f"{self.geometry.slot_bytes} bytes of region {self.path}")
                self._table.write(kind, frame)
                return True
        ok = self._ctl.push(frame)
        self.drops += not ok
        return ok

    def recv(self, max_frames: int = 64) -> list[bytes]:
        q = self._q
        if q is None:
            return []
        q[_ABEAT] += 1
        out = self._tel.pop(max_frames)
        if self._tel.corrupt != q[IDX["telemetry_corrupt"]]:
            q[IDX["telemetry_corrupt"]] = self._tel.corrupt
        return out

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s until telemetry can be read (True), or
        the kernel side closes (True: ``recv`` and ``connection_id`` tell).
        False at once when not connected, and after the timeout."""
        if self.connection_id is None:
            return False
        tel, q, ks = self._tel, self._q, _KSTATE
        if tel.ready():
            return True
        clock = time.perf_counter
        now = clock()
        end = now + timeout
        spin_end = now + min(self.spin_s, timeout)
        while now < spin_end:
            if tel.ready() or q[ks] != KERNEL_ALIVE:
                return True
            now = clock()
        step = 50e-6
        while True:
            if tel.ready() or q[ks] != KERNEL_ALIVE:
                return True
            left = end - clock()
            if left <= 0:
                return False
            time.sleep(min(step, left))
            step = min(step * 2, self.max_sleep_s)

    def close(self) -> None:
        """Detach (the kernel side's connection_id becomes None) and unmap.  Idempotent."""
        q = self._q
        if q is None:
            return
        q[_ATTACH] = self.generation << 1  # detached
        self._drop()


__all__ = ["ShmServer", "ShmClient", "Geometry", "HEADER", "IDX", "REGION_MAGIC", "LAYOUT_VERSION", "RING_MIN",
           "default_path"]
