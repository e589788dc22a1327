"""``ml``: DAMON_RECLAIM with the kernelml proxy on its pageout choice.

The human-made policy is DAMON_RECLAIM as in :mod:`.damon_reclaim`
(mm/damon/reclaim.c on mm/damon/core.c and mm/damon/paddr.c): same
monitoring, access pattern, quota and watermarks.  Every apply interval
the proxy (:mod:`..ml`) decides whether DAMOS's own walk or the agent's
recommendation (address ranges predicted to stay idle for at least
``min_age``) picks the regions to page out; the quota, its cut and the
pageout's young filter apply to both.

Without an agent (``endpoint`` None, or an agent that stays silent or
sends garbage) the proxy stays in emergency and the run is exactly
DAMON_RECLAIM's.

``target_saving_pct``: aim at a time-averaged memory saving.  Every apply
interval the kernel side computes an allowance — how much resident memory
exceeds the level that keeps the run's average saving on target
(:meth:`..ml.ReclaimML.allowance`) — and both sources may try at most that
much, within the scheme's quota: a target shapes how much is reclaimed,
not who chooses what.  (DAMOS's own quota goals were tried first: their
multiplicative feedback loop starts from one byte and drops to it whenever
the goal is exceeded twice over, too slow for periodic workloads.)

Keyword parameters, besides every :class:`..reclaim.ReclaimParams` field
and ``on_aggregate`` / ``init_regions``:

``endpoint``     the proxy's transport endpoint (None: no agent)
``peer``         ``peer(now_us)``, run after each publication (simulations
                 run the agent there, in lock-step)
``charge``       ``horizon`` (default) or ``lineage``: how refaults are
                 charged (see :mod:`..ml`)
``horizon_us``   lineage horizon, 0: ``min_age_us``
``max_splits``   region splits per apply interval for ML's ranges (64)
``tick_us``      the proxy is polled at least this often (1 s)
``proxy``        dict of :class:`~...mllib.ProxyConfig` overrides
``efficiency``   dict of :class:`~...mllib.efficiency.Efficiency` overrides
``pin``          a mode name to pin the proxy to (operator), or None
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ....uapi.messages import Mode
from ..ml import OP, ProxiedKdamond, ReclaimML, make_proxy
from ..reclaim import build
from .base import ReclaimPolicy
from .damon_reclaim import DamonReclaim

_OWN = ("endpoint", "peer", "charge", "horizon_us", "max_splits", "tick_us", "proxy", "efficiency", "pin",
        "catchup_us", "catchup_pm", "batch_pages", "max_batches")


class MLReclaim(DamonReclaim):
    """DAMON_RECLAIM whose pageout choice goes through the kernelml ML proxy (modes, lineage charging)."""

    name = "ml"

    def __init__(self, target_saving_pct: int | None = None, **params) -> None:
        own = {k: params.pop(k) for k in _OWN if k in params}
        if "choose" in params:
            raise ValueError("ml owns the scheme's choose hook")
        if target_saving_pct is not None and not 0 < int(target_saving_pct) < 100:
            raise ValueError("target saving must be in (0, 100) percent")
        super().__init__(target_saving_pct, **params)
        self.params.update(own)
        self.endpoint = own.get("endpoint")
        self.peer = own.get("peer")
        self.charge = own.get("charge", "horizon")
        self.horizon_us = int(own.get("horizon_us", 0))
        self.max_splits = int(own.get("max_splits", 64))
        self.tick_us = int(own.get("tick_us", 1_000_000))
        self.proxy_overrides = dict(own.get("proxy") or {})
        self.efficiency = dict(own.get("efficiency") or {})
        self.extra = {k: int(own[k]) for k in ("catchup_us", "catchup_pm", "batch_pages", "max_batches") if k in own}
        pin = own.get("pin")
        self.pin = None if pin in (None, "", "none") else Mode[str(pin).upper()]
        self.target = None if target_saving_pct is None else int(target_saving_pct)
        self.ml: ReclaimML | None = None
        self.proxy = None
        self.ticking = self.endpoint is not None or self.peer is not None
        self.next_tick = 0

    def memory(self, setup, on_refault=None):
        user = on_refault

        def lineage(source: int, count: int) -> None:
            if self.ml is not None:
                self.ml.on_refault(source, count)
            if user is not None:
                user(source, count)

        return super().memory(setup, lineage)

    def start(self, mem, setup) -> None:
        ReclaimPolicy.start(self, mem, setup)
        attrs, scheme = build(self.rp)
        self.proxy = make_proxy(self.endpoint, now=setup.t0_us, **self.proxy_overrides)
        self.ml = ReclaimML(self.proxy, mem, self.rp.min_age_us, attrs.aggr_interval_us,
                            horizon_us=self.horizon_us, charge=self.charge, peer=self.peer,
                            max_splits=self.max_splits, efficiency=self.efficiency, tick_us=self.tick_us,
                            target_saving_pct=self.target, **self.extra)
        if self.pin is not None:
            self.proxy.pin(OP, self.pin, setup.t0_us)
        scheme.choose = self.ml.choose
        self.kdamond = ProxiedKdamond(mem, attrs, [scheme], seed=setup.seed,
                                      init_regions=self.params.get("init_regions", "paddr"),
                                      on_aggregate=self.ml.on_aggregate, ml=self.ml)
        self.ml.attach(self.kdamond, scheme, self.params.get("on_aggregate"))
        self.kdamond.start(setup.t0_us)
        self.next_tick = setup.t0_us
        if self.ticking:
            self.ml.tick(setup.t0_us, force=True)

    def feed(self, times, pages, next_use=None) -> None:
        if not self.ticking:
            self.kdamond.feed(times, pages)
            return
        pos, n = 0, int(times.shape[0])
        while pos < n:
            if self.next_tick <= int(times[pos]):
                self.ml.tick(self.next_tick)
                self.next_tick += self.tick_us
                continue
            cut = int(np.searchsorted(times, self.next_tick, side="left"))
            self.kdamond.feed(times[pos:cut], pages[pos:cut])
            pos = cut

    def finish(self, end_us: int) -> None:
        super().finish(end_us)
        if self.ticking:
            self.ml.tick(end_us, force=True)

    def stats(self) -> dict:
        out = super().stats()
        out["params"] = {k: v for k, v in dataclasses.asdict(self.rp).items()}
        out["ml"] = self.ml.stats() if self.ml is not None else {}
        return out
