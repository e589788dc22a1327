"""Log-structured file-system GC model: segments, logs, placement, GC.

Public entry points: :class:`~.sim.LfsSim` (one simulated device),
:class:`~.config.LfsConfig`, the registries
:data:`~.placement.PLACEMENTS` and :data:`~.victims.VICTIMS`, and the
contract :mod:`.view` that every victim policy sees.
"""

from .config import LfsConfig
from .sim import DeviceFull, LfsSim, SimError

__all__ = ["LfsConfig", "LfsSim", "SimError", "DeviceFull"]
