"""The region of the shared-memory channel (:mod:`.shm`): its header
layout (one u64 per field, one cache line per writer), its geometry and the
checks a side makes before trusting a region, the liveness locks, and the
mapping both endpoints share.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import struct
import tempfile
import weakref

from ..uapi.layout import Layout
from ..uapi.messages import MAX_FRAME
from .base import Endpoint, TransportError
from .shm_ring import record_bytes
from .shm_table import SLOT_HDR

REGION_MAGIC = int.from_bytes(b"KMLSHM1\0", "little")
LAYOUT_VERSION = 1
HEADER_BYTES = 4096
CACHELINE = 64
RING_MIN = 1 << (2 * record_bytes(MAX_FRAME) - 1).bit_length()  # smallest power of two >= 2 records
RING_MAX = 1 << 30
MAX_SLOTS = 4096
SLOT_MIN = 64

KERNEL_ALIVE, KERNEL_CLOSED = 1, 2
_KERNEL_BYTE, _AGENT_BYTE = 0, 1  # the bytes each side locks


def _line(*names: str) -> list[str]:
    assert len(names) <= CACHELINE // 8
    return list(names) + [None] * (CACHELINE // 8 - len(names))


_LINES = [
    # geometry: written once by the kernel side, before the magic
    _line("magic", "version", "header_bytes", "total_bytes", "ring_bytes", "control_bytes", "slots",
          "slot_bytes"),
    _line("slot_stride", "max_frame", "ring_off", "control_off", "table_off"),
    # the kernel side's line
    _line("kernel_pid", "kernel_state", "kernel_beat", "torn_reads", "slot_corrupt", "control_corrupt"),
    # the agent's line
    _line("attach", "agent_pid", "agent_beat", "control_start", "telemetry_corrupt", "table_seq"),
    _line("ring_prod", "ring_drops"),  # telemetry producer: kernel
    _line("ring_cons"),  # telemetry consumer: agent
    _line("control_prod", "control_drops"),  # control producer: agent
    _line("control_cons"),  # control consumer: kernel
]
_names = [n for line in _LINES for n in line]
HEADER = Layout("kml_shm_header", tuple(
    (n if n is not None else f"_pad{i}", "u64") for i, n in enumerate(_names)))
IDX = {n: i for i, n in enumerate(_names) if n is not None}  # field -> u64 index in the region
_GEOMETRY = ("ring_bytes", "control_bytes", "slots", "slot_bytes")
_ATTACH, _KSTATE, _KBEAT, _ABEAT = IDX["attach"], IDX["kernel_state"], IDX["kernel_beat"], IDX["agent_beat"]

_FLOCK = struct.Struct("hhqqi4x")  # struct flock on Linux x86-64
_HAVE_OFD = hasattr(fcntl, "F_OFD_SETLK")


def _lock(fd: int, byte: int) -> bool:
    """Take the exclusive lock on ``byte`` without waiting; False if another holds it."""
    if not _HAVE_OFD:
        return True
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, byte, 1, 0))
        return True
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


def _held(fd: int, byte: int) -> bool:
    """Whether another open file holds the lock on ``byte`` (a probe, no waiting)."""
    if not _HAVE_OFD:
        return True
    raw = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, _FLOCK.pack(fcntl.F_RDLCK, os.SEEK_SET, byte, 1, 0))
    return _FLOCK.unpack(raw)[0] != fcntl.F_UNLCK


def default_path(name: str = "kernelml") -> str:
    """``/dev/shm/<name>-<uid>.kml`` (the temporary directory where there is no /dev/shm)."""
    d = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return os.path.join(d, f"{name}-{os.getuid()}.kml")


class Geometry:
    """Sizes of a region and the offsets they imply."""

    def __init__(self, ring_bytes: int, control_bytes: int, slots: int, slot_bytes: int) -> None:
        for what, v in (("ring_bytes", ring_bytes), ("control_bytes", control_bytes)):
            if not (RING_MIN <= v <= RING_MAX and v & (v - 1) == 0):
                raise ValueError(f"{what} must be a power of two in [{RING_MIN}, {RING_MAX}], got {v}")
        if not 1 <= slots <= MAX_SLOTS:
            raise ValueError(f"slots must be in [1, {MAX_SLOTS}], got {slots}")
        if not (SLOT_MIN <= slot_bytes <= MAX_FRAME and slot_bytes % 8 == 0):
            raise ValueError(f"slot_bytes must be a multiple of 8 in [{SLOT_MIN}, {MAX_FRAME}], got {slot_bytes}")
        self.ring_bytes, self.control_bytes, self.slots, self.slot_bytes = (
            ring_bytes, control_bytes, slots, slot_bytes)
        self.slot_stride = -(-(SLOT_HDR + slot_bytes) // CACHELINE) * CACHELINE
        self.ring_off = HEADER_BYTES
        self.control_off = self.ring_off + ring_bytes
        self.table_off = self.control_off + control_bytes
        end = self.table_off + slots * self.slot_stride
        self.total_bytes = -(-end // mmap.PAGESIZE) * mmap.PAGESIZE

    def fields(self) -> dict[str, int]:
        return {"version": LAYOUT_VERSION, "header_bytes": HEADER_BYTES, "total_bytes": self.total_bytes,
                "ring_bytes": self.ring_bytes, "control_bytes": self.control_bytes, "slots": self.slots,
                "slot_bytes": self.slot_bytes, "slot_stride": self.slot_stride, "max_frame": MAX_FRAME,
                "ring_off": self.ring_off, "control_off": self.control_off, "table_off": self.table_off}

    @classmethod
    def check(cls, path: str, hdr: dict[str, int], file_bytes: int) -> "Geometry":
        """The geometry a header states, or TransportError saying what is wrong."""
        if hdr["magic"] != REGION_MAGIC:
            raise TransportError(f"{path}: not a kernelml shared-memory region (magic {hdr['magic']:#018x})")
        if hdr["version"] != LAYOUT_VERSION:
            raise TransportError(f"{path}: region layout version {hdr['version']}, this side speaks "
                                 f"{LAYOUT_VERSION}")
        try:
            g = cls(*(hdr[k] for k in _GEOMETRY))
        except ValueError as exc:
            raise TransportError(f"{path}: bad region geometry: {exc}") from None
        for k, v in g.fields().items():
            if hdr[k] != v:
                raise TransportError(f"{path}: region header field {k} is {hdr[k]}, its sizes imply {v}")
        if file_bytes < g.total_bytes:
            raise TransportError(f"{path}: region truncated: the file has {file_bytes} bytes, "
                                 f"its header says {g.total_bytes}")
        return g


def _read_header(path: str, fd: int) -> tuple[dict[str, int], int]:
    size = os.fstat(fd).st_size
    if size < HEADER.size:
        raise TransportError(f"{path}: region truncated: the file has {size} bytes, "
                             f"less than the {HEADER.size}-byte header")
    raw = os.pread(fd, HEADER.size, 0)
    vals = struct.unpack(f"={len(_names)}Q", raw)
    return {n: vals[i] for n, i in IDX.items()}, size


_LIVE: "weakref.WeakSet[_Mapped]" = weakref.WeakSet()


def _forget_after_fork() -> None:
    for ep in list(_LIVE):
        ep._drop()


os.register_at_fork(after_in_child=_forget_after_fork)


class _Mapped(Endpoint):
    """An open, mapped region: the parts both sides share."""

    def _map(self, fd: int, g: Geometry) -> None:
        self._fd = fd
        self.geometry = g
        self._mm = mmap.mmap(fd, g.total_bytes, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._buf = memoryview(self._mm)
        self._q = self._buf.cast("Q")
        _LIVE.add(self)

    def _ring_args(self, which: str) -> tuple:
        g = self.geometry
        base, size = (g.ring_off, g.ring_bytes) if which == "ring" else (g.control_off, g.control_bytes)
        return (self._q, self._buf, base, size, IDX[f"{which}_prod"], IDX[f"{which}_cons"],
                IDX[f"{which}_drops"], MAX_FRAME)

    def _table_args(self) -> tuple:
        g = self.geometry
        return self._q, self._buf, g.table_off, g.slots, g.slot_stride, g.slot_bytes, IDX["table_seq"]

    def header(self) -> dict[str, int]:
        """A snapshot of the header (for tools and tests)."""
        return {n: self._q[i] for n, i in IDX.items()}

    def __del__(self) -> None:  # an endpoint dropped without close() still lets go of its lock
        try:
            self.close()
        except Exception:
            pass

    def _drop(self) -> None:
        """Unmap and close this process's references, writing nothing (also
        what a forked child does with the endpoints it inherited)."""
        _LIVE.discard(self)
        for attr in ("_q", "_buf"):
            v = getattr(self, attr, None)
            if v is not None:
                v.release()
                setattr(self, attr, None)
        mm, self._mm = getattr(self, "_mm", None), None
        if mm is not None:
            try:
                mm.close()
            except BufferError:  # a view still exported somewhere: the mapping goes with it
                pass
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            os.close(fd)
