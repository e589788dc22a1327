"""The ML model proxy in the LFS GC path (kernel side, integer only).

:class:`LfsProxy` wires one :class:`~.sim.LfsSim` to an
:class:`~kernelml.kernel.mllib.MLModelProxy` with the two operation kinds of
:mod:`kernelml.uapi.lfs`:

``OP_PLACEMENT`` — one decision per *placement op*: a run of
``placement_op`` user writes.  Human-made: the configured placement.  ML:
the feature table of the freshest valid recommendation
(:meth:`~.sim.LfsSim.set_feature_table`, validated at receipt).  Segments
stay pure per (class, source), so the cost is charged by **lineage**: when
a segment is cleaned, the blocks moved and the blocks reclaimed are charged
to the source that placed its data (``on_clean``).  A placement that mixes
lifetimes pays for the copying it causes, whenever that happens.

``OP_VICTIM`` — one decision per segment cleaned.  Human-made: the
configured victim policy.  ML: the candidate with the highest ``score *
(blocks_per_seg - valid)`` from the recommended score table; a table that
names no candidate falls back.  Victim choices are compared by
**switchback**: decisions go to the sources in blocks of ``victim_block``
GCs, and the blocks moved / reclaimed by every GC are charged to the source
in control, skipping a washout at the start of each block.

GC never waits: the proxy answers from what it already has, and the
simulator's own fallback (greedy) covers an answer that is not a legal
candidate.  Telemetry: ``REC_WRITE`` for every user write, ``REC_GC`` for
every segment cleaned (:mod:`kernelml.uapi.lfs`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...uapi import lfs as schema
from ...uapi.messages import RejectReason
from ..mllib import HUMAN, ML, MLModelProxy, OpKind, ProxyConfig, Reject
from ..mllib.modes import ModeConfig
from .layout import C_FREE, C_NOW, CLASS, LASTMOD, MLMAP, SOURCE
from .placement.table import check_feature_table
from .sim import LfsSim


@dataclass
class LfsMlConfig:
    placement_op: int = 4096  # user writes per placement decision
    victim_block: int = 16  # GCs per interleaving block of victim decisions
    batch_blocks: int = 8  # efficiency batch: reclaimed segments' worth of blocks
    agent_deadline: int = 1 << 20  # user writes without a valid agent message -> emergency
    heartbeat_interval: int = 1 << 15
    feedback_interval: int = 1 << 16
    rec_limit: int = 128  # recommendations accepted per op kind per rec_window writes (map chunks)
    rec_window: int = 1 << 16
    min_dwell: int = 32  # decisions in a mode before an efficiency-driven move


def parse_placement(words: np.ndarray, n_lbas: int):
    """Validate an OP_PLACEMENT payload at receipt (see uapi.lfs).  Returns
    ``(table, map_offset, map_groups)``."""
    h = schema.PLACEMENT_HEADER
    if words.size < h:
        raise Reject(RejectReason.MALFORMED, "placement payload shorter than its header")
    ver, n_rows, nb, n_cls, off, cnt, zero = (int(x) for x in words[:h])
    if ver != schema.VERSION or zero != 0:
        raise Reject(RejectReason.MALFORMED, f"placement payload version {ver}")
    if not (n_rows == schema.N_ROWS and 2 <= nb <= schema.MAX_BUCKETS
            and 1 <= n_cls <= schema.MAX_CLASSES):
        raise Reject(RejectReason.OUT_OF_RANGE, "placement table dimensions")
    if off < 0 or cnt < 0 or off + cnt > n_lbas:
        raise Reject(RejectReason.OUT_OF_RANGE, "map chunk outside the logical space")
    n_tab = 2 * n_rows * nb
    body = words[h:]
    if body.size != n_tab + (cnt + 15) // 16:
        raise Reject(RejectReason.MALFORMED, "placement payload length")
    user, gc = body[:n_rows * nb], body[n_rows * nb:n_tab]
    try:
        table = check_feature_table(user, gc, n_cls, n_rows, nb)
    except ValueError as exc:
        raise Reject(RejectReason.OUT_OF_RANGE, str(exc)) from None
    groups = schema.unpack_groups(body[n_tab:], cnt)
    return (table[:n_rows * nb], table[n_rows * nb:], n_cls, n_rows, nb), off, groups


def parse_victim(words: np.ndarray):
    """Validate an OP_VICTIM payload at receipt: a stability table (>= 0)."""
    if words.size < schema.VICTIM_HEADER:
        raise Reject(RejectReason.MALFORMED, "victim payload shorter than its header")
    ver, n_logs, nb, zero = (int(x) for x in words[:schema.VICTIM_HEADER])
    if ver != schema.VERSION or zero != 0:
        raise Reject(RejectReason.MALFORMED, f"victim payload version {ver}")
    if not (n_logs == 2 * schema.LOGS_PER_SOURCE and 2 <= nb <= schema.MAX_BUCKETS):
        raise Reject(RejectReason.OUT_OF_RANGE, "victim table dimensions")
    body = words[schema.VICTIM_HEADER:]
    if body.size != n_logs * nb:
        raise Reject(RejectReason.MALFORMED, "victim table length")
    if body.min() < 0 or body.max() > schema.MAX_SCORE:
        raise Reject(RejectReason.OUT_OF_RANGE, "victim stabilities must be in 0..2^30")
    return (body.reshape(n_logs, nb).astype(np.int64), nb)


def bit_length(x: np.ndarray, cap: int) -> np.ndarray:
    """Vectorised bit length of non-negative int64 values, capped at ``cap``."""
    x = np.asarray(x, dtype=np.int64)
    out = np.zeros(x.shape, np.int64)
    v = x.copy()
    for _ in range(cap):
        nz = v > 0
        if not nz.any():
            break
        out += nz
        v >>= 1
    return np.minimum(out, cap)


class LfsProxy:
    """The ML model proxy of one simulated LFS device (see module docstring)."""

    def __init__(self, sim: LfsSim, human_victim, endpoint=None, config: LfsMlConfig | None = None,
                 boot_id: int = 1) -> None:
        self.sim = sim
        self.cfg = cfg = config or LfsMlConfig()
        self.human_victim = human_victim
        self._human_select = human_victim.select if hasattr(human_victim, "select") else human_victim
        if hasattr(human_victim, "reset"):
            human_victim.reset()
        pc = ProxyConfig(agent_deadline=cfg.agent_deadline, heartbeat_interval=cfg.heartbeat_interval,
                         feedback_interval=cfg.feedback_interval, rec_limit=cfg.rec_limit,
                         rec_window=cfg.rec_window, outbox_capacity=4096, max_frames_per_poll=256,
                         mode=ModeConfig(min_dwell=cfg.min_dwell))
        self.proxy = MLModelProxy(schema.SUBSYSTEM_ID, schema.NAME, endpoint, pc, boot_id=boot_id)
        # lineage costs of two populations differ by a few per cent for reasons other
        # than placement quality (which data each happens to hold): ask for 3 %
        eff = {"batch_units": cfg.batch_blocks * sim.bps, "window": 24, "min_batches": 6,
               "min_gain_pm": 30}
        self.proxy.register(OpKind(schema.OP_PLACEMENT, "placement", human=lambda ctx: None,
                                   parse=self._parse_placement, apply=lambda rec, ctx: rec,
                                   efficiency=eff))
        # No online estimator isolates a victim policy's effect: interleaved blocks of
        # greedy and cost-benefit measure greedy 3-15x cheaper while the mix of both
        # halves the write amplification (cost-benefit's patience is harvested by
        # greedy's next block).  So victim choices are judged with placement: the
        # model's victims are trusted as far as its placement proves better.
        self.proxy.register(OpKind(schema.OP_VICTIM, "victim", human=self._human_select,
                                   parse=parse_victim, apply=self._apply_victim,
                                   block=cfg.victim_block, judged_with=schema.OP_PLACEMENT))
        self.proxy.register_record(schema.REC_WRITE, schema.WRITE_FIELDS)
        self.proxy.register_record(schema.REC_GC, schema.GC_FIELDS)
        self.installed = None  # the placement recommendation installed in the simulator
        self.writes_in_op = cfg.placement_op  # forces a decision before the first write
        self.placement_source = HUMAN
        self.gc_records: list[tuple] = []
        self.last_chooser = HUMAN
        sim.set_chooser(self.choose_victim)
        sim.on_clean = self._on_clean
        sim.on_writes = self._on_writes

    # -- placement -------------------------------------------------------------
    def _parse_placement(self, words: np.ndarray):
        """Validate; the hint-map part is state, written as soon as it is valid
        (it is read only by ML-placed writes, which the modes govern)."""
        table, off, groups = parse_placement(words, self.sim.n_lbas)
        if groups.size:
            self.sim.set_map(off, groups)
        return table

    def now(self) -> int:
        return int(self.sim.ctr[C_NOW])

    def next_part(self, max_writes: int) -> int:
        """Before feeding user writes: decide the placement if a new placement
        op starts, and return how many writes may go before the next decision."""
        if self.writes_in_op >= self.cfg.placement_op:
            self.writes_in_op = 0
            now = self.now()
            self.poll(now)
            source, rec = self.proxy.decide(schema.OP_PLACEMENT, None, now)
            if source == ML:
                if rec is not self.installed:
                    user, gc, n_cls, n_hint, nb = rec
                    self.sim.set_feature_table(user, gc, n_cls, n_hint, nb)
                    self.installed = rec
                self.sim.set_source(1)
            else:
                self.sim.set_source(0)
            self.placement_source = source
        return min(max_writes, self.cfg.placement_op - self.writes_in_op)

    def wrote(self, n: int) -> None:
        self.writes_in_op += n

    # -- victims -----------------------------------------------------------------
    def choose_victim(self, view):
        source, seg = self.proxy.decide(schema.OP_VICTIM, view, view.now)
        self.last_chooser = source
        return source, seg

    def _apply_victim(self, rec, view):
        table, nb = rec
        idx = np.flatnonzero(view.candidate)
        if idx.size == 0:
            return None
        sim = self.sim
        logs = sim.segi[SOURCE, idx].astype(np.int64) * schema.LOGS_PER_SOURCE + \
            np.minimum(sim.segi[CLASS, idx], schema.LOGS_PER_SOURCE - 1)
        ages = bit_length(np.maximum(view.now - sim.segl[LASTMOD, idx], 0), nb - 1)
        valid = view.valid[idx].astype(np.int64)
        bps = view.blocks_per_seg
        value = table[logs, ages] * ((bps - valid) << 16) // (bps + valid)
        best = int(np.argmax(value))
        if value[best] <= 0:
            return None
        return int(idx[best])

    # -- outcomes and telemetry ----------------------------------------------------
    def _on_clean(self, source: int, moved: int, reclaimed: int) -> None:
        p = self.proxy
        p.account(schema.OP_PLACEMENT, source, (moved, reclaimed))
        sim = self.sim
        seg, who = sim.gc_log[-1][1], sim.gc_log[-1][2]
        now = self.now()
        self.gc_records.append((now, seg, moved, sim.bps, now - int(sim.segl[LASTMOD, seg]),
                                int(sim.segi[CLASS, seg]), source, who))
        p.set_critical(int(sim.ctr[C_FREE]) == 0, now)

    def _on_writes(self, lba, time_us, hint, cls, prev_age) -> None:
        n = lba.shape[0]
        self.wrote(n)
        if n == 0:
            return
        end = self.now()
        rec = np.empty((n, len(schema.WRITE_FIELDS)), np.int64)
        rec[:, 0] = np.arange(end - n + 1, end + 1, dtype=np.int64)
        rec[:, 1] = lba
        rec[:, 2] = hint
        rec[:, 3] = prev_age
        rec[:, 4] = cls
        rec[:, 5] = self.placement_source
        rec[:, 6] = self.sim.lbat[MLMAP, lba]
        self.proxy.publish(schema.REC_WRITE, rec, end)
        if self.gc_records:
            self.proxy.publish(schema.REC_GC, np.array(self.gc_records, np.int64), end)
            self.gc_records.clear()

    def poll(self, now: int | None = None) -> None:
        self.proxy.poll(self.now() if now is None else now)
