"""Run one DAMON-reclaim simulation: workload + policy + configuration -> results.

:func:`load` turns a page workload (a generator or a trace reader from
``kernelml.workloads``) into a :class:`Trace`: times, and the workload's
page numbers mapped onto a dense page space ``0 .. footprint-1``:

* ``layout="vaddr"`` (default): in address order, holes removed, so the
  monitor sees the workload's spatial layout (as DAMON's vaddr ops would,
  minus the unmapped gaps);
* ``layout="alloc"``: in first-touch order, as physical frames handed out
  by a fresh allocator would be (what DAMON's paddr ops see on a new
  machine).

:func:`run_policy` simulates one registered policy on a trace and returns a
result dict; :func:`oracle_curve` sweeps Belady's budget for the Pareto
plot.  Metrics:

``saving_pct``    time-averaged resident memory below no-reclaim (the
                  footprint touched so far), in percent
``refaults``      accesses that found their page reclaimed
``slowdown_pct``  stall time (refaults x refault cost, plus direct reclaim
                  for limit-driven policies) over the run's duration
``stall_us``      the PSI "some" memory analogue
``reclaim_cpu_us``  CPU spent scanning and paging out (DAMOS quota time)

The trace is replayed open loop: a stall is accounted for but does not
delay the accesses that follow (slowdown is reported, not fed back).

This module is user-space tooling (floats allowed); the simulation itself
is the integer-only code in ``kernelml.kernel.damon``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from kernelml.kernel.damon.memory import C_REFAULTS, C_RESIDENT, C_TOUCHED, DEVICES, PAGE_SIZE, Machine
from kernelml.kernel.damon.policies import BUDGETED, POLICIES
from kernelml.kernel.damon.policies.base import Setup
from kernelml.kernel.damon.policies.belady import next_use as _next_use

CHUNK = 1 << 20
_BITMAP_MAX = 1 << 26  # page numbers below this are mapped with a table, not a sort
ORACLE_SAVINGS = (10, 25, 40, 55, 70, 85)


@dataclass
class Trace:
    """A page-access stream on a dense page space (whole, in memory)."""

    name: str
    times: np.ndarray  # int64 us, non-decreasing
    pages: np.ndarray  # int32 dense page numbers
    n_pages: int  # footprint
    t0_us: int
    end_us: int
    info: dict = field(default_factory=dict)
    _next: np.ndarray | None = None

    @property
    def n_accesses(self) -> int:
        return int(self.times.shape[0])

    def next_use(self) -> np.ndarray:
        """Index of each access's next access to the same page (computed once)."""
        if self._next is None:
            self._next = _next_use(self.pages.astype(np.int64), self.n_pages)
        return self._next


@njit(cache=True)
def _first_touch_relabel(dense, n):
    order = np.full(n, -1, np.int64)
    k = 0
    for i in range(dense.shape[0]):
        p = dense[i]
        if order[p] < 0:
            order[p] = k
            k += 1
    return order


def densify(pages: np.ndarray, layout: str = "vaddr") -> tuple[np.ndarray, int]:
    """Map page numbers onto 0..n-1 (int32) by address or first-touch order."""
    if layout not in ("vaddr", "alloc"):
        raise ValueError("layout must be 'vaddr' or 'alloc'")
    if pages.shape[0] == 0:
        raise ValueError("the workload has no accesses")
    lo, hi = int(pages.min()), int(pages.max())
    if lo < 0:
        raise ValueError("negative page number in the workload")
    if hi < _BITMAP_MAX:
        seen = np.zeros(hi + 1, np.bool_)
        seen[pages] = True
        n = int(np.count_nonzero(seen))
        if n == hi + 1:  # every page 0..hi touched: already dense
            dense = pages
        else:
            table = np.cumsum(seen, dtype=np.int64) - 1
            dense = table[pages]
    else:
        uniq = np.unique(pages)
        dense = np.searchsorted(uniq, pages)
        n = int(uniq.shape[0])
    if layout == "alloc":
        dense = _first_touch_relabel(np.asarray(dense, np.int64), n)[dense]
    return dense.astype(np.int32), n


def load(workload, layout: str = "vaddr", duration_us: int | None = None, progress=None) -> Trace:
    """Materialise a :class:`~kernelml.workloads.base.PageWorkload` as a Trace
    (times int64, dense pages int32)."""
    ts, ps = [], []
    done = 0
    wide = False
    for c in workload.chunks(CHUNK):
        k = len(c)
        if not k:
            continue
        t = np.asarray(c.time_us, np.int64)
        p = np.asarray(c.page, np.int64)
        if ts and t[0] < ts[-1][-1]:
            raise ValueError("access times must be non-decreasing")
        if k > 1 and np.any(t[1:] < t[:-1]):
            raise ValueError("access times must be non-decreasing")
        wide = wide or int(p.max()) >= 2**31 or int(p.min()) < 0
        ts.append(t)
        ps.append(p if wide else p.astype(np.int32))
        done += k
        if progress is not None:
            progress(done)
    if not ts:
        raise ValueError("the workload has no accesses")
    times = np.concatenate(ts)
    del ts
    pages = np.concatenate([np.asarray(p, np.int64) for p in ps] if wide else ps)
    del ps
    dense, n = densify(pages, layout)
    del pages
    t0 = int(times[0])
    end = int(times[-1]) + 1
    dur = duration_us or int(getattr(workload, "duration_us", 0) or 0)
    if dur:
        end = max(end, t0 + dur)
    info = workload.describe() if hasattr(workload, "describe") else {}
    return Trace(getattr(workload, "name", "?"), times, dense, n, t0, end, dict(info, layout=layout))


def from_arrays(name: str, times: np.ndarray, pages: np.ndarray, layout: str = "vaddr",
                end_us: int | None = None) -> Trace:
    """A Trace from raw arrays (tests, small experiments)."""
    times = np.asarray(times, np.int64)
    dense, n = densify(np.asarray(pages, np.int64), layout)
    end = int(times[-1]) + 1 if end_us is None else max(int(end_us), int(times[-1]) + 1)
    return Trace(name, times, dense, n, int(times[0]), end, {"layout": layout})


def run_policy(trace: Trace, policy: str, *, seed: int = 0, device: str = "zram",
               target_saving_pct: int | None = None, watermarks: bool = True,
               params: dict | None = None, machine: Machine | None = None, on_refault=None,
               progress=None, check: bool = False, series_us: int = 0) -> dict:
    """Simulate ``policy`` on ``trace``; returns the result dict.

    ``params``: extra keyword parameters for the policy (e.g. ``choose``,
    ``on_aggregate``, ``min_age_us``).  ``check``: verify the memory model's
    integrity at the end (O(footprint)).  ``progress(done, total)`` is
    called after every chunk.  ``series_us`` > 0 adds ``series``: resident
    and touched pages and cumulative refaults every ``series_us`` of
    simulated time (at the first access at or after each point).
    """
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; known: {', '.join(DEVICES)}")
    cls = POLICIES.get(policy)
    kw = dict(params or {})
    if target_saving_pct is not None:
        if not 0 <= int(target_saving_pct) < 100:
            raise ValueError("target saving must be in [0, 100) percent")
        kw["target_saving_pct"] = int(target_saving_pct)
    if not watermarks and policy.startswith("damon"):
        kw["wmarks"] = False
    pol = cls(**kw)
    setup = Setup(n_pages=trace.n_pages, t0_us=trace.t0_us, end_us=trace.end_us, seed=seed,
                  device=DEVICES[device], machine=machine or Machine.default(trace.n_pages),
                  target_saving_pct=target_saving_pct)
    mem = pol.memory(setup, on_refault)
    mem.start(trace.t0_us)
    pol.start(mem, setup)
    nxt = trace.next_use() if pol.needs_future else None
    n = trace.n_accesses
    wall = time.perf_counter()
    series: dict[str, list] = {"t_s": [], "resident_pages": [], "touched_pages": [], "refaults": []}
    cuts = np.zeros(0, np.int64)
    if series_us > 0:
        points = np.arange(trace.t0_us + series_us, trace.end_us, series_us, dtype=np.int64)
        cuts = np.searchsorted(trace.times, points)
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        inner = cuts[(cuts > a) & (cuts < b)].tolist() if series_us > 0 else []
        for lo, hi in zip([a] + inner, inner + [b]):
            pol.feed(trace.times[lo:hi], trace.pages[lo:hi].astype(np.int64),
                     None if nxt is None else nxt[lo:hi])
            if series_us > 0 and hi < n and hi in inner:
                c = mem.ctr
                series["t_s"].append(int(trace.times[hi] - trace.t0_us) / 1e6)
                series["resident_pages"].append(int(c[C_RESIDENT]))
                series["touched_pages"].append(int(c[C_TOUCHED]))
                series["refaults"].append(int(c[C_REFAULTS]))
        if progress is not None:
            progress(b, n)
    pol.finish(trace.end_us)
    wall = time.perf_counter() - wall
    if check:
        mem.check_integrity()
    out = summarize(trace, policy, mem, pol, wall, seed, device, target_saving_pct, watermarks)
    if series_us > 0:
        out["series"] = series
    return out


def summarize(trace: Trace, policy: str, mem, pol, wall: float, seed: int, device: str,
              target_saving_pct, watermarks: bool) -> dict:
    c = mem.counters()
    dur_us = max(trace.end_us - trace.t0_us, 1)
    saving = 100.0 * (1.0 - c["res_int"] / c["touch_int"]) if c["touch_int"] else 0.0
    return {
        "policy": policy,
        "workload": trace.name,
        "seed": seed,
        "device": device,
        "target_saving_pct": target_saving_pct,
        "watermarks": watermarks,
        "duration_s": dur_us / 1e6,
        "accesses": c["accesses"],
        "footprint_pages": trace.n_pages,
        "footprint_mib": trace.n_pages * PAGE_SIZE / 2**20,
        "saving_pct": round(saving, 3),
        "resident_avg_pages": c["res_int"] // dur_us,
        "resident_end_pages": c["resident"],
        "refaults": c["refaults"],
        "refaults_ml": c["refaults_ml"],
        "faults": c["faults"],
        "reclaimed": c["reclaimed"],
        "stall_us": c["stall_ns"] // 1000,
        "slowdown_pct": round(100.0 * c["stall_ns"] / (dur_us * 1000), 4),
        "reclaim_cpu_us": c["reclaim_ns"] // 1000,
        "scanned": c["scanned"],
        "wall_s": round(wall, 3),
        "accesses_per_s": round(c["accesses"] / wall) if wall > 0 else None,
        "sim_s_per_wall_s": round(dur_us / 1e6 / wall, 1) if wall > 0 else None,
        "policy_stats": pol.stats(),
    }


def oracle_curve(trace: Trace, savings=ORACLE_SAVINGS, device: str = "zram", progress=None) -> list[dict]:
    """Belady (MIN) at several budgets: the offline optimum of saving vs
    slowdown, one point per target saving."""
    out = []
    for pct in savings:
        r = run_policy(trace, "belady", target_saving_pct=int(pct), device=device)
        out.append({"target_saving_pct": int(pct), "saving_pct": r["saving_pct"],
                    "slowdown_pct": r["slowdown_pct"], "refaults": r["refaults"]})
        if progress is not None:
            progress(pct)
    return out


def make_workload(name: str, n_pages: int | None = None, duration_s: float | None = None, seed: int = 0,
                  **params):
    """A page-access generator by name (``kernelml.workloads.make_pages``)."""
    from kernelml.workloads import make_pages

    kw = dict(params)
    if duration_s is not None:
        kw["duration_s"] = duration_s
    return make_pages(name, n_pages=n_pages, seed=seed, **kw)


def open_trace(path: str, fmt: str = "pages"):
    """A page-trace reader (``kernelml.workloads.open_page_trace``)."""
    from kernelml.workloads import open_page_trace

    return open_page_trace(path, fmt)


def budgeted(policy: str) -> bool:
    return policy in BUDGETED
