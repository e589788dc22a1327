"""DAMON model: regions, sampling, DAMOS schemes, quotas, and reclaim policies.

Mechanism (mm/damon/core.c) -> operations (mm/damon/paddr.c) -> thin
modules (mm/damon/reclaim.c), over a memory model with Linux-like LRU
reclaim (mm/vmscan.c):

=================  ==========================================================
``memory``         pages, LRU lists, refaults and their lineage, machine size
``vmscan``         LRU reclaim under a memory limit, the page-access loop
``regions``        region arrays, adaptive merge and split
``ops``            access sampling (numba) and DAMOS actions on pages
``attrs``          monitoring attributes and intervals auto-tuning
``schemes``        access patterns, actions, statistics
``quota``          quotas, hot/cold scores, the prioritisation cut
``goals``          quota goals and the feedback tuner
``watermarks``     free-memory watermarks
``choose``         the region-choice hook and the kernel's default choice
``monitor``        kdamond: the control loop
``reclaim``        the DAMON_RECLAIM module's parameters
``policies``       reclaim policies registered by name
``jitcache``       drops numba's cached code when any source here changed
=================  ==========================================================
"""

from .jitcache import purge_if_stale

purge_if_stale()  # before any numba function of the package is loaded from its cache

from .attrs import DamonAttrs, IntervalsGoal  # noqa: F401
from .choose import RegionsView, damos_choose  # noqa: F401
from .memory import DEVICES, HUMAN, ML, PAGE_SIZE, Device, Machine, MemoryModel  # noqa: F401
from .monitor import Kdamond  # noqa: F401
from .reclaim import ReclaimParams  # noqa: F401
from .schemes import AccessPattern, Action, Scheme  # noqa: F401
