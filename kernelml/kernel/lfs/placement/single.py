"""NILFS2: one log for everything.

Source: NILFS2 writes every block, user data and the blocks its cleaner
(``nilfs_cleanerd``, ``sbin/cleanerd/cleanerd.c`` in nilfs-utils) moves, at
the tail of the single log (``fs/nilfs2/segment.c``: the segment constructor
appends to the current segment; ``nilfs_clean_segments`` marks the live
blocks of the victims dirty and they are written again by the next segment
construction).  No temperature, no separation: one class.
"""

from __future__ import annotations

from ..jit import hot

from .base import KIND_SINGLE, Placement


@hot
def user_class() -> int:
    return 0


@hot
def gc_class() -> int:
    return 0


class Single(Placement):
    """NILFS2 single log: user writes and GC copies share one log."""

    name = "single"
    kind = KIND_SINGLE
