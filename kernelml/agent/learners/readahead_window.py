"""Learner for the readahead subsystem: classify each file's access pattern,
predict the cost of each readahead limit for it, recommend the cheapest.

What it sees (``kernelml.uapi.readahead``): per epoch, one ``REC_FILE``
record per active file (request sizes, how many requests continued the
previous one, went backwards or jumped, and how far, mmap faults, writes,
pages found cached / waited for / missed, the time the application waited,
readahead calls, pages read and pages evicted unused, and the limit and
source in force) and one ``REC_EPOCH`` record (device totals, the epoch's
elapsed time, the kernel's default limit).

What it predicts: for a file's *pattern class* (sequentiality x request size
x mmap x backwards, from smoothed per-file features) and each limit ``w`` on
the ladder ``uapi.readahead.LADDER``, the cost per page requested, in
microseconds: the time the application waits plus the device time of the
pages readahead brings in that are never used (the quantities the kernel
side charges the sources with).  Two sources, blended:

* an analytic prior from the pattern and a device model it calibrates
  online — the device time per request and per page (least squares on the
  epochs' device busy time), the cost of a synchronous miss (waits per
  missed page of random-access files), the application's own time per page
  (elapsed minus waits).  Sequential runs of mean length ``R = q / (1 - s)``
  pages pay one synchronous miss per run plus any transfer the window
  cannot hide behind the application's time, plus the overshoot at the
  run's end; random reads pay a miss whatever the limit (the kernel reads
  just the request) but ``w = 0`` splits larger requests into single pages;
  a random mmap fault pays the read-around of ``w`` pages;
* the costs actually observed for that class under each limit (from epochs
  where that limit was in force, whichever source set it), with a weight
  that grows with the number of observations.

Recommendation: per active file (most pages first, up to ``MAX_ENTRIES``)
the limit with the lowest blended cost, kept unless another is cheaper by
``switch_pm``; and a device-wide limit for readers without an entry: the
kernel's default when the kernel side applies per-reader limits (nothing
is known of a reader not seen yet), and otherwise — a real kernel, whose
only knob is the device's ``read_ahead_kb`` — the limit minimising the
page-weighted cost over the active files, at least ``min_device_pages``
(a file nobody has seen yet must not be read a page at a time: with a
limit of 0 the kernel splits every read into single-page reads).  When the kernel side cannot
observe per-file waits (a live kernel), the per-class observations come
from the epochs' elapsed time per page instead.

Adversaries for the no-regret check: :class:`ReadaheadRandom` (random limits)
and :class:`ReadaheadInverted` (the most expensive limit by the same
estimate).
"""

from __future__ import annotations

import numpy as np

from ...uapi import readahead as schema
from ...uapi.messages import Feedback, Hello
from ..learner import Advice, Learner

F = {name: i for i, name in enumerate(schema.FILE_FIELDS)}
E = {name: i for i, name in enumerate(schema.EPOCH_FIELDS)}
LADDER = np.array(schema.LADDER, np.int64)
NW = LADDER.size
# Limits the learner recommends: never 0.  With ra_pages = 0 the kernel splits every read into
# single-page reads, and takes the reader out of its own read-around bookkeeping
# (do_sync_mmap_readahead returns before mmap_miss++, do_async_mmap_readahead before clearing
# PG_readahead), so the human-made policy, whenever the proxy hands the reader back to it (its
# probes, a demotion), starts from a state it never produces itself; on this model's random
# mmap workloads that made its read-around misfire for whole blocks.  Four pages cost a random
# fault a few per cent more and keep the kernel's protection working.
CANDIDATE = LADDER >= 4

# pattern classes: seq bucket (4) x request-size bucket (3) x mmap (2) x backwards (2)
SEQ_EDGES = (0.25, 0.6, 0.9)
SIZE_EDGES = (1.5, 8.5)
N_CLASSES = 4 * 3 * 2 * 2


def ladder_index(pages) -> np.ndarray:
    """Nearest ladder entry (in log scale) of limits in pages."""
    p = np.asarray(pages, np.float64)
    lg = np.log2(np.maximum(p, 0.5))
    lad = np.log2(np.maximum(LADDER.astype(np.float64), 0.5))
    return np.abs(lg[..., None] - lad).argmin(axis=-1)


def pattern_class(seq: float, size: float, mmap: float, back: float) -> int:
    sb = int(np.searchsorted(SEQ_EDGES, seq, side="right"))
    zb = int(np.searchsorted(SIZE_EDGES, size, side="right"))
    return ((sb * 3 + zb) * 2 + int(mmap >= 0.5)) * 2 + int(back >= 0.5)


class _FileState:
    __slots__ = ("req", "pages", "seq", "back", "jumps", "mmap", "writes", "size", "last_epoch", "rec", "weight",
                 "last_ra", "app_us", "epoch_pages")

    def __init__(self) -> None:
        self.req = self.pages = self.seq = self.back = self.jumps = self.mmap = self.writes = 0.0
        self.size = -1
        self.last_epoch = -1
        self.rec = -1  # limit last recommended (pages), -1: none
        self.weight = 0.0  # pages per epoch, smoothed
        self.last_ra = -1  # limit in force in the file's previous record
        self.app_us = -1.0  # the application's own time per page while this reader is busy (-1: unknown)
        self.epoch_pages = 0.0  # pages in the latest record


class ReadaheadWindow(Learner):
    """Pattern class x limit -> cost per page (analytic prior + observations); the cheapest limit per file."""

    subsystem = schema.NAME

    def __init__(self, seed: int = 0, ttl: int | None = None, decay: float = 0.9, feature_decay: float = 0.3,
                 prior_weight: float = 10.0,
                 switch_pm: int = 50, keep_epochs: int = 256, active_epochs: int = 8,
                 max_entries: int = schema.MAX_ENTRIES,
                 min_device_pages: int = 8, live_prior_weight: float = 2.0) -> None:
        super().__init__(seed)
        self.live_prior_weight = live_prior_weight
        self.min_device_pages = min_device_pages
        self.ttl = ttl
        self.decay = decay
        self.feature_decay = feature_decay
        self.prior_weight = prior_weight
        self.switch_pm = switch_pm
        self.keep_epochs = keep_epochs
        self.active_epochs = active_epochs
        self.max_entries = max_entries
        self.tick_ns = 0
        self.files: dict[int, _FileState] = {}
        self.epoch = 0
        self.ra_default = 32
        self.cache_cap = -1
        # observed cost per page (us) by (class, ladder index): decayed sums
        self.obs_sum = np.zeros((N_CLASSES, NW))
        self.obs_n = np.zeros((N_CLASSES, NW))
        # device-level observations (live kernels: no per-file waits)
        self.dev_sum = np.zeros((N_CLASSES, NW))
        self.dev_n = np.zeros((N_CLASSES, NW))
        self.per_file_costs = True
        # device model: busy_us ~ r * reads + p * pages (decayed normal equations)
        self.ne = np.zeros(5)  # sum x1x1, x1x2, x2x2, x1y, x2y
        self.req_us = 10.0
        self.page_us = 2.0
        self.miss_us = 100.0
        self.app_us = 1.0
        self.n_epochs = 0
        self.n_records = 0
        self.in_epoch: list[_FileState] = []  # readers with a record in the epoch being received

    # ---- input
    def hello(self, hello: Hello) -> None:
        self.tick_ns = hello.tick_ns

    def learn_one(self, record_kind: int, record: np.ndarray) -> None:
        self.learn_many(record_kind, np.asarray(record).reshape(1, -1))

    def learn_many(self, record_kind: int, records: np.ndarray) -> None:
        if records.size == 0:
            return
        if record_kind == schema.REC_FILE:
            if records.shape[1] != len(schema.FILE_FIELDS):
                raise ValueError("REC_FILE record of the wrong width")
            self._files(records)
        elif record_kind == schema.REC_EPOCH:
            if records.shape[1] != len(schema.EPOCH_FIELDS):
                raise ValueError("REC_EPOCH record of the wrong width")
            for row in records:
                self._epoch(row)

    def _files(self, recs: np.ndarray) -> None:
        a = self.decay
        for row in recs:
            key = int(row[F["key"]])
            req = float(row[F["requests"]])
            wr = float(row[F["writes"]])
            if key < 0:
                continue
            st = self.files.get(key)
            if st is None:
                st = self.files[key] = _FileState()
            ep = int(row[F["epoch"]])
            self.epoch = max(self.epoch, ep)
            steady = st.last_ra == int(row[F["ra_pages"]]) and st.last_epoch == ep - 1
            st.last_ra = int(row[F["ra_pages"]])
            st.last_epoch = ep
            st.size = int(row[F["size_pages"]])
            pages = float(row[F["pages"]])
            st.epoch_pages = pages
            self.in_epoch.append(st)
            st.weight = a * st.weight + (1 - a) * (pages + wr)
            if req + wr <= 0:
                continue
            # smoothed pattern features (weighted by requests; a new file starts from its first record)
            w = min(1.0, (req + wr) / 64.0)
            fa = self.feature_decay
            b = 0.0 if st.req + st.writes == 0 else fa + (1 - fa) * (1 - w)
            n = max(req, 1.0)
            st.req = b * st.req + (1 - b) * req
            st.pages = b * st.pages + (1 - b) * pages
            st.seq = b * st.seq + (1 - b) * row[F["seq"]] / n
            st.back = b * st.back + (1 - b) * row[F["back"]] / n
            st.jumps = b * st.jumps + (1 - b) * row[F["jumps"]] / n
            st.mmap = b * st.mmap + (1 - b) * row[F["mmap"]] / n
            st.writes = b * st.writes + (1 - b) * wr / (req + wr)
            self.n_records += 1
            # an observation of this epoch's cost under the limit in force
            stall = float(row[F["stall_us"]])
            if stall < 0:
                self.per_file_costs = False
                continue
            if req < 4 or pages <= 0:
                continue
            wt = 1.0 if steady else 0.5  # a transition still carries some of the previous limit's prefetch
            c = pattern_class(row[F["seq"]] / n, pages / n, row[F["mmap"]] / n, row[F["back"]] / n)
            wi = int(ladder_index(row[F["ra_pages"]]))
            cost = (stall + float(row[F["useless"]]) * self.page_us) / pages
            self.obs_sum[c, wi] = a * self.obs_sum[c, wi] + wt * cost
            self.obs_n[c, wi] = a * self.obs_n[c, wi] + wt
            self.per_file_costs = True
            # calibrate the cost of a synchronous miss on random-access files
            miss = float(row[F["miss_pages"]])
            if miss >= 4 and row[F["jumps"]] + row[F["back"]] >= req / 2:
                self.miss_us = 0.9 * self.miss_us + 0.1 * (stall / miss)

    def _epoch(self, row: np.ndarray) -> None:
        self.n_epochs += 1
        self.epoch = max(self.epoch, int(row[E["epoch"]]))
        self.ra_default = int(row[E["ra_default"]])
        self.cache_cap = int(row[E["cache_cap"]])
        reads, pages, busy = float(row[E["dev_reads"]]), float(row[E["dev_pages"]]), float(row[E["dev_busy_us"]])
        if busy >= 0 and reads > 0:
            d = 0.98
            self.ne = d * self.ne + np.array([reads * reads, reads * pages, pages * pages, reads * busy, pages * busy])
            a11, a12, a22, b1, b2 = self.ne
            det = a11 * a22 - a12 * a12
            if det > 1e-9 * max(1.0, a11 * a22):
                r = (b1 * a22 - b2 * a12) / det
                p = (a11 * b2 - a12 * b1) / det
                if r >= 0 and p > 0:
                    self.req_us, self.page_us = r, p
        el, stall, n = float(row[E["elapsed_us"]]), float(row[E["stall_us"]]), float(row[E["pages"]])
        if n > 0 and el >= 0 and stall >= 0:
            app = max(0.01, (el - stall) / n)
            self.app_us = 0.9 * self.app_us + 0.1 * app
            for st in self.in_epoch:  # per reader, by its share of the epoch's pages
                w = 0.7 * min(1.0, st.epoch_pages / n)
                st.app_us = app if st.app_us < 0 else (1 - w) * st.app_us + w * app
        self.in_epoch = []
        if n > 0 and el > 0 and stall < 0:
            # live kernel: only the epoch's time per page is observable
            c = self._epoch_class()
            if c is not None:
                wi = int(ladder_index(row[E["ra_device"]]))
                a = self.decay
                self.dev_sum[c, wi] = a * self.dev_sum[c, wi] + el / n
                self.dev_n[c, wi] = a * self.dev_n[c, wi] + 1.0

    # ---- the model
    def _class_of(self, st: _FileState) -> int:
        n = max(st.req, 1e-9)
        return pattern_class(st.seq, st.pages / n, st.mmap, st.back)

    def _active(self, epochs: int | None = None) -> list[tuple[int, _FileState]]:
        """Files with a record in the last ``epochs`` epochs (default: ``active_epochs``)."""
        span = self.active_epochs if epochs is None else epochs
        return [(k, s) for k, s in self.files.items() if s.last_epoch >= self.epoch - span and s.weight > 0]

    def _epoch_class(self):
        act = self._active()
        if not act:
            return None
        w = np.array([s.weight for _, s in act])
        cls = np.array([self._class_of(s) for _, s in act])
        tot = np.bincount(cls, weights=w, minlength=N_CLASSES)
        return int(tot.argmax())

    def prior(self, st: _FileState, share: float = 1.0) -> np.ndarray:
        """Analytic cost per page (us) for every ladder limit.  ``share``: the
        file's share of the pages the application requests (interleaved
        streams consume their windows that much more slowly)."""
        n = max(st.req, 1e-9)
        q = max(1.0, st.pages / n)
        s = min(max(st.seq, 0.0), 0.9999)
        L, p, r = self.miss_us, self.page_us, self.req_us
        c = (st.app_us if st.app_us > 0 else self.app_us) / min(1.0, max(share, 1e-3))
        w = LADDER.astype(np.float64)
        out = np.empty(NW)
        size = st.size if st.size > 0 else 1e9
        if st.mmap >= 0.5 and s < 0.5:
            # random faults: a read-around of w pages per miss (its unused part is charged)
            out[:] = L + 2.0 * np.maximum(w - 1, 0) * p
            return out
        if st.back >= 0.5 or s < 0.25:
            # random or backwards reads: the kernel reads the request; w = 0 splits it into pages
            out[:] = (L + (q - 1) * p) / q
            out[0] = L
            return out
        run = min(q / (1.0 - s), size)
        for i, wv in enumerate(w):
            if wv <= 0:
                out[i] = L * (1.0 - s) + L * s  # every page a synchronous single-page read
                continue
            first = min(run, max(wv, q))
            sync = (L + first * p) / run
            # each later window is issued a window ahead: it hides its latency only if the
            # application takes longer than that to consume a window
            behind = max(0.0, (L + r) / max(wv, q) + p - c) * max(0.0, run - first) / run
            over = 2.0 * p * min(wv, max(0.0, size - run)) / run  # read past the run's end
            out[i] = sync + behind + over
        return out

    def estimate(self, st: _FileState, share: float = 1.0) -> np.ndarray:
        c = self._class_of(st)
        pr = self.prior(st, share)
        k = self.prior_weight
        if self.per_file_costs:
            n, tot = self.obs_n[c], self.obs_sum[c]
        else:
            n, tot = self.dev_n[c], self.dev_sum[c]
            # device-level costs are elapsed time per page: put the prior on that scale, and let
            # the device's own numbers overrule it quickly (it knows nothing of this device)
            pr = pr + self.app_us
            k = self.live_prior_weight
        return (tot + k * pr) / (n + k)

    def choose(self, est: np.ndarray, current: int) -> int:
        i = int(np.where(CANDIDATE, est, np.inf).argmin())
        if current >= 0:
            j = int(ladder_index(current))
            if est[j] * (1000 - self.switch_pm) <= est[i] * 1000:
                return int(LADDER[j])
        return int(LADDER[i])

    def plan(self) -> tuple[int, list[tuple[int, int]]]:
        recent = self.epoch - self.active_epochs
        known = sorted(self._active(self.keep_epochs), key=lambda kv: (kv[1].last_epoch < recent, -kv[1].weight))
        entries = []
        total = np.zeros(NW)
        act = [st for _, st in known if st.last_epoch >= recent]
        wsum = sum(st.weight for st in act) or 1.0
        for key, st in known:
            share = st.weight / wsum if st.last_epoch >= recent else 1.0
            est = self.estimate(st, share)
            if st.last_epoch >= recent:
                total += st.weight * est
            w = self.choose(est, st.rec)
            entries.append([key, w, st])
        self._fit_cache([e for e in entries if e[2].last_epoch >= recent])
        for e in entries:
            e[2].rec = e[1]
        entries = [(k, w) for k, w, _ in entries]
        if self.per_file_costs or not act:
            # the kernel side applies per-reader limits: readers not seen yet keep the kernel's
            # default (nothing is known of them, and a wrong guess is expensive both ways)
            device = self.ra_default
        else:
            # a device-wide knob only (a live kernel): the best single limit for the active mix,
            # never so small that new files are read a page at a time
            ok = CANDIDATE & (LADDER >= self.min_device_pages)
            best = int(np.flatnonzero(ok)[int(total[ok].argmin())])
            # the kernel's default is a candidate too (it may be off the ladder): keep it unless
            # another limit is cheaper by switch_pm
            d = int(ladder_index(self.ra_default))
            if total[best] * 1000 >= total[d] * (1000 - self.switch_pm):
                device = self.ra_default
            else:
                device = int(LADDER[best])
        return device, entries[: self.max_entries]

    def _fit_cache(self, entries: list) -> None:
        """Readahead of the sequential files in flight at once (about two
        windows each) must fit in half the cache, or the windows evict each
        other before they are read: shrink the largest until they do."""
        if self.cache_cap <= 0:
            return
        budget = self.cache_cap // 2
        seq = [e for e in entries if e[2].seq >= SEQ_EDGES[0] and e[2].mmap < 0.5]
        while seq and 2 * sum(e[1] for e in seq) > budget:
            big = max(seq, key=lambda e: e[1])
            i = int(ladder_index(big[1]))
            if i <= 1:
                break
            big[1] = int(LADDER[i - 1])

    def _ttl(self) -> int:
        if self.ttl is not None:
            return self.ttl
        return 1 << 13 if self.tick_ns == 0 else max(1, 5_000_000_000 // self.tick_ns)

    def recommend(self, now: int) -> list[Advice]:
        if not self.files:
            return []
        device, entries = self.plan()
        return [Advice(schema.OP_WINDOW, np.array(schema.payload(device, entries), np.int64), self._ttl())]

    def on_feedback(self, feedback: Feedback) -> None:
        pass

    def describe(self) -> dict:
        seen = self.obs_n.sum() if self.per_file_costs else self.dev_n.sum()
        return {"files": len(self.files), "records": self.n_records, "epochs": self.n_epochs,
                "observed_cells": int(np.count_nonzero((self.obs_n if self.per_file_costs else self.dev_n) > 0.5)),
                "observations": round(float(seen), 1), "req_us": round(self.req_us, 2),
                "page_us": round(self.page_us, 3), "miss_us": round(self.miss_us, 1),
                "app_us": round(self.app_us, 3)}


class ReadaheadRandom(Learner):
    """Adversary: random limits from the ladder, for every file, every time."""

    subsystem = schema.NAME

    def __init__(self, seed: int = 0, ttl: int | None = None) -> None:
        super().__init__(seed)
        self.rng = np.random.default_rng(seed)
        self.ttl = ttl
        self.tick_ns = 0
        self.keys: dict[int, int] = {}

    def hello(self, hello: Hello) -> None:
        self.tick_ns = hello.tick_ns

    def learn_one(self, record_kind: int, record: np.ndarray) -> None:
        self.learn_many(record_kind, np.asarray(record).reshape(1, -1))

    def learn_many(self, record_kind: int, records: np.ndarray) -> None:
        if record_kind == schema.REC_FILE and records.size:
            for row in records:
                self.keys[int(row[F["key"]])] = int(row[F["epoch"]])

    def recommend(self, now: int) -> list[Advice]:
        if not self.keys:
            return []
        keys = sorted(self.keys)[: schema.MAX_ENTRIES]
        w = self.rng.choice(LADDER, len(keys) + 1)
        ttl = self.ttl or (1 << 13 if self.tick_ns == 0 else max(1, 5_000_000_000 // self.tick_ns))
        return [Advice(schema.OP_WINDOW, np.array(schema.payload(int(w[0]), list(zip(keys, w[1:].tolist()))),
                                                  np.int64), ttl)]


class ReadaheadInverted(ReadaheadWindow):
    """Adversary: the most expensive limit by the real model's own estimate."""

    def choose(self, est: np.ndarray, current: int) -> int:
        return int(LADDER[int(np.where(CANDIDATE, est, -np.inf).argmax())])

    def plan(self) -> tuple[int, list[tuple[int, int]]]:
        device, entries = super().plan()
        act = self._active()
        if act:
            total = sum(st.weight * self.estimate(st) for _, st in act)
            device = int(LADDER[int(np.asarray(total).argmax())])
        return device, entries
