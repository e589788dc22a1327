"""All kernel-facing I/O of the capture tools goes through :class:`KernelIO`.

Everything that changes the system (running ``losetup``, ``mkfs``,
``mount``, writing tracefs files, creating and removing instance
directories) is a method here, so that

* ``dry_run=True`` prints what would be done and does nothing (reads of
  harmless system state, e.g. ``/proc/mounts``, still happen);
* every step carries a name, and ``fail_at=<step>`` raises
  :class:`InjectedFailure` at that step (tests use it to prove that the
  cleanup path leaves nothing behind);
* a :class:`Undo` stack records how to revert each step as soon as it
  succeeded, and unwinds in reverse order on success, error, Ctrl-C or
  SIGTERM, with those signals blocked while it unwinds.

Kernel-facing actions are logged (``log`` callback) as one line each, in
the order they happen, so a run can be audited.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator


class InjectedFailure(RuntimeError):
    """Raised by KernelIO at the step named by ``fail_at`` (tests only)."""


class CaptureError(RuntimeError):
    """A capture step failed (the message says which and why)."""


@dataclass
class KernelIO:
    dry_run: bool = False
    log: Callable[[str], None] | None = None
    fail_at: str | None = None
    actions: list[str] = field(default_factory=list)  # every action, in order ("[dry] " prefixed in dry runs)

    # ---- bookkeeping
    def _note(self, step: str, what: str) -> None:
        line = ("[dry] " if self.dry_run else "") + f"{step}: {what}"
        self.actions.append(line)
        if self.log is not None:
            self.log(line)
        if self.fail_at is not None and step == self.fail_at:
            raise InjectedFailure(f"injected failure at step {step!r}")

    def step(self, step: str, what: str = "") -> None:
        """Mark a step that is not itself an I/O action (lets tests inject a
        failure there)."""
        self._note(step, what or step)

    # ---- processes
    def run(self, argv: list[str], step: str, *, dry_result: str = "", check: bool = True,
            timeout: float | None = 120, env: dict | None = None, cwd: str | None = None) -> str:
        """Run a command to completion; returns its stdout (text)."""
        self._note(step, shlex.join(argv))
        if self.dry_run:
            return dry_result
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
        except FileNotFoundError as exc:
            raise CaptureError(f"{step}: {argv[0]} not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise CaptureError(f"{step}: {shlex.join(argv)} timed out after {timeout} s") from exc
        if check and p.returncode != 0:
            raise CaptureError(f"{step}: {shlex.join(argv)} failed ({p.returncode}): "
                               f"{(p.stderr or p.stdout).strip()[-500:]}")
        return p.stdout

    # ---- files
    def write(self, path: str, text: str, step: str) -> None:
        """Write a sysfs/tracefs control file (one write, like ``echo > file``)."""
        self._note(step, f"echo {shlex.quote(text)} > {path}")
        if self.dry_run:
            return
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, text.encode())
        except OSError as exc:
            raise CaptureError(f"{step}: writing {text!r} to {path}: {exc.strerror}") from exc
        finally:
            os.close(fd)

    @staticmethod
    def read(path: str) -> str:
        with open(path) as f:
            return f.read()

    def mkdir(self, path: str, step: str, mode: int = 0o755) -> None:
        self._note(step, f"mkdir {path}")
        if not self.dry_run:
            os.mkdir(path, mode)

    def rmdir(self, path: str, step: str, retries: int = 1, delay: float = 0.2) -> None:
        self._note(step, f"rmdir {path}")
        if self.dry_run:
            return
        for i in range(retries):
            try:
                os.rmdir(path)
                return
            except OSError:
                if i + 1 == retries:
                    raise
                time.sleep(delay)

    def truncate(self, path: str, size: int, step: str) -> None:
        self._note(step, f"truncate -s {size} {path}")
        if not self.dry_run:
            with open(path, "wb") as f:
                f.truncate(size)

    def unlink(self, path: str, step: str) -> None:
        self._note(step, f"rm -f {path}")
        if not self.dry_run:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def umount(self, path: str, step: str, retries: int = 10, delay: float = 0.5) -> None:
        """Unmount, retrying while the mount is busy (a process still exiting)."""
        self._note(step, f"umount {path}")
        if self.dry_run:
            return
        err = ""
        for _ in range(retries):
            p = subprocess.run(["umount", path], capture_output=True, text=True)
            if p.returncode == 0 or not is_mountpoint(path):
                return
            err = p.stderr.strip()
            time.sleep(delay)
        raise CaptureError(f"{step}: umount {path}: {err}")


def is_mountpoint(path: str) -> bool:
    want = os.path.realpath(path)
    for line in KernelIO.read("/proc/self/mounts").splitlines():
        parts = line.split()
        if len(parts) >= 2 and _unescape(parts[1]) == want:
            return True
    return False


def mounts_of_type(fstype: str) -> list[str]:
    out = []
    for line in KernelIO.read("/proc/self/mounts").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == fstype:
            out.append(_unescape(parts[1]))
    return out


def _unescape(s: str) -> str:
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


class Undo:
    """A stack of cleanup actions, unwound in reverse order.

    ``push(what, fn)`` right after a step succeeded; ``unwind()`` runs every
    action even when some fail, and returns the failures as strings (the
    caller reports them).  SIGINT/SIGTERM/SIGHUP are blocked while it runs,
    so a second Ctrl-C cannot leave half a cleanup behind."""

    def __init__(self) -> None:
        self._stack: list[tuple[str, Callable[[], None]]] = []
        self.done: list[str] = []

    def push(self, what: str, fn: Callable[[], None]) -> None:
        self._stack.append((what, fn))

    def __len__(self) -> int:
        return len(self._stack)

    def unwind(self) -> list[str]:
        errors = []
        with blocked_signals():
            while self._stack:
                what, fn = self._stack.pop()
                try:
                    fn()
                    self.done.append(what)
                except BaseException as exc:  # noqa: BLE001 - cleanup must go on
                    errors.append(f"{what}: {exc}")
        return errors


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def blocked_signals() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived during a capture."""


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`
    (a KeyboardInterrupt) in the main thread, so ``finally`` clauses run and
    clean up.  SIGINT is caught even when the process started with it
    ignored (a background job of a non-interactive shell)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise Interrupted(f"signal {signal.Signals(signum).name}")

    old = {s: signal.signal(s, handler) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def kill_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop a process started with ``start_new_session=True`` and everything
    in its process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers of an exited leader
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)
