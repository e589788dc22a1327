"""Table placement: ``class = table[lba >> shift]``.

This is how a placement recommendation from user space is applied: the agent
sends a small table (one class per LBA range of ``2**shift`` blocks), the
kernel side validates it once (length, class range) and then looks it up per
block with one shift and one load.  The table can be replaced between
chunks (:meth:`kernelml.kernel.lfs.sim.LfsSim.set_table`).

Blocks GC moves out of segments this placement filled (ML lineage) go either
to one dedicated class ``n`` (``gc_mode=0``, like SepGC) or through the
table again (``gc_mode=1``).  Used as the main placement it is an ordinary
static partition (e.g. a hot/cold split known in advance).
"""

from __future__ import annotations

import numpy as np

from ..jit import hot

from ..layout import N_TPP, T_GC_MODE, T_NCLASS, T_SHIFT
from .base import KIND_TABLE, Placement


@hot
def user_class(table, tpp, x) -> int:
    i = x >> tpp[T_SHIFT]
    if i >= table.shape[0]:
        i = table.shape[0] - 1
    c = table[i]
    n = tpp[T_NCLASS]
    if c < 0:
        return 0
    if c >= n:
        return n - 1
    return c


@hot
def gc_class(table, tpp, x) -> int:
    if tpp[T_GC_MODE] == 0:
        return tpp[T_NCLASS]
    return user_class(table, tpp, x)


def table_params(n_classes: int, shift: int, gc_mode: int) -> np.ndarray:
    tpp = np.zeros(N_TPP, np.int64)
    tpp[T_SHIFT] = shift
    tpp[T_NCLASS] = n_classes
    tpp[T_GC_MODE] = gc_mode
    return tpp


def check_table(table, n_lbas: int, shift: int, n_classes: int) -> np.ndarray:
    """Validate a table from user space; return it as int32.  Raises
    ValueError (one line) when it is unusable."""
    t = np.asarray(table)
    if t.ndim != 1 or t.size == 0:
        raise ValueError("table must be a non-empty 1-D array")
    if not np.issubdtype(t.dtype, np.integer):
        raise ValueError("table must hold integers")
    if not 0 <= shift <= 40:
        raise ValueError("shift must be in 0..40")
    need = ((n_lbas - 1) >> shift) + 1
    if t.size < need:
        raise ValueError(f"table has {t.size} entries, the LBA space needs {need}")
    if t.min() < 0 or t.max() >= n_classes:
        raise ValueError(f"table classes must be in 0..{n_classes - 1}")
    return t.astype(np.int32)


class Table(Placement):
    """Static table of classes per LBA range (class = table[lba >> shift]);
    the form ML placement recommendations take."""

    name = "table"
    kind = KIND_TABLE

    def __init__(self, table=None, shift: int = 8, classes: int = 4, gc_mode: int = 0) -> None:
        if not 1 <= int(classes) <= 64:
            raise ValueError("classes must be in 1..64")
        if gc_mode not in (0, 1):
            raise ValueError("gc_mode must be 0 (dedicated GC class) or 1 (table)")
        self.table = table
        self.shift = int(shift)
        self.classes = int(classes)
        self.gc_mode = int(gc_mode)

    def n_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return self.classes + 1  # + the dedicated GC class

    def gc_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return 1 if self.gc_mode == 0 else self.classes

    def build_table(self, n_lbas: int) -> np.ndarray:
        if self.table is None:  # default: every range in class 0
            return np.zeros(((n_lbas - 1) >> self.shift) + 1, np.int32)
        return check_table(self.table, n_lbas, self.shift, self.classes)

    def tpp(self) -> np.ndarray:
        return table_params(self.classes, self.shift, self.gc_mode)

    def describe(self) -> dict:
        return {"name": self.name, "shift": self.shift, "classes": self.classes,
                "gc_mode": self.gc_mode}
