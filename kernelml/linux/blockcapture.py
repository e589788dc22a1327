"""Capture the block requests a real program makes, into a ``.kmt`` trace.

Sequence (each step through :class:`~.sysio.KernelIO`; each reversal on
the :class:`~.sysio.Undo` stack, unwound on success, error, Ctrl-C,
SIGTERM or SIGHUP):

1. a temporary directory ``/tmp/kernelml-cap-<pid>-*`` (removed at the end);
2. a sparse image, a loop device, a file system, mounted in the directory
   (:class:`~.loopdev.LoopFS`);
3. the workload's untraced preparation (inputs made outside the device);
4. a private tracefs instance with ``block:block_rq_issue`` (and
   ``block_rq_complete`` if asked) filtered to the loop device
   (:class:`~.tracefs.TraceInstance`), ``trace_pipe`` opened, tracing on;
5. the workload runs in a worker thread (its processes in their own
   process groups, killed on cleanup) while the main thread streams
   ``trace_pipe`` into the ``.kmt`` writer and reports progress;
6. ``sync -f`` on the file system (its last writeback is part of the
   trace), a short drain, tracing off, the ring buffer's counters read;
7. the trailer written (events, lost events, overruns, phases), then
   everything unwound: workload processes, tracing, instance, mount, loop
   device, image, directory.

The trace holds every request the device received while tracing was on:
the workload's, its file system's journal and metadata, and writeback.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kernelml.linux.loopdev import LoopFS
from kernelml.linux.sysio import CaptureError, KernelIO, Undo, blocked_signals, interrupts_raise, kill_group
from kernelml.linux.tracefs import TraceInstance
from kernelml.workloads.kmt import F_COMPLETE, KmtWriter, rwbs_code

# one ftrace text line of block_rq_issue / block_rq_complete (ioprio field optional: older kernels)
_EVENT = re.compile(
    rb"(\d+)\.(\d+): block_rq_(issue|complete): (\d+),(\d+) (\S+) (?:\d+ )?\(([^)\n]*)\) "
    rb"(\d+) \+ (\d+)(?: [a-z]+,\d+,\d+)? \[([^\]\n]*)\]")
_NO_SECTOR = 1 << 63
_LOST = re.compile(rb"CPU:(\d+) \[LOST (\d+) EVENTS\]")


@dataclass
class ParsedEvents:
    time_ns: np.ndarray
    op: np.ndarray
    flags: np.ndarray
    sector: np.ndarray
    nsectors: np.ndarray
    comm: list
    lost: int = 0
    other_device: int = 0
    unparsed_lines: int = 0

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])


class EventParser:
    """Turns ``trace_pipe`` text into record arrays; keeps the partial last
    line for the next buffer.  Lines that are not block events (and not
    ``[LOST n EVENTS]`` notes) are counted in ``unparsed_lines``."""

    def __init__(self, dev: tuple[int, int] | None = None) -> None:
        self.dev = None if dev is None else (str(dev[0]).encode(), str(dev[1]).encode())
        self._tail = b""
        self._rwbs: dict[bytes, tuple[int, int]] = {}
        self.lines = 0

    def feed(self, data: bytes, final: bool = False) -> ParsedEvents:
        data = self._tail + data
        if final:
            cut = len(data)
        else:
            cut = data.rfind(b"\n") + 1
        self._tail = data[cut:]
        body = data[:cut]
        t, op, fl, sec, nsec, comm = [], [], [], [], [], []
        other = 0
        for m in _EVENT.finditer(body):
            sec_s, frac, kind, ma, mi, rwbs, _cmd, s, n, tail = m.groups()
            if self.dev is not None and (ma, mi) != self.dev:
                other += 1
                continue
            code = self._rwbs.get(rwbs)
            if code is None:
                code = self._rwbs[rwbs] = rwbs_code(rwbs)
            f = code[1]
            if kind == b"complete":
                f |= F_COMPLETE
                tail = b""
            t.append(int(sec_s) * 1_000_000_000 + int(frac[:9].ljust(9, b"0")))
            op.append(code[0])
            fl.append(f)
            v = int(s)
            sec.append(v if v < _NO_SECTOR else 0)  # a flush's completion prints sector (sector_t)-1
            nsec.append(int(n))
            comm.append(tail)
        lost = sum(int(m.group(2)) for m in _LOST.finditer(body))
        nlines = body.count(b"\n") + (1 if final and body and not body.endswith(b"\n") else 0)
        self.lines += nlines
        unparsed = nlines - len(t) - other - len(_LOST.findall(body))
        return ParsedEvents(np.array(t, np.int64), np.array(op, np.uint8), np.array(fl, np.uint8),
                            np.array(sec, np.int64), np.array(nsec, np.uint32), comm, lost, other,
                            max(0, unparsed))


# ------------------------------------------------------------------ workload context
@dataclass
class RunContext:
    """What a workload sees while it runs."""

    mountpoint: str
    workdir: str  # the capture's temporary directory (outside the traced device)
    duration_s: float
    params: dict
    seed: int = 0
    size_bytes: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    log: Callable[[str], None] = print
    phases: list = field(default_factory=list)  # (name, monotonic ns)
    procs: list = field(default_factory=list)
    stop_hooks: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def phase(self, name: str) -> None:
        self.phases.append((name, time.monotonic_ns()))
        self.log(f"phase: {name}")

    def spawn(self, argv: list[str], user: str | None = None, cwd: str | None = None,
              env: dict | None = None, stdout=subprocess.DEVNULL) -> subprocess.Popen:
        """Start a process in its own process group (killed at cleanup);
        ``user``: run as that user (``runuser -u``)."""
        if self.stop.is_set():
            raise CaptureError("capture is stopping")
        if user is not None and user != "root":
            argv = ["runuser", "-u", user, "--"] + list(argv)
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        with self._lock:
            self.procs.append(p)
        return p

    def run(self, argv: list[str], user: str | None = None, cwd: str | None = None, env: dict | None = None,
            timeout: float | None = None, check: bool = True) -> str:
        """Run a process to completion (or until the capture stops); returns stdout."""
        p = self.spawn(argv, user=user, cwd=cwd, env=env, stdout=subprocess.PIPE)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(p)
            raise CaptureError(f"{argv[0]} timed out") from None
        finally:
            with self._lock:
                if p in self.procs:
                    self.procs.remove(p)
        if check and p.returncode != 0 and not self.stop.is_set():
            raise CaptureError(f"{' '.join(argv[:6])}... failed ({p.returncode}): "
                               f"{err.decode(errors='replace').strip()[-600:]}")
        return out.decode(errors="replace")

    def wait(self, p: subprocess.Popen, timeout: float | None = None) -> int:
        """Wait for a spawned process; stops it at the capture's stop or at
        ``timeout``; returns its exit status."""
        end = None if timeout is None else time.monotonic() + timeout
        while p.poll() is None:
            if self.stop.is_set() or (end is not None and time.monotonic() > end):
                kill_group(p)
                break
            time.sleep(0.1)
        with self._lock:
            if p in self.procs:
                self.procs.remove(p)
        return p.wait()

    def on_stop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` when the capture stops, before the workload's processes
        are killed (e.g. a clean database shutdown)."""
        self.stop_hooks.append(fn)

    def kill_all(self) -> None:
        """Stop the workload: hooks (once), then kill every process group."""
        self.stop.set()
        while self.stop_hooks:
            fn = self.stop_hooks.pop()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - killing follows anyway
                self.log(f"stop hook failed: {exc}")
        with self._lock:
            procs = list(self.procs)
        for p in procs:
            kill_group(p)

    def remaining(self, t_start: float) -> float:
        return max(0.0, self.duration_s - (time.monotonic() - t_start))


# ------------------------------------------------------------------ capture
@dataclass
class BlockCaptureSpec:
    workload: str
    out: str
    size_bytes: int = 1 << 30
    fs: str = "ext4"
    duration_s: float = 60.0
    params: dict = field(default_factory=dict)
    seed: int = 0
    discard: bool = True
    completions: bool = False
    buffer_kb: int = 8192
    compress: str = "xz"
    mount_opts: str = ""
    tmpdir: str | None = None
    command: str = ""  # the command line that asked for the capture (recorded in the header)


def _kernel_release() -> str:
    return platform.release()


def capture_block(spec: BlockCaptureSpec, io: KernelIO | None = None,
                  progress: Callable[[dict], None] | None = None,
                  log: Callable[[str], None] | None = None) -> dict:
    """Run ``spec.workload`` on a fresh loop device and write its block trace
    to ``spec.out``.  Returns a summary (also written as the trailer).
    ``progress`` is called about twice a second with a dict (events,
    events_per_s, elapsed_s, phase, mib_written)."""
    from kernelml.linux.workloads_real import BLOCK_WORKLOADS

    io = io or KernelIO()
    log = log or (lambda s: None)
    wl = BLOCK_WORKLOADS.make(spec.workload)
    params = wl.resolve(spec.params, spec.size_bytes)
    if not io.dry_run:
        if os.geteuid() != 0:
            raise CaptureError("block capture needs root (loop devices, mount, tracefs)")
        missing = [t for t in ["losetup", "mount", "umount", "sync", f"mkfs.{spec.fs}"] + wl.tools(params)
                   if shutil.which(t) is None]
        if missing:
            raise CaptureError(f"missing tools: {', '.join(missing)}")
    undo = Undo()
    summary: dict = {}
    writer: KmtWriter | None = None
    ctx: RunContext | None = None
    worker: threading.Thread | None = None
    failure: list[BaseException] = []
    with interrupts_raise():
        try:
            if io.dry_run:
                workdir = os.path.join(spec.tmpdir or tempfile.gettempdir(), f"kernelml-cap-{os.getpid()}-XXXX")
                io.step("workdir", f"mkdir {workdir}")
                undo.push(f"rm -r {workdir}", lambda: io.step("cleanup-workdir", f"rm -r {workdir}"))
            else:
                workdir = tempfile.mkdtemp(prefix=f"kernelml-cap-{os.getpid()}-", dir=spec.tmpdir)
                os.chmod(workdir, 0o755)  # a workload may run as another user (postgres)
                undo.push(f"rm -r {workdir}", lambda: (io.step("cleanup-workdir", f"rm -r {workdir}"),
                                                       shutil.rmtree(workdir, ignore_errors=True)))
            lfs = LoopFS(io, workdir, spec.size_bytes, spec.fs, discard=spec.discard, mount_opts=spec.mount_opts)
            lfs.setup(undo)
            ctx = RunContext(lfs.mountpoint, workdir, spec.duration_s, params, spec.seed, spec.size_bytes, log=log)
            undo.push("stop workload processes", ctx.kill_all)
            io.step("prepare", f"prepare workload {spec.workload} {params}")
            if not io.dry_run:
                wl.prepare(ctx)
            events = ("block_rq_issue", "block_rq_complete") if spec.completions else ("block_rq_issue",)
            tr = TraceInstance(io, workdir, lfs.dev_t, events=events, buffer_kb=spec.buffer_kb)
            tr.setup(undo)
            header = {
                "format": "kmt", "tool": "kernelml capture block", "command": spec.command,
                "kernel": _kernel_release(),
                "machine": platform.machine(), "cpus": os.cpu_count(),
                "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fs": spec.fs, "size_bytes": spec.size_bytes, "device_sectors": spec.size_bytes // 512,
                "loop": lfs.describe(), "workload": spec.workload, "params": params,
                "duration_s": spec.duration_s, "seed": spec.seed, "events": list(events),
                "versions": {} if io.dry_run else wl.versions(params),
                "trace_clock": tr.clock, "buffer_kb_per_cpu": spec.buffer_kb,
                "filter": f"dev == {lfs.dev_t}", "t0_ns": time.monotonic_ns(),
            }
            if io.dry_run:
                io.step("workload", f"run workload {spec.workload} for {spec.duration_s} s: "
                        + "; ".join(wl.describe_commands(params)))
                tr.open_pipe(undo)
                io.step("syncfs", f"sync -f {lfs.mountpoint}")
                io.step("trace", f"stream {tr.path}/trace_pipe -> {spec.out}")
                return {"dry_run": True, "actions": list(io.actions)}
            os.makedirs(os.path.dirname(os.path.abspath(spec.out)), exist_ok=True)
            writer = KmtWriter(spec.out, header, compress=spec.compress)
            parser = EventParser((lfs.major, lfs.minor))
            tr.open_pipe(undo)
            t_start = time.monotonic()
            counts = {"events": 0, "lost": 0, "other_device": 0, "unparsed": 0, "bytes_w": 0}

            def consume(data: bytes, final: bool = False) -> None:
                ev = parser.feed(data, final)
                if len(ev):
                    with blocked_signals():  # a signal never cuts a frame in half
                        writer.append(ev.time_ns, ev.op, ev.flags, ev.sector, ev.nsectors, ev.comm)
                    counts["events"] += len(ev)
                    w = (ev.op == 0) & ((ev.flags & F_COMPLETE) == 0)
                    counts["bytes_w"] += int(ev.nsectors[w].sum()) * 512
                counts["lost"] += ev.lost
                counts["other_device"] += ev.other_device
                counts["unparsed"] += ev.unparsed_lines

            def body() -> None:
                try:
                    io.step("workload", spec.workload)
                    wl.run(ctx)
                except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                    if not ctx.stop.is_set():
                        failure.append(exc)

            worker = threading.Thread(target=body, name="kernelml-workload", daemon=True)
            worker.start()
            last_t, last_n = t_start, 0
            rate = 0.0
            # the workload gets its duration plus a grace period for its own setup and teardown
            hard_end = t_start + spec.duration_s + max(60.0, float(params.get("setup_allowance_s", 0)))
            while worker.is_alive():
                consume(tr.read(0.25))
                now = time.monotonic()
                if now > hard_end:
                    log("workload overran its time; stopping it")
                    ctx.kill_all()
                    worker.join(30)
                    break
                if progress is not None and now - last_t >= 0.5:
                    inst = (counts["events"] - last_n) / (now - last_t)
                    rate = inst if rate == 0.0 else 0.7 * rate + 0.3 * inst  # smoothed over ~2 s
                    last_t, last_n = now, counts["events"]
                    progress({"events": counts["events"], "events_per_s": rate, "elapsed_s": now - t_start,
                              "phase": ctx.phases[-1][0] if ctx.phases else "",
                              "mib_written": counts["bytes_w"] / 2**20,
                              "duration_s": spec.duration_s})
            if failure:
                raise failure[0]
            ctx.phase("syncfs")
            lfs.syncfs()
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                consume(tr.read(0.1))
            tr.stop()
            consume(tr.drain())
            consume(b"", final=True)
            stats = tr.stats()
            t_end = time.monotonic()
            summary = {
                "events": counts["events"], "lost_events": counts["lost"], "overrun": stats["overrun"],
                "dropped_events": stats["dropped_events"], "commit_overrun": stats["commit_overrun"],
                "other_device": counts["other_device"], "unparsed_lines": counts["unparsed"],
                "wall_s": round(t_end - t_start, 3),
                "events_per_s": round(counts["events"] / max(1e-9, t_end - t_start), 1),
                "mib_written": round(counts["bytes_w"] / 2**20, 3),
                "phases": [{"name": n, "t_ns": t - header["t0_ns"]} for n, t in ctx.phases],
                "interrupted": False,
            }
            with blocked_signals():
                writer.close(summary)
            summary["records"] = writer.records
            summary["out"] = spec.out
            return summary
        except BaseException as exc:
            if ctx is not None:
                ctx.kill_all()
            if writer is not None and not writer.closed:
                try:
                    phases = [{"name": n, "t_ns": t - writer.t0} for n, t in (ctx.phases if ctx else [])]
                    with blocked_signals():
                        writer.close({"interrupted": True, "error": f"{type(exc).__name__}: {exc}",
                                      "phases": phases})
                except Exception:  # noqa: BLE001
                    writer.abort()
            raise
        finally:
            if ctx is not None:
                ctx.kill_all()
            if worker is not None:
                worker.join(30)
            errors = undo.unwind()
            if errors:
                summary["cleanup_errors"] = errors
                msg = "cleanup failed: " + "; ".join(errors)
                log(msg)
                if sys.exc_info()[0] is None:  # do not hide the error that started the cleanup
                    raise CaptureError(msg)
