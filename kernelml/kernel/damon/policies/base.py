"""The skeleton every reclaim policy follows.

A policy owns the reclaim decisions for one run on one
:class:`~..memory.MemoryModel`.  The runner (``kernelml.bench.damon_run``)
builds the memory model with :meth:`ReclaimPolicy.memory`, calls
:meth:`start`, feeds the workload in chunks with :meth:`feed` and ends with
:meth:`finish`; :meth:`stats` adds policy-specific results.

Budgets: ``target_saving_pct`` (an integer percent, or None) asks a
budget-driven policy to aim at that memory saving; its budget is then
``footprint * (100 - pct) / 100`` pages.  Policies that need a budget and
get none use ``DEFAULT_TARGET_SAVING_PCT``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..memory import DEVICES, Device, Machine, MemoryModel
from ..vmscan import access_until

DEFAULT_TARGET_SAVING_PCT = 25


@dataclass
class Setup:
    """Facts of one run that a policy may use (none of them is the future)."""

    n_pages: int  # footprint: distinct pages the workload touches
    t0_us: int
    end_us: int
    seed: int = 0
    device: Device = DEVICES["zram"]
    machine: Machine | None = None
    target_saving_pct: int | None = None

    def budget_pages(self, pct: int | None = None) -> int:
        """Pages allowed for a target saving (default: the setup's, else 25 %)."""
        if pct is None:
            pct = self.target_saving_pct if self.target_saving_pct is not None else DEFAULT_TARGET_SAVING_PCT
        if not 0 <= pct < 100:
            raise ValueError("target saving must be in [0, 100) percent")
        return max(1, self.n_pages * (100 - pct) // 100)


class ReclaimPolicy:
    """Base of every reclaim policy.  Subclasses name the kernel source they
    follow (file, function) in their docstring and say where they depart.

    The constructor is the configuration: keyword parameters only, unknown
    ones refused (the base takes ``target_saving_pct`` alone)."""

    name = "?"
    needs_future = False  # True only for oracles: feed() then gets next-use indices
    uses_lists = True  # maintain the LRU lists in the memory model

    def __init__(self, target_saving_pct: int | None = None) -> None:
        self.params: dict = {"target_saving_pct": target_saving_pct}
        self.mem: MemoryModel | None = None
        self.setup: Setup | None = None

    def memory(self, setup: Setup, on_refault=None) -> MemoryModel:
        """A fresh memory model for this policy."""
        return MemoryModel(setup.n_pages, setup.device, setup.machine or Machine.default(setup.n_pages),
                           use_lists=self.uses_lists, on_refault=on_refault)

    def start(self, mem: MemoryModel, setup: Setup) -> None:
        self.mem = mem
        self.setup = setup

    def feed(self, times: np.ndarray, pages: np.ndarray, next_use: np.ndarray | None = None) -> None:
        """Apply one chunk of accesses (int64 us, int64 dense pages)."""
        m = self.mem
        access_until(m.flags, m.lru, m.shadow, m.ctr, m.prm, m.rlog, times, pages, 0, times.shape[0],
                     np.iinfo(np.int64).max, m.use_lists)
        m.flush_refaults()

    def finish(self, end_us: int) -> None:
        self.mem.advance_to(end_us)
        self.mem.flush_refaults()

    def stats(self) -> dict:
        return {}
