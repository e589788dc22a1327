"""Learners for DAMON reclaim: predict when memory is re-accessed.

:class:`DamonReuse` (``damon-reuse``) learns, from what DAMON publishes,
how long each part of the monitored space will stay idle, and recommends
the parts predicted to stay idle longest for pageout (``uapi/damon.py``).

What it sees
------------
Per aggregation: the regions (``nr_accesses``), the refaulting addresses,
the ranges paged out and how many pages each lost, and a summary.  It keeps
a table over the monitored space at a fixed granularity (*chunks* of
``2^k`` pages, at most ``max_chunks``): a chunk is *accessed* in an
aggregation when a region overlapping it has ``nr_accesses > 0`` or one of
its pages refaulted (a reclaimed page is invisible to DAMON's sampling,
but its first access is a refault, which the kernel reports: reclaim does
not hide re-accesses).  Pauses shorter than ``G_MIN`` aggregations belong
to a burst (DAMON samples one page per region, so a busy chunk can look
idle for an interval or two).  Per chunk: when it was last accessed, its last
``N_GAPS`` idle gaps (their median is the chunk's *typical gap*; the
chunk is *regular* when they agree within 25 %), the length of its last
burst of activity, and an estimate of how much of it is paged out.

What it predicts
----------------
Time to next access, with a discrete-time *survival model*: the hazard of
a re-access given how long the chunk has been idle (``d``) and its class:

* no gap seen yet, or irregular: by the ratio of ``d`` to the typical gap
  (or none) and the bit length of ``d``, per aggregation interval;
* regular: by the ratio alone, per unit of ratio — a scale-free model of
  periodic reuse (a chunk with a gap of 40 s and one with 4 min share the
  hazard peak at ratio 1).  A regular chunk overdue by 25 % to 200 % most
  likely had a burst DAMON's sampling missed: it is classed by its phase
  in the next period instead (its own classes, so the hypothesis is
  learned, not assumed).

Hazards are counts of events over exposure: the estimator that stays
unbiased when idle periods are cut short (right-censored) by the time the
prediction is made — and almost every idle period is still running then;
a regression on completed gaps would learn only from the short ones.
Cells with little exposure back off to the class-free hazard of their
bucket, then to the global rate.  Counts decay by ``decay`` per
aggregation, so the model keeps learning while its recommendations are in
use and follows drift.  The prediction for a chunk is the idle time by
which the chance of a re-access reaches ``quantile`` (a cautious
estimate), at most ``max_predict`` horizons, computed exactly on the
segments where the hazard is constant.  This is a numpy table of counts
and one vectorised pass over chunks; river's and scikit-learn's online
regressors were considered, but none handles censoring, which is the crux.

What it recommends
------------------
The chunks predicted idle for at least the scheme's ``min_age``, not
mostly paged out already, merged into ranges of equal half-octave
prediction, longest predicted idle first (Belady's order, with predicted
next uses), at most ``MAX_RANGES`` ranges.

Its own error and the proxy's feedback
--------------------------------------
Each chunk it recommends remembers when; at the chunk's next access the
learner records whether the access came within the horizon (a
*premature* recommendation) or not, and the log error of the prediction.
``caution`` divides the quantile: it rises when the premature share is
high or the proxy demotes the model (a WORSE or NOT_BETTER transition in
FEEDBACK) and relaxes when the model is promoted and its errors are low.

Adversaries (for the proxy's tests and the benchmark):
``damon-random`` recommends random ranges with random predictions;
``damon-inverted`` is this model's ranking reversed: the chunks it predicts
will be accessed soonest, labelled with its largest predictions.
"""

from __future__ import annotations

import numpy as np

from ...uapi import damon as schema
from ...uapi.messages import Feedback, Hello, Reason
from ..learner import Advice, Learner

AGGR = schema.field_index(schema.AGGR_FIELDS)
N_BUCKETS = 24  # bit length of the idle time in aggregation intervals
RATIO_EDGES = np.array([0.25, 0.5, 0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0])  # idle / typical gap
N_RATIO = len(RATIO_EDGES) + 1
N_GAPS = 3  # gaps remembered per chunk
G_MIN = 8  # aggregation intervals: shorter pauses belong to a burst
REGULAR = 0.25  # regular: every remembered gap within 25 % of their median
WRAP = (1.25, 3.0)  # a regular chunk this overdue is classed by its phase in the next period
MIN_REGULAR_EVENTS = 32.0  # re-accesses of regular chunks seen before the periodic model is trusted
# hazard cells: irregular ((1 + N_RATIO) classes x N_BUCKETS, per interval), then regular
# (N_RATIO on time + N_RATIO wrapped, per unit of ratio)
N_IRR = (1 + N_RATIO) * N_BUCKETS
N_CELLS = N_IRR + 2 * N_RATIO


def _round_log(x: np.ndarray) -> np.ndarray:
    """Non-negative numbers rounded down to 4 significant bits (exact below 64), as int64."""
    x = np.asarray(x, np.float64)
    e = np.frexp(np.maximum(x, 1.0))[1]
    step = np.ldexp(1.0, np.maximum(e - 5, 0))
    return np.where(x < 64, np.floor(x), np.floor(x / step) * step).astype(np.int64)


def _bitlen(x: np.ndarray) -> np.ndarray:
    """Bit length of non-negative numbers (vectorised, floored), capped at N_BUCKETS - 1."""
    e = np.frexp(np.floor(np.maximum(x, 0.0)))[1]
    return np.minimum(e, N_BUCKETS - 1).astype(np.int64)


class DamonReuse(Learner):
    """Per-chunk time to next access from a censoring-aware survival model; recommends the longest idle first."""

    subsystem = schema.NAME

    def __init__(self, seed: int = 0, max_chunks: int = 4096, ttl_us: int = 2_000_000,
                 recommend_every: int = 5, decay: float = 0.9995, prior: float = 2.0, max_predict: int = 8,
                 quantile: float = 0.2, out_limit: float = 0.75, min_events: float = 64.0,
                 model_id: int = 1) -> None:
        super().__init__(seed)
        if not 0.0 < quantile < 1.0 or not 0.0 < decay <= 1.0 or max_chunks < 1:
            raise ValueError("need 0 < quantile < 1, 0 < decay <= 1, max_chunks >= 1")
        self.max_chunks = int(max_chunks)
        self.ttl_us = int(ttl_us)
        self.recommend_every = max(1, int(recommend_every))
        self.decay = float(decay)
        self.prior = float(prior)
        self.max_predict = int(max_predict)
        self.quantile = float(quantile)
        self.out_limit = float(out_limit)
        self.min_events = float(min_events)
        self.model_id = int(model_id)
        self.ready = False
        self.caution = 1.0
        self.aggregations = 0
        self.last_advised = -1
        self.buf: dict[int, list] = {schema.REC_REGION: [], schema.REC_REFAULT: [], schema.REC_PAGEOUT: []}
        self.buf_seq = None
        self.premature = 0.0  # recommended chunks accessed within the horizon
        self.matured = 0.0  # recommended chunks idle for the whole horizon
        self.log_err = 0.0
        self.n_err = 0
        self.demotions = 0
        self.promotions = 0

    # -- setup -------------------------------------------------------------------
    def hello(self, hello: Hello) -> None:
        self.buf = {k: [] for k in self.buf}
        self.buf_seq = None

    def _init_space(self, a: np.ndarray) -> None:
        target = int(a[AGGR["target_bytes"]])
        self.aggr_us = max(1, int(a[AGGR["aggr_us"]]))
        self.min_age_us = int(a[AGGR["min_age_us"]])
        self.horizon_us = max(self.aggr_us, int(a[AGGR["horizon_us"]]))
        self.target_bytes = target
        self.n_pages = max(1, target >> schema.PAGE_SHIFT)
        shift = 0
        while (self.n_pages + (1 << shift) - 1) >> shift > self.max_chunks:
            shift += 1
        self.shift = shift
        self.chunk_pages = 1 << shift
        n = (self.n_pages + self.chunk_pages - 1) >> shift
        self.n_chunks = n
        self.T = int(a[AGGR["now_us"]]) // self.aggr_us
        self.last_act = np.full(n, self.T, np.int64)
        self.gaps = np.zeros((n, N_GAPS), np.float64)
        self.gap = np.zeros(n, np.float64)
        self.ngap = np.zeros(n, np.int64)
        self.regular = np.zeros(n, bool)
        self.burst_start = np.full(n, self.T, np.int64)  # first access of the current burst
        self.burst = np.ones(n, np.float64)  # length of the last burst
        self.out = np.zeros(n, np.float64)  # pages paged out (estimate)
        self.active_prev = np.zeros(n, bool)
        self.refaults_seen = int(a[AGGR["refaults"]])
        self.seen = np.zeros(n, bool)  # accessed at least once since the learner started
        self.events = np.zeros(N_CELLS, np.float64)
        self.expo = np.zeros(N_CELLS, np.float64)
        self.rec_T = np.full(n, -1, np.int64)  # when it was recommended since its last access
        self.rec_u = np.zeros(n, np.float64)
        self.ready = True

    # -- the model's cells ------------------------------------------------------------
    @staticmethod
    def cells(d, gap, ngap, regular, burst):
        """Hazard cell and exposure scale of chunks idle for ``d`` intervals."""
        d = np.asarray(d, np.float64)
        g = np.maximum(gap, 1e-9)
        ratio = d / g
        rbin = np.searchsorted(RATIO_EDGES, ratio, side="right")
        irr = np.where(ngap > 0, 1 + rbin, 0) * N_BUCKETS + _bitlen(d)
        cyc = np.maximum(gap + burst, 1.0)
        wrap = (ratio >= WRAP[0]) & (ratio < WRAP[1])
        dw = np.mod(np.maximum(d - cyc, 0.0), cyc)
        rbin_w = np.searchsorted(RATIO_EDGES, dw / g, side="right")
        reg = N_IRR + np.where(wrap, N_RATIO + rbin_w, rbin)
        cell = np.where(regular, reg, irr)
        scale = np.where(regular, 1.0 / g, 1.0)
        return cell, scale

    # -- learning -------------------------------------------------------------------------
    def learn_one(self, record_kind: int, record: np.ndarray) -> None:
        self.learn_many(record_kind, np.asarray(record).reshape(1, -1))

    def learn_many(self, record_kind: int, records: np.ndarray) -> None:
        fields = schema.RECORDS.get(record_kind)
        if fields is None or records.ndim != 2 or records.shape[0] == 0:
            return
        if records.shape[1] != len(fields):
            raise ValueError(f"record kind {record_kind}: {records.shape[1]} fields, expected {len(fields)}")
        if record_kind == schema.REC_AGGR:
            for row in records:
                self._aggregation(row)
            return
        seqs = records[:, 0]
        for s in np.unique(seqs).tolist():
            if self.buf_seq != s:
                self.buf = {k: [] for k in self.buf}
                self.buf_seq = s
            self.buf[record_kind].append(records[seqs == s])

    def _rows(self, kind: int, same: bool) -> np.ndarray:
        parts = self.buf[kind] if same else []
        return np.concatenate(parts) if parts else np.zeros((0, len(schema.RECORDS[kind])), np.int64)

    def _aggregation(self, a: np.ndarray) -> None:
        if not self.ready:
            self._init_space(a)
        same = self.buf_seq == int(a[AGGR["seq"]])
        regions = self._rows(schema.REC_REGION, same)
        refaults = self._rows(schema.REC_REFAULT, same)
        pageouts = self._rows(schema.REC_PAGEOUT, same)
        self.buf = {k: [] for k in self.buf}
        self.buf_seq = None
        T = max(self.T + 1, int(a[AGGR["now_us"]]) // self.aggr_us)
        n, sh, ps = self.n_chunks, self.shift, schema.PAGE_SHIFT
        # which chunks were accessed: regions with nr_accesses > 0, and refaults (by address; by
        # region when the kernel sent only a sample of the addresses)
        total = int(a[AGGR["refaults"]])
        sampled = total - self.refaults_seen > refaults.shape[0]
        self.refaults_seen = total
        mark = np.zeros(n + 1, np.int64)
        hot = regions[(regions[:, 3] > 0) | ((regions[:, 5] > 0) & sampled)] if regions.shape[0] else regions
        if hot.shape[0]:
            lo = np.clip((hot[:, 1] >> ps) >> sh, 0, n)
            hi = np.clip((((hot[:, 2] >> ps) - 1) >> sh) + 1, 0, n)
            np.add.at(mark, lo, 1)
            np.add.at(mark, hi, -1)
        active = np.cumsum(mark[:n]) > 0
        if refaults.shape[0]:
            c = np.clip((refaults[:, 1] >> ps) >> sh, 0, n - 1)
            active[c] = True
            np.subtract.at(self.out, c, 1.0)
        for row in pageouts:
            lo, hi, got = int(row[1]) >> ps, int(row[2]) >> ps, int(row[3])
            if got <= 0 or hi <= lo:
                continue
            cs = np.arange(lo >> sh, min(((hi - 1) >> sh) + 1, n))
            overlap = np.minimum(hi, (cs + 1) << sh) - np.maximum(lo, cs << sh)
            self.out[cs] += got * overlap / (hi - lo)
        np.clip(self.out, 0.0, float(self.chunk_pages), out=self.out)
        # survival statistics: the chunks idle (for at least G_MIN) at the previous step were at
        # risk; shorter pauses are part of a burst (DAMON's sampling misses accesses)
        self.events *= self.decay
        self.expo *= self.decay
        d_prev = self.T - self.last_act
        risk = d_prev >= G_MIN
        if risk.any():
            d = d_prev[risk].astype(np.float64)
            cell, scale = self.cells(d, self.gap[risk], self.ngap[risk], self.regular[risk], self.burst[risk])
            np.add.at(self.expo, cell, scale)
            ev = active[risk]
            if ev.any():
                np.add.at(self.events, cell[ev], 1.0)
        onset = active & risk & self.seen  # a first access starts the record, it closes no gap
        if onset.any():
            idx = np.flatnonzero(onset)
            self.burst[idx] = np.maximum(self.last_act[idx] - self.burst_start[idx] + 1, 1)
            self._new_gap(idx, T)
            self.burst_start[idx] = T
        first = active & ~self.seen
        self.burst_start[first] = T
        self.seen |= active
        self._mature(T)
        self.premature *= self.decay
        self.matured *= self.decay
        self.last_act[active] = T
        self.rec_T[active] = -1
        self.active_prev = (T - self.last_act) < G_MIN  # in a burst
        self.T = T
        self.aggregations += 1

    def _new_gap(self, idx: np.ndarray, T: int) -> None:
        g = (T - self.last_act[idx]).astype(np.float64)
        k = self.ngap[idx]
        hist = self.gaps[idx]
        hist[np.arange(idx.shape[0]), k % N_GAPS] = g
        first = k == 0
        hist[first] = g[first][:, None]  # a first gap stands for all
        self.gaps[idx] = hist
        med = np.median(hist, axis=1)
        self.gap[idx] = med
        self.regular[idx] = (k >= 1) & (np.abs(hist - med[:, None]) <= REGULAR * med[:, None]).all(axis=1)
        self.ngap[idx] = k + 1
        self._score_errors(idx, T)

    def _score_errors(self, idx: np.ndarray, T: int) -> None:
        was = self.rec_T[idx] >= 0
        if not was.any():
            return
        i = idx[was]
        actual = (T - self.rec_T[i]).astype(np.float64)
        h = self.horizon_us / self.aggr_us
        self.premature += float(np.count_nonzero(actual < h))
        self.matured += float(np.count_nonzero(actual >= h))
        self.log_err += float(np.abs(np.log2((actual + 1.0) / (self.rec_u[i] + 1.0))).sum())
        self.n_err += int(i.shape[0])

    def _mature(self, T: int) -> None:
        """Recommended chunks that stayed idle for the whole horizon were right."""
        done = (self.rec_T >= 0) & (T - self.rec_T >= self.horizon_us // self.aggr_us)
        if done.any():
            self.matured += float(np.count_nonzero(done))
            self.rec_T[done] = -1

    # -- predicting -------------------------------------------------------------------------
    def hazard(self) -> np.ndarray:
        """Smoothed re-access hazard per cell (per interval, or per unit of ratio)."""
        ev, ex = self.events, self.expo
        out = np.empty(N_CELLS)
        ie, ix = ev[:N_IRR].reshape(-1, N_BUCKETS), ex[:N_IRR].reshape(-1, N_BUCKETS)
        h0 = (ie.sum() + 1.0) / (ix.sum() + 2.0)
        hb = (ie.sum(axis=0) + self.prior * h0) / (ix.sum(axis=0) + self.prior)
        out[:N_IRR] = ((ie + self.prior * hb) / (ix + self.prior)).ravel()
        re, rx = ev[N_IRR:], ex[N_IRR:]
        r0 = (re.sum() + 1.0) / (rx.sum() + 2.0)
        out[N_IRR:] = (re + self.prior * r0) / (rx + self.prior)
        return np.clip(out, 1e-9, None)

    def predict(self) -> np.ndarray:
        """Predicted idle time left per chunk, in aggregation intervals: when
        the chance of a re-access reaches ``quantile / caution``, at most
        ``max_predict`` horizons; 0 for chunks accessed in the last aggregation.

        The hazard is constant between breakpoints (powers of two, and the
        ratio edges times the chunk's typical gap, in its first and its
        next period), so the cumulative hazard is exact on those segments:
        one sorted row of breakpoints per chunk."""
        if not self.ready:
            return np.zeros(0)
        d0 = np.maximum(self.T - self.last_act, 0).astype(np.float64)
        regular = self.regular if self.events[N_IRR:].sum() >= MIN_REGULAR_EVENTS else np.zeros(self.n_chunks, bool)
        gap = np.where(self.ngap > 0, self.gap, 0.0)
        # chunks in (about) the same state get the same prediction: solve each state once, with
        # idle times and gaps rounded to 1/16 of their octave (at most 6 % off) beyond 64 intervals
        lim = (1 << 23) - 1
        di = _round_log(np.minimum(d0, lim))
        gi = _round_log(np.minimum(np.round(gap), lim))
        bi = np.minimum(np.where(regular, self.burst, 0), (1 << 15) - 1).astype(np.int64)
        key = (((di << 23 | gi) << 15 | bi) << 1) | regular
        uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
        ur = np.zeros(first.shape[0])
        reg = regular[first]
        for grp in (reg, ~reg):  # regular states need the wrapped breakpoints, the others do not
            if grp.any():
                f = first[grp]
                ur[grp] = self._survival_quantile(di[f].astype(np.float64), gi[f].astype(np.float64), reg[grp],
                                                  np.where(reg[grp], self.burst[f], 0.0))
        u = ur[inv.ravel()]
        u[self.active_prev] = 0.0
        return u

    def _survival_quantile(self, d0, gap, regular, burst) -> np.ndarray:
        per_unit = self.hazard()
        per_unit = np.where(np.arange(N_CELLS) < N_IRR, -np.log1p(-np.minimum(per_unit, 1 - 1e-9)), per_unit)
        hz = max(1, self.horizon_us // self.aggr_us)
        umax = float(max(8, self.max_predict * hz))
        n = d0.shape[0]
        ngap = (gap > 0).astype(np.int64)
        g = gap[:, None]
        cyc = np.maximum(gap + burst, 1.0)[:, None]
        k0 = np.frexp(np.maximum(d0, 1.0))[1][:, None]
        span = int(np.frexp(umax)[1]) + 2
        pows = np.ldexp(1.0, k0 + np.arange(span)[None, :] - 1)
        cols = [d0[:, None], pows, RATIO_EDGES[None, :] * g, (d0 + umax)[:, None]]
        if regular.any():
            cols += [np.array(WRAP)[None, :] * g, cyc + RATIO_EDGES[None, :] * g,
                     2 * cyc + RATIO_EDGES[None, :] * g]
        bp = np.sort(np.clip(np.concatenate(cols, axis=1), d0[:, None], (d0 + umax)[:, None]), axis=1)
        seg0, seg_len = bp[:, :-1], np.diff(bp, axis=1)
        cell, scale = self.cells(seg0, gap[:, None], ngap[:, None], regular[:, None], burst[:, None])
        rate = per_unit[cell] * scale
        cum = np.cumsum(rate * seg_len, axis=1)
        q = min(max(self.quantile / self.caution, 1e-4), 0.99)
        tau = -np.log1p(-q)
        hit = cum >= tau
        m = seg_len.shape[1]
        j = np.where(hit.any(axis=1), hit.argmax(axis=1), m)
        jj = np.minimum(j, m - 1)
        rows = np.arange(n)
        before = np.where(jj > 0, cum[rows, np.maximum(jj - 1, 0)], 0.0)
        u = seg0[rows, jj] - d0 + (tau - before) / np.maximum(rate[rows, jj], 1e-12)
        return np.where(j >= m, umax, np.clip(u, 0.0, umax))

    def candidates(self, u: np.ndarray) -> np.ndarray:
        """Chunks worth listing: idle now and not mostly paged out already.  The
        list is in priority order, so the kernel takes from the top: without
        a target only what is predicted idle for ``min_age``, with one as much
        as the target asks."""
        return (self.out < self.out_limit * self.chunk_pages) & (u > 0)

    # -- recommending ------------------------------------------------------------------------
    def payload(self, chunks: np.ndarray, score_us: np.ndarray) -> np.ndarray:
        """Chunks (address order) with predicted idle times -> OP_RECLAIM payload."""
        if chunks.shape[0] == 0:
            return np.array([schema.VERSION, 0, 0, 0], np.int64)
        adjacent = chunks[1:] == chunks[:-1] + 1
        lg = np.log2(np.maximum(score_us, 1))
        for per_octave in (2.0, 1.0, 0.5, 0.25, 0.0):  # coarser until the ranges fit in one payload
            q = np.floor(lg * per_octave).astype(np.int64)
            brk = np.ones(chunks.shape[0], bool)
            brk[1:] = ~adjacent | (q[1:] != q[:-1])
            if int(brk.sum()) <= schema.MAX_RANGES:
                break
        run = np.cumsum(brk) - 1
        starts = chunks[brk]
        ends = np.zeros_like(starts)
        np.maximum.at(ends, run, chunks + 1)
        sc = np.full(starts.shape[0], np.iinfo(np.int64).max, np.int64)
        np.minimum.at(sc, run, score_us)
        order = np.lexsort((starts, -sc))[:schema.MAX_RANGES]
        st = (starts[order] << self.shift) << schema.PAGE_SHIFT
        en = np.minimum((ends[order] << self.shift) << schema.PAGE_SHIFT, self.target_bytes)
        sc = np.clip(sc[order], 0, schema.MAX_IDLE_US)
        body = np.stack([st, en, sc], axis=1).ravel()
        return np.concatenate([np.array([schema.VERSION, order.shape[0], 0, 0], np.int64), body])

    def choose(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(chunks in address order, predicted idle in us) to recommend."""
        idx = np.flatnonzero(self.candidates(u))
        return idx, np.round(u[idx] * self.aggr_us).astype(np.int64)

    def recommend(self, now: int) -> list[Advice]:
        if not self.ready or self.aggregations == 0:
            return []
        if self.last_advised >= 0 and self.aggregations - self.last_advised < self.recommend_every:
            return []
        self.last_advised = self.aggregations
        u = self.predict()
        if self.events.sum() < self.min_events:  # no re-access seen yet: nothing to predict from
            u = np.zeros_like(u)
        idx, score = self.choose(u)
        cold = idx[u[idx] * self.aggr_us >= self.horizon_us]  # the claims the horizon can check
        fresh = cold[self.rec_T[cold] < 0]
        self.rec_T[fresh] = self.T
        self.rec_u[fresh] = u[fresh]
        return [Advice(schema.OP_RECLAIM, self.payload(idx, score), self.ttl_us, self.model_id)]

    # -- feedback ------------------------------------------------------------------------------
    def on_feedback(self, feedback: Feedback) -> None:
        if feedback.op_kind != schema.OP_RECLAIM:
            return
        for tr in feedback.transitions:
            if tr.reason in (Reason.WORSE, Reason.NOT_BETTER):
                self.demotions += 1
                self.caution = min(self.caution * 1.5, 4.0)
            elif tr.reason in (Reason.BETTER, Reason.MATURE):
                self.promotions += 1
                self.caution = max(1.0, self.caution / 1.5)
        share = self.premature_share()
        if share is not None and share > 2 * self.quantile:
            self.caution = min(self.caution * 1.1, 4.0)
        elif share is not None and share < 1.25 * self.quantile:
            self.caution = max(1.0, self.caution / 1.1)

    def premature_share(self) -> float | None:
        """Recent share of recommended chunks accessed within the horizon."""
        total = self.premature + self.matured
        return None if total < 16 else self.premature / total

    def describe(self) -> dict:
        share = self.premature_share()
        return {"aggregations": self.aggregations, "chunks": getattr(self, "n_chunks", 0),
                "chunk_pages": getattr(self, "chunk_pages", 0), "caution": round(self.caution, 3),
                "premature_share": None if share is None else round(share, 4),
                "mean_log2_error": round(self.log_err / self.n_err, 4) if self.n_err else None,
                "demotions": self.demotions, "promotions": self.promotions}


class DamonRandom(DamonReuse):
    """Adversary: random ranges with random idle predictions."""

    def __init__(self, seed: int = 0, share: float = 0.25, **kw) -> None:
        super().__init__(seed, **kw)
        self.share = float(share)
        self.rng = np.random.default_rng(seed)

    def choose(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.flatnonzero(self.rng.random(self.n_chunks) < self.share)
        hi = max(2, 4 * max(self.min_age_us, self.aggr_us))
        return idx, self.rng.integers(0, hi, idx.shape[0]).astype(np.int64)

    def on_feedback(self, feedback: Feedback) -> None:
        pass


class DamonInverted(DamonReuse):
    """Adversary: the real model's ranking reversed (soonest re-access labelled as idle longest)."""

    def choose(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ok = self.candidates(u)
        k = int(np.count_nonzero(ok))
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        pool = np.flatnonzero(self.out < self.out_limit * self.chunk_pages)
        worst = pool[np.argsort(u[pool], kind="stable")[:k]]  # predicted to come back soonest
        labels = np.round(np.sort(u[ok])[::-1] * self.aggr_us).astype(np.int64)  # largest first
        order = np.argsort(worst, kind="stable")
        return worst[order], labels[order]

    def on_feedback(self, feedback: Feedback) -> None:
        pass
