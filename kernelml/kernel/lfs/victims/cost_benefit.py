"""Sprite LFS cost-benefit victim selection.

Source: M. Rosenblum and J. K. Ousterhout, "The Design and Implementation of
a Log-Structured File System", ACM TOCS 10(1), 1992 (SOSP '91), section 3.5:
the cleaner chooses the segment with the highest ratio

    benefit / cost = (free space generated * age of data) / cost
                   = (1 - u) * age / (1 + u)

where ``u`` is the segment's utilisation (fraction of live bytes; cleaning
reads the whole segment, cost 1, and writes back the live part, cost u) and
``age`` is the age of the youngest data in the segment (now minus "the most
recent modified time of any block in the segment"), an estimate of how long
the freed space will stay free: here ``now - lastmod``.

Integer form.  With ``B = blocks_per_seg`` and ``v`` valid blocks,
``(1-u)*age/(1+u) = (B - v) * age / (B + v)``: we maximise that rational
exactly (:func:`~kernelml.kernel.lfs.intmath.argmax_ratio`, no rounding), ties
to the lowest segment number.  The paper computes it in floating point and
does not say how ties are broken.

Departures: the paper measures u in bytes of live data; we count blocks.
Sprite's segment usage table records "the most recent modified time of any
block in the segment", and the cleaner carries each live block's own
modified time along when it rewrites it, so a segment written by the
cleaner keeps the age of its data.  ``view.lastmod`` is the time of the last
append (NILFS2's ``su_lastmod``): identical for segments written by the user,
but a segment the cleaner filled looks as young as the cleaning.  Times are
the logical clock (user block writes); shifting all times does not change
the choice.
"""

from __future__ import annotations

import numpy as np

from ..intmath import argmax_ratio
from ..view import SegmentView, VictimPolicy


class CostBenefit(VictimPolicy):
    """Sprite LFS cost-benefit (Rosenblum & Ousterhout 1992): maximise
    (1-u)*age/(1+u), age = now - lastmod, exact integer ratio, lowest
    segment on ties."""

    name = "cost-benefit"

    def select(self, view: SegmentView) -> int:
        idx = np.flatnonzero(view.candidate)
        if idx.size == 0:
            return -1
        b = int(view.blocks_per_seg)
        v = view.valid[idx].astype(np.int64)
        age = np.maximum(int(view.now) - view.lastmod[idx].astype(np.int64), 0)
        return int(idx[argmax_ratio((b - v) * age, b + v)])
