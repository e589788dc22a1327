"""F2FS static temperature separation of data blocks.

Kernel source: ``fs/f2fs/segment.c``, ``__get_segment_type()`` and, for the
default ``active_logs=6``, ``__get_segment_type_6()``.  For a data page:

* a page that GC is moving (``page_private_gcing``, set by ``move_data_page``
  / ``move_data_block`` in ``gc.c``; ``is_cold_data`` in older kernels) goes
  to ``CURSEG_COLD_DATA`` (or to ``CURSEG_ALL_DATA_ATGC`` when the ``atgc``
  mount option is on);
* a cold file (``file_is_cold``: cold extension list, ``FADVISE_COLD``) goes
  to COLD;
* a hot file (``file_is_hot``, ``FI_HOT_DATA``, atomic/COW files) goes to
  ``CURSEG_HOT_DATA``;
* otherwise ``f2fs_rw_hint_to_seg_type(inode->i_write_hint)``:
  ``WRITE_LIFE_SHORT`` -> HOT, ``WRITE_LIFE_EXTREME`` -> COLD, anything
  else -> ``CURSEG_WARM_DATA``.

With ``active_logs=2`` (``__get_segment_type_2``) all data go to HOT_DATA and
with ``active_logs=4`` (``__get_segment_type_4``) regular-file data go to
COLD_DATA: one data log, GC copies included.

Mapping to traces: the per-write hint stands for the file/write-hint
classification (1 hot -> HOT, 3 cold -> COLD, 0 none or 2 warm -> WARM), so
without hints every user write is WARM and GC'd data COLD.

Classes: 0 HOT, 1 WARM, 2 COLD, 3 ATGC (only with ``atgc=True``).
Departures: node logs (hot/warm/cold node) are not modelled (the model
stores data blocks only); the age-extent classification
(``__get_age_segment_type``, off by default) is not modelled; SSR/IPU
allocation modes are not modelled (LFS mode, the GC regime studied here).
"""

from __future__ import annotations

import numpy as np

from ..jit import hot

from .base import KIND_F2FS_TEMP, N_PP, Placement

HOT, WARM, COLD, ATGC = 0, 1, 2, 3
HINT_HOT, HINT_COLD = 1, 3  # kernelml.workloads.base HINT_* values


@hot
def user_class(pp, hint) -> int:
    if pp[0] != 6:
        return 0  # one data log
    if hint == HINT_HOT:
        return HOT
    if hint == HINT_COLD:
        return COLD
    return WARM


@hot
def gc_class(pp) -> int:
    if pp[1] != 0:
        return ATGC if pp[0] == 6 else 1
    if pp[0] != 6:
        return 0
    return COLD


class F2FSTemp(Placement):
    """F2FS static hot/warm/cold data logs (segment.c __get_segment_type_6),
    GC'd data to the cold log (or the ATGC log)."""

    name = "f2fs-temp"
    kind = KIND_F2FS_TEMP
    needs_hints = True

    def __init__(self, active_logs: int = 6, atgc: bool = False) -> None:
        if active_logs not in (2, 4, 6):
            raise ValueError("active_logs must be 2, 4 or 6 (F2FS mount option)")
        self.active_logs = int(active_logs)
        self.atgc = bool(atgc)

    def n_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        base = 3 if self.active_logs == 6 else 1
        return base + (1 if self.atgc else 0)

    def params(self, n_lbas: int, blocks_per_seg: int) -> np.ndarray:
        pp = np.zeros(N_PP, np.int64)
        pp[0] = self.active_logs
        pp[1] = 1 if self.atgc else 0
        return pp

    def describe(self) -> dict:
        return {"name": self.name, "active_logs": self.active_logs, "atgc": self.atgc}
