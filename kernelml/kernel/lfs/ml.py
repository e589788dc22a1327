"""The ML model proxy in the LFS GC path (kernel side, integer only).

:class:`LfsProxy` wires one :class:`~.sim.LfsSim` to an
:class:`~kernelml.kernel.mllib.MLModelProxy` with the two operation kinds of
:mod:`kernelml.uapi.lfs`:

``OP_PLACEMENT`` — every block write, user write or GC copy, is placed by
one source: with *keyed interleaving* (:meth:`MLModelProxy.keyed`) the ML
table places the LBAs with ``key_hash(lba) % den < num`` for the mode's
share ``num/den`` and the configured human-made placement the others, so
each source handles a fixed, statistically identical slice of the address
space — a stratified A/B split, re-read every ``placement_op`` user writes
(when the mode or the recommendation changes).  Segments stay pure per
(class, source), and the cost is charged by **lineage**: when a segment is
cleaned, the blocks moved and the blocks reclaimed are charged to the source
that placed its data (``on_clean``).  A placement that mixes lifetimes pays
for the copying it causes, whenever that happens; because both slices carry
the same workload, neither source is charged for the other's data.

``OP_VICTIM`` — one decision per segment cleaned.  Human-made: the
configured victim policy.  ML: the candidate with the highest cost-benefit
value from the recommended stability table (:mod:`kernelml.uapi.lfs`);
tables whose stability decreases with age in a log are rejected (outside the
cost-benefit family no lifetime model justifies); a table that names no
candidate falls back.  Victim choices are judged *with placement*
(``judged_with``): no online estimator isolates a victim policy's effect —
in interleaved blocks of greedy and cost-benefit decisions greedy measures
3-15x cheaper while the mix halves the write amplification, because
cost-benefit's patience is harvested by greedy's next block — so the
model's victims are trusted as far as its placement proves better, and the
kernel admits only cost-benefit-shaped tables.

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
from .layout import C_DEAD_BLOCKS0, C_DEAD_MOVES0, C_FREE, C_NOW, CLASS, LASTMOD, MLMAP, SOURCE
from .placement.table import check_feature_table
from .layout import SOURCE_HUMAN, SOURCE_KEYED
from .sim import LfsSim


@dataclass
class LfsMlConfig:
    placement_op: int = 4096  # user writes per placement decision
    victim_block: int = 16  # GCs per interleaving block of victim decisions
    batch_blocks: int = 4  # efficiency batch: segments' worth of reclaimed blocks
    agent_deadline: int = 1 << 20  # user writes without a valid agent message -> emergency
    heartbeat_interval: int = 1 << 15
    feedback_interval: int = 1 << 16
    rec_limit: int = 128  # recommendations accepted per op kind per rec_window writes (map chunks)
    rec_window: int = 1 << 16
    min_dwell: int = 32  # decisions in a mode before an efficiency-driven move
    # Added for the separate-process flow (kernelml/flow): frames the proxy's outbox
    # holds while the channel is full, and a deterministic telemetry sample.
    outbox_capacity: int = 4096  # frames (of at most 64 KiB) waiting for the channel
    telemetry_sample_shift: int = 0  # publish REC_WRITE for 1 / 2**shift of the LBAs (0: all); see sampled()


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
    table = body.reshape(n_logs, nb).astype(np.int64)
    if (np.diff(table, axis=1) < 0).any():
        # the cost-benefit family only: in a log, older data is never less stable
        # than younger data (rules out tables that would clean fresh, hot segments
        # first, which no lifetime model justifies)
        raise Reject(RejectReason.OUT_OF_RANGE, "victim stabilities must not decrease with age")
    return (table, nb)


SAMPLE_HASH = 0x9E3779B97F4A7C15  # 2**64 / golden ratio (Fibonacci hashing)


def sampled(lba: np.ndarray, shift: int) -> np.ndarray:
    """Which writes a telemetry sample of ``1 / 2**shift`` keeps: those whose LBA's
    Fibonacci hash has its top ``shift`` bits clear.  The choice depends on the
    LBA alone, so every sampled LBA's history stays complete (each of its
    rewrite intervals is seen) while the volume drops by ``2**shift``."""
    lba = np.asarray(lba)
    if shift <= 0:
        return np.ones(lba.shape, np.bool_)
    h = lba.astype(np.uint64) * np.uint64(SAMPLE_HASH)  # wraps modulo 2**64
    return (h >> np.uint64(64 - shift)) == 0


def bit_length(x: np.ndarray, cap: int) -> np.ndarray:
    """Vectorised bit length of non-negative int64 values (fls64), capped at
    ``cap``: a binary search over the shift, six steps whatever the values."""
    v = np.asarray(x, dtype=np.int64).copy()
    out = np.zeros(v.shape, np.int64)
    for shift in (32, 16, 8, 4, 2, 1):
        big = v >= (1 << shift)
        out += big * shift
        v = np.where(big, v >> shift, v)
    out += v > 0
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
                         rec_window=cfg.rec_window, outbox_capacity=cfg.outbox_capacity,
                         max_frames_per_poll=256,
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
        self.proxy.register_record(schema.REC_DEVICE, schema.DEVICE_FIELDS)
        # every ML class is one more open segment: at most a quarter of the spare segments
        spare = sim.n_segs - sim.logical_segs - sim.reserved
        self.max_classes = max(1, min(schema.MAX_CLASSES, spare // 4))
        self.installed = None  # the placement recommendation installed in the simulator
        self.writes_in_op = cfg.placement_op  # forces a decision before the first write
        self.gc_records: list[tuple] = []
        self.dead_seen = [(0, 0), (0, 0)]  # (blocks, moves) already tallied, per source
        self.copies_per_death = [[0, 0], [0, 0]]  # per source: GC copies, blocks that died
        self.share = (0, 1)
        self.last_chooser = HUMAN
        sim.set_chooser(self.choose_victim)
        sim.on_clean = self._on_clean
        sim.on_writes = self._on_writes

    # -- placement -------------------------------------------------------------
    def _parse_placement(self, words: np.ndarray):
        """Validate; the hint-map part is state, written as soon as it is valid
        (it is read only by ML-placed writes, which the modes govern)."""
        table, off, groups = parse_placement(words, self.sim.n_lbas)
        if table[2] > self.max_classes:
            raise Reject(RejectReason.OUT_OF_RANGE, f"{table[2]} classes, the spare space bears {self.max_classes}")
        if groups.size:
            self.sim.set_map(off, groups)
        return table

    def now(self) -> int:
        return int(self.sim.ctr[C_NOW])

    def next_part(self, max_writes: int) -> int:
        """Before feeding user writes: re-read the mode's share and the
        recommendation if a new placement op starts, and return how many
        writes may go before the next one."""
        if self.writes_in_op >= self.cfg.placement_op:
            self.writes_in_op = 0
            now = self.now()
            self.poll(now)
            num, den, rec = self.proxy.keyed(schema.OP_PLACEMENT, None, now)
            if rec is not None:
                if rec is not self.installed:
                    user, gc, n_cls, n_hint, nb = rec
                    self.sim.set_feature_table(user, gc, n_cls, n_hint, nb)
                    self.installed = rec
                self.sim.set_source(SOURCE_KEYED, num, den)
            else:
                self.sim.set_source(SOURCE_HUMAN)
                if self.installed is not None:  # nothing valid: the table goes, with its reserve
                    self.sim.clear_table()
                    self.installed = None
            self.share = (num, den)
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
        if self.listening():
            self.gc_records.append((now, seg, moved, sim.bps, now - int(sim.segl[LASTMOD, seg]),
                                    int(sim.segi[CLASS, seg]), source, who))
        critical = int(sim.ctr[C_FREE]) == 0
        if critical != p.critical:
            p.set_critical(critical, now)

    def listening(self) -> bool:
        """Whether anybody can receive telemetry now (a connected endpoint);
        with nobody there, records are not even built."""
        ep = self.proxy.endpoint
        return ep is not None and ep.connection_id is not None

    def sources(self, lba: np.ndarray) -> np.ndarray:
        """The placing source of each LBA under the current share (the write
        path's ``source_of``, vectorised)."""
        num, den = self.share
        if num == 0:
            return np.zeros(lba.shape, np.int64)
        if num == den:
            return np.ones(lba.shape, np.int64)
        h = ((lba.astype(np.int64) * 0x9E3779B1) & 0xFFFFFFFF) >> 8
        return (h % den < num).astype(np.int64)

    def _settle(self) -> None:
        """Tally the GC copies of the blocks that died since the last call, by
        the source that placed them (a second, per-block view of the same
        question; reported, not used for the modes)."""
        ctr = self.sim.ctr
        for src in (HUMAN, ML):
            blocks = int(ctr[C_DEAD_BLOCKS0 + src]) - self.dead_seen[src][0]
            moves = int(ctr[C_DEAD_MOVES0 + src]) - self.dead_seen[src][1]
            if blocks:
                self.copies_per_death[src][0] += moves
                self.copies_per_death[src][1] += blocks
                self.dead_seen[src] = (int(ctr[C_DEAD_BLOCKS0 + src]), int(ctr[C_DEAD_MOVES0 + src]))

    def _on_writes(self, lba, time_us, hint, cls, prev_age) -> None:
        n = lba.shape[0]
        self.wrote(n)
        self._settle()
        if n == 0:
            return
        end = self.now()
        src = self.sources(lba)
        n_ml = int(src.sum())
        self.proxy.record(schema.OP_PLACEMENT, n - n_ml, n_ml)
        if not self.listening():
            return
        rec = np.empty((n, len(schema.WRITE_FIELDS)), np.int64)
        rec[:, 0] = np.arange(end - n + 1, end + 1, dtype=np.int64)
        rec[:, 1] = lba
        rec[:, 2] = hint
        rec[:, 3] = prev_age
        rec[:, 4] = cls
        rec[:, 5] = src
        rec[:, 6] = self.sim.lbat[MLMAP, lba]
        if self.cfg.telemetry_sample_shift:
            rec = rec[sampled(lba, self.cfg.telemetry_sample_shift)]
        self.proxy.publish(schema.REC_WRITE, rec, end)
        if self.gc_records:
            self.proxy.publish(schema.REC_GC, np.array(self.gc_records, np.int64), end)
            self.gc_records.clear()

    def poll(self, now: int | None = None) -> None:
        now = self.now() if now is None else now
        p = self.proxy
        if p.endpoint is not None and (p.endpoint.connection_id != p.conn_seen or now >= p.next_feedback):
            sim = self.sim
            p.publish(schema.REC_DEVICE, np.array([[sim.n_lbas, sim.bps, sim.n_segs, sim.reserved,
                                                    self.max_classes]], np.int64), now)
        p.poll(now)
