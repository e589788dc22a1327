"""DAC: Dynamic dAta Clustering.

Source: M.-L. Chiang, P. C. H. Lee and R.-C. Chang, "Using data clustering
to improve cleaning performance for flash memory", Software: Practice and
Experience 29(3), 1999.  The flash space is divided into regions of
increasing write frequency; a block moves one region up (hotter) each time
it is updated and one region down (colder) each time the cleaner has to copy
it.  Rules as in the SepBIT artifact's DAC baseline
(``trace_replay/.../placement/DAC.java``): a first write enters region 0, a
user update promotes to ``min(level + 1, regions - 1)``, a GC copy demotes
to ``max(level - 1, 0)``, and the block is written to the log of its new
region.

State: ``lb[lba]`` = level + 1 (0 = never written).  A trim keeps the level
(the paper has no trim).  Departures: none beyond counting in blocks.
"""

from __future__ import annotations

import numpy as np

from ..jit import hot

from .base import KIND_DAC, N_PP, N_PS, Placement


@hot
def user_class(pp, lb, x) -> int:
    top = pp[0] - 1
    cur = lb[x]
    if cur == 0:
        lvl = 0  # first write: region 0
    else:
        lvl = cur  # (cur - 1) + 1: promote one region
        if lvl > top:
            lvl = top
    lb[x] = lvl + 1
    return lvl


@hot
def gc_class(lb, x) -> int:
    cur = lb[x]
    lvl = cur - 1 if cur > 0 else 0
    if lvl > 0:
        lvl -= 1
    lb[x] = lvl + 1
    return lvl


class DAC(Placement):
    """Dynamic data clustering (Chiang et al. 1999): promote on update,
    demote on GC copy, one log per region."""

    name = "dac"
    kind = KIND_DAC

    def __init__(self, regions: int = 6) -> None:
        if not 2 <= int(regions) <= 64:
            raise ValueError("regions must be in 2..64")
        self.regions = int(regions)

    def n_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return self.regions

    def gc_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return self.regions

    def params(self, n_lbas: int, blocks_per_seg: int) -> np.ndarray:
        pp = np.zeros(N_PP, np.int64)
        pp[0] = self.regions
        return pp

    def init_state(self, n_lbas, n_segs, blocks_per_seg):
        return np.zeros(N_PS, np.int64), np.zeros(n_lbas, np.int64), np.zeros(1, np.int64)

    def describe(self) -> dict:
        return {"name": self.name, "regions": self.regions}
