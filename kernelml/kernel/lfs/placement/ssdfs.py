"""SSDFS-style PEB migration: every logical erase block keeps its own log and
migrates to a fresh erase block as it is updated.

Source: the SSDFS driver (github.com/dubeyko/ssdfs-driver, ``fs/ssdfs``:
``peb_migration_scheme.c``, ``peb_flush_thread.c``, ``peb_gc_thread.c``,
``segment_bitmap.c``) and its author's design notes ("migration scheme",
"migration stimulation", linux-fsdevel, 2023).  Mechanism:

* A logical erase block (LEB) is a fixed range of logical blocks; its data
  live only in the physical erase block(s) (PEB) mapped to it.  Updates are
  logged inside the LEB's current PEB.
* When that PEB is exhausted (full), migration starts: a clean destination
  PEB is associated with the LEB, every update goes to the destination and
  invalidates the old copy in the exhausted source.
* Migration stimulation: each time a log is committed to the destination,
  the flush thread adds some still-valid blocks of the source, so the source
  drains even when its data are not updated; when the source holds no valid
  block it is erased and returned to the clean pool.
* "GC" threads only look for PEBs whose migration is stuck and stimulate
  them; cold PEBs that are not migrating are never moved.

Model (departures documented):

* LEB = ``leb_blocks`` consecutive LBAs; one class per LEB, so every
  segment holds one LEB's data and GC moves of a victim go back to its own
  LEB's destination (``gc_class = lba // leb_blocks``).  A PEB must hold
  more than its LEB's logical blocks, or every update of a full LEB needs a
  new PEB; SSDFS gets that headroom from compression and compaction, which
  a block-granular model does not have.  The default (``leb_blocks=0``)
  splits the device's spare space evenly between headroom inside the PEBs
  and clean PEBs for migration: the number of LEBs is halfway between the
  logical and the physical segment counts.
* The destination is opened lazily, at the first update after the source
  filled up (no eager reopen): that is when SSDFS starts a migration.
* Stimulation moves ``stimulate`` valid blocks (default 1) from the LEB's
  oldest sealed PEB per user write to the LEB; SSDFS sizes it by the free
  space left in the NAND page after compression/compaction, which this
  block-granular model does not have.  Stimulated moves are counted as GC
  writes.
* SSDFS allows two PEBs per LEB at a time; here a LEB whose destination
  fills before its source drained simply chains another destination, and
  when the clean pool runs short the simulator's foreground GC collects
  victims like any other scheme (on a real SSDFS volume the device's FTL
  and the compression headroom play that role).
"""

from __future__ import annotations

import numpy as np

from ..jit import hot

from .base import KIND_SSDFS, N_PP, Placement

P_LEB = 0


@hot
def leb_class(pp, x) -> int:
    return x // pp[P_LEB]


class SSDFS(Placement):
    """SSDFS-style PEB migration: one log per logical erase block, lazy
    destination, migration stimulation on every update."""

    name = "ssdfs"
    kind = KIND_SSDFS

    def __init__(self, leb_blocks: int = 0, stimulate: int = 1) -> None:
        if int(leb_blocks) < 0 or int(stimulate) < 0:
            raise ValueError("leb_blocks and stimulate must be >= 0")
        self.leb_blocks = int(leb_blocks)
        self.stimulate = int(stimulate)
        self._auto = 0

    def bind(self, n_lbas: int, n_segs: int, blocks_per_seg: int) -> None:
        logical = -(-n_lbas // blocks_per_seg)
        lebs = max(1, (logical + n_segs) // 2)
        self._auto = max(1, min(blocks_per_seg, -(-n_lbas // lebs)))

    def _leb(self, blocks_per_seg: int) -> int:
        if self.leb_blocks > 0:
            return self.leb_blocks
        return self._auto if self._auto > 0 else blocks_per_seg

    def n_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        leb = self._leb(blocks_per_seg)
        return (n_lbas + leb - 1) // leb

    def gc_classes(self, n_lbas: int, blocks_per_seg: int) -> int:
        return 1  # a victim holds one LEB's blocks only

    def params(self, n_lbas: int, blocks_per_seg: int) -> np.ndarray:
        pp = np.zeros(N_PP, np.int64)
        pp[P_LEB] = self._leb(blocks_per_seg)
        return pp

    def describe(self) -> dict:
        return {"name": self.name, "leb_blocks": self.leb_blocks or self._auto,
                "stimulate": self.stimulate}
