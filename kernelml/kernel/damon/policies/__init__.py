"""Reclaim policies, registered by name (one policy per file).

Every entry is a :class:`.base.ReclaimPolicy` subclass; the conformance
test (tests/test_damon_policies.py) runs each one on the same small
workload and checks the memory model's integrity afterwards.
"""

from ....registry import Registry

POLICIES = Registry("reclaim policy", {
    "none": "kernelml.kernel.damon.policies.none:NoReclaim",
    "damon-reclaim": "kernelml.kernel.damon.policies.damon_reclaim:DamonReclaim",
    "damon-reclaim-psi": "kernelml.kernel.damon.policies.damon_reclaim_psi:DamonReclaimPsi",
    "lru": "kernelml.kernel.damon.policies.lru:LruLimit",
    "senpai": "kernelml.kernel.damon.policies.senpai:Senpai",
    "belady": "kernelml.kernel.damon.policies.belady:Belady",
    "ml": "kernelml.kernel.damon.policies.ml:MLReclaim",
})

# policies that take a memory budget from --target-saving
BUDGETED = ("lru", "senpai", "belady")
