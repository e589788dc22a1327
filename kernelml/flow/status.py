"""Status lines of the flow's processes: one JSON object per line.

Every line has ``event`` (``start``, ``status``, ``final``, or for the agent
``agent.*``) and ``t`` (seconds since the process started, wall clock).  A
writer appends and flushes whole lines, so a reader that tails the file only
ever sees complete objects (a torn last line is left for the next read).
The fields of the kernel side's lines are listed in ``docs/flow.md``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Iterator


class StatusWriter:
    """Appends JSON lines to ``path`` (``None`` or ``"-"``: standard output)."""

    def __init__(self, path: str | None = None, clock=time.monotonic) -> None:
        self.path = path
        self.clock = clock
        self.t0 = clock()
        if path in (None, "-"):
            self._f: IO[str] = sys.stdout
            self._own = False
        else:
            d = os.path.dirname(os.path.abspath(path))
            os.makedirs(d, exist_ok=True)
            self._f = open(path, "a", encoding="utf-8")
            self._own = True

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def write(self, event: str, **fields) -> dict:
        obj = {"event": event, "t": round(self.elapsed(), 4), **fields}
        line = json.dumps(obj, separators=(",", ":"), default=_default)
        try:
            self._f.write(line + "\n")
            self._f.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away must not stop the run
            pass
        return obj

    def close(self) -> None:
        if self._own:
            self._f.close()


def _default(x):
    try:
        import numpy as np

        if isinstance(x, np.integer):
            return int(x)
        if isinstance(x, np.floating):
            return float(x)
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


class StatusTail:
    """Reads the complete lines appended to a status file since the last call.
    A missing file reads as empty (the process may not have created it yet)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pos = 0
        self.buf = b""
        self.bad = 0  # lines that were not JSON objects (a process's stray output)

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return []
        self.pos += len(data)
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        out = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                self.bad += 1
                continue
            if isinstance(obj, dict):
                out.append(obj)
            else:
                self.bad += 1
        return out

    def __iter__(self) -> Iterator[dict]:
        return iter(self.read())


def read_all(path: str) -> list[dict]:
    """Every complete JSON line of a status file."""
    return StatusTail(path).read()
