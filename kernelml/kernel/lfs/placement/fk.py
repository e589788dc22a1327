"""FK placement: the future-knowledge oracle's data separation.

Every block, user-written or moved by GC, goes to the class of its exact
remaining lifetime ``r = next_write_index - now`` (stream positions; a block
that is never overwritten or trimmed has ``r`` = infinity).  Classes are
geometric: class ``k`` holds ``w (2^k - 1) <= r < w (2^(k+1) - 1)``, i.e.
``k = floor(log2(r // w + 1))``, capped at the last class, which also takes
the blocks that never die.  Blocks that die at about the same time share
segments, so segments tend to empty all at once and GC finds them (nearly)
free: with exact invalidation times this is the grouping every inferred
placement (SepBIT, DAC, temperatures) tries to approximate, hence the lower
reference for all of them.  The widths grow with ``r`` because a far death
time is shared by fewer blocks written at the same moment and its absolute
error matters less (relative precision is what keeps segments pure).

Reference point: the SepBIT authors' FK baseline (``placement/FK.java``)
uses ``class = min(r // blocks_per_segment, 5)``, linear in segment-sized
steps, which is weak at 2 MiB segments (``scale="linear", classes=6``
reproduces it); the geometric default separates lifetimes over many orders
of magnitude.  It is an oracle:
it reads the trace's future, no kernel could run it.
"""

from __future__ import annotations

import numpy as np

from ..jit import hot

from ..layout import NEVER
from .base import KIND_FK, N_PP, Placement

P_WIDTH = 0
P_NCLASS = 1
P_LINEAR = 2  # 1: class = r // width (the SepBIT artifact's FK), 0: geometric


@hot
def lifetime_class(pp, death, now) -> int:
    last = pp[P_NCLASS] - 1
    if death >= NEVER:
        return last
    r = death - now
    if r < 0:
        r = 0
    if pp[P_LINEAR] != 0:
        k = r // pp[P_WIDTH]
        return k if k < last else last
    q = r // pp[P_WIDTH] + 1
    k = -1
    while q > 0:
        q >>= 1
        k += 1
    if k > last:
        k = last
    return k


class FK(Placement):
    """Oracle placement: class by exact remaining lifetime (geometric
    classes), for user writes and GC rewrites alike."""

    name = "fk"
    kind = KIND_FK
    needs_future = True

    def __init__(self, classes: int = 16, width: int = 0, scale: str = "geometric") -> None:
        if not 2 <= int(classes) <= 64:
            raise ValueError("classes must be in 2..64")
        if int(width) < 0:
            raise ValueError("width must be >= 0 (0: one segment of writes)")
        if scale not in ("geometric", "linear"):
            raise ValueError("scale must be 'geometric' or 'linear'")
        self.max_classes = int(classes)
        self.classes = int(classes)
        self.width = int(width)
        self.scale = scale

    def bind(self, n_lbas: int, n_segs: int, blocks_per_seg: int) -> None:
        """Open logs cost spare space: use at most one class per 4 spare
        segments (at least 2), so small devices are not filled by open logs."""
        spare = n_segs - -(-n_lbas // blocks_per_seg)
        self.classes = max(2, min(self.max_classes, spare // 4))

    def n_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return self.classes

    def gc_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return self.classes

    def params(self, n_lbas: int, blocks_per_seg: int) -> np.ndarray:
        pp = np.zeros(N_PP, np.int64)
        pp[P_WIDTH] = self.width if self.width > 0 else blocks_per_seg
        pp[P_NCLASS] = self.classes
        pp[P_LINEAR] = 1 if self.scale == "linear" else 0
        return pp

    def describe(self) -> dict:
        return {"name": self.name, "classes": self.classes, "max_classes": self.max_classes,
                "width": self.width, "scale": self.scale}
