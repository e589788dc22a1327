"""``damon-reclaim``: the DAMON_RECLAIM module with the kernel's defaults.

Follows mm/damon/reclaim.c (damon_reclaim_apply_parameters,
damon_reclaim_new_scheme) on top of the DAMON core (mm/damon/core.c
kdamond_fn) and the physical address operations (mm/damon/paddr.c); see
:mod:`..reclaim` for the parameters and :mod:`..monitor` for departures.

Keyword parameters: any field of :class:`..reclaim.ReclaimParams` (for
instance ``wmarks=False``, ``min_age_us=30_000_000``), plus the hooks
``choose`` (the region-choice function, see :mod:`..choose`),
``on_aggregate`` (per-aggregation telemetry) and ``init_regions``.
"""

from __future__ import annotations

import dataclasses

from ..monitor import Kdamond
from ..reclaim import ReclaimParams, build
from .base import ReclaimPolicy

_FIELDS = {f.name for f in dataclasses.fields(ReclaimParams)}


class DamonReclaim(ReclaimPolicy):
    """DAMON_RECLAIM with the kernel defaults (mm/damon/reclaim.c): cold >= 120 s, 10 ms / 128 MiB per s."""

    name = "damon-reclaim"
    defaults: dict = {}

    def __init__(self, target_saving_pct: int | None = None, **params) -> None:
        super().__init__(target_saving_pct)
        self.params.update(params)
        unknown = set(params) - _FIELDS - {"choose", "on_aggregate", "init_regions"}
        if unknown:
            raise ValueError(f"unknown {self.name} parameter(s): {', '.join(sorted(unknown))}")
        kw = dict(self.defaults)
        kw.update({k: v for k, v in params.items() if k in _FIELDS})
        self.rp = ReclaimParams(**kw)
        self.kdamond: Kdamond | None = None

    def start(self, mem, setup) -> None:
        super().start(mem, setup)
        attrs, scheme = build(self.rp)
        scheme.choose = self.params.get("choose")
        self.kdamond = Kdamond(mem, attrs, [scheme], seed=setup.seed,
                               init_regions=self.params.get("init_regions", "paddr"),
                               on_aggregate=self.params.get("on_aggregate"))
        self.kdamond.start(setup.t0_us)

    def feed(self, times, pages, next_use=None) -> None:
        self.kdamond.feed(times, pages)

    def finish(self, end_us: int) -> None:
        self.kdamond.finish(end_us)
        self.mem.flush_refaults()

    def stats(self) -> dict:
        return {"damon": self.kdamond.stats(),
                "params": {k: v for k, v in dataclasses.asdict(self.rp).items()}}
