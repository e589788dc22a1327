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

Feature mode (``T_MODE = TABLE_FEATURE``, the form of the ``lfs`` uapi's
``OP_PLACEMENT`` recommendation): the table is indexed by what the write
path knows about a block rather than by its address.  With ``v = now -
last_write(lba)`` (0 when the LBA was never written) and ``bucket(v)`` its
bit length capped at ``nb - 1``::

    row        = hint                if hint != 0 or map[lba] == 0
                 3 + map[lba]        otherwise (map[lba] in 1..15)
    user class = table[row * nb + bucket(v)]
    GC class   = table[(n_rows + row) * nb + bucket(age)]

``map`` is a per-LBA hint array (4 bits of information per LBA) that user
space fills with its estimate of each LBA's update rate (0: no estimate);
a write's own temperature hint, when it has one, comes first (a file's
hint says more about new data than the history of the blocks it reuses);
``age = now - last_write(lba)`` of the block being moved (for a GC copy the
row uses hint 0: the write's hint is not kept); every class is in ``0 .. n
- 1`` (a GC copy may rejoin a user class).  One bit-length loop, one
multiply-add and two loads per block.
"""

from __future__ import annotations

import numpy as np

from ..jit import hot

from ..layout import (LWT, MLMAP, N_TPP, T_GC_MODE, T_MODE, T_NBUCKET, T_NCLASS, T_NHINT, T_SHIFT,
                      TABLE_FEATURE)
from .base import KIND_TABLE, Placement


@hot
def bucket(v, nb) -> int:
    """Bit length of ``v`` (0 for v <= 0), capped at ``nb - 1`` (fls64)."""
    b = 0
    while v > 0 and b < nb - 1:
        v >>= 1
        b += 1
    return b


@hot
def _clip(c, n) -> int:
    if c < 0:
        return 0
    if c >= n:
        return n - 1
    return c


@hot
def _row(tpp, lbat, x, hint) -> int:
    g = lbat[MLMAP, x]
    row = hint if (hint != 0 or g == 0) else 3 + g
    if row < 0 or row >= tpp[T_NHINT]:
        return 0
    return row


@hot
def user_class(table, tpp, lbat, x, hint, acc) -> int:
    n = tpp[T_NCLASS]
    if tpp[T_MODE] == TABLE_FEATURE:
        nb = tpp[T_NBUCKET]
        lw = lbat[LWT, x]
        row = _row(tpp, lbat, x, hint)
        return _clip(table[row * nb + bucket(acc - lw if lw > 0 else 0, nb)], n)
    i = x >> tpp[T_SHIFT]
    if i >= table.shape[0]:
        i = table.shape[0] - 1
    return _clip(table[i], n)


@hot
def gc_class(table, tpp, lbat, x, acc) -> int:
    n = tpp[T_NCLASS]
    if tpp[T_MODE] == TABLE_FEATURE:
        nb = tpp[T_NBUCKET]
        lw = lbat[LWT, x]
        row = _row(tpp, lbat, x, 0)
        return _clip(table[(tpp[T_NHINT] + row) * nb + bucket(acc - lw if lw > 0 else 0, nb)], n)
    if tpp[T_GC_MODE] == 0:
        return n
    return user_class(table, tpp, lbat, x, 0, acc)


def table_params(n_classes: int, shift: int, gc_mode: int) -> np.ndarray:
    tpp = np.zeros(N_TPP, np.int64)
    tpp[T_SHIFT] = shift
    tpp[T_NCLASS] = n_classes
    tpp[T_GC_MODE] = gc_mode
    return tpp


def feature_params(n_classes: int, n_hint: int, nb: int) -> np.ndarray:
    tpp = np.zeros(N_TPP, np.int64)
    tpp[T_MODE] = TABLE_FEATURE
    tpp[T_NCLASS] = n_classes
    tpp[T_NHINT] = n_hint
    tpp[T_NBUCKET] = nb
    return tpp


def check_feature_table(user, gc, n_classes: int, n_hint: int, nb: int) -> np.ndarray:
    """Validate a feature table from user space (the user part, ``n_hint x
    nb``, then the GC part, also ``n_hint x nb``); return it as one int32
    array.  Raises ValueError (one line) when it is unusable."""
    if not (1 <= n_hint <= 19 and 2 <= nb <= 64 and 1 <= n_classes <= 16):
        raise ValueError("feature table: 1..19 rows, 2..64 buckets, 1..16 classes")
    u, g = np.asarray(user), np.asarray(gc)
    if u.shape != (n_hint * nb,) or g.shape != (n_hint * nb,):
        raise ValueError(f"feature table needs {n_hint * nb} user and {n_hint * nb} GC entries")
    for part in (u, g):
        if not np.issubdtype(part.dtype, np.integer):
            raise ValueError("feature table must hold integers")
        if part.min() < 0 or part.max() >= n_classes:
            raise ValueError(f"classes must be in 0..{n_classes - 1}")
    return np.concatenate([u, g]).astype(np.int32)


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
