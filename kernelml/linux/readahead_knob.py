"""``/sys/block/<dev>/queue/read_ahead_kb`` of one device, under the proxy's rules.

:class:`ReadaheadKnob` is the only writer of the knob:

* it refuses any device but a whole block device with a request queue that
  the caller created or named explicitly, and never the disk (or a
  partition's disk) holding ``/``, ``/usr``, ``/boot``, ``/var`` or a swap
  area (:func:`check_device`);
* every value is clamped to ``[min_kb, max_kb]`` and written at most once
  per ``min_interval_s`` (changes inside the interval are dropped and
  counted; restoring the original value is never rate limited);
* the original value is read first and restored by :meth:`restore`, which
  the caller pushes on its :class:`~kernelml.linux.sysio.Undo` stack (run
  on success, error, Ctrl-C, SIGTERM, SIGHUP); and a *guardian* process
  restores it if this process dies without unwinding (SIGKILL, a crash):
  it holds the read end of a pipe, and when the pipe reports end of file
  without a ``done`` byte first, it writes the original value back if the
  device is still the same one (same ``dev_t``, same backing file for a
  loop device).

Linux reads ``read_ahead_kb`` when a file is opened
(``file_ra_state_init`` copies ``bdi->ra_pages`` into ``file->f_ra``): a
change applies to files opened afterwards (and to open files after
``posix_fadvise(POSIX_FADV_NORMAL)``), never to a running stream.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field

from kernelml.linux.sysio import CaptureError, KernelIO

SYSTEM_MOUNTS = ("/", "/usr", "/boot", "/var", "/home")


def _dev_of_name(name: str) -> tuple[str, int]:
    """('loop3', dev_t) for 'loop3' or '/dev/loop3'."""
    base = os.path.basename(name.rstrip("/"))
    path = os.path.join("/dev", base)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CaptureError(f"no block device {path}: {exc.strerror}") from exc
    if not stat.S_ISBLK(st.st_mode):
        raise CaptureError(f"{path} is not a block device")
    return base, st.st_rdev


def _disk_of(dev_t: int) -> str | None:
    """The whole-disk name of a block device number (itself for a disk)."""
    link = f"/sys/dev/block/{os.major(dev_t)}:{os.minor(dev_t)}"
    try:
        real = os.path.realpath(link)
    except OSError:
        return None
    if os.path.exists(os.path.join(real, "partition")):
        return os.path.basename(os.path.dirname(real))
    return os.path.basename(real)


def _system_disks() -> set[str]:
    disks = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 4 and parts[4] in SYSTEM_MOUNTS:
                ma, mi = parts[2].split(":")
                d = _disk_of(os.makedev(int(ma), int(mi)))
                if d:
                    disks.add(d)
    try:
        with open("/proc/swaps") as f:
            for line in f.readlines()[1:]:
                dev = line.split()[0]
                if dev.startswith("/dev/"):
                    try:
                        d = _disk_of(os.stat(dev).st_rdev)
                        if d:
                            disks.add(d)
                    except OSError:
                        pass
    except OSError:
        pass
    # a device-mapper or md device holding / makes its slaves system disks too
    for d in list(disks):
        for slave in glob_slaves(d):
            disks.add(slave)
    return disks


def glob_slaves(disk: str) -> list[str]:
    p = f"/sys/block/{disk}/slaves"
    try:
        return os.listdir(p)
    except OSError:
        return []


def check_device(name: str) -> tuple[str, int, str]:
    """Validate a device we may tune: returns (name, dev_t, sysfs knob path)."""
    base, dev_t = _dev_of_name(name)
    disk = _disk_of(dev_t)
    if disk != base:
        raise CaptureError(f"{base} is a partition; name its disk (readahead is a property of the disk's queue)")
    if disk in _system_disks():
        raise CaptureError(f"{base} holds the system's root, /usr, /boot, /var, /home or swap: refusing to touch it")
    knob = f"/sys/block/{base}/queue/read_ahead_kb"
    if not os.path.exists(knob):
        raise CaptureError(f"{base} has no {knob}")
    return base, dev_t, knob


def loop_backing(name: str) -> str:
    try:
        with open(f"/sys/block/{name}/loop/backing_file") as f:
            return f.read().strip()
    except OSError:
        return ""


_GUARDIAN = r"""
import os, sys
fd, knob, value, dev_t, backing = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
name = knob.split("/")[3]
data = b""
while True:
    try:
        b = os.read(fd, 64)
    except InterruptedError:
        continue
    if not b:
        break
    data += b
if b"done" in data:
    sys.exit(0)
try:
    same = os.stat("/dev/" + name).st_rdev == dev_t
    if backing:
        with open("/sys/block/%s/loop/backing_file" % name) as f:
            same = same and f.read().strip() == backing
    if same:
        with open(knob, "w") as f:
            f.write(value)
        sys.stderr.write("kernelml guardian: restored %s to %s\n" % (knob, value))
except OSError as exc:
    sys.stderr.write("kernelml guardian: could not restore %s: %s\n" % (knob, exc))
"""


@dataclass
class ReadaheadKnob:
    io: KernelIO
    device: str
    min_kb: int = 0
    max_kb: int = 16384
    min_interval_s: float = 0.25
    guardian: bool = True
    name: str = ""
    dev_t: int = 0
    path: str = ""
    original_kb: int = -1
    current_kb: int = -1
    writes: int = 0
    rate_limited: int = 0
    clamped: int = 0
    history: list = field(default_factory=list)  # (monotonic s, kb)
    _last_write: float = field(default=-1e9, repr=False)
    _guard: subprocess.Popen | None = field(default=None, repr=False)
    _guard_w: int = field(default=-1, repr=False)

    def open(self) -> int:
        """Validate the device, read the original value, start the guardian."""
        if self.io.dry_run:
            self.name, self.dev_t, self.path = os.path.basename(self.device), 0, \
                f"/sys/block/{os.path.basename(self.device)}/queue/read_ahead_kb"
            self.original_kb = self.current_kb = 128
            return self.original_kb
        self.name, self.dev_t, self.path = check_device(self.device)
        self.original_kb = self.current_kb = int(KernelIO.read(self.path).strip())
        self.io.step("knob-open", f"{self.path} = {self.original_kb}")
        if self.guardian:
            r, w = os.pipe()
            self._guard = subprocess.Popen(
                [sys.executable, "-c", _GUARDIAN, str(r), self.path, str(self.original_kb), str(self.dev_t),
                 loop_backing(self.name)],
                pass_fds=(r,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
            os.close(r)
            self._guard_w = w
        return self.original_kb

    def set_kb(self, kb: int, force: bool = False) -> bool:
        """Write ``kb`` (clamped) unless it is the current value or the rate
        limit forbids; returns True when written."""
        want = int(kb)
        v = min(max(want, self.min_kb), self.max_kb)
        if v != want:
            self.clamped += 1
        if v == self.current_kb:
            return False
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval_s:
            self.rate_limited += 1
            return False
        self.io.write(self.path, str(v), "read-ahead-kb")
        self._last_write = now
        self.current_kb = v
        self.writes += 1
        self.history.append((now, v))
        return True

    def restore(self) -> None:
        """Put the original value back (never rate limited) and dismiss the guardian."""
        if self.original_kb >= 0 and self.current_kb != self.original_kb:
            self.io.write(self.path, str(self.original_kb), "cleanup-read-ahead-kb")
            self.current_kb = self.original_kb
        self.close_guardian()

    def close_guardian(self) -> None:
        if self._guard_w >= 0:
            try:
                os.write(self._guard_w, b"done")
            except OSError:
                pass
            os.close(self._guard_w)
            self._guard_w = -1
        if self._guard is not None:
            try:
                self._guard.wait(5)
            except subprocess.TimeoutExpired:
                self._guard.kill()
            self._guard = None
