"""A KML-like static classifier (integer only).

KML (Akgun et al., "A Machine Learning Framework to Improve Storage System
Performance", HotStorage 2021) tunes readahead with a small neural network
trained *offline*: features of the recent page-cache accesses classify the
workload into one of the db_bench patterns it was trained on (read
sequential, read random, read reverse, read-random-write-random, ...), and
a per-class readahead size found offline by sweeping is applied.  Nothing
is learnt online and nothing checks that the class's size is right for the
device or the cache at hand.

This baseline keeps that shape with a fixed decision tree over the
per-stream (open file) counters of each epoch in place of the network (no weights to
ship, same failure mode: a static mapping from pattern to window):

===========  ===============================================  ==============
class        rule (per mille of the epoch's requests)          limit (pages)
===========  ===============================================  ==============
sequential   seq >= 700                                        512 (2 MiB)
reverse      back >= 500                                       32 (128 KiB)
random-rw    writes >= 250 and seq < 300                       8 (32 KiB)
random       seq < 300 and mean jump >= 2^6 pages              4 (16 KiB)
strided      seq < 300 and mean jump < 2^6 pages               64 (256 KiB)
mixed        otherwise                                         32 (128 KiB)
===========  ===============================================  ==============

A stream with fewer than ``MIN_REQUESTS`` requests in an epoch keeps its
previous class (its limit does not change); one never classified gets the
device default.  The table was tuned on the ``ssd`` preset (the
device KML was evaluated on) and is used unchanged elsewhere — which is
the point of the comparison.
"""

from __future__ import annotations

import numpy as np

from .. import pagecache as pc
from .base import RaPolicy

SEQUENTIAL, REVERSE, RANDOM_RW, RANDOM, STRIDED, MIXED = range(6)
CLASS_NAMES = ("sequential", "reverse", "random-rw", "random", "strided", "mixed")
TABLE = (512, 32, 8, 4, 64, 32)
MIN_REQUESTS = 8
NONE = -1


def classify(req: int, seq: int, back: int, jumps: int, gap16: int, writes: int) -> int:
    """The class of one stream's epoch (``NONE``: too few requests)."""
    total = req + writes
    if total < MIN_REQUESTS:
        return NONE
    seq_pm = seq * 1000 // total
    back_pm = back * 1000 // total
    wr_pm = writes * 1000 // total
    if seq_pm >= 700:
        return SEQUENTIAL
    if back_pm >= 500:
        return REVERSE
    if seq_pm < 300:
        if wr_pm >= 250:
            return RANDOM_RW
        mean_gap16 = gap16 // jumps if jumps else 0
        return RANDOM if mean_gap16 >= 16 * 6 else STRIDED
    return MIXED


def row(counters: np.ndarray, field: int) -> np.ndarray:
    return counters[field]


class KmlLike(RaPolicy):
    """Static classifier: per-stream pattern class -> a window tuned offline."""

    name = "kml"

    def __init__(self) -> None:
        self.cls = np.zeros(0, np.int64)

    def reset(self, n_streams: int, ra_default: int) -> None:
        self.cls = np.full(n_streams, NONE, np.int64)

    def limits(self, counters: np.ndarray, stream_ra: np.ndarray, ra_default: int) -> np.ndarray:
        n = stream_ra.shape[0]
        if self.cls.shape[0] != n:
            self.reset(n, ra_default)
        req, seq, back = row(counters, pc.FS_REQ), row(counters, pc.FS_SEQ), row(counters, pc.FS_BACK)
        jumps, gap16, wr = row(counters, pc.FS_JUMP), row(counters, pc.FS_GAP16), row(counters, pc.FS_WRITES)
        for f in np.flatnonzero(req + wr >= MIN_REQUESTS):
            self.cls[f] = classify(int(req[f]), int(seq[f]), int(back[f]), int(jumps[f]), int(gap16[f]),
                                   int(wr[f]))
        out = np.full(n, ra_default, np.int64)
        known = self.cls >= 0
        out[known] = np.asarray(TABLE, np.int64)[self.cls[known]]
        return out

    def describe(self) -> dict:
        counts = {CLASS_NAMES[c]: int(np.count_nonzero(self.cls == c)) for c in range(len(CLASS_NAMES))}
        return {"name": self.name, "table": dict(zip(CLASS_NAMES, TABLE)), "classes": counts}
