"""The kernel default: every open file gets the device's limit.

Linux: ``file_ra_state_init`` (mm/readahead.c) copies
``inode_to_bdi(mapping->host)->ra_pages`` — the device's ``read_ahead_kb``
in pages — into each open file, and nothing changes it afterwards (short of
``posix_fadvise``).  The on-demand algorithm then ramps every stream up to
that limit.  This is the human-made policy the ML proxy falls back to.
"""

from __future__ import annotations

import numpy as np

from .base import RaPolicy


class KernelDefault(RaPolicy):
    """Every file gets the device default (read_ahead_kb / 4 pages)."""

    name = "default"

    def limits(self, counters: np.ndarray, stream_ra: np.ndarray, ra_default: int) -> np.ndarray:
        return np.full(stream_ra.shape[0], ra_default, np.int64)
