"""Reader for blkparse text and the tracefs ``blk`` tracer's text.

blkparse's default line (``-f`` unset) is::

    8,0    3     1     0.000000000   697  D  WS 223490 + 8 [kjournald]
    dev    cpu   seq   sec.nsec      pid  act rwbs sector + sectors [comm]

The tracefs ``blk`` tracer (``echo blk > current_tracer``) prints the same
event text after the ftrace prefix::

    dd-1234  [001] ..... 1234.567890: 7,0    D  WS 2048 + 8 [dd]

Which action: by default ``D`` (issued to the driver: the requests the
device actually receives, after the block layer merged and split them);
``Q`` (queued: as the file system submitted them) or ``C`` (completed)
can be asked for.  A requeued request is issued twice and then counted
twice (rare).  RWBS (kernel/trace/blktrace.c ``blk_fill_rwbs``): ``D``
discard (a trim; ``DE`` secure erase too), ``W`` write, ``R`` read, ``N``
or a lone ``F`` (flush) carry no data and are counted as ``other``.
Sector numbers and counts are in 512-byte units.  Lines that are not
events (blkparse's summary, ``m N`` messages) are counted as ignored.
"""

from __future__ import annotations

import re

import numpy as np

from kernelml.workloads.parse import R_OTHER, R_READ, R_TRIM, R_WRITE

_DEV = re.compile(rb"^\d+,\d+$")
ACTIONS = ("D", "Q", "C")


def _event(tok: list[bytes]):
    """(dev, time, action, rwbs, rest) or None for a non-event line."""
    if len(tok) >= 7 and _DEV.match(tok[0]):
        return tok[0], tok[3], tok[5], tok[6], tok[7:]
    for i in range(1, min(len(tok) - 2, 8)):
        if tok[i - 1].endswith(b":") and _DEV.match(tok[i]):
            return tok[i], tok[i - 1][:-1], tok[i + 1], tok[i + 2], tok[i + 3:]
    return None


def _op(rwbs: bytes) -> int:
    if b"D" in rwbs:
        return R_TRIM
    if b"W" in rwbs:
        return R_WRITE
    if b"R" in rwbs:
        return R_READ
    return R_OTHER


def _time_us(t: bytes) -> int:
    sec, _, frac = t.partition(b".")
    return int(sec) * 1_000_000 + int((frac[:6] or b"0").ljust(6, b"0"))


def parse_blkparse_lines(lines: list[bytes], action: str, device: str | None, line0: int, res: dict):
    """Parse a list of lines; returns arrays (time_us, op, offset_bytes,
    size_bytes, device_id) of the chosen action's events; updates ``res``
    (keys: lines, bad, first_bad, ignored, blank, other_device)."""
    act = action.encode()
    dev_want = device.encode() if device else None
    t_l, op_l, off_l, size_l = [], [], [], []
    line = line0
    for raw in lines:
        line += 1
        tok = raw.split()
        if not tok or tok[0].startswith(b"#"):
            res["blank"] += 1
            continue
        ev = _event(tok)
        if ev is None:
            res["ignored"] += 1
            continue
        dev, t, a, rwbs, rest = ev
        if a != act:
            res["ignored"] += 1
            continue
        if dev_want is not None and dev != dev_want:
            res["other_device"] += 1
            continue
        op = _op(rwbs)
        try:
            t_us = _time_us(t)
            if op == R_OTHER:
                sector, n = 0, 0
            else:
                if len(rest) < 3 or rest[1] != b"+":
                    raise ValueError
                sector, n = int(rest[0]), int(rest[2])
        except ValueError:
            res["bad"] += 1
            if not res["first_bad"]:
                res["first_bad"] = line
            continue
        t_l.append(t_us)
        op_l.append(op)
        off_l.append(sector * 512)
        size_l.append(n * 512)
    res["lines"] = line
    k = len(t_l)
    return (np.array(t_l, np.int64), np.array(op_l, np.int8), np.array(off_l, np.int64),
            np.array(size_l, np.int64), np.zeros(k, np.int64))
