"""Data-placement schemes of the LFS model, one per file, registered by name
in :data:`PLACEMENTS` (the names are a CLI contract).  The contract is in
:mod:`.base`; the per-block switch in :mod:`.dispatch`."""

from __future__ import annotations

from ....registry import Registry
from .base import Placement

_P = "kernelml.kernel.lfs.placement"

PLACEMENTS = Registry("placement", {
    "single": f"{_P}.single:Single",
    "f2fs-temp": f"{_P}.f2fs_temp:F2FSTemp",
    "sepgc": f"{_P}.sepgc:SepGC",
    "dac": f"{_P}.dac:DAC",
    "sepbit": f"{_P}.sepbit:SepBIT",
    "fk": f"{_P}.fk:FK",
    "ssdfs": f"{_P}.ssdfs:SSDFS",
    "table": f"{_P}.table:Table",
})

__all__ = ["PLACEMENTS", "Placement"]
