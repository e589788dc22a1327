"""FK: the future-knowledge victim oracle.

Needs ``view.future_valid`` (the simulator computes it from the trace's
``next_write_index``): for each candidate, how many of its currently valid
blocks are still alive ``horizon`` operations from now.  Collecting a
segment now costs its valid blocks ``v`` (they are copied); of those, the
``d = v - future_valid`` that die within the horizon would have become
free for nothing had we waited, so copying them is pure waste and, worse,
the segment would soon have been nearly free.  The oracle therefore picks

    the candidate minimising  v + d  (= 2 v - future_valid),

lowest segment on ties: cheap now, and not about to empty by itself.
``score="future"`` minimises ``future_valid`` alone (the segment emptiest
at the horizon), ``score="valid"`` is plain greedy with the oracle's
bookkeeping.

Why a (near-)lower bound: GC cost is the number of copies; every copy of a
block that is about to die is avoidable by an omniscient cleaner, and the
remaining copies are of long-lived blocks, which any cleaner must copy at
least once whenever their segment is reclaimed.  Combined with the ``fk``
placement (blocks grouped by exact death time, so segments empty all at
once), no online policy, which must infer lifetimes, can do systematically
better on the same device; it is not a proof of optimality (optimal
offline cleaning is a hard scheduling problem), and the tests check the
claim empirically: the oracle beats every registered policy on every
workload tested.

Bounded work: ``future_valid`` is computed for the ``shortlist``
candidates with the fewest valid blocks (others report their valid count,
i.e. no death assumed), O(shortlist * blocks_per_seg) per GC.
``horizon`` = 0 means the device's spare blocks (the writes it takes to
consume the spare space once).
"""

from __future__ import annotations

import numpy as np

from ..view import SegmentView, VictimPolicy


class FutureKnowledge(VictimPolicy):
    """Oracle: minimise copies now plus copies of blocks that die within the
    horizon (needs next_write_index)."""

    name = "fk"
    needs_future = True

    def __init__(self, horizon: int = 0, shortlist: int = 64, score: str = "cost") -> None:
        if horizon < 0 or shortlist < 1:
            raise ValueError("horizon >= 0 and shortlist >= 1")
        if score not in ("cost", "future", "valid"):
            raise ValueError("score must be 'cost', 'future' or 'valid'")
        self.horizon = int(horizon)
        self.shortlist = int(shortlist)
        self.score = score

    def select(self, view: SegmentView) -> int:
        idx = np.flatnonzero(view.candidate)
        if idx.size == 0:
            return -1
        v = view.valid[idx].astype(np.int64)
        if view.future_valid is None or self.score == "valid":
            return int(idx[int(np.argmin(v))])
        fv = view.future_valid[idx].astype(np.int64)
        cost = fv if self.score == "future" else 2 * v - fv
        return int(idx[int(np.argmin(cost))])
