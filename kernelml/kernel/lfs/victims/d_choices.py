"""d-choices victim selection.

Source: B. Van Houdt, "A mean field model for a class of garbage collection
algorithms in flash-based solid state drives", ACM SIGMETRICS 2013 (and
Queueing Systems 77(2), 2014): "the d-Choices GC algorithm selects d blocks
uniformly at random and erases the block containing the least number of
valid pages among the d selected blocks"; d = 10 already comes close to
greedy's write amplification while the work per choice stays O(d).

Here the d segments are drawn uniformly *with replacement* among the
candidates (the sampling the mean-field model assumes; set
``replace=False`` to draw d distinct ones), with the view's seeded rng, and
the one with the fewest valid blocks wins, ties to the first drawn.  With
fewer than d candidates and ``replace=False`` all candidates are examined.
"""

from __future__ import annotations

import numpy as np

from ..view import SegmentView, VictimPolicy


class DChoices(VictimPolicy):
    """d-choices (Van Houdt, SIGMETRICS 2013): fewest valid blocks among d
    candidates drawn uniformly at random (default d = 10, with replacement)."""

    name = "d-choices"

    def __init__(self, d: int = 10, replace: bool = True) -> None:
        if d < 1:
            raise ValueError("d must be >= 1")
        self.d = d
        self.replace = replace

    def select(self, view: SegmentView) -> int:
        idx = np.flatnonzero(view.candidate)
        n = idx.size
        if n == 0:
            return -1
        if self.replace:
            pick = view.rng.integers(0, n, size=self.d)
        else:
            pick = view.rng.choice(n, size=min(self.d, n), replace=False)
        sample = idx[pick]
        return int(sample[int(np.argmin(view.valid[sample]))])
