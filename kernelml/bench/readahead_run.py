"""Run one readahead workload under one policy on the model (deterministic).

Policies: every name in ``kernelml.kernel.readahead.policies.POLICIES``
(the kernel default, fixed small and large limits, the KML-like static
classifier), ``fixed:<pages>`` for any fixed limit, and ``ml``: the ML
proxy (human-made fallback: the kernel default) with the agent running
``learner`` over an in-process channel, stepped once per epoch.

The result: modelled throughput (pages requested x 4 KiB over the model's
elapsed time), time split (CPU and think time, waits), device reads and
bytes, hit ratio, useless readahead (pages evicted unused, plus those still
cached unused at the end), per-phase throughput for phased workloads, and
for ``ml`` the mode timeline, the ML share and the proxy's rejects.
"""

from __future__ import annotations

import numpy as np

from ..agent import Agent
from ..kernel.readahead import pagecache as pc
from ..kernel.readahead.device import DEVICES, Device
from ..kernel.readahead.ml import RaMlConfig, RaProxy
from ..kernel.readahead.policies import POLICIES
from ..kernel.readahead.policies.fixed import Fixed
from ..kernel.readahead.sim import RaSim
from ..transport import InProcChannel
from ..uapi import readahead as schema
from .proxy_report import proxy_report
from ..workloads.readahead import RaWorkload, make

LEARNER_ALIASES = {"random": "readahead-random", "inverted": "readahead-inverted",
                   "window": "readahead-window"}
DEFAULT_LEARNER = "readahead-window"
PAGE = 4096


def policy_names() -> list[str]:
    return POLICIES.names() + ["ml"]


def make_policy(name: str):
    if name.startswith("fixed:"):
        return Fixed(int(name.split(":", 1)[1]))
    return POLICIES.make(name)


def _device(device) -> Device:
    return DEVICES[device] if isinstance(device, str) else device


def _summary(sim: RaSim, wl: RaWorkload, phase_rows: list, series: list) -> dict:
    t = sim.totals()
    unused_h, unused_ml = sim.unused_readahead_now()
    secs = t["now_ns"] / 1e9
    touched = t["hit_pages"] + t["wait_pages"] + t["miss_pages"]
    out = {
        "workload": wl.name, "pages": t["pages"], "requests": t["requests"], "elapsed_s": round(secs, 6),
        "throughput_mib_s": round(t["pages"] * PAGE / 2**20 / secs, 3) if secs > 0 else 0.0,
        "stall_s": round(t["stall_ns"] / 1e9, 6), "cpu_s": round(t["cpu_ns"] / 1e9, 6),
        "dev_reads": t["dev_reads"], "dev_read_mib": round(t["dev_pages"] * PAGE / 2**20, 2),
        "dev_busy_s": round(t["dev_busy_ns"] / 1e9, 6),
        "hit_ratio": round(t["hit_pages"] / touched, 4) if touched else 0.0,
        "wait_pages": t["wait_pages"], "miss_pages": t["miss_pages"],
        "useless_pages": t["useless_human"] + t["useless_ml"] + unused_h + unused_ml,
        "useless_evicted": t["useless_human"] + t["useless_ml"], "useless_ml": t["useless_ml"] + unused_ml,
        "ra_read_pages": t["ra_read"],
        "phases": [],
        "series": series,
    }
    out["useless_share"] = round(out["useless_pages"] / max(1, t["dev_pages"]), 4)
    for name, t0, p0, t1, p1 in phase_rows:
        d = t1 - t0
        out["phases"].append({"phase": name, "pages": p1 - p0, "elapsed_s": round(d / 1e9, 6),
                              "throughput_mib_s": round((p1 - p0) * PAGE / 2**20 / (d / 1e9), 3) if d else 0.0})
    return out


def _bounds(wl: RaWorkload, epoch: int):
    """Fixed-size epochs: (i0, i1, [phase starts inside])."""
    n = len(wl.requests)
    starts = sorted(i for _, i in wl.phases)
    return [(i0, min(n, i0 + epoch), [m for m in starts if i0 <= m < min(n, i0 + epoch)])
            for i0 in range(0, n, epoch)]


def run_ra(workload, policy: str = "default", *, device="ssd", seed: int = 0, scale: float = 1.0,
           cache_pages: int | None = None, learner: str | None = DEFAULT_LEARNER, delay: int = 0,
           config: RaMlConfig | None = None, learner_options: dict | None = None,
           kill_agent_at: int | None = None, samples: int = 200) -> dict:
    """Serve ``workload`` (a name or an :class:`RaWorkload`) under ``policy``."""
    wl = make(workload, seed=seed, scale=scale) if isinstance(workload, str) else workload
    dev = _device(device)
    cfg = config or RaMlConfig()
    cap = int(cache_pages or wl.cache_pages)
    cap = max(cap, 4 << dev.max_folio_order)
    sim = RaSim(wl.file_pages, wl.n_streams, cap, dev)
    req = wl.requests
    slices = _bounds(wl, cfg.epoch_requests)
    every = max(1, len(slices) // max(1, samples))
    series: list = []
    phase_rows: list = []
    phase_at = {i: name for name, i in wl.phases}
    cur = [None, 0, 0]  # phase name, time and pages at its start

    def on_mark(i: int) -> None:
        now, pages = sim.now, int(sim.gv[pc.G_PAGES])
        if cur[0] is not None:
            phase_rows.append((cur[0], cur[1], cur[2], now, pages))
        cur[:] = [phase_at.get(i), now, pages]

    result_extra: dict = {}
    if policy == "ml":
        channel = InProcChannel(delay=delay, capacity=1 << 14)
        rp = RaProxy(sim, channel.kernel, cfg)
        agent = None
        if learner is not None:
            agent = Agent(LEARNER_ALIASES.get(learner, learner), seed=seed, recommend_every=cfg.epoch_requests,
                          heartbeat_every=cfg.epoch_requests, learner_options=learner_options)
            agent.attach(channel.agent)
        for e, (i0, i1, marks) in enumerate(slices):
            channel.set_time(rp.ticks)
            src = rp.begin_epoch()
            t0, p0 = sim.now, int(sim.gv[pc.G_PAGES])
            rp.run_epoch(req, i0, i1, marks, on_mark)
            channel.set_time(rp.ticks)
            if agent is not None:
                if kill_agent_at is not None and i0 >= kill_agent_at:
                    agent = None
                else:
                    agent.step()
            if e % every == 0:
                p = rp.proxy
                series.append([e, i0, int(p.mode(schema.OP_WINDOW)), int(src),
                               int(sim.gv[pc.G_PAGES]) - p0, sim.now - t0, int(np.median(sim.stream_ra))])
        result_extra = {"learner": learner, **proxy_report(rp.proxy, schema.OP_WINDOW, rp.ticks)}
        if agent is not None and agent.links and agent.links[0].learner is not None:
            link = agent.links[0]
            result_extra["agent"] = {"recommendations": link.stats.recommendations,
                                     "records": link.stats.records, "model": link.learner.describe()}
    else:
        pol = make_policy(policy)
        pol.reset(sim.n_streams, dev.ra_default_pages)
        counters = sim.counters()
        for e, (i0, i1, marks) in enumerate(slices):
            sim.set_limits(pol.limits(counters, sim.stream_ra, dev.ra_default_pages))
            t0, p0 = sim.now, int(sim.gv[pc.G_PAGES])
            a = i0
            for m in marks:
                sim.run(req, a, m)
                on_mark(m)
                a = m
            sim.run(req, a, i1)
            counters = sim.counters()
            sim.reset_counters()
            if e % every == 0:
                series.append([e, i0, -1, 0, int(sim.gv[pc.G_PAGES]) - p0, sim.now - t0,
                               int(np.median(sim.stream_ra))])
    on_mark(-1)
    out = _summary(sim, wl, phase_rows, series)
    out.update({"policy": policy, "device": dev.name, "seed": seed, "scale": scale, "cache_pages": cap,
                "epoch_requests": cfg.epoch_requests})
    out.update(result_extra)
    return out


def sample_session(seed: int = 0, workload: str = "mixed", scale: float = 0.125) -> list:
    """What the readahead kernel side publishes on a small mixed workload
    with no agent attached (for learner development and the conformance
    suite)."""
    from .samples import drain

    wl = make(workload, seed=seed, scale=scale)
    dev = DEVICES["ssd"]
    sim = RaSim(wl.file_pages, wl.n_streams, max(wl.cache_pages, 4 << dev.max_folio_order), dev)
    ch = InProcChannel(capacity=1 << 16)
    cfg = RaMlConfig()
    rp = RaProxy(sim, ch.kernel, cfg)
    rp.proxy.outbox.capacity = 1 << 14
    for i0, i1, _ in _bounds(wl, cfg.epoch_requests):
        rp.begin_epoch()
        rp.run_epoch(wl.requests, i0, i1)
    rp.poll()
    return drain(ch)
