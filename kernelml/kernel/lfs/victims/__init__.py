"""Victim-selection policies of the LFS model, one per file, registered by
name in :data:`VICTIMS` (the names are a CLI contract).

Every entry is a :class:`~kernelml.kernel.lfs.view.VictimPolicy` subclass
whose constructor takes only keyword arguments with defaults, so
``VICTIMS.make(name)`` gives a working policy.  ``f2fs`` is the composite
F2FS configuration (greedy in the foreground, F2FS cost-benefit in the
background) and lives beside the simulator core; ``fk`` is the
future-knowledge oracle.
"""

from __future__ import annotations

from ....registry import Registry

_P = "kernelml.kernel.lfs.victims"

VICTIMS = Registry("victim policy", {
    "greedy": f"{_P}.greedy:Greedy",
    "cost-benefit": f"{_P}.cost_benefit:CostBenefit",
    "f2fs-cb": f"{_P}.f2fs_cb:F2FSCostBenefit",
    "f2fs-atgc": f"{_P}.f2fs_atgc:F2FSAgeThreshold",
    "nilfs2-timestamp": f"{_P}.nilfs2_timestamp:Nilfs2Timestamp",
    "cat": f"{_P}.cat:CostAgeTimes",
    "d-choices": f"{_P}.d_choices:DChoices",
    "f2fs": "kernelml.kernel.lfs.composite:F2FSComposite",
    "fk": f"{_P}.fk:FutureKnowledge",
})

__all__ = ["VICTIMS"]
