"""Starting, watching and stopping the flow's two processes (``kernelml
kernel`` and ``kernelml agent``), for the demo, the benchmarks and the tests.

Each process runs ``python -m kernelml ...`` in its own session (so a signal
sent to one never reaches the other or the caller), with its output in a log
file.  :func:`stop` asks politely (SIGTERM), then insists (SIGKILL) after a
timeout; it only ever signals the process it was given.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Callable

from .status import StatusTail


def kernelml_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "kernelml", *[str(a) for a in args]]


class Proc:
    """One child process with its log file (stdout and stderr)."""

    def __init__(self, name: str, argv: list[str], log_path: str, env: dict | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        e = dict(os.environ)
        e.setdefault("PYTHONUNBUFFERED", "1")
        if env:
            e.update(env)
        self.p = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env=e, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                os.kill(self.p.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (SIGCONT first, in case it was stopped), then SIGKILL after ``timeout``."""
        if self.alive():
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.signal(signal.SIGKILL)
                self.wait(10)
        self._log.close()
        return self.p.returncode if self.p.returncode is not None else -9

    def kill(self) -> int:
        self.signal(signal.SIGKILL)
        self.wait(10)
        return self.p.returncode

    def log_tail(self, n: int = 20) -> str:
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])


def start_kernel(args: list[str], status_path: str, log_path: str) -> Proc:
    """``kernelml kernel ARGS --status STATUS``."""
    return Proc("kernel", kernelml_cmd("kernel", *args, "--status", status_path), log_path)


def start_agent(args: list[str], log_path: str, json_log: str | None = None) -> Proc:
    """``kernelml agent ARGS [--log-json --log-file JSON_LOG]``."""
    extra = ["--log-json", "--log-file", json_log] if json_log else []
    return Proc("agent", kernelml_cmd("agent", *args, *extra), log_path)


def wait_for(pred: Callable[[], object], timeout: float, interval: float = 0.05,
             alive: list[Proc] | tuple = ()) -> object:
    """Poll ``pred`` until it returns something truthy (returned) or
    ``timeout`` seconds pass (None).  Gives up early when one of ``alive``
    has exited."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end or any(not p.alive() for p in alive):
            return pred() or None
        time.sleep(interval)


class StatusWatch:
    """Follows a status file: every line read so far, the latest of each event."""

    def __init__(self, path: str) -> None:
        self.tail = StatusTail(path)
        self.lines: list[dict] = []
        self.latest: dict[str, dict] = {}

    def poll(self) -> list[dict]:
        new = self.tail.read()
        for o in new:
            self.lines.append(o)
            self.latest[o.get("event", "?")] = o
        return new

    def last(self, event: str = "status") -> dict | None:
        self.poll()
        return self.latest.get(event)

    def transitions(self) -> list[list]:
        """Every transition reported so far: [at, op kind, from, to, reason]."""
        self.poll()
        out = []
        for o in self.lines:
            if o.get("event") == "status":
                out += o.get("transitions", [])
        return out
