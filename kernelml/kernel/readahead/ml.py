"""The ML model proxy in the readahead path (kernel side, integer only).

:class:`RaProxy` wires one :class:`~.sim.RaSim` to an
:class:`~kernelml.kernel.mllib.MLModelProxy` with the one operation kind of
:mod:`kernelml.uapi.readahead`:

``OP_WINDOW`` — one decision per *epoch* (``epoch_requests`` application
requests): which source sets the readahead limits (``ra->ra_pages``) of
every open file for the epoch; the proxy hands decisions to the sources in
blocks of ``block_epochs`` epochs.  Human-made: the policy the proxy was given
(the kernel default: the device's ``read_ahead_kb``).  ML: the freshest
valid recommendation, a limit per reader plus one for every other one
(validated at receipt: bounds, shape, distinct keys).  Here a reader — the
``key`` of ``REC_FILE`` — is a stream: one open file description of the
workload, the object ``file->f_ra`` belongs to (its slot number is stable
across reopens, as a task's descriptor would be).  The on-demand
algorithm itself always runs; only its limit changes.  A whole epoch
belongs to one source, so the sources never share a file's window state
within an epoch (the device, like the real knob, is one).

Charging (what makes the comparison mean something):

* **misses and time (switchback)** — the application's elapsed time during
  an epoch (think + CPU + the time it waited on reads: the inverse of
  throughput) is charged to the source in control of the block, as one
  batch of the efficiency estimator, except in the first ``washout_epochs``
  epochs of a block: they still carry the previous block's windows
  (in-flight async readahead, prefetched pages) and its cache pollution
  (pages another source's large windows evicted, read again now).  Blocks
  rather than alternate epochs, because a window's harm outlives it: with
  alternate epochs a source that floods the cache makes the other one pay
  for the misses.  The units of work it is divided by depend
  only on what the application asked for: pages requested, plus ``alpha``
  per request that did not continue the previous one (a device round trip
  no window can avoid; ``alpha`` is the device's miss latency in page
  transfers).  Without that term an epoch of random lookups costs fifty
  times an epoch of scanning per page, whoever decides, and the
  comparison drowns in the difference between epochs;
* **useless readahead, by lineage** — every page readahead brings in
  remembers the source whose window was in force; when it is evicted
  unused, the device time it wasted (``req / max_req + page`` ns) is owed
  by that source, whenever that happens, and paid with its next charged
  epochs (each epoch pays at most its own cost again, so that a burst of
  evictions — a large window's leftovers — does not land as one outlier
  on one batch and blind the estimator's confidence test).

A source that reads too little pays in waits, one that reads too much pays
in device time and in the evictions it causes.

Safety: the device backlog (queued I/O, in time) above ``critical_backlog_us``
flags a critical state (emergency: kernel default only) until it drains.
A circuit breaker ends an ML block early when one of its epochs costs
more than ``breaker_x`` times the human-made policy's recent mean per
unit: the block's remaining decisions find the recommendation
inapplicable and fall back (counted as ``INAPPLICABLE`` rejects and
fallbacks), so a catastrophic limit lasts one epoch, not a block.
Telemetry: ``REC_FILE`` per active stream and ``REC_EPOCH`` per epoch
(:mod:`kernelml.uapi.readahead`).  The clock is the count of application
requests served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...uapi import readahead as schema
from ...uapi.messages import RejectReason
from ..mllib import HUMAN, ML, MLModelProxy, OpKind, ProxyConfig, Reject
from ..mllib.modes import ModeConfig
from . import pagecache as pc
from .policies.base import RaPolicy
from .policies.default import KernelDefault
from .sim import RaSim


@dataclass
class RaMlConfig:
    epoch_requests: int = 256  # requests per decision
    block_epochs: int = 8  # epochs per interleaving block (one source decides a whole block)
    washout_epochs: int = 2  # epochs at the start of a block not charged
    washout_requests: int = 0  # requests at the start of every epoch not charged
    min_pages: int = 0  # bounds the proxy clamps recommended limits to
    max_pages: int = schema.MAX_RA_PAGES
    agent_deadline: int = 1 << 15  # requests without a valid agent message -> emergency
    heartbeat_interval: int = 1 << 10
    feedback_interval: int = 1 << 12
    rec_limit: int = 32  # recommendations accepted per rec_window requests
    rec_window: int = 1 << 12
    min_dwell: int = 16  # decisions in a mode before an efficiency-driven move
    batch_window: int = 24  # epochs kept per source by the estimator
    min_batches: int = 4
    min_gain_pm: int = 20  # ML must be 2 % cheaper to be "better"
    critical_backlog_us: int = 500_000  # queued device time that flags a critical state
    breaker_x: int = 4  # an ML epoch dearer than this many times human's mean ends ML's block


def parse_window(words: np.ndarray, min_pages: int = 0, max_pages: int = schema.MAX_RA_PAGES):
    """Validate an ``OP_WINDOW`` payload at receipt.  Returns ``(device_pages,
    keys, pages)`` with the limits clamped to ``[min_pages, max_pages]``."""
    h = schema.PAYLOAD_HEADER
    if words.ndim != 1 or words.size < h:
        raise Reject(RejectReason.MALFORMED, "window payload shorter than its header")
    ver, dev, n, zero = (int(x) for x in words[:h])
    if ver != schema.VERSION or zero != 0:
        raise Reject(RejectReason.MALFORMED, f"window payload version {ver}")
    if not 0 <= n <= schema.MAX_ENTRIES:
        raise Reject(RejectReason.OUT_OF_RANGE, f"{n} entries")
    if words.size != h + 2 * n:
        raise Reject(RejectReason.MALFORMED, "window payload length")
    if not 0 <= dev <= schema.MAX_RA_PAGES:
        raise Reject(RejectReason.OUT_OF_RANGE, f"device limit {dev}")
    keys = words[h::2].astype(np.int64)
    pages = words[h + 1::2].astype(np.int64)
    if n and (pages.min() < 0 or pages.max() > schema.MAX_RA_PAGES):
        raise Reject(RejectReason.OUT_OF_RANGE, "a file limit outside 0 .. MAX_RA_PAGES")
    if n and (keys.min() < 0 or np.unique(keys).size != n):
        raise Reject(RejectReason.OUT_OF_RANGE, "negative or repeated file keys")
    lo, hi = int(min_pages), int(max_pages)
    return min(max(dev, lo), hi), keys, np.clip(pages, lo, hi)


class RaProxy:
    """The ML model proxy of one simulated page cache (see module docstring)."""

    def __init__(self, sim: RaSim, endpoint=None, config: RaMlConfig | None = None,
                 human: RaPolicy | None = None, boot_id: int = 1) -> None:
        self.sim = sim
        self.cfg = cfg = config or RaMlConfig()
        if not 0 <= cfg.washout_requests < cfg.epoch_requests:
            raise ValueError("need 0 <= washout_requests < epoch_requests")
        if not (cfg.block_epochs >= 1 and 0 <= cfg.washout_epochs < cfg.block_epochs):
            raise ValueError("need block_epochs >= 1 and 0 <= washout_epochs < block_epochs")
        self.human = human or KernelDefault()
        self.human.reset(sim.n_streams, sim.device.ra_default_pages)
        pc_cfg = ProxyConfig(agent_deadline=cfg.agent_deadline, heartbeat_interval=cfg.heartbeat_interval,
                             feedback_interval=cfg.feedback_interval, rec_limit=cfg.rec_limit,
                             rec_window=cfg.rec_window, outbox_capacity=1024, max_frames_per_poll=128,
                             mode=ModeConfig(min_dwell=cfg.min_dwell))
        self.proxy = MLModelProxy(schema.SUBSYSTEM_ID, schema.NAME, endpoint, pc_cfg, boot_id=boot_id)
        eff = {"batch_units": 1, "window": cfg.batch_window, "min_batches": cfg.min_batches,
               "min_gain_pm": cfg.min_gain_pm}
        self.proxy.register(OpKind(schema.OP_WINDOW, "window", human=self._human, parse=self._parse,
                                   apply=self._apply, block=cfg.block_epochs, washout=cfg.washout_epochs,
                                   efficiency=eff))
        self.proxy.register_record(schema.REC_FILE, schema.FILE_FIELDS)
        self.proxy.register_record(schema.REC_EPOCH, schema.EPOCH_FIELDS)
        dev = sim.device
        self.useless_ns = dev.req_ns // max(1, dev.max_req_pages) + dev.page_ns
        # work units: a page requested, or a device round trip the access pattern needs
        self.alpha = (dev.lat_ns + dev.req_ns) // max(1, dev.page_ns)
        self.ra_default = dev.ra_default_pages
        self.epoch = 0
        self.source = HUMAN
        self.counters = np.zeros((pc.NK, sim.n_streams), np.int64)
        self.useless_seen = [0, 0]
        self.debt = [0, 0]  # lineage charges not yet paid, ns per source
        self.tripped = -1  # block in which the circuit breaker tripped
        self.trips = 0
        self.decided = [0, 0]
        self.ml_device = self.ra_default
        self._prev_totals = None

    # -- validators ------------------------------------------------------------
    def _parse(self, words: np.ndarray):
        return parse_window(words, self.cfg.min_pages, self.cfg.max_pages)

    def _apply(self, rec, ctx) -> np.ndarray | None:
        k = self.proxy.kinds[schema.OP_WINDOW]
        if self.tripped == k.counter // k.block:
            return None  # the breaker tripped in this block: the human-made limits decide
        dev, keys, pages = rec
        out = np.full(self.sim.n_streams, dev, np.int64)
        ok = keys < self.sim.n_streams  # keys are stream slots here; others name nothing of this cache
        out[keys[ok]] = pages[ok]
        self.ml_device = dev
        return out

    def _breaker(self, cost: int, units: int) -> None:
        """Circuit breaker: an ML epoch far dearer than the human-made
        policy's recent mean ends ML's current block (its remaining epochs
        fall back to the human-made limits, billed to the human-made side).
        Readahead has catastrophic choices (a multi-megabyte read-around on
        every random fault): a bad model must not keep one for a whole block."""
        k = self.proxy.kinds[schema.OP_WINDOW]
        v = k.eff.verdict()
        if v.n_human >= 2 and cost * 1_000_000 > self.cfg.breaker_x * v.mean_human * units:
            self.tripped = k.counter // k.block
            self.trips += 1

    def _human(self, ctx) -> np.ndarray:
        return self.human.limits(self.counters, self.sim.stream_ra, self.ra_default)

    # -- the epoch loop ------------------------------------------------------------
    def poll(self) -> None:
        self.proxy.poll(self.ticks)

    @property
    def ticks(self) -> int:
        return self.epoch * self.cfg.epoch_requests

    def begin_epoch(self) -> int:
        """Decide who sets the limits of the next epoch; returns the source."""
        now = self.ticks
        self.proxy.poll(now)
        source, limits = self.proxy.decide(schema.OP_WINDOW, None, now)
        self.source = source
        self.decided[source] += 1
        self.sim.set_source(source)
        self.sim.set_limits(limits)
        return source

    def run_epoch(self, req, i0: int, i1: int, marks=(), on_mark=None) -> None:
        """Serve requests i0 .. i1-1 as one epoch and charge it.  ``on_mark(i)``
        is called before request ``i`` for each ``i`` in ``marks`` (the bench's
        phase accounting; the kernel side knows nothing of phases)."""
        sim = self.sim
        g = sim.gv

        def serve(a: int, b: int) -> None:
            for m in marks:
                if a <= m < b:
                    sim.run(req, a, m)
                    on_mark(m)
                    a = m
            sim.run(req, a, b)

        w = min(i1, i0 + self.cfg.washout_requests)
        serve(i0, w)
        if i1 > w:
            sim.reset_counters()  # REC_FILE describes the charged part of the epoch
        t0, p0, j0 = int(g[pc.G_NOW]), int(g[pc.G_PAGES]), int(g[pc.G_NONSEQ])
        serve(w, i1)
        t1, p1, j1 = int(g[pc.G_NOW]), int(g[pc.G_PAGES]), int(g[pc.G_NONSEQ])
        if i1 > w:
            units = (p1 - p0) + self.alpha * (j1 - j0)
            cost = t1 - t0
            src = self.proxy.source_in_control(schema.OP_WINDOW)
            if src is not None:  # lineage debt of this source, paid in instalments
                pay = min(self.debt[src], cost)
                self.debt[src] -= pay
                cost += pay
            self.proxy.charge(schema.OP_WINDOW, cost, max(1, units))
            if self.source == ML:  # charged or in the washout: ML decided this epoch
                self._breaker(t1 - t0, max(1, units))
        self.end_epoch()

    def end_epoch(self) -> None:
        sim, g, p = self.sim, self.sim.gv, self.proxy
        self.counters = sim.counters()
        sim.reset_counters()
        for src, k in ((HUMAN, pc.G_USELESS_H), (ML, pc.G_USELESS_M)):
            new = int(g[k]) - self.useless_seen[src]
            if new:
                self.useless_seen[src] = int(g[k])
                self.debt[src] += new * self.useless_ns
        self.epoch += 1
        now = self.ticks
        backlog = int(g[pc.G_DEVFREE]) - int(g[pc.G_NOW])
        p.set_critical(backlog > self.cfg.critical_backlog_us * 1000, now)
        self._publish(now)
        p.poll(now)

    def _publish(self, now: int) -> None:
        c = self.counters
        r = lambda k: c[k]  # noqa: E731
        active = np.flatnonzero((r(pc.FS_REQ) + r(pc.FS_WRITES) + r(pc.FS_USELESS) + r(pc.FS_HIT)) > 0)
        if active.size > schema.MAX_FILE_RECORDS:
            busy = r(pc.FS_PAGES)[active] + r(pc.FS_WRITES)[active]
            active = np.sort(active[np.argsort(-busy, kind="stable")[:schema.MAX_FILE_RECORDS]])
        n = active.size
        rec = np.empty((n, len(schema.FILE_FIELDS)), np.int64)
        rec[:, 0] = self.epoch
        rec[:, 1] = active
        rec[:, 2] = self.sim.fl[pc.FSZ, self.sim.st[pc.S_FILE, active]]
        rec[:, 3] = self.source
        rec[:, 4] = self.sim.stream_ra[active]
        cols = (pc.FS_REQ, pc.FS_PAGES, pc.FS_SEQ, pc.FS_BACK, pc.FS_JUMP)
        for j, k in enumerate(cols):
            rec[:, 5 + j] = r(k)[active]
        jumps = r(pc.FS_JUMP)[active]
        rec[:, 10] = np.where(jumps > 0, r(pc.FS_GAP16)[active] // np.maximum(jumps, 1), 0)
        for j, k in enumerate((pc.FS_MMAP, pc.FS_WRITES, pc.FS_HIT, pc.FS_WAIT, pc.FS_MISS)):
            rec[:, 11 + j] = r(k)[active]
        rec[:, 16] = r(pc.FS_STALL)[active] // 1000
        for j, k in enumerate((pc.FS_SYNC, pc.FS_ASYNC, pc.FS_RAREAD, pc.FS_USELESS, pc.FS_DEVREADS)):
            rec[:, 17 + j] = r(k)[active]
        p = self.proxy
        if n:
            p.publish(schema.REC_FILE, rec, now)
        t = self.sim.totals()
        prev = self._prev_totals or {k: 0 for k in t}
        self._prev_totals = t
        d = {k: t[k] - prev[k] for k in t}
        ml_dev = self.ml_device if self.source == ML else self.ra_default
        ep = [self.epoch, now, self.source, self.ra_default, ml_dev, d["requests"], d["pages"],
              d["now_ns"] // 1000, d["stall_ns"] // 1000, d["dev_reads"], d["dev_pages"], d["dev_busy_ns"] // 1000,
              d["useless_human"] + d["useless_ml"], d["useless_ml"], t["cache_pages"], t["cache_cap"], n]
        p.publish(schema.REC_EPOCH, np.array([ep], np.int64), now)
