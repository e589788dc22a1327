"""SepGC: user writes and GC rewrites in separate logs.

Source: the "SepGC" baseline of Wang et al., "Separating Data via Block
Invalidation Time Inference for Write Amplification Reduction in
Log-Structured Storage", FAST'22 (SepBIT), and its artifact
(``trace_replay/.../placement/SepGC.java``: class 0 for user writes, class 1
for GC writes).  No departures.
"""

from __future__ import annotations

from ..jit import hot

from .base import KIND_SEPGC, Placement


@hot
def user_class() -> int:
    return 0


@hot
def gc_class() -> int:
    return 1


class SepGC(Placement):
    """User writes to class 0, GC rewrites to class 1 (SepBIT paper's SepGC)."""

    name = "sepgc"
    kind = KIND_SEPGC

    def n_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return 2
