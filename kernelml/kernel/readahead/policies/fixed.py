"""Fixed limits, the same for every open file and every epoch (what an operator
does with ``blockdev --setra`` or ``read_ahead_kb``).

``fixed-small``: 16 KiB (4 pages), the setting that suits random reads.
``fixed-large``: 4 MiB (1024 pages), the setting that suits long scans.
"""

from __future__ import annotations

import numpy as np

from .base import RaPolicy


class Fixed(RaPolicy):
    """The same limit for every file."""

    name = "fixed"

    def __init__(self, pages: int) -> None:
        if pages < 0:
            raise ValueError("pages must be >= 0")
        self.pages = int(pages)

    def limits(self, counters: np.ndarray, stream_ra: np.ndarray, ra_default: int) -> np.ndarray:
        return np.full(stream_ra.shape[0], self.pages, np.int64)

    def describe(self) -> dict:
        return {"name": self.name, "pages": self.pages}


class FixedSmall(Fixed):
    """A fixed 16 KiB limit (4 pages) for every file."""

    name = "fixed-small"

    def __init__(self) -> None:
        super().__init__(4)


class FixedLarge(Fixed):
    """A fixed 4 MiB limit (1024 pages) for every file."""

    name = "fixed-large"

    def __init__(self) -> None:
        super().__init__(1024)
