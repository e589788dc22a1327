"""A file system on a private, file-backed loop device.

``LoopFS.setup(undo)`` makes a sparse image file in the capture's
temporary directory, attaches it to a free loop device (``losetup -f
--show``, direct I/O on the backing file when the host file system allows
it, so the image does not double the page cache), makes a file system and
mounts it; each step pushes its reversal on the :class:`~.sysio.Undo`
stack (umount, ``losetup -d``, delete the image).

File systems (``mkfs`` options chosen so that nothing runs behind the
workload's back after mounting):

* ``ext4``: ``mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0``
  (the inode tables and the journal are zeroed by mkfs, not by the
  ``ext4lazyinit`` thread during the capture);
* ``xfs``: ``mkfs.xfs -q -f`` (xfsprogs >= 5.19 refuses devices under 300 MiB);
* ``btrfs``: ``mkfs.btrfs -q -f`` (mixed block groups below 1 GiB, by mkfs's own rule).

``discard=True`` mounts with ``-o discard`` (online discard): deleted and
truncated files reach the device as discard requests right away, which is
what an FTL or a log-structured file system needs to see to know that data
died.  Without it the trace has no trims except those of mkfs (which run
before tracing starts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kernelml.linux.sysio import CaptureError, KernelIO, Undo

FILESYSTEMS = ("ext4", "xfs", "btrfs")
MKFS = {
    "ext4": ["mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0"],
    "xfs": ["mkfs.xfs", "-q", "-f"],
    "btrfs": ["mkfs.btrfs", "-q", "-f"],
}
MIN_BYTES = {"ext4": 16 << 20, "xfs": 300 << 20, "btrfs": 128 << 20}


def dev_number(major: int, minor: int) -> int:
    """The kernel's ``dev_t`` as tracepoints print it: ``major << 20 | minor``."""
    return (int(major) << 20) | int(minor)


@dataclass
class LoopFS:
    io: KernelIO
    workdir: str
    size_bytes: int
    fs: str = "ext4"
    discard: bool = True
    direct_io: bool = True
    mount_opts: str = ""
    # filled by setup()
    image: str = ""
    device: str = ""
    major: int = -1
    minor: int = -1
    mountpoint: str = ""

    def __post_init__(self) -> None:
        if self.fs not in FILESYSTEMS:
            raise ValueError(f"unknown file system {self.fs!r}; known: {', '.join(FILESYSTEMS)}")
        if self.size_bytes < MIN_BYTES[self.fs]:
            raise ValueError(f"{self.fs} needs at least {MIN_BYTES[self.fs] >> 20} MiB, "
                             f"got {self.size_bytes >> 20} MiB")
        if self.size_bytes % 4096:
            raise ValueError("size must be a multiple of 4096 bytes")

    @property
    def dev_t(self) -> int:
        return dev_number(self.major, self.minor)

    def setup(self, undo: Undo) -> None:
        io = self.io
        self.image = os.path.join(self.workdir, "disk.img")
        io.truncate(self.image, self.size_bytes, "image")
        undo.push(f"delete {self.image}", lambda: io.unlink(self.image, "cleanup-image"))
        argv = ["losetup", "-f", "--show"] + (["--direct-io=on"] if self.direct_io else []) + [self.image]
        try:
            out = io.run(argv, "losetup", dry_result="/dev/loopN")
        except CaptureError:
            if not self.direct_io:
                raise
            # the host file system may not support O_DIRECT: fall back to buffered
            out = io.run(["losetup", "-f", "--show", self.image], "losetup", dry_result="/dev/loopN")
        self.device = out.strip()
        undo.push(f"losetup -d {self.device}", lambda: io.run(["losetup", "-d", self.device], "cleanup-losetup"))
        if io.dry_run:
            self.major, self.minor = 7, 0
        else:
            rdev = os.stat(self.device).st_rdev
            self.major, self.minor = os.major(rdev), os.minor(rdev)
        io.run(MKFS[self.fs] + [self.device], "mkfs", timeout=600)
        self.mountpoint = os.path.join(self.workdir, "mnt")
        io.mkdir(self.mountpoint, "mkdir-mnt")
        undo.push(f"rmdir {self.mountpoint}", lambda: io.rmdir(self.mountpoint, "cleanup-mnt-dir"))
        opts = [o for o in (["discard"] if self.discard else []) + self.mount_opts.split(",") if o]
        io.run(["mount"] + (["-o", ",".join(opts)] if opts else []) + [self.device, self.mountpoint], "mount")
        undo.push(f"umount {self.mountpoint}", lambda: io.umount(self.mountpoint, "cleanup-umount"))
        if not io.dry_run:
            os.chmod(self.mountpoint, 0o755)

    def syncfs(self) -> None:
        """Write back everything dirty on this file system (``sync -f``)."""
        self.io.run(["sync", "-f", self.mountpoint], "syncfs", timeout=600)

    def describe(self) -> dict:
        return {"fs": self.fs, "size_bytes": self.size_bytes, "device": self.device,
                "major": self.major, "minor": self.minor, "discard": self.discard,
                "direct_io": self.direct_io, "mkfs": MKFS[self.fs], "mount_opts": self.mount_opts}
