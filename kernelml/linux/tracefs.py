"""A private tracefs instance with block tracepoints for one device.

``TraceInstance.setup(undo)`` finds tracefs (``/sys/kernel/tracing`` or any
other mount of it; when there is none, it mounts a private one inside the
capture's temporary directory and unmounts it afterwards, so that no other
user of tracefs is disturbed), creates ``instances/<name>`` (its own ring
buffer, clock, events and filters: the global trace and other instances are
untouched), and there:

* ``trace_clock`` = ``mono`` (CLOCK_MONOTONIC, comparable across CPUs and
  with ``time.monotonic_ns()``; the default ``local`` clock is per CPU);
* ``buffer_size_kb`` = ``buffer_kb`` per CPU;
* ``events/<group>/<event>/filter`` = ``<filter_field> == <major << 20 |
  minor>`` for each event (block events: ``dev``), then ``enable`` = 1.

The events are read as text from ``trace_pipe`` (non-blocking, with poll).
``stats()`` sums ``per_cpu/cpu*/stats`` (``overrun``: events overwritten
because the reader was too slow; ``dropped events``; ``read events``).
The reversal (stop, disable, ``rmdir`` of the instance) is pushed on the
undo stack; the instance is removed only after the pipe is closed.
"""

from __future__ import annotations

import glob
import os
import re
import select
from dataclasses import dataclass, field

from kernelml.linux.sysio import CaptureError, KernelIO, Undo, mounts_of_type

DEFAULT_TRACEFS = "/sys/kernel/tracing"
BLOCK_EVENTS = ("block_rq_issue", "block_rq_complete")
INSTANCE_PREFIX = "kernelml_"


def find_tracefs() -> str | None:
    mounts = mounts_of_type("tracefs")
    if DEFAULT_TRACEFS in mounts:
        return DEFAULT_TRACEFS
    return mounts[0] if mounts else None


@dataclass
class TraceInstance:
    io: KernelIO
    workdir: str
    dev_t: int
    events: tuple = ("block_rq_issue",)  # names in ``group``, or (group, name) pairs
    buffer_kb: int = 8192
    clock: str = "mono"
    name: str = ""
    root: str = ""  # tracefs mount in use (filled by setup)
    path: str = ""  # the instance directory
    fd: int = -1
    group: str = "block"  # the event group of events given by name alone
    filter_field: str = "dev"  # the events' device field, compared with ``dev_t``
    _stopped: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.check_events()
        if not self.name:
            self.name = f"{INSTANCE_PREFIX}{os.getpid()}_{os.urandom(3).hex()}"

    def check_events(self) -> None:
        """ValueError for an event this instance cannot record (subclasses widen it)."""
        bad = [e for e in self.events if e not in BLOCK_EVENTS]
        if bad:
            raise ValueError(f"unsupported events {bad}; known: {', '.join(BLOCK_EVENTS)}")

    def pairs(self) -> list[tuple[str, str]]:
        """The events as (group, name)."""
        return [tuple(e) if not isinstance(e, str) else (self.group, e) for e in self.events]

    def setup(self, undo: Undo) -> None:
        io = self.io
        root = find_tracefs()
        if root is None:
            root = os.path.join(self.workdir, "tracefs")
            io.mkdir(root, "mkdir-tracefs")
            undo.push(f"rmdir {root}", lambda: io.rmdir(root, "cleanup-tracefs-dir"))
            io.run(["mount", "-t", "tracefs", "nodev", root], "mount-tracefs")
            undo.push(f"umount {root}", lambda: io.umount(root, "cleanup-tracefs-umount"))
        self.root = root
        if not io.dry_run:
            if not os.path.isdir(os.path.join(root, "instances")):
                raise CaptureError(f"{root} has no instances directory")
            missing = [f"{g}:{e}" for g, e in self.pairs() if not os.path.isdir(os.path.join(root, "events", g, e))]
            if missing:
                raise CaptureError(f"this kernel lacks the tracepoints {', '.join(missing)}")
        self.path = os.path.join(root, "instances", self.name)
        io.mkdir(self.path, "instance")
        undo.push(f"rmdir {self.path}", lambda: io.rmdir(self.path, "cleanup-instance", retries=10))
        undo.push("stop tracing", self.stop)
        io.write(os.path.join(self.path, "tracing_on"), "0", "tracing-off")
        io.write(os.path.join(self.path, "trace_clock"), self.clock, "trace-clock")
        io.write(os.path.join(self.path, "buffer_size_kb"), str(int(self.buffer_kb)), "buffer-size")
        for g, ev in self.pairs():
            d = os.path.join(self.path, "events", g, ev)
            io.write(os.path.join(d, "filter"), f"{self.filter_field} == {self.dev_t}", "filter")
            io.write(os.path.join(d, "enable"), "1", "enable-event")

    def open_pipe(self, undo: Undo) -> None:
        """Open ``trace_pipe`` (non-blocking) and switch tracing on."""
        if self.io.dry_run:
            self.io.step("open-pipe", f"open {self.path}/trace_pipe")
        else:
            self.fd = os.open(os.path.join(self.path, "trace_pipe"), os.O_RDONLY | os.O_NONBLOCK)
            undo.push("close trace_pipe", self.close_pipe)
        self.io.write(os.path.join(self.path, "tracing_on"), "1", "tracing-on")

    def close_pipe(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read(self, timeout: float = 0.2, size: int = 1 << 20) -> bytes:
        """Whatever the pipe holds now (waits up to ``timeout`` s for data);
        b"" when there is nothing."""
        if self.fd < 0:
            return b""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return b""
        try:
            return os.read(self.fd, size)
        except BlockingIOError:
            return b""

    def drain(self, size: int = 1 << 20) -> bytes:
        """Everything left in the pipe, without waiting for more."""
        out = []
        while self.fd >= 0:
            try:
                b = os.read(self.fd, size)
            except BlockingIOError:
                break
            if not b:
                break
            out.append(b)
        return b"".join(out)

    def stop(self) -> None:
        """Stop recording and disable the events (idempotent)."""
        if self._stopped or not self.path:
            return
        self._stopped = True
        if not self.io.dry_run and not os.path.isdir(self.path):
            return
        self.io.write(os.path.join(self.path, "tracing_on"), "0", "cleanup-tracing-off")
        for g, ev in self.pairs():
            self.io.write(os.path.join(self.path, "events", g, ev, "enable"), "0", "cleanup-disable-event")

    def stats(self) -> dict:
        """Per-CPU ring-buffer counters summed over CPUs."""
        tot = {"entries": 0, "overrun": 0, "commit_overrun": 0, "dropped_events": 0, "read_events": 0}
        if self.io.dry_run or not self.path:
            return tot
        for f in glob.glob(os.path.join(self.path, "per_cpu", "cpu*", "stats")):
            for line in KernelIO.read(f).splitlines():
                m = re.match(r"([a-z ]+):\s*(\d+)\s*$", line)
                if m:
                    key = m.group(1).strip().replace(" ", "_")
                    if key in tot:
                        tot[key] += int(m.group(2))
        return tot


def stale_instances(root: str | None = None) -> list[str]:
    """Instances left by a capture whose process is gone (``kernelml capture
    cleanup`` removes them)."""
    root = root or find_tracefs()
    if root is None:
        return []
    out = []
    for d in glob.glob(os.path.join(root, "instances", INSTANCE_PREFIX + "*")):
        m = re.match(INSTANCE_PREFIX + r"(\d+)_", os.path.basename(d))
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            out.append(d)
    return out
