"""``lru``: Linux's active/inactive LRU reclaim under a memory limit.

Follows mm/vmscan.c (shrink_active_list, shrink_inactive_list,
folio_check_references, inactive_is_low) and mm/workingset.c
(workingset_refault's activation of refaults within the workingset), as
modelled in :mod:`..vmscan`: a memcg limit of ``budget`` pages, enforced at
fault time by reclaiming at least SWAP_CLUSTER_MAX pages
(mm/memcontrol.c try_charge -> try_to_free_mem_cgroup_pages).  The reclaim
runs in the faulting task, so its time counts as stall.

Simplified: one anonymous lruvec, no scan priorities or swappiness, no
kswapd, no MGLRU.  The limit comes from ``--target-saving`` (default
25 %): ``footprint * (100 - pct) / 100`` pages.
"""

from __future__ import annotations

from .base import ReclaimPolicy


class LruLimit(ReclaimPolicy):
    """Linux active/inactive LRU with second chance under a memory limit (mm/vmscan.c)."""

    name = "lru"

    def start(self, mem, setup) -> None:
        super().start(mem, setup)
        self.limit = setup.budget_pages(self.params.get("target_saving_pct"))
        mem.set_limit(self.limit)

    def stats(self) -> dict:
        return {"limit_pages": self.limit}
