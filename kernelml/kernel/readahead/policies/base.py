"""The skeleton every readahead-limit policy follows."""

from __future__ import annotations

import numpy as np


class RaPolicy:
    """``limits(counters, stream_ra, ra_default) -> stream_ra``.

    ``counters``: the per-stream counters of the epoch that just ended
    (``sim.counters()``: rows ``pagecache.FS_*``, one column per stream,
    i.e. per open file description); ``stream_ra``: the limits in force;
    ``ra_default``: the device's ``read_ahead_kb / 4``.  Returns the limits
    for the next epoch (int64, one per stream, ``0 .. MAX_RA_PAGES``)."""

    name = "?"

    def reset(self, n_streams: int, ra_default: int) -> None:
        """A new run."""

    def limits(self, counters: np.ndarray, stream_ra: np.ndarray, ra_default: int) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name}
