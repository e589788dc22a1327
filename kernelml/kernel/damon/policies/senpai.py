"""``senpai``: TMO-style proactive reclaim driven by memory pressure.

Follows facebookincubator/senpai (senpai.py, Senpai.tick) as described in
"TMO: Transparent Memory Offloading in Datacenters" (Weiner et al.,
ASPLOS'22): every second it reads the cgroup's cumulative "some" memory
stall (PSI total, here the memory model's stall time) and integrates it;

* above ``pressure`` (10 ms per ``interval`` of 6 s by default) it backs
  off: the limit grows by ``min((err / coeff_backoff)^2 * max_backoff,
  max_backoff)`` with ``err = integral / pressure``, then waits
  ``interval - 1`` ticks;
* otherwise, once the grace ticks are over, it probes: the limit shrinks by
  ``min((err / coeff_probe)^2 * max_probe, max_probe)`` with ``err =
  pressure / integral``;

every adjustment resets the integral.  The limit is memory.high: writing
it reclaims down to it at once in senpai's own task (mm/memcontrol.c
memory_high_write; no stall for the workload), and usage that later grows
above it is reclaimed by the LRU (:mod:`..vmscan`) in the faulting task,
which counts as stall.  Fractions are integers in parts per million
(max_probe 10000 = 1 %, max_backoff 1000000 = 100 %).

Departures: senpai's min_size of 100 MiB is an absolute size for whole
containers; here min_size defaults to 10 % of the footprint, or to the
``--target-saving`` budget, ``footprint * (100 - pct) / 100``, which is how
a target saving is aimed at (senpai goes down to it while pressure allows).
The limit starts unset and the first adjustment starts from the resident
size (senpai's import_limit resets to memory.current likewise).
"""

from __future__ import annotations

from ..memory import C_RESIDENT
from ..vmscan import access_until, reclaim_to_limit
from .base import ReclaimPolicy

PPM = 1_000_000


class Senpai(ReclaimPolicy):
    """Senpai (TMO, ASPLOS'22): lower memory.high while PSI stall is under 10 ms per 6 s, raise it above."""

    name = "senpai"

    def __init__(self, interval: int = 6, pressure_us: int = 10_000, max_probe_ppm: int = 10_000,
                 max_backoff_ppm: int = PPM, coeff_probe: int = 10, coeff_backoff: int = 20,
                 tick_us: int = 1_000_000, min_size_pages: int | None = None,
                 max_size_pages: int | None = None, target_saving_pct: int | None = None) -> None:
        super().__init__(target_saving_pct=target_saving_pct)
        if interval <= 0 or pressure_us <= 0 or tick_us <= 0 or coeff_probe <= 0 or coeff_backoff <= 0:
            raise ValueError("senpai parameters must be positive")
        self.interval = interval
        self.pressure = pressure_us
        self.max_probe = max_probe_ppm
        self.max_backoff = max_backoff_ppm
        self.coeff_probe = coeff_probe
        self.coeff_backoff = coeff_backoff
        self.tick_us = tick_us
        self.min_size = min_size_pages
        self.max_size = max_size_pages
        self.limit = 0
        self.adjustments = 0
        self.limit_sum = 0
        self.ticks = 0

    def start(self, mem, setup) -> None:
        super().start(mem, setup)
        pct = self.params.get("target_saving_pct")
        if self.min_size is None:
            self.min_size = setup.budget_pages(pct) if pct is not None else max(1, setup.n_pages // 10)
        if self.max_size is None:
            self.max_size = max(self.min_size, int(mem.machine.total - mem.machine.other))
        self.last_total = mem.psi_total_us()
        self.integral = 0
        self.grace = self.interval
        self.next_tick = setup.t0_us + self.tick_us

    def feed(self, times, pages, next_use=None) -> None:
        m = self.mem
        pos, n = 0, times.shape[0]
        while True:
            pos = access_until(m.flags, m.lru, m.shadow, m.ctr, m.prm, m.rlog, times, pages, pos, n,
                               self.next_tick, m.use_lists)
            if pos >= n:
                break
            self._tick()
        m.flush_refaults()

    def finish(self, end_us: int) -> None:
        while self.next_tick <= end_us:
            self._tick()
        super().finish(end_us)

    def _tick(self) -> None:
        self.mem.advance_to(self.next_tick)
        self.next_tick += self.tick_us
        self.ticks += 1
        self.limit_sum += self.limit or int(self.mem.ctr[C_RESIDENT])
        total = self.mem.psi_total_us()
        self.integral += total - self.last_total
        self.last_total = total
        if self.integral > self.pressure:
            err = self.integral * PPM // self.pressure
            adj = (err // self.coeff_backoff) ** 2 // PPM
            adj = min(adj * self.max_backoff // PPM, self.max_backoff)
            self._adjust(adj)
            self.grace = self.interval - 1
            return
        if self.grace:
            self.grace -= 1
            return
        err = self.pressure * PPM // max(self.integral, 1)
        adj = (err // self.coeff_probe) ** 2 // PPM
        adj = min(adj * self.max_probe // PPM, self.max_probe)
        self._adjust(-adj)
        self.grace = self.interval - 1

    def _adjust(self, adj_ppm: int) -> None:
        base = self.limit or int(self.mem.ctr[C_RESIDENT])
        x = base + base * adj_ppm // PPM
        self.limit = max(self.min_size, min(self.max_size, x))
        self.mem.set_limit(self.limit)
        reclaim_to_limit(self.mem)
        self.integral = 0
        self.adjustments += 1

    def stats(self) -> dict:
        return {"limit_pages": self.limit, "min_size_pages": self.min_size, "adjustments": self.adjustments,
                "limit_avg_pages": self.limit_sum // max(self.ticks, 1)}
