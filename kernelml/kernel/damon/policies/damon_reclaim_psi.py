"""``damon-reclaim-psi``: DAMON_RECLAIM with its quota auto-tuned for a
memory-pressure goal.

Follows mm/damon/reclaim.c with ``quota_mem_pressure_us`` set: the scheme
gets a DAMOS_QUOTA_SOME_MEM_PSI_US goal and mm/damon/core.c
damos_set_effective_quota feeds the stall time of each 1 s quota window to
damon_feed_loop_next_input, raising the effective quota while the stall is
below the goal and lowering it above (still capped by 10 ms and 128 MiB).
The kernel's default leaves the goal off; the goal used here, 1000 us of
stall per 1 s window (0.1 %), is this project's choice, close to senpai's
default target (10 ms per 6 s).
"""

from __future__ import annotations

from .damon_reclaim import DamonReclaim

DEFAULT_PRESSURE_US = 1000


class DamonReclaimPsi(DamonReclaim):
    """DAMON_RECLAIM with the PSI quota goal (quota_mem_pressure_us = 1000 us per 1 s window)."""

    name = "damon-reclaim-psi"
    defaults = {"quota_mem_pressure_us": DEFAULT_PRESSURE_US}
