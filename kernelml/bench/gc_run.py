"""One GC simulation: workload or trace + victim policy + placement + config
-> a result dict (JSON-serialisable).

:func:`run_gc` is a plain library function; the CLI (``kernelml gc run``),
the comparison plots, the golden-result script and the peer cross-check all
call it.  Sizes are blocks of 4 KiB; ``spare`` is Desnoyers' spare factor
(physical - logical) / physical.

Measured write amplification: ``waf = (user + gc) / user`` over the
measured user writes, i.e. after the warm-up fill (one sequential write of
the whole logical space, reported separately as ``fill_*``) and after
``warmup`` further user writes; ``count_fill=True`` counts everything from
the start.  The SepBIT authors' two figures are reported too:
``wa_sim`` (fill counted as user writes) and ``wa_nofill`` (1 + GC
writes / measured user writes).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ..kernel.lfs.config import PPM, LfsConfig
from ..kernel.lfs.placement import PLACEMENTS
from ..kernel.lfs.sim import LfsSim
from ..kernel.lfs.victims import VICTIMS

DEFAULT_BLOCKS = 1 << 18  # 1 GiB of 4 KiB blocks
DEFAULT_WRITE_FACTOR = 8  # default measured writes: 8 device-fulls
CHUNK = 1 << 16


def resolve_policy(policy: str, regime: str = "f2fs"):
    """A victim policy object by registered name.  In the sepbit regime
    ``greedy`` and ``cost-benefit`` mean the SepBIT artifact's selections
    (garbage-proportion greedy, gp/(1-gp)*sqrt(age))."""
    if regime == "sepbit" and policy in ("greedy", "cost-benefit"):
        from ..kernel.lfs.sepbit_select import SepbitCostBenefit, SepbitGreedy

        return SepbitGreedy() if policy == "greedy" else SepbitCostBenefit()
    return VICTIMS.make(policy)


def resolve_placement(placement: str | None, policy: str):
    """A placement object by registered name; None picks the policy's
    natural partner (``f2fs``/``f2fs-cb`` -> f2fs-temp, ``f2fs-atgc`` ->
    f2fs-temp with the ATGC log, ``fk`` -> fk, anything else -> single)."""
    if placement is None:
        if policy in ("f2fs", "f2fs-cb"):
            placement = "f2fs-temp"
        elif policy == "f2fs-atgc":
            return PLACEMENTS.make("f2fs-temp", atgc=True)
        elif policy == "fk":
            placement = "fk"
        else:
            placement = "single"
    if not isinstance(placement, str):
        return placement  # a Placement object
    if placement == "f2fs-temp" and policy == "f2fs-atgc":
        return PLACEMENTS.make("f2fs-temp", atgc=True)
    return PLACEMENTS.make(placement)


def open_workload(workload=None, trace: str | None = None, fmt: str | None = None,
                  n_blocks: int | None = None, writes: int | None = None, seed: int = 0,
                  **params):
    """A BlockWorkload: a registered generator by name, a trace file, or an
    object already implementing ``chunks()`` (returned as is)."""
    if workload is not None and not isinstance(workload, str):
        return workload
    from .. import workloads as wl

    if trace is not None:
        if fmt is None:
            raise ValueError("--trace needs --format")
        return wl.open_trace(trace, fmt, n_blocks=n_blocks)
    if workload is None:
        raise ValueError("give a workload name or a trace file")
    n = int(n_blocks or DEFAULT_BLOCKS)
    w = int(writes if writes is not None else DEFAULT_WRITE_FACTOR * n)
    return wl.make(workload, n_blocks=n, writes=w, seed=seed, **params)


def _materialize(w):
    parts = list(w.chunks(1 << 20))
    if not parts:
        return None
    return type(parts[0]).concat(parts)


def run_gc(workload=None, *, trace: str | None = None, fmt: str | None = None,
           policy: str = "greedy", placement: str | None = None, spare: float = 0.10,
           seed: int = 0, writes: int | None = None, warmup: int = 0, n_blocks: int | None = None,
           blocks_per_seg: int = 512, regime: str = "f2fs", fill: bool = True,
           count_fill: bool = False, debug: bool = False, samples: int = 200,
           reserved: int = -1, bg_gc: bool = True, chooser=None, on_clean=None, on_writes=None,
           progress: Callable[[int, int], None] | None = None, workload_params: dict | None = None,
           controller=None) -> dict:
    """Run one simulation and return its result dict (see module docstring).

    ``writes`` bounds the measured user writes (generators: the stream is
    ``warmup + writes`` long; traces: the stream is cut there).  ``chooser``
    replaces the policy's ``select`` (e.g. an ML proxy wrapping it).
    ``controller(sim) -> object`` builds, once the device exists, an object
    with ``next_part(max_writes) -> int`` (called before each piece of the
    stream: how many user writes may go before it wants to act again) and
    ``after_part()`` (called after each piece) — how the ML proxy decides
    placement per run of writes and steps its agent."""
    if not 0.0 < spare < 1.0:
        raise ValueError(f"spare must be strictly between 0 and 1, got {spare}")
    if regime not in ("f2fs", "sepbit"):
        raise ValueError(f"regime must be f2fs or sepbit, got {regime!r}")
    pol = resolve_policy(policy, regime)
    pl = resolve_placement(placement, policy)
    gen_writes = None if writes is None else int(writes) + int(warmup)
    w = open_workload(workload, trace, fmt, n_blocks, gen_writes, seed, **(workload_params or {}))
    n = int(w.n_blocks)
    name = trace if trace is not None else getattr(w, "name", str(workload))
    oracle = bool(getattr(pol, "needs_future", False) or pl.needs_future)
    limit = None if writes is None else int(writes) + int(warmup)
    total = getattr(w, "total_writes", None)
    expect = limit if limit is not None else (total or 0)
    sample_every = max(blocks_per_seg, expect // samples) if samples and expect else 0
    cfg = LfsConfig(n_lbas=n, blocks_per_seg=blocks_per_seg,
                    spare_ppm=int(round(spare * PPM)), regime=regime, reserved_segments=reserved,
                    bg_gc=bg_gc, debug=debug, seed=seed, sample_every=sample_every,
                    gc_mtime_source=policy == "f2fs-atgc")
    sim = LfsSim(cfg, pl, chooser if chooser is not None else pol, on_clean=on_clean,
                 on_writes=on_writes)
    ctl = controller(sim) if controller is not None else None
    t0 = time.perf_counter()
    stream = None
    nwi = None
    if oracle:  # future knowledge needs the whole stream up front
        stream = _materialize(w)
        if stream is not None and limit is not None:
            cut = _cut_at_writes(stream.op, limit)
            stream = stream.slice(0, cut)
        from ..workloads import annotate_next_write

        base = n if fill else 0
        lba_all = stream.lba if stream is not None else np.zeros(0, np.int64)
        ops_all = stream.op if stream is not None else np.zeros(0, np.int8)
        if fill:
            lba_all = np.concatenate((np.arange(n, dtype=np.int64), lba_all))
            ops_all = np.concatenate((np.zeros(n, np.int8), ops_all))
        nwi = annotate_next_write(lba_all, ops_all)
        fill_nwi, nwi = (nwi[:base], nwi[base:]) if fill else (None, nwi)
    fill_stats = {"user": 0, "gcw": 0}
    if count_fill:
        sim.begin_measurement()  # everything from the first write is measured
    if fill:
        if oracle:
            sim.apply(lba=np.arange(n, dtype=np.int64), time_us=np.zeros(n, np.int64),
                      nwi=fill_nwi)
        else:
            sim.fill()
        st = sim.stats()["total"]
        fill_stats = {"user": st["user"], "gcw": st["gcw"]}
    if not count_fill and warmup == 0:
        sim.begin_measurement()
    applied_user = 0
    measuring = count_fill or warmup == 0
    chunks = [stream] if stream is not None else w.chunks(CHUNK)
    has_hints = bool(getattr(w, "has_hints", False))
    has_time = bool(getattr(w, "has_time", False))
    pos = 0
    for ch in chunks:
        if ch is None or len(ch) == 0:
            continue
        for a in range(0, len(ch), CHUNK if stream is not None else len(ch)):
            part = ch.slice(a, min(len(ch), a + (CHUNK if stream is not None else len(ch))))
            if limit is not None:
                cut = _cut_at_writes(part.op, limit - applied_user)
                part = part.slice(0, cut)
            if not measuring:  # split at the end of the warm-up
                cut = _cut_at_writes(part.op, warmup - applied_user)
                if cut < len(part):
                    _apply(sim, part.slice(0, cut), has_time, has_hints, nwi, pos, ctl)
                    applied_user += int(np.count_nonzero(part.op[:cut] == 0))
                    pos += cut
                    part = part.slice(cut, len(part))
                    sim.begin_measurement()
                    measuring = True
            _apply(sim, part, has_time, has_hints, nwi, pos, ctl)
            pos += len(part)
            applied_user += int(np.count_nonzero(part.op == 0))
            if progress is not None:
                progress(applied_user, expect)
            if limit is not None and applied_user >= limit:
                break
        if limit is not None and applied_user >= limit:
            break
    elapsed = time.perf_counter() - t0
    res = _result(sim, name, policy, pl, spare, regime, fill_stats, elapsed, seed, count_fill, w)
    if ctl is not None and hasattr(ctl, "result"):
        res.update(ctl.result())
    return res


def _cut_at_writes(op: np.ndarray, budget: int) -> int:
    """Length of the prefix of ``op`` holding at most ``budget`` writes
    (and every trim before the next write)."""
    if budget <= 0:
        return 0
    wpos = np.flatnonzero(op == 0)
    if wpos.size <= budget:
        return len(op)
    return int(wpos[budget])


def _apply(sim: LfsSim, part, has_time: bool, has_hints: bool, nwi, pos: int, ctl=None) -> None:
    if len(part) == 0:
        return
    if ctl is not None:  # pieces as the controller asks, acting between them
        a = 0
        while a < len(part):
            rest = part.slice(a, len(part))
            cut = max(1, _cut_at_writes(rest.op, ctl.next_part(len(rest))))
            _apply(sim, rest.slice(0, cut), has_time, has_hints, nwi, pos + a)
            ctl.after_part()
            a += cut
        return
    sim.apply(op=part.op, lba=part.lba, time_us=part.time_us if has_time else None,
              hint=part.hint if has_hints else None,
              nwi=None if nwi is None else nwi[pos:pos + len(part)])


def _result(sim: LfsSim, name, policy, pl, spare, regime, fill_stats, elapsed, seed, count_fill,
            w) -> dict:
    st = sim.stats()
    m = st["measured"]
    user, gcw = m["user"], m["gcw"]
    tot = st["total"]
    hist = m["hist"]
    nz = np.flatnonzero(hist)
    timeline = st["timeline"]
    waf_t = [[u, (u + g) / u if u else None] for (u, g, _f, _n, _c) in timeline]
    win = []
    prev_u = prev_g = 0
    for (u, g, _f, _n, _c) in timeline:
        du, dg = u - prev_u, g - prev_g
        win.append([u, (du + dg) / du if du else None])
        prev_u, prev_g = u, g
    er = sim.segi[5]  # ERASE row
    res = {
        "workload": name,
        "policy": policy,
        "placement": pl.name,
        "placement_params": pl.describe(),
        "regime": regime,
        "spare": spare,
        "seed": seed,
        "waf": (user + gcw) / user if user else None,
        "user_writes": user,
        "gc_writes": gcw,
        "stimulated_moves": m["stim"],
        "gc_borrowed_writes": m["borrow"],
        "trims": m["trim"],
        "gc_invocations": m["gcs"],
        "gc_foreground": m["fg"],
        "gc_background": m["bg"],
        "segments_freed_by_invalidation": m["autofree"],
        "fallbacks": m["fallbacks"],
        "bad_choices": m["bad"],
        "victims_by_chooser_source": m["who"],
        "victims_by_data_source": [m["src0"], m["src1"]],
        "fill_writes": fill_stats["user"],
        "fill_gc_writes": fill_stats["gcw"],
        "count_fill": count_fill,
        "wa_sim": (tot["user"] + tot["gcw"]) / tot["user"] if tot["user"] else None,
        "wa_nofill": 1 + gcw / user if user else None,
        "moved_per_gc": {"hist": [[int(i), int(hist[i])] for i in nz],
                         "mean": float((hist * np.arange(hist.size)).sum() / hist.sum())
                         if hist.sum() else None},
        "free_segments": [[u, f] for (u, _g, f, _n, _c) in timeline],
        "waf_over_time": waf_t,
        "waf_window": win,
        "erase": {"max": int(er.max()), "mean": float(er.mean()), "min": int(er.min())},
        "device": st["device"],
        "bg_thread": st["bg_thread"],
        "elapsed_s": elapsed,
        "user_writes_per_s": (tot["user"] / elapsed) if elapsed > 0 else None,
        "workload_info": w.describe() if hasattr(w, "describe") else {},
    }
    return res


def golden_workload(n_blocks: int = 8192, writes: int = 65536, seed: int = 1):
    """The small bundled workload of the golden results: deterministic
    integer generator (xorshift64*, no numpy RNG version dependence), 80 %
    of writes to the first 20 % of LBAs (hinted hot), the rest cold, 1 % of
    operations trims, 10 us between operations and a 40 s idle gap every
    16384 operations (so the F2FS background GC thread runs)."""
    from ..workloads.base import BlockChunk, BlockWorkload

    class Golden(BlockWorkload):
        name = "golden"
        has_time = True
        has_hints = True

        def __init__(self) -> None:
            self.n_blocks = int(n_blocks)
            self.total_writes = None
            self._c = _golden_chunk(int(n_blocks), int(writes), int(seed))
            self.total_writes = int(np.count_nonzero(self._c.op == 0))

        def chunks(self, chunk: int = CHUNK):
            for a in range(0, len(self._c), chunk):
                yield self._c.slice(a, min(len(self._c), a + chunk))

    def _golden_chunk(n: int, m: int, s: int) -> BlockChunk:
        mask = (1 << 64) - 1
        x = (s * 0x9E3779B97F4A7C15 + 1) & mask
        out = np.empty(m, np.uint64)
        for i in range(m):  # small: a Python loop keeps it obviously portable
            x ^= (x >> 12)
            x ^= (x << 25) & mask
            x ^= (x >> 27)
            out[i] = (x * 0x2545F4914F6CDD1D) & mask
        r = out >> np.uint64(11)  # 53 random bits
        hot_n = n // 5
        pick = (r % np.uint64(100)).astype(np.int64)
        val = (r // np.uint64(100)).astype(np.int64)
        is_hot = pick < 80
        lba = np.where(is_hot, val % hot_n, hot_n + val % (n - hot_n)).astype(np.int64)
        op = np.where(((r >> np.uint64(40)) % np.uint64(100)).astype(np.int64) == 0, 1, 0).astype(np.int8)
        hint = np.where(is_hot, 1, 3).astype(np.int8)
        idx = np.arange(m, dtype=np.int64)
        t = idx * 10 + (idx // 16384) * 40_000_000
        return BlockChunk(op, lba, t, hint)

    return Golden()
