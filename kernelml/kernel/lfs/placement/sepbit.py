"""SepBIT: separate blocks by their inferred invalidation time.

Source: Q. Wang, J. Li, P. P. C. Lee, T. Ouyang, C. Shi, L. Huang,
"Separating Data via Block Invalidation Time Inference for Write
Amplification Reduction in Log-Structured Storage", USENIX FAST'22, and the
authors' simulator (github.com/fallfish/sepbit,
``trace_replay/src/main/java/gcsimulator/placement/SepBIT.java``), whose
rules this file follows exactly:

User writes (classes 0-1).  ``l`` is the mean lifespan of the last 16
collected class-0 segments (lifespan = user writes between the segment's
creation and its collection), infinite until 16 have been collected.  A
FIFO of the most recent user-written LBAs (at most ``min(valid blocks in the
log, l)`` entries, at most two evictions per write) tells whether the LBA's
previous write is recent: if ``now - last_write(lba) < min(l, fifo size)``
the old copy was invalidated quickly, so the new one is predicted
short-lived -> class 0; otherwise (or if the LBA is not in the FIFO) ->
class 1.

GC rewrites (classes 2-5).  Blocks collected from a class-0 segment go to
class 2; others by their age ``now - last_user_write(lba)``: class 3 below
``4 l``, class 4 below ``16 l``, class 5 beyond (the artifact's loop: base
``4 l``, multiplied by 4 per class, capped at the last class).

Integer form: ``l`` is kept as the sum of 16 lifespans ``L16``; ``a < l``
becomes ``16 a < L16`` (exact, the artifact compares doubles that hold the
same integers).  Time is the count of user block writes (the artifact's
``accessId``); trims neither advance it nor touch the FIFO (the artifact has
no trims).  Departure: only the FIFO's in-memory form (a ring buffer of
LBAs and an LBA -> position map, the artifact's ``OnDiskFIFO`` and
``lba2fifo``).
"""

from __future__ import annotations

import numpy as np

from ..jit import hot

from .base import KIND_SEPBIT, N_PP, N_PS, Placement

# pp
P_NCLASS = 0  # open segments / classes (artifact: numOpenSegments = 6)
P_UPDATE = 1  # class-0 segments averaged into l (artifact: updateThreshold = 16)
P_EXP = 2  # age class growth factor (artifact: exp = 4)
# ps
S_L16 = 0  # sum of the last P_UPDATE class-0 lifespans
S_LSET = 1  # 1 once l is known
S_NCOL = 2  # class-0 segments collected since the last update
S_TOT = 3  # their summed lifespans
S_CURCLS = 4  # class of the segment being collected
S_HEAD = 5  # FIFO: absolute index of the oldest entry
S_TAIL = 6  # FIFO: absolute index one past the newest entry
S_CAP = 7  # ring capacity


@hot
def user_class(pp, ps, lb, ring, x, acc, log_valid) -> int:
    upd = pp[P_UPDATE]
    l16 = ps[S_L16]
    lset = ps[S_LSET]
    head = ps[S_HEAD]
    tail = ps[S_TAIL]
    cap = ps[S_CAP]
    size = tail - head
    prev = lb[x]
    a = acc - prev  # prev = -1 (not in the FIFO) gives acc + 1 >= size
    lvl = 1
    if a < size and (lset == 0 or a * upd < l16):
        lvl = 0
    lb[x] = acc
    ring[tail % cap] = x
    tail += 1
    size += 1
    if size > log_valid or (lset != 0 and size * upd > l16):
        aid = acc - size + 1  # access id of the oldest entry
        old = ring[head % cap]
        head += 1
        size -= 1
        if lb[old] == aid:
            lb[old] = -1
        if lset != 0 and size * upd > l16:
            aid += 1
            old = ring[head % cap]
            head += 1
            size -= 1
            if lb[old] == aid:
                lb[old] = -1
    ps[S_HEAD] = head
    ps[S_TAIL] = tail
    return lvl


@hot
def gc_class(pp, ps, lwt_x, acc) -> int:
    if ps[S_CURCLS] == 0:
        return 2
    lvl = 3
    if ps[S_LSET] == 0:
        return lvl
    upd = pp[P_UPDATE]
    exp = pp[P_EXP]
    last = pp[P_NCLASS] - 1
    age16 = (acc - lwt_x) * upd
    base = ps[S_L16] * exp
    while age16 >= base and lvl < last:
        base *= exp
        lvl += 1
    return lvl


@hot
def on_collect(pp, ps, vcls, vctime, acc) -> None:
    ps[S_CURCLS] = vcls
    if vcls == 0:
        ps[S_TOT] += acc - vctime
        ps[S_NCOL] += 1
        if ps[S_NCOL] == pp[P_UPDATE]:
            ps[S_L16] = ps[S_TOT]
            ps[S_LSET] = 1
            ps[S_NCOL] = 0
            ps[S_TOT] = 0


class SepBIT(Placement):
    """SepBIT (FAST'22): user writes by inferred invalidation time (2
    classes), GC rewrites by age in multiples of the class-0 lifespan (4)."""

    name = "sepbit"
    kind = KIND_SEPBIT

    def __init__(self, classes: int = 6, update: int = 16, growth: int = 4) -> None:
        if int(classes) < 4:
            raise ValueError("SepBIT needs at least 4 classes (2 user, 2 GC)")
        if int(update) < 1 or int(growth) < 2:
            raise ValueError("update >= 1 and growth >= 2")
        self.classes = int(classes)
        self.update = int(update)
        self.growth = int(growth)

    def n_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return self.classes

    def gc_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return self.classes - 2

    def params(self, n_lbas: int, blocks_per_seg: int) -> np.ndarray:
        pp = np.zeros(N_PP, np.int64)
        pp[P_NCLASS] = self.classes
        pp[P_UPDATE] = self.update
        pp[P_EXP] = self.growth
        return pp

    def init_state(self, n_lbas, n_segs, blocks_per_seg):
        ps = np.zeros(N_PS, np.int64)
        cap = n_segs * blocks_per_seg + 4  # the FIFO never holds more than the log's blocks + 2
        ps[S_CAP] = cap
        return ps, np.full(n_lbas, -1, np.int64), np.zeros(cap, np.int64)

    def describe(self) -> dict:
        return {"name": self.name, "classes": self.classes, "update": self.update,
                "growth": self.growth}
