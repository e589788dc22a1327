"""The ML model proxy on DAMON_RECLAIM's pageout scheme (the kernel side).

Every aggregation interval in which the pageout scheme is active (its
watermarks) and its quota for the window is not used up, kdamond's walk
asks ``choose(view)`` which regions to page out.  :meth:`ReclaimML.choose`
answers in *reclaim batches* of ``batch_pages`` pages (32, SWAP_CLUSTER_MAX);
one batch is one operation (``OP_RECLAIM``) of the proxy, whose
interleaving (by mode, one batch at a time) decides whether

* the human-made policy takes the batch: the next piece of DAMOS's own
  walk (:func:`.choose.damos_choose`: regions matching DAMON_RECLAIM's
  access pattern, not accessed for ``min_age``, in address order under
  the quota) — exactly DAMON_RECLAIM's choice, batch by batch; or
* the freshest valid recommendation does: a list of address ranges in
  priority order, each with the model's predicted time to its next access
  (``uapi/damon.py``), mapped onto the regions of the moment, in list
  order.  Without a target saving only ranges predicted idle for at least
  ``min_age`` are used (the coldness the human-made rule asks of a
  region's past, asked of its future); with one, the target's allowance
  bounds ML's batches and ML's order alone picks.

The interval ends when the quota is used or the source whose turn it is
has nothing more to reclaim; in recommendation mode the human-made walk
having nothing does not stop ML (see :meth:`ReclaimML.choose`).  Batches,
not whole intervals, so that a mode's share is a share of the pages
reclaimed: with one decision per interval a single human probe could
reclaim as much as all of ML's intervals.

Either way the monitor's checks stay in force: ``validate_choices`` drops
malformed entries and the walk cuts the last region at the quota.  The
pageout's young filter still skips pages accessed since DAMON last checked
them, whoever decided.  Without an agent, or with one that is silent or
sends garbage, the proxy stays in emergency and the run is exactly
DAMON_RECLAIM's (a target saving binds ML only).

Mapping address ranges onto regions
-----------------------------------
DAMON's regions change at every aggregation, so a recommendation names
byte ranges; ``choose`` can only ask for the first bytes of a region.  A
range that starts inside a region therefore splits the region there
before the walk (:meth:`ReclaimML.before_walk`), as the kernel's DAMOS
address filters do (mm/damon/core.c damos_filter_match splits a region at
the filter's boundary); the pieces carry the region's counters and are
merged back by the next aggregation's kdamond_merge_regions.  At most
``max_splits`` splits per interval, and never beyond the region array's
capacity; a range whose start could not be split in is used from the next
region boundary on.

Validation
----------
At receipt (``parse``): version, exact length, at most ``MAX_RANGES``
ranges, reserved words zero, ranges page aligned, non-empty, inside the
monitoring target, not overlapping, predictions in ``[0, MAX_IDLE_US]``
and never increasing along the list (priority order).  Stale epochs,
expired recommendations and floods are the proxy core's checks.  Anything
wrong is a counted reject and the human-made walk decides; many rejects in
a row send the proxy to emergency.  Nothing here waits on user space:
``choose`` uses whatever recommendation is stored.

Telemetry
---------
Per aggregation (:meth:`ReclaimML.on_aggregate`, the damon_aggregated
tracepoint's place): the regions with their refaults, a bounded sample of
the refaulting addresses, the ranges paged out and by whom, and a summary
(``uapi/damon.py``).  The proxy is polled there and at every ``tick_us``
of the clock (while kdamond sleeps on its watermarks too).

Efficiency: who pays for a refault
----------------------------------
Pages remember who reclaimed them (the memory model's lineage flag, and
here the time of the eviction), so every refault is charged to the source
whose pageout caused it, however late it comes.  Two schemes are
implemented (``charge``):

``lineage``  the plain scheme: a refault costs 1 to the source that evicted
             the page, when it happens; an eviction earns 1 unit when it
             happens.  The ratio is refaults per reclaimed page.

``horizon``  (default) lineage with a common horizon ``H`` (two
             ``min_age`` unless set): every eviction is judged ``H`` after it
             happened — cost 1 if the page refaulted within ``H``, units the
             aggregation intervals it stayed out (at most ``H``) — and
             charged then, to the source that evicted it.  The ratio is
             refaults per page-interval of memory saved: a refault *hazard*.

Why not the plain scheme.  With both sources acting in alternate intervals
on the same memory, refaults-per-reclaimed-page is biased in three ways:

1. *Censoring.*  Units are paid at eviction, refaults arrive later.  A
   source's recent batches hold evictions whose refaults have not happened
   yet, so the source that reclaimed most recently, or whose pages come
   back later, looks better than it is; a model that just started looks
   best of all.  Judging every eviction after the same horizon, and only
   then, removes that: a batch of evidence is a run of evictions in eviction order,
   each with its complete outcome.  (Charging refaults and exposure as
   they accrue is also censoring-proof, but refaults come in bursts — a
   scan brings a whole area back at once — so batches closed by exposure
   swing with the workload's phase; batches of matured evictions do not.)
2. *It ignores how long memory stays out.*  Under periodic reuse every
   reclaimed page refaults once per period whoever reclaimed it, so both
   sources score about one refault per page even when one of them keeps
   its pages out three times as long — three times the saving per refault,
   which is what "fewer refaults at the same saving" means.  Page-time out
   is the saving itself.
3. *Stale charges.*  A refault may come minutes after the eviction; it
   lands in the current window and judges decisions taken under another
   mode or model.  The horizon bounds that: what happens after ``H`` is
   charged to nobody, and every decision is judged over the same ``H``.

Cross effects that lineage cannot see, and how they are contained:

* One source paging out the other's hot pages: each eviction is charged to
  the source that made it (its lineage), so a source that reclaims pages
  the other one keeps hot pays for their refaults; the young filter makes
  such evictions rare (only pages DAMON checked and found idle are taken).
* A source's pageouts make regions look cold to DAMON (reclaimed pages
  never look accessed), which may lead the *other* source to pick them;
  this changes which pages are candidates, not who pays, and the pageout
  resets the region's age so the human-made rule waits ``min_age`` again.
* Cream skimming: the source that acts first takes the coldest pages and
  leaves warmer ones.  Operations are interleaved one batch at a time
  (``block = 1``), so neither source gets the workload's easy phases to
  itself; both draw from the same quota window.
* Evidence volume is not quality: a timid source that reclaims little but
  well has a good ratio and a small saving.  The proxy judges quality per
  unit; the benchmark judges whole runs at equal saving.

What the horizon leaves: a refault after ``H`` is free, so the ratio is a
local one; a model that spreads its evictions evenly (random) can look
better than a human-made rule that systematically reclaims just before
reuse, while its run-level refaults per saving are worse.  The proxy
compares the two sources with each other, not with the best possible
policy; docs/damon.md shows where that lets a poor model through.

Integer arithmetic only.
"""

from __future__ import annotations

import numpy as np

from ...uapi import damon as schema
from ...uapi.messages import Mode, RejectReason
from ..mllib import HUMAN, ML, MLModelProxy, OpKind, ProxyConfig, Reject
from ..mllib.modes import ModeConfig
from .choose import damos_choose
from .memory import (
    C_REFAULTS, C_REFAULTS_ML, C_RES_INT, C_RESIDENT, C_TOUCH_INT, C_TOUCHED, F_RESIDENT, PAGE_SHIFT, PAGE_SIZE,
)
from .monitor import Kdamond
from .ops import MS_NR
from .regions import END, START, split_region_at

CHARGES = ("horizon", "lineage")
HORIZON_MIN_AGES = 2  # default lineage horizon, in units of the scheme's min_age
OP = schema.OP_RECLAIM
_EMPTY = np.zeros(0, np.int64)


def proxy_config(**overrides) -> ProxyConfig:
    """The proxy's configuration on DAMON's clock (microseconds).

    The agent must be heard within 3 s; at most 64 recommendations per
    second; heartbeat and feedback every second; 32 decisions (apply
    intervals) in a mode before an efficiency-driven move."""
    kw = dict(agent_deadline=3_000_000, rec_limit=64, rec_window=1_000_000, outbox_capacity=1024,
              max_frames_per_poll=256, heartbeat_interval=1_000_000, feedback_interval=1_000_000,
              mode=ModeConfig(min_dwell=32))
    kw.update(overrides)
    return ProxyConfig(**kw)


def make_proxy(endpoint=None, now: int = 0, **overrides) -> MLModelProxy:
    """A proxy for the ``damon`` subsystem; its clock ticks in microseconds."""
    return MLModelProxy(schema.SUBSYSTEM_ID, schema.NAME, endpoint, proxy_config(**overrides),
                        tick_ns=1000, now=now)


class Ranges:
    """A parsed OP_RECLAIM recommendation: page ranges in priority order."""

    __slots__ = ("start", "end", "idle_us")

    def __init__(self, start: np.ndarray, end: np.ndarray, idle_us: np.ndarray) -> None:
        self.start = start  # int64 page numbers
        self.end = end
        self.idle_us = idle_us

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def eligible(self, min_age_us: int) -> int:
        """How many leading ranges are predicted idle for at least ``min_age_us``."""
        return int(np.count_nonzero(self.idle_us >= min_age_us))  # idle never increases: a prefix


def parse_reclaim(words, target_bytes: int) -> Ranges:
    """Check an OP_RECLAIM payload at receipt; raise :class:`Reject`."""
    w = np.asarray(words)
    if w.ndim != 1 or w.dtype.kind not in "iu" or w.shape[0] < schema.RECLAIM_HEADER:
        raise Reject(RejectReason.MALFORMED, "payload too short")
    w = w.astype(np.int64)
    if int(w[0]) != schema.VERSION:
        raise Reject(RejectReason.MALFORMED, f"version {int(w[0])}")
    n = int(w[1])
    if not 0 <= n <= schema.MAX_RANGES:
        raise Reject(RejectReason.OUT_OF_RANGE, f"{n} ranges")
    if w[2] or w[3]:
        raise Reject(RejectReason.MALFORMED, "reserved words not zero")
    if w.shape[0] != schema.RECLAIM_HEADER + schema.RANGE_WORDS * n:
        raise Reject(RejectReason.MALFORMED, "length does not match n_ranges")
    t = w[schema.RECLAIM_HEADER:].reshape(n, schema.RANGE_WORDS)
    start, end, idle = t[:, 0].copy(), t[:, 1].copy(), t[:, 2].copy()
    if n:
        if (start < 0).any() or (end <= start).any() or (end > target_bytes).any():
            raise Reject(RejectReason.OUT_OF_RANGE, "range outside the monitoring target or empty")
        if ((start | end) & (PAGE_SIZE - 1)).any():
            raise Reject(RejectReason.OUT_OF_RANGE, "range not page aligned")
        if (idle < 0).any() or (idle > schema.MAX_IDLE_US).any():
            raise Reject(RejectReason.OUT_OF_RANGE, "idle prediction out of range")
        if n > 1 and (idle[1:] > idle[:-1]).any():
            raise Reject(RejectReason.OUT_OF_RANGE, "ranges not in priority order")
        order = np.argsort(start, kind="stable")
        if n > 1 and (start[order][1:] < end[order][:-1]).any():
            raise Reject(RejectReason.OUT_OF_RANGE, "ranges overlap")
    return Ranges(start >> PAGE_SHIFT, end >> PAGE_SHIFT, idle)


class Context:
    """One apply interval: the scheme's view, the coldness threshold, the
    bytes the quota still allows (None: no quota), the bytes the target
    saving still allows ML (None: no target), the batch size, and each
    source's candidates — a list of ``[region, bytes]`` in the source's own
    order, consumed batch by batch — and the regions claimed so far
    (region -> [source, bytes])."""

    __slots__ = ("view", "min_age_us", "left", "allow", "batch", "lists", "at", "claimed", "rec")

    def __init__(self, view, min_age_us: int, left: int | None, batch: int, allow: int | None = None) -> None:
        self.view = view
        self.min_age_us = min_age_us
        self.left = left
        self.allow = allow
        self.batch = batch
        self.lists: list = [None, None]
        self.at = [0, 0]
        self.claimed: dict[int, list] = {}
        self.rec = None

    def take(self, src: int) -> list[tuple[int, int]]:
        """One batch from ``src``'s candidates: up to ``batch`` bytes (and
        what the quota, and for ML the target, leave), skipping regions the
        other source claimed."""
        lst = self.lists[src]
        budget = self.batch if self.left is None else min(self.batch, self.left)
        if src == ML and self.allow is not None:
            budget = min(budget, self.allow)
        got = []
        while budget >= PAGE_SIZE and self.at[src] < len(lst):
            entry = lst[self.at[src]]
            i = entry[0]
            owner = self.claimed.get(i)
            if owner is not None and owner[0] != src:
                self.at[src] += 1
                continue
            n = min(entry[1], budget) >> PAGE_SHIFT << PAGE_SHIFT
            if n < PAGE_SIZE:
                self.at[src] += 1
                continue
            entry[1] -= n
            budget -= n
            if self.left is not None:
                self.left -= n
            if src == ML and self.allow is not None:
                self.allow -= n
            if owner is None:
                self.claimed[i] = [src, n]
            else:
                owner[1] += n
            got.append((i, n))
            if entry[1] < PAGE_SIZE:
                self.at[src] += 1
        return got

    def choices(self) -> list[tuple[int, int, int]]:
        """What was claimed, as ``choose`` answers: (region, bytes, source) in region order."""
        return [(i, c[1], c[0]) for i, c in sorted(self.claimed.items())]


def human_batch(ctx: Context) -> list[tuple[int, int]]:
    """DAMON_RECLAIM's own choice, one batch at a time: the DAMOS walk."""
    if ctx.lists[HUMAN] is None:
        ctx.lists[HUMAN] = [[i, sz] for i, sz in damos_choose(ctx.view)]
    return ctx.take(HUMAN)


def map_ranges(rec: Ranges, view, min_age_us: int) -> list[list[int]]:
    """A recommendation on the regions of ``view``: the regions that start
    inside an eligible range, in the ranges' priority order, each up to the
    range's end, as ``[region, bytes]``."""
    k = rec.eligible(min_age_us)
    if k == 0 or view.nr_regions == 0:
        return []
    starts = view.start >> PAGE_SHIFT
    ends = view.end >> PAGE_SHIFT
    out: list[list[int]] = []
    seen: set[int] = set()
    lo_all = np.searchsorted(starts, rec.start[:k], side="left")
    hi_all = np.searchsorted(starts, rec.end[:k], side="left")
    for r in range(k):
        b = int(rec.end[r])
        for i in range(int(lo_all[r]), int(hi_all[r])):
            if i not in seen:
                seen.add(i)
                out.append([i, (min(int(ends[i]), b) - int(starts[i])) << PAGE_SHIFT])
    return out


def ml_batch(rec: Ranges, ctx: Context) -> list[tuple[int, int]]:
    """The recommendation's choice, one batch at a time (an empty batch is
    ML's decision that nothing more should be reclaimed now)."""
    if ctx.rec is not rec:
        ctx.rec = rec
        ctx.lists[ML] = map_ranges(rec, ctx.view, ctx.min_age_us)
        ctx.at[ML] = 0
    return ctx.take(ML)


class ReclaimML:
    """The proxy's integration with one DAMON_RECLAIM context.

    ``proxy``: an :class:`MLModelProxy` (see :func:`make_proxy`).  ``mem``:
    the memory model.  ``min_age_us``: the scheme's coldness threshold.
    ``aggr_us``: the aggregation interval.  ``horizon_us``: the lineage
    horizon (0: ``min_age_us``).  ``charge``: ``horizon`` or ``lineage``.
    ``peer(now)``: called after every publication (how a simulation lets
    user space run; None in a kernel).  ``max_splits``: region splits per
    apply interval for ranges starting inside a region.  ``efficiency``:
    overrides of the op kind's :class:`~..mllib.efficiency.Efficiency`
    parameters.  ``tick_us``: the proxy is polled at least this often.
    """

    def __init__(self, proxy: MLModelProxy, mem, min_age_us: int, aggr_us: int, *, horizon_us: int = 0,
                 charge: str = "horizon", peer=None, max_splits: int = 64, efficiency: dict | None = None,
                 tick_us: int = 1_000_000, target_saving_pct: int | None = None,
                 catchup_us: int = 60_000_000, catchup_pm: int = 50, batch_pages: int = 32,
                 max_batches: int = 1024) -> None:
        if charge not in CHARGES:
            raise ValueError(f"charge must be one of {', '.join(CHARGES)}")
        if aggr_us <= 0 or min_age_us < 0 or horizon_us < 0 or max_splits < 0 or tick_us <= 0:
            raise ValueError("aggr_us and tick_us must be positive; min_age, horizon, max_splits >= 0")
        if target_saving_pct is not None and not 0 < target_saving_pct < 100:
            raise ValueError("target saving must be in (0, 100) percent")
        self.proxy = proxy
        self.mem = mem
        self.n_pages = mem.n
        self.target_bytes = mem.n << PAGE_SHIFT
        self.min_age_us = int(min_age_us)
        self.aggr_us = int(aggr_us)
        self.horizon_us = int(horizon_us) or max(HORIZON_MIN_AGES * int(min_age_us), int(aggr_us))
        self.charge = charge
        self.peer = peer
        self.max_splits = int(max_splits)
        self.tick_us = int(tick_us)
        self.target_bp = None if target_saving_pct is None else int(target_saving_pct) * 100
        self.catchup_us = max(1, int(catchup_us))
        self.catchup_pm = max(0, int(catchup_pm))
        if batch_pages <= 0 or max_batches <= 0:
            raise ValueError("batch_pages and max_batches must be positive")
        self.batch_bytes = int(batch_pages) << PAGE_SHIFT
        self.max_batches = int(max_batches)
        eff = {"batch_units": max(256, mem.n // 2), "window": 32, "min_batches": 6}
        eff.update(efficiency or {})
        proxy.register(OpKind(OP, "reclaim", human=human_batch, parse=self.parse, apply=ml_batch,
                              block=1, efficiency=eff))
        for rk, fields in schema.RECORDS.items():
            proxy.register_record(rk, fields)
        self.kdamond: Kdamond | None = None
        self.scheme = None
        self.allow = None  # bytes the target saving allows this interval (None: no target)
        self.user_on_aggregate = None
        self.latest: Ranges | None = None  # the last recommendation parsed (for the pre-walk split)
        self.clock = proxy.now
        self.next_tick = proxy.now
        self.seq = 0
        self.log = _EMPTY
        self.interval_decisions = [0, 0]
        self.pending: list = []  # (start page, end page, source, resident pages before) per choice
        self.pageouts: list = []  # REC_PAGEOUT rows of this aggregation
        self.reclaimed = 0  # pages reclaimed in this aggregation
        # lineage with a horizon: pages out and being watched
        self.w_pages = _EMPTY
        self.w_t = _EMPTY
        self.w_src = np.zeros(0, np.int8)
        self.w_rt = _EMPTY  # when the page was seen back (-1: still out)
        self.last_check = proxy.now
        self.carry = [0, 0]
        # totals
        self.evicted = [0, 0]
        self.charged = [[0, 0], [0, 0]]  # per source: [cost, units]
        self.splits = 0
        self.split_misses = 0
        self.decisions = [0, 0]
        self.noop = [0, 0]  # decisions that asked for nothing

    # -- wiring ----------------------------------------------------------------
    def attach(self, kdamond: Kdamond, scheme, on_aggregate=None) -> None:
        self.kdamond = kdamond
        self.scheme = scheme
        self.user_on_aggregate = on_aggregate

    # -- validation -------------------------------------------------------------
    def parse(self, words) -> Ranges:
        rec = parse_reclaim(words, self.target_bytes)
        self.latest = rec
        return rec

    # -- the decision (kdamond's walk) ---------------------------------------------
    def choose(self, view) -> list[tuple[int, int, int]]:
        """The scheme's ``choose`` hook: the apply interval's batches, each
        one operation of the proxy, until the bytes allowed are used, the
        source whose turn it is has nothing more to reclaim, or
        ``max_batches``.  One exception: in recommendation mode the
        human-made walk finding nothing does not stop ML's batches (with
        nothing matching DAMOS's pattern, ML's batches are all the reclaim
        there is, and a model is only there when measurably better); in
        learning and collaboration it does, so that a model on probation
        only ever acts alongside the human-made policy, in its share."""
        left = view.remaining
        if left is not None and left < PAGE_SIZE:
            return []
        # with a target the allowance sets ML's amount and ML's order alone picks; without one
        # ML may only reclaim what it predicts idle for at least min_age
        ctx = Context(view, 0 if self.target_bp is not None else self.min_age_us, left, self.batch_bytes,
                      self.allow)
        now = self._now(view.now_us)
        probation = self.proxy.mode(OP) != Mode.RECOMMENDATION
        for _ in range(self.max_batches):
            if ctx.left is not None and ctx.left < PAGE_SIZE:
                break
            src, got = self.proxy.decide(OP, ctx, now)
            self.decisions[src] += 1
            self.interval_decisions[src] += 1
            if not got:
                self.noop[src] += 1
                if src == ML or probation or not ctx.lists[ML] or ctx.at[ML] >= len(ctx.lists[ML]):
                    break  # the interval ends
        out = ctx.choices()
        for i, sz, src in out:
            a = int(view.start[i]) >> PAGE_SHIFT
            b = min(a + (sz >> PAGE_SHIFT), int(view.end[i]) >> PAGE_SHIFT)
            before = np.flatnonzero(self.mem.flags[a:b] & F_RESIDENT) + a
            self.pending.append((a, b, src, before))
        return out

    def before_walk(self, kd: Kdamond, scheme) -> None:
        """Split regions at the starts of the ranges ML is about to use."""
        rec = self.latest
        if rec is None or not self.max_splits or self.proxy.mode(OP) in (Mode.EMERGENCY, Mode.LEARNING):
            return  # a model on probation acts on DAMON's own regions (no address filters for it)
        k = rec.eligible(0 if self.target_bp is not None else self.min_age_us)
        q = scheme.quota
        left = max(q.esz - q.charged_sz, 0) if q.esz else None
        if self.allow is not None:
            left = self.allow if left is None else min(left, self.allow)
        if left is not None:
            left >>= PAGE_SHIFT
        done = 0
        for r in range(k):
            a = int(rec.start[r])
            nr = kd.nr_regions
            if done >= self.max_splits or nr + 1 >= kd.capacity:
                self.split_misses += 1
                break
            R = kd.R
            i = int(np.searchsorted(R[START, :nr], a, side="right")) - 1
            if i >= 0 and R[START, i] < a < R[END, i]:
                kd.ms[MS_NR] = split_region_at(R, nr, i, a - int(R[START, i]))
                done += 1
            if left is not None:
                left -= int(rec.end[r]) - a
                if left <= 0:
                    break
        self.splits += done

    def after_walk(self, kd: Kdamond, scheme) -> None:
        """Which pages the walk reclaimed, by whom (lineage)."""
        if not self.pending:
            return
        now = self._now(kd.now_us)
        flags = self.mem.flags
        pages, srcs = [], []
        for a, b, src, before in self.pending:
            gone = before[(flags[before] & F_RESIDENT) == 0] if before.shape[0] else _EMPTY
            n = int(gone.shape[0])
            if n:
                # report the runs of contiguous pages reclaimed (the whole range if too many)
                cut = np.flatnonzero(np.diff(gone) != 1) + 1
                if cut.shape[0] + 1 + len(self.pageouts) <= schema.MAX_PAGEOUT_RECORDS:
                    lo = gone[np.concatenate(([0], cut))]
                    hi = gone[np.concatenate((cut - 1, [n - 1]))] + 1
                    self.pageouts += [(self.seq, int(x) << PAGE_SHIFT, int(y) << PAGE_SHIFT, int(y - x), src)
                                      for x, y in zip(lo.tolist(), hi.tolist())]
                else:
                    self.pageouts.append((self.seq, a << PAGE_SHIFT, b << PAGE_SHIFT, n, src))
                pages.append(gone)
                srcs.append(np.full(n, src, np.int8))
                self.evicted[src] += n
                self.reclaimed += n
                if self.charge == "lineage":
                    self._account(src, 0, n)
        self.pending = []
        if pages and self.charge == "horizon":
            p = np.concatenate(pages)
            self.w_pages = np.concatenate([self.w_pages, p])
            self.w_t = np.concatenate([self.w_t, np.full(p.shape[0], now, np.int64)])
            self.w_src = np.concatenate([self.w_src] + srcs)
            self.w_rt = np.concatenate([self.w_rt, np.full(p.shape[0], -1, np.int64)])

    # -- lineage ---------------------------------------------------------------------
    def on_refault(self, source: int, count: int) -> None:
        """The memory model's lineage callback (plain lineage charging)."""
        if self.charge == "lineage" and source in (HUMAN, ML) and count > 0:
            self._account(source, count, 0)

    def _account(self, src: int, cost: int, units: int) -> None:
        self.charged[src][0] += cost
        self.charged[src][1] += units
        self.proxy.account(OP, src, (cost, units))

    def _check_horizon(self, now: int) -> None:
        """Note refaults of the watched pages; charge the evictions whose
        horizon has passed: cost 1 if the page refaulted within it, units the
        aggregation intervals it stayed out (at most the horizon)."""
        n = self.w_pages.shape[0]
        if n:
            out = self.w_rt < 0
            back = out & ((self.mem.flags[self.w_pages] & F_RESIDENT) != 0)
            self.w_rt[back] = now
            due = self.w_t + self.horizon_us <= now
            if due.any():
                end = self.w_t[due] + self.horizon_us
                rt = self.w_rt[due]
                hit = (rt >= 0) & (rt <= end + self.aggr_us)  # refault seen by the check after the horizon
                stay = np.where(hit, np.minimum(rt, end), end) - self.w_t[due]
                src = self.w_src[due]
                for s in (HUMAN, ML):
                    sel = src == s
                    if not sel.any():
                        continue
                    units, self.carry[s] = divmod(int(stay[sel].sum()) + self.carry[s], self.aggr_us)
                    self._account(s, int(np.count_nonzero(hit & sel)), units)
                keep = ~due
                self.w_pages = self.w_pages[keep]
                self.w_t = self.w_t[keep]
                self.w_src = self.w_src[keep]
                self.w_rt = self.w_rt[keep]
        self.last_check = max(self.last_check, now)

    # -- the monitor's hooks -------------------------------------------------------------
    def begin_aggregation(self, kd: Kdamond, log) -> None:
        """Before the schemes run: settle lineage, set the target's allowance."""
        now = self._now(kd.now_us)
        self.log = log if log is not None else _EMPTY
        self.interval_decisions = [0, 0]
        self.reclaimed = 0
        self.pageouts = []
        if self.charge == "horizon":
            self._check_horizon(now)
        if self.target_bp is not None:
            self.allow = self.allowance() << PAGE_SHIFT

    def allowance(self) -> int:
        """Pages the target saving asks to reclaim now.

        The target is a time average: with ``saved`` and ``want`` the page x
        us of saving achieved and asked for so far, the resident target is
        ``touched * (1 - target)`` minus the deficit spread over
        ``catchup_us`` (plus a surplus), and the allowance is what resident
        memory exceeds it by.  Pages accessed since DAMON last checked them
        survive the pageout anyway (its young filter), so the allowance can
        only reclaim idle memory: a working set that grows is not cut."""
        c = self.mem.ctr
        touched = int(c[C_TOUCHED])
        resident = int(c[C_RESIDENT])
        t_int = int(c[C_TOUCH_INT])
        saved = t_int - int(c[C_RES_INT])
        want = t_int * self.target_bp // 10000
        lim = touched * self.catchup_pm // 1000
        catch = min(max((want - saved) // self.catchup_us, -lim), lim)
        goal = min(max(touched * (10000 - self.target_bp) // 10000 - catch, 0), touched)
        return max(resident - goal, 0)

    def on_aggregate(self, now_us: int, records: np.ndarray) -> None:
        """The damon_aggregated hook: publish, poll, let user space run."""
        now = self._now(now_us)
        self.publish(now, records)
        if self.user_on_aggregate is not None:
            self.user_on_aggregate(now_us, records)
        self.seq += 1
        self.tick(now, force=True)

    def publish(self, now: int, records: np.ndarray) -> None:
        p = self.proxy
        seq = self.seq
        nr = int(records.shape[0])
        log = self.log
        ref = np.zeros(nr, np.int64)
        ref_ml = np.zeros(nr, np.int64)
        if log.shape[0] and nr:
            pages = log >> 1
            ridx = np.searchsorted(records[:, 0] >> PAGE_SHIFT, pages, side="right") - 1
            ridx = np.clip(ridx, 0, nr - 1)
            ref = np.bincount(ridx, minlength=nr).astype(np.int64)
            ref_ml = np.bincount(ridx[(log & 1) == 1], minlength=nr).astype(np.int64)
        rows = np.empty((nr, len(schema.REGION_FIELDS)), np.int64)
        rows[:, 0] = seq
        rows[:, 1:5] = records
        rows[:, 5] = ref
        rows[:, 6] = ref_ml
        p.publish(schema.REC_REGION, rows, now)
        n = int(log.shape[0])
        if n:
            idx = np.arange(min(n, schema.MAX_REFAULT_RECORDS), dtype=np.int64)
            if n > schema.MAX_REFAULT_RECORDS:
                idx = idx * n // schema.MAX_REFAULT_RECORDS
            sel = log[idx]
            rf = np.empty((idx.shape[0], 3), np.int64)
            rf[:, 0] = seq
            rf[:, 1] = (sel >> 1) << PAGE_SHIFT
            rf[:, 2] = sel & 1
            p.publish(schema.REC_REFAULT, rf, now)
        if self.pageouts:
            p.publish(schema.REC_PAGEOUT, np.array(self.pageouts, np.int64), now)
        kd = self.kdamond
        q = self.scheme.quota if self.scheme is not None else None
        c = self.mem.ctr
        summary = {
            "seq": seq, "now_us": now, "aggr_us": kd.attrs.aggr_interval_us if kd else self.aggr_us,
            "sample_us": kd.attrs.sample_interval_us if kd else 0,
            "max_nr_accesses": kd.attrs.max_nr_accesses if kd else 0,
            "target_bytes": self.target_bytes, "min_age_us": self.min_age_us, "horizon_us": self.horizon_us,
            "quota_bytes": q.esz if q is not None else 0, "quota_charged": q.charged_sz if q is not None else 0,
            "resident_pages": int(c[C_RESIDENT]), "touched_pages": int(c[C_TOUCHED]),
            "decisions_human": self.interval_decisions[HUMAN], "decisions_ml": self.interval_decisions[ML],
            "reclaimed": self.reclaimed, "refaults": int(c[C_REFAULTS]), "refaults_ml": int(c[C_REFAULTS_ML]),
            "nr_regions": nr,
        }
        p.publish(schema.REC_AGGR, np.array([[summary[f] for f in schema.AGGR_FIELDS]], np.int64), now)

    def tick(self, now: int, force: bool = False) -> None:
        """Poll the proxy (and let the peer run) if ``tick_us`` passed, or if forced."""
        now = self._now(now)
        if not force and now < self.next_tick:
            return
        self.next_tick = now + self.tick_us
        if self.charge == "horizon":
            self._check_horizon(now)  # also while kdamond sleeps on its watermarks
        self.proxy.poll(now)
        if self.peer is not None:
            self.peer(now)
            self.proxy.poll(now)

    def _now(self, t: int) -> int:
        if t > self.clock:
            self.clock = int(t)
        return self.clock

    # -- results ---------------------------------------------------------------------------
    def stats(self) -> dict:
        from ...uapi.messages import Reason

        p = self.proxy
        k = p.kinds[OP]
        v = k.eff.verdict()
        trs = [{"at_us": t.at, "from": Mode(t.src).name.lower(), "to": Mode(t.dst).name.lower(),
                "reason": Reason(t.reason).name} for t in p.transitions(OP)]
        rejects = {r.name.lower(): int(p.rejects[r]) for r in RejectReason}
        return {
            "mode": Mode(p.mode(OP)).name.lower(),
            "mode_timeline": trs,
            "mode_transitions": k.ctl.n_transitions,
            "ml_share_pm": p.ml_share_pm(OP),
            "decisions": {"human": self.decisions[HUMAN], "ml": self.decisions[ML]},
            "noop_decisions": {"human": self.noop[HUMAN], "ml": self.noop[ML]},
            "fallbacks": k.fallbacks,
            "rejects": rejects,
            "rejects_total": int(sum(p.rejects)),
            "evicted": {"human": self.evicted[HUMAN], "ml": self.evicted[ML]},
            "charge": self.charge,
            "horizon_us": self.horizon_us,
            "charged": {"human": {"refaults": self.charged[HUMAN][0], "units": self.charged[HUMAN][1]},
                        "ml": {"refaults": self.charged[ML][0], "units": self.charged[ML][1]}},
            "mean_ppm": {"human": v.mean_human, "ml": v.mean_ml},
            "batches": {"human": v.n_human, "ml": v.n_ml},
            "splits": self.splits,
            "split_misses": self.split_misses,
            "aggregations": self.seq,
            "outbox_dropped": p.outbox.dropped,
            "target_saving_pct": None if self.target_bp is None else self.target_bp // 100,
        }


class ProxiedKdamond(Kdamond):
    """kdamond with the proxy's hooks around the walk of its scheme."""

    def __init__(self, *args, ml: ReclaimML, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ml = ml

    def apply_schemes(self, log: np.ndarray | None = None) -> None:
        self.ml.begin_aggregation(self, log)
        super().apply_schemes(log)

    def apply_scheme(self, s, log: np.ndarray) -> None:
        mine = s is self.ml.scheme
        if mine:
            self.ml.before_walk(self, s)
        super().apply_scheme(s, log)
        if mine:
            self.ml.after_walk(self, s)
