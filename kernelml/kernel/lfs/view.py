"""What a victim-selection policy may look at: the contract between the LFS
simulator and every victim policy (human-made, oracle, or the ML proxy's).

All arrays are read-only views indexed by segment number.  Times are the
simulator's logical clock: the number of user block writes so far (trace
timestamps are used only to find idle gaps for background GC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SegmentView:
    valid: np.ndarray  # int32: valid blocks in the segment
    mtime: np.ndarray  # int64: F2FS-style segment mtime, the mean write time of the blocks appended to it
    lastmod: np.ndarray  # int64: time of the last append (NILFS2 su_lastmod); "age" = now - lastmod
    erase: np.ndarray  # int32: times the segment was erased (cleaned and reused)
    candidate: np.ndarray  # bool: legal victims now (sealed, not open, eligible in this GC regime)
    blocks_per_seg: int
    now: int
    foreground: bool  # True: free space is short and the writer waits (F2FS FG_GC)
    free_segments: int
    total_segments: int
    rng: np.random.Generator  # seeded; the only randomness a policy may use
    future_valid: np.ndarray | None = None  # int32, oracle only: blocks still valid at the horizon
    created: np.ndarray | None = None  # int64: time of the first append since the segment's last erase (CAT's age = now - created)

    @property
    def n_candidates(self) -> int:
        return int(np.count_nonzero(self.candidate))


class VictimPolicy:
    """Base of every victim policy.  Subclasses document the kernel source they
    follow (file, function) in their docstring and keep its integer arithmetic.

    ``select`` returns the index of one candidate segment, or -1 when there is
    none.  A policy may keep state between calls (it is one object per run).
    """

    name = "?"
    needs_future = False  # True only for the oracle

    def select(self, view: SegmentView) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset(self) -> None:
        """Forget any state (called when a run starts)."""
