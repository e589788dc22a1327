"""Block-lifetime learner for the LFS subsystem: placement and victim choice
by predicted invalidation time, learned online from the overwrites the
kernel side publishes.

What it sees: ``REC_WRITE`` records (time, lba, hint, prev_age, class,
source, map group) — nothing else.  A write whose ``prev_age`` is ``v`` > 0
says that the previous write of the same LBA lived ``v`` ticks: a *label*
for the features that previous write had.  Features of a write: its *cell*
(its row — the hint, or the LBA's rate group in the hint map — and
``bucket(prev_age)``, the bit length of the time since its LBA was last
written: SepBIT's signal, kept at log resolution instead of one threshold)
and its *log* (source and class it was written to).

Per-LBA rates: for every LBA the learner keeps an exponentially weighted
mean of the log2 of its observed rewrite intervals.  LBAs are cut into 15
rate groups (equal steps in that log scale) and the groups are sent to the
kernel's per-LBA hint map (4 bits per LBA), so the kernel's table can tell a
block whose LBA is rewritten every few thousand writes from one rewritten
every few million, even when a single interval (SepBIT's signal) cannot.

Model: life tables over log2-lifetime buckets, one per cell and one per
log.  A block enters bucket ``b`` when its age reaches ``2**(b-1)``; the
table counts, per bucket, the blocks that entered it (at risk) and the
blocks that died in it, both exponentially decayed so the model follows
phase changes.  Entries are counted when a block dies (for the buckets it
lived through) and, for the blocks still alive, at every recommendation (the
buckets they entered since), each once: long-lived data is not mistaken for
short-lived, and old evidence fades from both counts alike.  The hazard of
a bucket is deaths / at risk; survival is the product of (1 - hazard).

Recommendations (:mod:`kernelml.uapi.lfs`):

* ``OP_PLACEMENT``: up to ``n_classes`` lifetime classes, the optimal 1-D
  clustering of the cells' median lifetimes weighted by write volume
  (adjacent classes a factor ``2**min_gap`` apart, each with at least
  ``min_class_share`` of the writes; otherwise no recommendation); a
  user write goes to the class of its cell's median; a block GC moves out of class ``c`` at age ``a``
  goes to the class of its *residual* median lifetime given that it has
  already lived ``a`` (memoryless hot data goes back to the hot class,
  survivors that have outlived their class move to a longer-lived one).
* ``OP_VICTIM``: a stability table for the kernel's cost-benefit rule.
  By default (``victim_mode="auto"``) the learner replays the recent writes
  on a small user-space model of the device (:mod:`.lfs_replay`), with the
  classes its placement gives, under greedy and under cost-benefit, and
  recommends the rule that copies less (stability = age: Sprite LFS
  cost-benefit; constant: greedy).  ``victim_mode="residual"`` (the expected
  residual lifetime of a log's data, capped at the oldest age observed) is
  kept as a documented option: it measured far worse (uncapped, 20x write
  amplification on hot/cold: residuals of cold classes dwarf every age).

Continuous learning: every observed overwrite is also scored against the
prediction in force for its cell (mean absolute error in log2 buckets, in
``describe()``); when the proxy's feedback shows a demotion of an op kind,
the learner halves its evidence so that the next tables follow the newest
data.
"""

from __future__ import annotations

import threading

import numpy as np

from ...uapi import lfs as schema
from ...uapi.messages import Feedback, Hello, Mode
from ..learner import Advice, Learner
from .lfs_replay import prefer_cost_benefit

F_TIME, F_LBA, F_HINT, F_PREV, F_CLASS, F_SOURCE, F_GROUP = range(7)
N_LOGS = 2 * schema.LOGS_PER_SOURCE


def buckets(x: np.ndarray, n: int) -> np.ndarray:
    """Vectorised bit length of non-negative int64 values, capped at n - 1."""
    v = np.asarray(x, dtype=np.int64).copy()
    out = np.zeros(v.shape, dtype=np.int64)
    for shift in (32, 16, 8, 4, 2, 1):
        big = v >= (np.int64(1) << shift)
        out[big] += shift
        v[big] >>= shift
    out += v > 0
    return np.minimum(out, n - 1)


def survival(deaths: np.ndarray, at_risk: np.ndarray) -> np.ndarray:
    """Life-table survival after each bucket, one curve per row."""
    hazard = np.divide(deaths, at_risk, out=np.zeros_like(deaths), where=at_risk > 0)
    return np.cumprod(1.0 - np.minimum(hazard, 1.0), axis=1)


def add_ranges(table: np.ndarray, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """``table[row, lo..hi] += 1`` for every (row, lo, hi) with lo <= hi."""
    ok = lo <= hi
    if not ok.any():
        return
    rows, lo, hi = rows[ok], lo[ok], hi[ok]
    diff = np.zeros((table.shape[0], table.shape[1] + 1))
    np.add.at(diff, (rows, lo), 1.0)
    np.add.at(diff, (rows, hi + 1), -1.0)
    table += np.cumsum(diff, axis=1)[:, :-1]


def median_bucket(surv: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """First bucket where survival falls below half (of its value at
    ``start``, for residual lifetimes); the last bucket if it never does."""
    nb = surv.shape[-1]
    if start is None:
        ref = np.full(surv.shape[:-1] + (1,), 1.0)
        mask = np.ones(surv.shape, dtype=bool)
    else:
        s0 = np.take_along_axis(surv, np.maximum(start - 1, 0)[..., None], axis=-1)
        ref = np.where(start[..., None] > 0, s0, 1.0)
        mask = np.arange(nb) >= start[..., None]
    below = (surv < 0.5 * ref) & mask
    return np.where(below.any(axis=-1), below.argmax(axis=-1), nb - 1)


def mid_ticks(b: np.ndarray) -> np.ndarray:
    """A representative age for bucket b (bit length b: [2^(b-1), 2^b))."""
    b = np.asarray(b, dtype=np.int64)
    return np.where(b > 0, (np.int64(3) << np.maximum(b - 1, 0)) >> 1, 0)


class LifetimeTable(Learner):
    """Placement and victim choice by predicted block lifetime (hint, time since the LBA's last write)."""

    subsystem = schema.NAME

    def __init__(self, seed: int = 0, n_buckets: int = 40, n_classes: int = 6, half_life: int = 4_000_000,
                 min_deaths: int = 32, ttl: int = 1 << 18, victims: bool = True, rate_map: bool = True,
                 rate_alpha: float = 0.3, recency: bool = True, gc_mode: str = "residual",
                 victim_mode: str = "auto", min_gap: float = 3.0, confirm: int = 4,
                 min_overwrites: int = 1 << 16, replay_every: int = 4, min_class_share: float = 0.005,
                 background_replay: bool = False) -> None:
        super().__init__(seed)
        if not 1 <= n_classes <= schema.MAX_CLASSES:
            raise ValueError(f"n_classes in 1..{schema.MAX_CLASSES}")
        if not 8 <= n_buckets <= schema.MAX_BUCKETS:
            raise ValueError("n_buckets in 8..64")
        self.nb = n_buckets
        self.k = n_classes
        self.half_life = half_life
        self.min_deaths = min_deaths
        self.ttl = ttl
        self.victims = victims
        self.rate_map = rate_map
        self.rate_alpha = rate_alpha
        self.recency = recency
        if gc_mode not in ("residual", "same", "rate"):
            raise ValueError("gc_mode: 'residual', 'same' or 'rate'")
        self.gc_mode = gc_mode
        if victim_mode not in ("auto", "age", "greedy", "residual"):
            raise ValueError("victim_mode: 'auto', 'age', 'greedy' or 'residual'")
        self.victim_mode = victim_mode
        self.replay_every = replay_every
        self.victim_choice = None
        self.structure = None
        self.classes = 1
        self.streak = 0  # consecutive rounds that found more than one lifetime scale

        self.confirm = confirm
        self.min_overwrites = min_overwrites
        self.min_gap = min_gap
        self.min_class_share = min_class_share
        self.background_replay = background_replay  # run the what-if replay in a thread (daemons)
        self._replay_job = None  # (thread, result) of a background replay
        n_cells = schema.N_ROWS * n_buckets
        self.deaths = np.zeros((n_cells, n_buckets))  # decayed deaths by lifetime bucket, per cell
        self.risk = np.zeros((n_cells, n_buckets))  # decayed entries into each bucket, per cell
        self.log_deaths = np.zeros((N_LOGS, n_buckets))  # the same per log (source * 16 + class)
        self.log_risk = np.zeros((N_LOGS, n_buckets))
        self.volume = np.zeros(n_cells)  # decayed writes per cell
        self.last_cell = np.full(0, -1, dtype=np.int16)  # per LBA, its latest observed write
        self.last_log = np.full(0, -1, dtype=np.int16)
        self.last_time = np.zeros(0, dtype=np.int64)
        self.entered = np.full(0, -1, dtype=np.int8)  # per LBA: buckets its live block was counted in
        self.rate = np.zeros(0, dtype=np.float32)  # per LBA: EWMA of log2 rewrite interval
        self.nobs = np.zeros(0, dtype=np.int32)  # per LBA: rewrite intervals seen
        self.seen_time = 0
        self.n_lbas = 0  # one past the highest LBA seen (the map never reaches beyond)
        self.max_classes = schema.MAX_CLASSES  # the kernel side's limit (REC_DEVICE)
        self.device = ()  # (n_lbas, blocks_per_seg, segments, reserved) from REC_DEVICE
        self.ring_lba = np.zeros(0, np.int64)  # the recent writes, for the what-if replay
        self.ring_cell = np.zeros(0, np.int64)
        self.ring_n = 0
        self.rounds = 0
        self.replay_choice = None  # the victim rule the last replay preferred
        self.pred = np.full(n_cells, n_buckets // 2, dtype=np.int64)  # median bucket per cell in force
        self.err_sum = 0.0
        self.err_n = 0
        self.last_mode: dict[int, int] = {}
        self.forgets = 0

    # -- learning ------------------------------------------------------------
    def hello(self, hello: Hello) -> None:
        names = hello.features(schema.REC_WRITE)
        if names and names != schema.WRITE_FIELDS:
            raise ValueError(f"unexpected write record fields {names}")

    def learn_one(self, record_kind: int, record: np.ndarray) -> None:
        self.learn_many(record_kind, np.asarray(record).reshape(1, -1))

    def _grow(self, n: int) -> None:
        if n <= self.last_cell.size:
            return
        size = max(n, 2 * self.last_cell.size, 1024)
        for name, fill, dt in (("last_cell", -1, np.int16), ("last_log", -1, np.int16),
                               ("last_time", 0, np.int64), ("entered", -1, np.int8),
                               ("rate", 0, np.float32),
                               ("nobs", 0, np.int32)):
            old = getattr(self, name)
            new = np.full(size, fill, dtype=dt)
            new[:old.size] = old
            setattr(self, name, new)

    def learn_many(self, record_kind: int, records: np.ndarray) -> None:
        if record_kind == schema.REC_DEVICE and records.shape[0] and records.shape[1] == len(schema.DEVICE_FIELDS):
            self.max_classes = int(np.clip(records[-1, 4], 1, schema.MAX_CLASSES))
            self.device = tuple(int(v) for v in records[-1, :4])  # n_lbas, bps, segments, reserved
            return
        if record_kind != schema.REC_WRITE or records.shape[0] == 0:
            return
        if records.shape[1] != len(schema.WRITE_FIELDS):
            raise ValueError(f"write records need {len(schema.WRITE_FIELDS)} fields")
        lba = records[:, F_LBA]
        ok = (lba >= 0) & (lba < (1 << 40)) & (records[:, F_PREV] >= 0)
        if not ok.all():
            records = records[ok]
            lba = records[:, F_LBA]
            if records.shape[0] == 0:
                return
        t = records[:, F_TIME]
        hint = np.clip(records[:, F_HINT], 0, schema.N_HINTS - 1)
        group = np.clip(records[:, F_GROUP], 0, schema.N_GROUPS)
        row = np.where((group > 0) & (hint == 0), schema.N_HINTS - 1 + group, hint)
        prev = records[:, F_PREV]
        cell = row * self.nb + buckets(prev, self.nb)
        self._remember(lba, cell)
        log = (np.clip(records[:, F_SOURCE], 0, 1) * schema.LOGS_PER_SOURCE
               + np.clip(records[:, F_CLASS], 0, schema.LOGS_PER_SOURCE - 1))
        self._decay(int(t.max()))
        np.add.at(self.volume, cell, 1.0)
        self._grow(int(lba.max()) + 1)
        self.n_lbas = max(self.n_lbas, int(lba.max()) + 1)
        # the previous write of each record's LBA: earlier in this batch, or the stored one
        order = np.lexsort((t, lba))
        sl, sc, sg = lba[order], cell[order], log[order]
        first = np.ones(sl.size, dtype=bool)
        first[1:] = sl[1:] != sl[:-1]
        prev_cell = np.empty(sl.size, dtype=np.int64)
        prev_log = np.empty(sl.size, dtype=np.int64)
        prev_entered = np.full(sl.size, -1, dtype=np.int64)
        prev_cell[first] = self.last_cell[sl[first]]
        prev_log[first] = self.last_log[sl[first]]
        prev_entered[first] = self.entered[sl[first]]
        inner = ~first
        prev_cell[inner] = sc[:-1][inner[1:]]
        prev_log[inner] = sg[:-1][inner[1:]]
        life = prev[order]
        self._rates(sl, life)
        lab = (prev_cell >= 0) & (life > 0)
        if lab.any():
            lb = buckets(life[lab], self.nb)
            pc, pg, lo = prev_cell[lab], prev_log[lab], prev_entered[lab] + 1
            np.add.at(self.deaths, (pc, lb), 1.0)
            np.add.at(self.log_deaths, (pg, lb), 1.0)
            add_ranges(self.risk, pc, lo, lb)  # the buckets it lived through, not counted yet
            add_ranges(self.log_risk, pg, lo, lb)
            self.err_sum += float(np.abs(self.pred[pc] - lb).sum())
            self.err_n += int(pc.size)
        last = np.ones(sl.size, dtype=bool)
        last[:-1] = sl[1:] != sl[:-1]
        self.last_cell[sl[last]] = sc[last]
        self.last_log[sl[last]] = sg[last]
        self.last_time[sl[last]] = t[order][last]
        self.entered[sl[last]] = -1

    def _rates(self, lba_sorted: np.ndarray, life: np.ndarray) -> None:
        """Fold observed rewrite intervals into the per-LBA EWMA.  The ``m``
        intervals of one LBA in a batch enter as their mean with the weight
        ``1 - (1 - alpha) ** m`` they would have had one by one."""
        seen = life > 0
        if not seen.any():
            return
        x, v = lba_sorted[seen], np.log2(life[seen].astype(np.float64))
        keys, start, count = np.unique(x, return_index=True, return_counts=True)
        mean = np.add.reduceat(v, start) / count
        fresh = self.nobs[keys] == 0
        cur = self.rate[keys].astype(np.float64)
        w = 1.0 - (1.0 - self.rate_alpha) ** count
        self.rate[keys] = np.where(fresh, mean, cur + w * (mean - cur))
        self.nobs[keys] += count.astype(np.int32)

    def groups(self) -> np.ndarray:
        """Per-LBA rate group 1..15 (15 = most often rewritten), 0 = no estimate:
        15 equal steps of the EWMA of log2 rewrite intervals between its 1st
        and 99th percentiles over the LBAs with an estimate."""
        out = np.zeros(self.rate.size, dtype=np.int64)
        known = np.flatnonzero(self.nobs > 0)
        if known.size == 0:
            return out
        r = self.rate[known].astype(np.float64)
        lo, hi = np.percentile(r, [1, 99])
        step = max((hi - lo) / schema.N_GROUPS, 1e-9)
        g = np.clip(((r - lo) / step).astype(np.int64), 0, schema.N_GROUPS - 1)
        out[known] = schema.N_GROUPS - g
        return out

    def _remember(self, lba: np.ndarray, cell: np.ndarray) -> None:
        """Keep the recent writes (LBA, cell) for the what-if replay."""
        if not self.device:
            return
        cap = 4 * self.device[0]
        if self.ring_lba.size != cap:
            self.ring_lba = np.full(cap, -1, np.int64)
            self.ring_cell = np.zeros(cap, np.int64)
            self.ring_n = 0
        n = lba.size
        if n >= cap:
            lba, cell, n = lba[-cap:], cell[-cap:], cap
        pos = (self.ring_n + np.arange(n)) % cap
        self.ring_lba[pos] = lba
        self.ring_cell[pos] = cell
        self.ring_n += n

    def _replay_verdict(self, user: np.ndarray) -> bool | None:
        """Cost-benefit (True) or greedy (False) on a replay of the recent
        writes with the classes ``user`` gives their cells (see lfs_replay).
        With ``background_replay`` the replay runs in a thread: a call starts
        one and returns None, a later call returns its verdict once done."""
        job = self._replay_job
        if job is not None:
            if job[0].is_alive():
                return None
            self._replay_job = None
            return job[1].get("verdict")
        if not self.device or not self.ring_lba.size:
            return None
        n_lbas, bps, segs, _ = self.device
        # the LBAs whose writes were published: all of them, or a sample (the kernel side may
        # publish 1/2**k of the LBAs); a sample is replayed on a device scaled to it
        seen = np.flatnonzero(self.last_cell[:n_lbas] >= 0)
        n_eff = seen.size if 0 < seen.size < n_lbas else n_lbas
        cap = self.ring_lba.size
        if self.ring_n < min(cap, 4 * n_eff):  # four device-fulls of writes
            return None
        start = self.ring_n % cap
        lba = np.concatenate([self.ring_lba[start:], self.ring_lba[:start]])
        cell = np.concatenate([self.ring_cell[start:], self.ring_cell[:start]])
        k = int(user.max()) + 1  # classes
        if n_eff < n_lbas:
            keep = lba >= 0
            lba, cell = np.searchsorted(seen, lba[keep]), cell[keep]
            segs = max(int(round(segs * n_eff / n_lbas)), k + 5)
            n_lbas = n_eff
        args = (lba, user[cell], n_lbas, segs, bps, k)
        if not self.background_replay:
            return prefer_cost_benefit(*args)
        out: dict = {}
        t = threading.Thread(target=lambda: out.__setitem__("verdict", prefer_cost_benefit(*args)),
                             name="lfs-replay", daemon=True)
        t.start()
        self._replay_job = (t, out)
        return None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_replay_job"] = None  # a running thread is not part of a checkpoint
        return state

    def _decay(self, now: int) -> None:
        dt = now - self.seen_time
        if dt <= 0:
            return
        f = 0.5 ** (dt / self.half_life)
        self.deaths *= f
        self.risk *= f
        self.log_deaths *= f
        self.log_risk *= f
        self.volume *= f
        self.seen_time = now

    def on_feedback(self, feedback: Feedback) -> None:
        prev = self.last_mode.get(feedback.op_kind)
        self.last_mode[feedback.op_kind] = feedback.mode
        if prev is not None and feedback.mode < prev and feedback.mode != Mode.EMERGENCY:
            for t in (self.deaths, self.risk, self.log_deaths, self.log_risk, self.volume):
                t *= 0.5  # weaker evidence: the next tables follow the newest overwrites
            self.forgets += 1

    # -- prediction ------------------------------------------------------------
    def _enter_live(self, now: int) -> None:
        """Count the live blocks into the buckets their age reached since they
        were last counted (each entry once)."""
        known = np.flatnonzero(self.last_cell >= 0)
        if known.size == 0:
            return
        cur = buckets(np.maximum(now - self.last_time[known], 0), self.nb)
        lo = self.entered[known].astype(np.int64) + 1
        add_ranges(self.risk, self.last_cell[known].astype(np.int64), lo, cur)
        add_ranges(self.log_risk, self.last_log[known].astype(np.int64), lo, cur)
        self.entered[known] = np.maximum(self.entered[known], cur).astype(np.int8)

    def _cell_medians(self) -> np.ndarray:
        if not self.recency:  # one curve per row: the time since the last write is ignored
            nr = schema.N_ROWS
            d = self.deaths.reshape(nr, self.nb, self.nb).sum(axis=1)
            r = self.risk.reshape(nr, self.nb, self.nb).sum(axis=1)
            med = np.repeat(median_bucket(survival(d, r)), self.nb)
            enough = np.repeat(d.sum(axis=1) >= self.min_deaths, self.nb)
            pooled = median_bucket(survival(d.sum(axis=0, keepdims=True), r.sum(axis=0, keepdims=True)))[0]
            return np.where(enough, med, pooled)
        med = median_bucket(survival(self.deaths, self.risk))
        enough = self.deaths.sum(axis=1) >= self.min_deaths
        pooled = median_bucket(survival(self.deaths.sum(axis=0, keepdims=True),
                                        self.risk.sum(axis=0, keepdims=True)))[0]
        return np.where(enough, med, pooled)

    def _log_survival(self) -> tuple[np.ndarray, np.ndarray]:
        return survival(self.log_deaths, self.log_risk), self.log_deaths.sum(axis=1) >= self.min_deaths

    def _thresholds(self, med: np.ndarray) -> np.ndarray:
        """Class boundaries (bucket values): the optimal 1-D clustering of the
        cells' medians, weighted by write volume, into at most ``k`` classes
        (dynamic programming over the distinct values; minimum within-class
        weighted variance).  A class holds data of one lifetime scale; data
        of the same lifetime is never split across classes."""
        vals, inv = np.unique(med, return_inverse=True)
        w = np.bincount(inv, weights=self.volume + 1e-9, minlength=vals.size)
        for k in range(min(self.k, self.max_classes, vals.size), 1, -1):
            cuts = self._cluster(vals, w, k)
            # adjacent classes must differ by min_gap buckets (a factor of 2**min_gap
            # in lifetime): splitting data of one lifetime scale only costs open segments
            edges = np.concatenate([[0], np.searchsorted(vals, cuts), [vals.size]])
            means = [np.average(vals[a:b], weights=w[a:b]) for a, b in zip(edges[:-1], edges[1:])]
            # and each class must carry a share of the writes: an outlier cell (little data, a
            # lifetime far from the rest) is not worth an open log of its own
            share = np.array([w[a:b].sum() for a, b in zip(edges[:-1], edges[1:])]) / max(w.sum(), 1e-12)
            if np.min(np.diff(means)) >= self.min_gap and share.min() >= self.min_class_share:
                return cuts
        return np.zeros(0, dtype=np.int64)

    @staticmethod
    def _cluster(vals: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
        m = vals.size
        cw, cx, cxx = (np.concatenate([[0.0], np.cumsum(a)]) for a in (w, w * vals, w * vals * vals))

        def sse(i, j):  # values i..j inclusive
            ww = cw[j + 1] - cw[i]
            sx = cx[j + 1] - cx[i]
            return (cxx[j + 1] - cxx[i]) - (sx * sx / ww if ww > 0 else 0.0)

        inf = float("inf")
        dp = np.full((k + 1, m + 1), inf)
        back = np.zeros((k + 1, m + 1), dtype=np.int64)
        dp[0, 0] = 0.0
        for c in range(1, k + 1):
            for j in range(c, m + 1):
                for i in range(c, j + 1):  # last class holds values i-1 .. j-1
                    v = dp[c - 1, i - 1] + sse(i - 1, j - 1)
                    if v < dp[c, j]:
                        dp[c, j], back[c, j] = v, i
        cuts, j = [], m
        for c in range(k, 0, -1):
            i = back[c, j]
            if c > 1:
                cuts.append(int(vals[i - 1]))
            j = i - 1
        return np.array(sorted(cuts), dtype=np.int64)

    def tables(self, now: int) -> tuple[np.ndarray, np.ndarray | None]:
        self._enter_live(now)
        med = self._cell_medians()
        self.pred = med
        cuts = self._thresholds(med)
        self.structure = int(cuts.size)  # class boundaries found (0: one lifetime scale)
        self.classes = int(cuts.size) + 1  # classes the tables use

        def cls(b):
            return np.searchsorted(cuts, b, side="right").astype(np.int64)

        user = cls(med)
        surv, known = self._log_survival()
        ages = np.arange(self.nb, dtype=np.int64)
        # no lifetime is predicted beyond the oldest age observed (the curve is censored there)
        seen = np.flatnonzero(self.log_risk.sum(axis=0) > 0)
        horizon = int(seen[-1]) if seen.size else self.nb - 1
        # GC copies by the row of their LBA (hint 0 or map group) and their age
        nr = schema.N_ROWS
        d_row = self.deaths.reshape(nr, self.nb, self.nb).sum(axis=1)
        r_row = self.risk.reshape(nr, self.nb, self.nb).sum(axis=1)
        s_row = survival(d_row, r_row)
        gc = np.empty((nr, self.nb), dtype=np.int64)
        for r in range(nr):
            if d_row[r].sum() < self.min_deaths:
                gc[r] = cls(ages)  # no evidence: older data is predicted to live longer
            elif self.gc_mode == "same":
                gc[r] = cls(np.full(self.nb, min(int(median_bucket(s_row[r][None, :])[0]), horizon)))
            else:
                total = np.minimum(median_bucket(s_row[r][None, :].repeat(self.nb, 0), ages), horizon)
                gc[r] = cls(buckets(np.maximum(mid_ticks(total) - mid_ticks(ages), mid_ticks(ages)), self.nb))
        if self.gc_mode == "rate":
            user, gc = self._rate_classes(user.reshape(nr, self.nb), gc, cls, ages)
        placement = np.concatenate([user.ravel(), gc.ravel()]).astype(np.int64)
        if not self.victims:
            return placement, None
        # victim scores: residual lifetime of a log's data at the segment's age, over (1 + u)
        resid = np.empty((N_LOGS, self.nb), dtype=np.int64)
        mode = self.victim_mode
        if mode == "auto":  # the rule that copies less on a replay of the recent writes
            if not cuts.size:
                mode = "greedy"
            else:
                self.rounds += 1
                if self.rounds % self.replay_every == 1 or self.replay_choice is None:
                    verdict = self._replay_verdict(user)
                    if verdict is not None:
                        self.replay_choice = "age" if verdict else "greedy"
                mode = self.replay_choice or "greedy"
        self.victim_choice = mode
        for row in range(N_LOGS):
            if mode == "greedy":
                resid[row] = 1  # equal stability everywhere: the fewest valid blocks win
            elif known[row] and mode == "residual":
                total = np.minimum(median_bucket(surv[row][None, :].repeat(self.nb, 0), ages), horizon)
                resid[row] = np.maximum(mid_ticks(total) - mid_ticks(ages), 1)
            else:
                resid[row] = np.maximum(mid_ticks(ages), 1)  # Sprite cost-benefit's assumption
        victim = np.concatenate([[schema.VERSION, N_LOGS, self.nb, 0],
                                 np.minimum(resid, schema.MAX_SCORE).ravel()]).astype(np.int64)
        return placement, victim

    def _rate_classes(self, user, gc, cls, ages):
        """Rows of mapped LBAs (rate groups) get classes by equal write volume
        over the groups, hottest first, for user writes and GC copies alike;
        rows without a rate estimate keep the recency-based classes."""
        nr = schema.N_ROWS
        vol = self.volume.reshape(nr, self.nb).sum(axis=1)[schema.N_HINTS:]  # groups 1..15
        order = np.arange(schema.N_GROUPS)[::-1]  # group 15 (hottest) first
        cum = np.cumsum(vol[order])
        total = cum[-1] if cum[-1] > 0 else 1.0
        k = self.classes
        cls_of = np.minimum(((cum - vol[order] * 0.5) * k // total).astype(np.int64), k - 1)
        user, gc = user.copy(), gc.copy()
        for j, g in enumerate(order):
            row = schema.N_HINTS + g
            user[row] = cls_of[j]
            gc[row] = cls_of[j]
        return user, gc

    def placement_payloads(self, table: np.ndarray, max_words: int = 8000) -> list[np.ndarray]:
        """The placement table with the hint map in as many chunks as needed."""
        groups = self.groups()[:self.n_lbas] if self.rate_map else np.zeros(0, dtype=np.int64)
        per = max(16, (max_words - schema.PLACEMENT_HEADER - table.size) // 16 * 16 * 16)
        out = []
        for off in range(0, max(groups.size, 1), per):
            g = groups[off:off + per]
            header = [schema.VERSION, schema.N_ROWS, self.nb, self.classes, off if g.size else 0, g.size, 0]
            out.append(np.concatenate([header, table, schema.pack_groups(g)]).astype(np.int64))
        return out

    def placement_table(self, now: int) -> np.ndarray:
        return self.placement_payloads(self.tables(now)[0])[0]

    def recommend(self, now: int) -> list[Advice]:
        if self.deaths.sum() < self.min_deaths:
            return []
        table, victim = self.tables(now)
        found = self.structure > 0
        self.streak = self.streak + 1 if found else 0
        if self.streak < self.confirm or self.err_n < self.min_overwrites:
            # one lifetime scale (or not yet confirmed): nothing to separate, and every
            # ML-placed segment would only be one more open log; the kernel's own policy stays
            return []
        out = [Advice(schema.OP_PLACEMENT, p, self.ttl) for p in self.placement_payloads(table)]
        if victim is not None:
            out.append(Advice(schema.OP_VICTIM, victim, self.ttl))
        return out

    def describe(self) -> dict:
        return {"observed_overwrites": self.err_n,
                "mae_log2_buckets": self.err_sum / self.err_n if self.err_n else None,
                "forgets": self.forgets, "victim_policy": self.victim_choice,
                "lifetime_classes": None if self.structure is None else self.structure + 1}


class LifetimeRandom(Learner):
    """Adversary: random placement and victim tables (right shapes, random values)."""

    subsystem = schema.NAME

    def __init__(self, seed: int = 0, n_buckets: int = 40, n_classes: int = 4, ttl: int = 4_000_000) -> None:
        super().__init__(seed)
        self.rng = np.random.default_rng(seed)
        self.nb, self.k, self.ttl = n_buckets, n_classes, ttl
        self.max_classes = schema.MAX_CLASSES

    def learn_one(self, record_kind: int, record: np.ndarray) -> None:
        pass

    def learn_many(self, record_kind: int, records: np.ndarray) -> None:
        if record_kind == schema.REC_DEVICE and records.shape[0] and records.shape[1] == len(schema.DEVICE_FIELDS):
            self.max_classes = int(np.clip(records[-1, 4], 1, schema.MAX_CLASSES))

    def recommend(self, now: int) -> list[Advice]:
        k = min(self.k, self.max_classes)
        header = [schema.VERSION, schema.N_ROWS, self.nb, k, 0, 0, 0]
        table = self.rng.integers(0, k, 2 * schema.N_ROWS * self.nb)
        stab = self.rng.integers(0, 1 << 20, N_LOGS * self.nb)
        return [Advice(schema.OP_PLACEMENT, np.concatenate([header, table]).astype(np.int64), self.ttl),
                Advice(schema.OP_VICTIM, np.concatenate([[schema.VERSION, N_LOGS, self.nb, 0],
                                                         stab]).astype(np.int64), self.ttl)]


class LifetimeInverted(LifetimeTable):
    """Adversary: the real model with its rankings reversed.  Reversing class
    labels alone would change nothing (classes only group data), so user
    writes get the reversed classes while GC copies keep the real ones: the
    shortest-lived new data lands with the longest-lived survivors.  Victim
    stabilities are reversed too (the youngest segments look the most stable)."""

    def tables(self, now: int) -> tuple[np.ndarray, np.ndarray | None]:
        placement, victim = super().tables(now)
        placement = placement.copy()
        n_user = schema.N_ROWS * self.nb
        placement[:n_user] = self.classes - 1 - placement[:n_user]
        if victim is not None:
            s = victim[schema.VICTIM_HEADER:]
            victim[schema.VICTIM_HEADER:] = s.max() - s
        return placement, victim

    def recommend(self, now: int) -> list[Advice]:
        self.structure_override = True
        return super().recommend(now)
