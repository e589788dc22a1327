"""The contract between the simulator core and a data-placement scheme.

A placement decides, for every block the file system writes, which *class*
(open log) receives it: once for a user write (``user_class``) and once for
a block that garbage collection moves (``gc_class``).  It runs inside the
compiled write path, so each placement is:

* a handful of ``@njit`` functions in its own file (the per-block decision),
  dispatched by an integer ``kind`` in :mod:`.dispatch`;
* a Python :class:`Placement` object (the configuration, constructor
  keywords with defaults) that states the kind, the number of classes, which
  classes GC may write to, and builds its parameter and state arrays.

Arrays a placement owns (all int64):

``pp``  parameters, length :data:`N_PP`, read-only in the write path;
``ps``  scalar state, length :data:`N_PS`, mutable;
``lb``  one word per LBA (or length 1 when unused), mutable;
``ring`` a circular buffer (SepBIT's FIFO) or length 1.

The per-LBA time of the last user write and the oracle's next-write position
are kept by the core for everyone (rows ``LWT`` and ``DEATH`` of ``lbat``).
"""

from __future__ import annotations

import numpy as np

N_PP = 16
N_PS = 16

KIND_SINGLE = 0
KIND_F2FS_TEMP = 1
KIND_SEPGC = 2
KIND_DAC = 3
KIND_SEPBIT = 4
KIND_FK = 5
KIND_SSDFS = 6
KIND_TABLE = 7


class Placement:
    """Base of every placement.  Subclasses name their source (paper or
    kernel file and function) in the docstring and keep its rules."""

    name = "?"
    kind = -1
    needs_hints = False  # uses the per-write temperature hint when the trace has one
    needs_future = False  # needs next_write_index (oracle only)
    stimulate = 0  # migration stimulation: blocks moved per user write (SSDFS)

    def bind(self, n_lbas: int, n_segs: int, blocks_per_seg: int) -> None:
        """Called once by the simulator before anything else, with the
        device geometry (a placement may size itself to the spare space)."""

    def n_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        """Number of classes (open logs per source) on this device."""
        return 1

    def gc_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        """How many distinct classes one GC pass may write to (sizes the
        reserved segments GC needs to make progress)."""
        return 1

    def params(self, n_lbas: int, blocks_per_seg: int) -> np.ndarray:
        return np.zeros(N_PP, np.int64)

    def init_state(self, n_lbas: int, n_segs: int, blocks_per_seg: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ps, lb, ring)`` at the start of a run."""
        return np.zeros(N_PS, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)

    def describe(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"
