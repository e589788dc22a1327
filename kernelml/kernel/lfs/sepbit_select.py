"""Victim selection of the SepBIT authors' simulator (the ``sepbit`` GC
regime), used to cross-check this model against it.

Source: github.com/fallfish/sepbit ``trace_replay/src/main/java/gcsimulator/``
``selection/Greedy.java`` (sort by garbage proportion, highest first) and
``selection/CostBenefit.java`` (score ``gp / (1 - gp) * sqrt(age)``, a
segment with no valid block scores +infinity), ``GCWorker.pickSegments``
(candidates: sealed, at least one invalid block, garbage proportion >= the
threshold; the regime's candidate mask applies that) and ``Segment.getAge``
(now minus the time of the segment's last append).

Integer form: with ``B`` blocks appended and ``v`` valid, ``gp / (1 - gp) =
(B - v) / v``; the score is maximised as the exact ratio ``(B - v) *
isqrt(age << 20) / v`` (``isqrt`` by integer Newton iteration; the shift keeps
10 fractional bits of the square root).  Ties go to the lowest segment number
(the artifact's stable sort keeps its hash-map order instead); the clock is
user block writes (the artifact's microseconds are 10 per write on the
generated traces, a constant factor the ranking ignores).
"""

from __future__ import annotations

import numpy as np

from .intmath import argmax_ratio, isqrt_array
from .view import SegmentView, VictimPolicy


class SepbitGreedy(VictimPolicy):
    """SepBIT artifact Greedy: highest garbage proportion first."""

    name = "sepbit-greedy"

    def select(self, view: SegmentView) -> int:
        idx = np.flatnonzero(view.candidate)
        if idx.size == 0:
            return -1
        # sealed segments are full, so the highest (B - v) / B is the lowest v
        return int(idx[int(np.argmin(view.valid[idx]))])


class SepbitCostBenefit(VictimPolicy):
    """SepBIT artifact CostBenefit: gp / (1 - gp) * sqrt(age)."""

    name = "sepbit-cost-benefit"

    def select(self, view: SegmentView) -> int:
        idx = np.flatnonzero(view.candidate)
        if idx.size == 0:
            return -1
        b = int(view.blocks_per_seg)
        v = view.valid[idx].astype(np.int64)
        age = np.maximum(int(view.now) - view.lastmod[idx].astype(np.int64), 0)
        root = isqrt_array(age << 20)
        return int(idx[argmax_ratio((b - v) * root, v)])
