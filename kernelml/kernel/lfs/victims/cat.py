"""CAT (Cost-Age-Times) victim selection for flash, with wear levelling.

Source: M.-L. Chiang, P. C. H. Lee and R.-C. Chang, "Using data clustering to
improve cleaning performance for flash memory", Software: Practice and
Experience 29(3):267-290, 1999, and M.-L. Chiang and R.-C. Chang, "Cleaning
policies in mobile computers using flash memory", Journal of Systems and
Software 48(3):213-231, 1999, which define the policy: the cleaner cleans
the segment that minimises

    Cleaning Cost * (1 / Age) * Number of Cleaning

where Cleaning Cost = u / (1 - u), u the fraction of valid data in the
segment, Age the time elapsed since the segment was created (written after
its last erase), and Number of Cleaning the number of times the segment
has been erased.  The cost term favours segments with little valid data,
the age term gives recently written segments time to accumulate garbage,
and the erase count steers cleaning (and hence new writes) towards the
least-worn segments.

Integer form.  With ``B = blocks_per_seg``, ``v`` valid blocks, ``e`` erase
count and ``age = now - created``, minimising
``v / (B - v) * (e + 1) / age`` is maximising the rational
``(B - v) * age / (v * (e + 1))``, done exactly by
:func:`~kernelml.kernel.lfs.intmath.argmax_ratio`; an empty segment (v = 0,
cost 0) wins at once, a full one or one created this instant (infinite
cost) only when nothing else is left; ties go to the lowest segment number.

Departures:

* Number of Cleaning is counted from 1 (``e + 1``): with the raw count a
  segment never erased costs 0 whatever its utilisation, so on a new device
  every segment would tie at 0 and the choice would ignore u and age;
* implementations of CAT that follow the JSS paper map the age through a
  step function (a few age classes) before using it; that refinement is
  not reproduced and the plain elapsed time is used, as in the formula;
* ``created`` comes from ``view.created`` (time of the first append since the
  last erase); when the simulator does not provide it, ``view.lastmod`` (time
  of the last append) stands in, which makes partly written segments look
  younger;
* times are the logical clock (user block writes), u is counted in blocks.
"""

from __future__ import annotations

import numpy as np

from ..intmath import argmax_ratio
from ..view import SegmentView, VictimPolicy


class CostAgeTimes(VictimPolicy):
    """CAT (Chiang, Lee & Chang 1999): minimise u/(1-u) * 1/age * erasures,
    age = now - created, erasures counted from 1; exact integer ratio."""

    name = "cat"

    def select(self, view: SegmentView) -> int:
        idx = np.flatnonzero(view.candidate)
        if idx.size == 0:
            return -1
        born = view.created if view.created is not None else view.lastmod
        b = int(view.blocks_per_seg)
        v = view.valid[idx].astype(np.int64)
        age = np.maximum(int(view.now) - born[idx].astype(np.int64), 0)
        erased = view.erase[idx].astype(np.int64) + 1
        return int(idx[argmax_ratio((b - v) * age, v * erased)])
