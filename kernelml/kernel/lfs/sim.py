"""The LFS model's control path: one simulated device, fed chunk by chunk.

:class:`LfsSim` owns the state arrays (:mod:`.layout`), runs the compiled
write path (:mod:`.engine`) over each chunk and acts when it stops: it runs
foreground GC (f2fs regime), the one-victim GC of the sepbit regime, the
F2FS background GC thread on idle gaps (:mod:`.bggc`), and takes timeline
samples.  Every victim is chosen in Python by ``choose_victim(view)``: a
:class:`~kernelml.kernel.lfs.view.VictimPolicy` (its ``select``) or any
callable; it may return a segment number or ``(source, segment)`` (0
human-made, 1 ML) so that the caller can attribute decisions.  GC never
depends on the chooser to make progress: an invalid answer during
foreground GC falls back to greedy (counted).

Hooks for the ML proxy:

``on_clean(source, moved, reclaimed)``
    after every collected victim: the lineage of its data (who placed it),
    blocks GC had to copy, and invalid blocks it reclaimed;
``on_writes(lba, time_us, hint, cls, prev_age)``
    once per chunk, the user writes just applied with the class (log) each
    went to and the age of the LBA's previous write on the logical clock
    (0: first write) (int64 arrays, no per-write Python call);
:meth:`LfsSim.set_table` / :meth:`LfsSim.set_source`
    install a placement table and choose, per chunk, whether user writes
    follow the human-made placement (source 0) or the table (source 1);
    segments stay pure: each (class, source) has its own open segment.

Everything here is integer arithmetic; floats appear only in the user-space
reports built from :meth:`LfsSim.stats`.
"""

from __future__ import annotations

import numpy as np

from . import engine as eng
from .bggc import BgThread, has_enough_invalid_blocks
from .config import LfsConfig, f2fs_mkfs_reserved, segments_for, sepbit_pool
from .invariants import check_state
from .layout import (C_AUTOFREE, C_BORROW, C_CLEANED_SRC0, C_CLEANED_SRC1, C_ERR, C_FREE, C_GCS, C_GCW,
                     C_LAST_TIME, C_LIVE, C_NOW, C_OPEN_SEGS, C_PEAK, C_SINV, C_SPOS, C_STIM,
                     C_TRIM, C_USER, CLASS, DEATH, ERASE, ERRORS, FIRST, FMAP, K_AUTOFREE, K_BPS,
                     K_DEBUG, K_EAGER, K_GC_MTIME, K_GP_PM, K_HAS_HINT, K_HAS_NWI, K_HAS_TIME,
                     K_KIND, K_MIN_INV, K_NCLASS, K_NLBAS, K_NSEGS, K_REGIME, K_RESERVED, K_SOURCE,
                     K_KEY_DEN, K_KEY_NUM, K_STIM, LASTMOD, LBAT_ROWS, LVER, MLMAP, MTIME, N_CFG, N_CTR, NEVER, NEXT,
                     NO_WAKE, PHYST_ROWS, PREV, R_BG_WAKE, R_DONE, R_FG_GC, R_SEPBIT_GC,
                     R_STOP, REGIME_F2FS, REGIME_SEPBIT, SEALED, SEGI_ROWS, SEGL_ROWS, SOURCE,
                     SOURCE_HUMAN, SOURCE_KEYED, SOURCE_ML, STATE, VALID, WP)
from .placement.base import KIND_SSDFS, KIND_TABLE, Placement
from .placement.single import Single
from .placement.table import Table, check_feature_table, check_table, feature_params, table_params
from .view import SegmentView

MAX_TABLE_CLASSES = 64
NO_STOP = 1 << 62


class SimError(RuntimeError):
    """The simulation cannot continue (one-line reason)."""


class DeviceFull(SimError):
    """No victim can free space: the data does not fit the device."""


def greedy_fallback(view: SegmentView) -> int:
    """The kernel's last resort: the candidate with the fewest valid blocks
    (lowest segment number on ties), -1 when there is none."""
    idx = np.flatnonzero(view.candidate)
    if idx.size == 0:
        return -1
    return int(idx[int(np.argmin(view.valid[idx]))])


class LfsSim:
    """One simulated log-structured device.  See the module docstring."""

    def __init__(self, cfg: LfsConfig, placement: Placement | None = None, chooser=None, *,
                 on_clean=None, on_writes=None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.placement = placement if placement is not None else Single()
        self.on_clean = on_clean
        self.on_writes = on_writes
        self.rng = np.random.default_rng(cfg.seed)
        pl = self.placement
        bps, n = cfg.blocks_per_seg, cfg.n_lbas
        self.bps, self.n_lbas = bps, n
        self.sepbit = cfg.regime == "sepbit"
        if self.sepbit:
            s = sepbit_pool(n, bps, cfg.gp_pm, 2 * int(pl.n_classes(n, bps)))
        else:
            s = segments_for(n, bps, cfg.spare_ppm)
        pl.bind(n, s, bps)
        self.n_classes_h = int(pl.n_classes(n, bps))
        self.n_classes = max(self.n_classes_h, MAX_TABLE_CLASSES + 1)
        self.n_segs = s
        self.logical_segs = -(-n // bps)
        self.segi = np.zeros((SEGI_ROWS, s), np.int32)
        self.segi[CLASS] = -1
        self.segi[PREV] = -1
        self.segi[NEXT] = -1
        self.segl = np.zeros((SEGL_ROWS, s), np.int64)
        self.lbat = np.zeros((LBAT_ROWS, n), np.int64)
        self.lbat[FMAP] = -1
        self.lbat[LVER] = -1
        self.lbat[DEATH] = NEVER
        self.physt = np.full((PHYST_ROWS, s * bps), -1, np.int64)
        self.freeq = np.arange(s, dtype=np.int32)
        self.opent = np.full((self.n_classes, 2), -1, np.int32)
        self.clh = np.full((self.n_classes, 2), -1, np.int32)
        self.cand = np.zeros(s, np.bool_)  # GC candidates, maintained by the write path
        self.ctr = np.zeros(N_CTR, np.int64)
        self.ctr[C_FREE] = s
        self.pp = pl.params(n, bps)
        self.ps, self.lb, self.ring = pl.init_state(n, s, bps)
        if pl.kind == KIND_TABLE:
            assert isinstance(pl, Table)
            self.tab = pl.build_table(n)
            self.tpp = pl.tpp()
            self.table_gc_classes = pl.gc_classes(n, bps)
        else:
            self.tab = np.zeros(1, np.int32)
            self.tpp = table_params(1, 0, 0)
            self.table_gc_classes = 0
        self.ml_table = False
        self.hist = np.zeros(bps + 1, np.int64)
        c = np.zeros(N_CFG, np.int64)
        c[K_BPS], c[K_NSEGS], c[K_NLBAS] = bps, s, n
        c[K_REGIME] = REGIME_SEPBIT if self.sepbit else REGIME_F2FS
        c[K_GP_PM] = cfg.gp_pm
        c[K_AUTOFREE] = 1 if (cfg.autofree and not self.sepbit) else 0
        c[K_KIND] = pl.kind
        c[K_STIM] = int(pl.stimulate)
        c[K_DEBUG] = 1 if cfg.debug else 0
        c[K_GC_MTIME] = 1 if cfg.gc_mtime_source else 0
        c[K_NCLASS] = self.n_classes
        c[K_EAGER] = 0 if pl.kind == KIND_SSDFS else 1
        # sealed segments are full, so "garbage share >= gp" is "invalid >= ceil(gp * bps)"
        c[K_MIN_INV] = max(1, -(-(cfg.gp_pm * bps) // 1000)) if self.sepbit else 1
        self.cfgv = c
        self._set_reserved()
        spare_segs = s - self.logical_segs
        if not self.sepbit and spare_segs < int(c[K_RESERVED]) + 2:
            raise ValueError(f"device too small: {spare_segs} spare segments of {bps} blocks, "
                             f"need at least {int(c[K_RESERVED]) + 2} (one open log, "
                             f"{int(c[K_RESERVED])} reserved, one to clean); raise the spare "
                             "factor or the size")
        self._choose = None
        self.chooser = None
        self._view: SegmentView | None = None
        self.set_chooser(chooser)
        self.bg: BgThread | None = None
        self.bg_on = cfg.bg_gc and not self.sepbit
        self.sample_every = int(cfg.sample_every)
        self._next_sample = NO_STOP
        self.timeline: list[tuple[int, int, int, int, int]] = []
        self.gc_log: list[tuple[int, int, int, int, int, int]] = []
        self.fallbacks = 0  # foreground GC fell back to greedy
        self.forced_seals = 0  # open segments sealed early because GC found no victim
        self.bad_choices = 0  # chooser answers that were not a candidate
        self.by_chooser = [0, 0]  # victims chosen per chooser source
        self.fg_gcs = 0
        self.bg_gcs = 0
        self.fill_done = False
        self._base = self._snapshot()
        if self.sepbit:  # the artifact opens every class's segment when the log is created
            for k in range(self.n_classes_h):
                eng.open_segment(self.segi, self.segl, self.freeq, self.opent, self.ctr,
                                 self.cfgv, k, 0, 0)

    # --- configuration hooks ---------------------------------------------------------
    def set_chooser(self, chooser) -> None:
        """``choose_victim(view)``: a VictimPolicy, a callable, or None
        (greedy).  The ML proxy wraps the human-made one here."""
        if chooser is None:
            chooser = greedy_fallback
        self.chooser = chooser
        self._choose = chooser.select if hasattr(chooser, "select") else chooser
        if hasattr(chooser, "reset"):
            chooser.reset()
        self._needs_future = bool(getattr(chooser, "needs_future", False))

    def set_table(self, table, shift: int, classes: int, gc_mode: int = 0) -> None:
        """Install (or replace) the placement table used by source-1 chunks.
        Validated here, once, like any recommendation from user space."""
        if not 1 <= classes <= MAX_TABLE_CLASSES:
            raise ValueError(f"classes must be in 1..{MAX_TABLE_CLASSES}")
        if gc_mode not in (0, 1):
            raise ValueError("gc_mode must be 0 or 1")
        self.tab = check_table(table, self.n_lbas, shift, classes)
        self.tpp = table_params(classes, shift, gc_mode)
        self.table_gc_classes = 1 if gc_mode == 0 else classes
        self.ml_table = True
        self._set_reserved()

    def set_feature_table(self, user, gc, n_classes: int, n_hint: int, nb: int) -> None:
        """Install (or replace) a feature table for source-1 chunks (see
        :mod:`.placement.table`): user class by (hint, age bucket of the
        LBA's previous write), GC class by (class of the victim, age bucket
        of the moved block).  Validated here, once, like any recommendation
        from user space."""
        self.tab = check_feature_table(user, gc, n_classes, n_hint, nb)
        self.tpp = feature_params(n_classes, n_hint, nb)
        self.table_gc_classes = n_classes
        self.ml_table = True
        self._set_reserved()

    def clear_table(self) -> None:
        """Forget the ML table (its reserved segments go back to the pool)."""
        if self.cfgv[K_SOURCE] != SOURCE_HUMAN:
            raise ValueError("switch user writes to source 0 before clearing the table")
        self.ml_table = False
        self._set_reserved()

    def set_map(self, offset: int, groups: np.ndarray) -> None:
        """Write ML hint-map groups (0..15) for LBAs ``offset ..`` (validated)."""
        g = np.asarray(groups)
        if offset < 0 or offset + g.size > self.n_lbas:
            raise ValueError("map chunk outside the logical space")
        if g.size and (g.min() < 0 or g.max() > 15):
            raise ValueError("map groups must be in 0..15")
        self.lbat[MLMAP, offset:offset + g.size] = g

    def set_source(self, source: int, num: int = 0, den: int = 1) -> None:
        """Who places the next writes (user writes and GC copies): 0 the
        human-made placement; 1 the table; 2 keyed: the table for the LBAs
        with ``key_hash(lba) % den < num``, the human-made placement for the
        others (a fixed split of the LBA space, see ``engine.source_of``)."""
        if source not in (SOURCE_HUMAN, SOURCE_ML, SOURCE_KEYED):
            raise ValueError("source must be 0, 1 or 2")
        if source != SOURCE_HUMAN and not (self.ml_table or self.placement.kind == KIND_TABLE):
            raise ValueError("install a table with set_table() before using it")
        if source == SOURCE_KEYED and not (den > 0 and 0 <= num <= den):
            raise ValueError("keyed share needs 0 <= num <= den, den > 0")
        self.cfgv[K_SOURCE] = source
        self.cfgv[K_KEY_NUM] = num
        self.cfgv[K_KEY_DEN] = max(den, 1)

    def _set_reserved(self) -> None:
        cfg = self.cfg
        if cfg.reserved_segments >= 0:
            r = cfg.reserved_segments
        elif cfg.reserved_segments == -2:
            r = f2fs_mkfs_reserved(cfg.spare_ppm)
        else:
            # enough for the usual GC pass: each destination log can fill
            # at most once per victim, but rarely more than two do; a pass
            # that runs out borrows room in another open log (counted)
            # with keyed placement one GC pass may copy into both sources' logs: one
            # more segment, the rest is borrowed from open logs when it comes to that
            r = min(2, int(self.placement.gc_classes(self.n_lbas, self.bps)))
            if self.ml_table:
                r += 1
        self.cfgv[K_RESERVED] = r

    @property
    def reserved(self) -> int:
        return int(self.cfgv[K_RESERVED])

    # --- feeding the device -------------------------------------------------------------
    def fill(self, time_us: int = 0, chunk: int = 1 << 20, nwi=None) -> None:
        """Warm-up: write every LBA once, in order (one sequential fill).
        Oracles need ``nwi``, the fill writes' next_write_index."""
        for a in range(0, self.n_lbas, chunk):
            b = min(self.n_lbas, a + chunk)
            lba = np.arange(a, b, dtype=np.int64)
            self.apply(lba=lba, time_us=np.full(b - a, time_us, np.int64),
                       nwi=None if nwi is None else nwi[a:b])
        self.fill_done = True

    def begin_measurement(self) -> None:
        """Counters from here on are the measured ones."""
        self._base = self._snapshot()
        self.timeline = []
        if self.sample_every:
            self._next_sample = int(self.ctr[C_USER]) + self.sample_every

    def apply(self, op=None, lba=None, time_us=None, hint=None, nwi=None,
              source: int | None = None) -> None:
        """Apply one chunk of operations (equal-length arrays; ``op`` 0 write,
        1 trim, default all writes; ``time_us``, ``hint`` and ``nwi`` =
        next_write_index are optional)."""
        if lba is None:
            raise ValueError("apply() needs lba")
        lba = np.asarray(lba)
        n = lba.shape[0]
        if n == 0:
            return
        if source is not None:
            self.set_source(source)
        ch = np.empty((7, n), np.int64)
        ch[0] = 0 if op is None else op
        ch[1] = lba
        ch[2] = 0 if time_us is None else time_us
        ch[3] = 0 if hint is None else hint
        ch[4] = -1 if nwi is None else nwi
        ch[5] = -1
        ch[6] = 0
        needs_future = self._needs_future or self.placement.needs_future
        if needs_future and nwi is None:
            raise ValueError("this policy or placement is an oracle: it needs next_write_index")
        c = self.cfgv
        c[K_HAS_HINT] = 0 if hint is None else 1
        c[K_HAS_NWI] = 0 if nwi is None else 1
        timed = time_us is not None and self.bg_on
        c[K_HAS_TIME] = 1 if timed else 0
        if timed and self.bg is None:
            cf = self.cfg
            self.bg = BgThread(int(ch[2, 0]), cf.min_sleep_us, cf.max_sleep_us,
                               cf.nogc_sleep_us, cf.idle_interval_us)
        i = 0
        while i < n:
            wake = self.bg.next_wake if (timed and self.bg is not None) else NO_WAKE
            i, reason = eng.run(self.segi, self.segl, self.lbat, self.physt, self.freeq,
                                self.opent, self.clh, self.cand, self.ctr, c, self.pp, self.ps, self.lb,
                                self.ring, self.tab, self.tpp, ch, i, n, self._next_sample, wake)
            if reason == R_DONE:
                break
            if reason == R_FG_GC:
                self._foreground_gc()
            elif reason == R_SEPBIT_GC:
                self._collect_one(foreground=True)
            elif reason == R_BG_WAKE:
                self.bg.wake(int(self.ctr[C_LAST_TIME]), self._enough_invalid, self._bg_pass)
            elif reason == R_STOP:
                self._take_sample()
            else:
                raise SimError(ERRORS.get(int(self.ctr[C_ERR]), "write path error"))
        if self.on_writes is not None:
            w = ch[0] == 0
            self.on_writes(ch[1][w], ch[2][w], ch[3][w], ch[5][w], ch[6][w])

    # --- garbage collection ---------------------------------------------------------------
    def candidates(self) -> np.ndarray:
        """Legal victims now (read-only; maintained incrementally by the
        write path): sealed segments with at least ``K_MIN_INV`` invalid
        blocks (1 in the f2fs regime; the garbage-share floor in the sepbit
        regime)."""
        return self.cand

    def view(self, foreground: bool = True) -> SegmentView:
        """The victim policy's view (one object, refreshed per GC; arrays are
        live read-only views of the state)."""
        v = self._view
        if v is None:
            v = SegmentView(valid=self.segi[VALID], mtime=self.segl[MTIME],
                            lastmod=self.segl[LASTMOD], erase=self.segi[ERASE],
                            candidate=self.cand, blocks_per_seg=self.bps, now=0,
                            foreground=foreground, free_segments=0,
                            total_segments=self.n_segs, rng=self.rng,
                            created=self.segl[FIRST])
            self._view = v
        v.now = int(self.ctr[C_NOW])
        v.foreground = foreground
        v.free_segments = int(self.ctr[C_FREE])
        v.future_valid = self._future_valid(self.cand) if self._needs_future else None
        return v

    def _future_valid(self, cand: np.ndarray) -> np.ndarray:
        """Blocks still alive ``horizon`` operations from now, computed for
        the ``shortlist`` candidates with the fewest valid blocks; other
        segments report their valid count (no death assumed)."""
        ch = self.chooser
        horizon = int(getattr(ch, "horizon", 0)) or max(1, self.n_segs * self.bps - self.n_lbas)
        short = int(getattr(ch, "shortlist", 64))
        fv = self.segi[VALID].copy()
        idx = np.flatnonzero(cand)
        if idx.size > short:
            part = np.argpartition(fv[idx], short - 1)[:short]
            idx = idx[part]
        eng.future_valid(self.segi, self.physt, self.lbat, idx.astype(np.int64),
                         int(self.ctr[C_SPOS]) + horizon, self.bps, fv)
        return fv

    def _collect_one(self, foreground: bool) -> bool:
        """Ask the chooser for one victim and collect it.  False when there
        is no candidate (or, in the background, no acceptable answer)."""
        view = self.view(foreground)
        if not view.candidate.any():
            return False
        res = self._choose(view)
        who = 0
        if isinstance(res, tuple):
            who, res = res
            who = 1 if who else 0
        seg = int(res) if isinstance(res, (int, np.integer)) else -1
        if not (0 <= seg < self.n_segs and view.candidate[seg]):
            self.bad_choices += 1
            if not foreground:
                return False
            seg = greedy_fallback(view)
            who = 0
            self.fallbacks += 1
        vsrc = int(self.segi[SOURCE, seg])
        wp = int(self.segi[WP, seg])
        moved = eng.gc_collect(seg, self.segi, self.segl, self.lbat, self.physt, self.freeq,
                               self.opent, self.clh, self.cand, self.ctr, self.cfgv, self.pp, self.ps,
                               self.lb, self.ring, self.tab, self.tpp, self.hist)
        if moved < 0:
            raise SimError(ERRORS.get(int(self.ctr[C_ERR]), "GC error"))
        self.by_chooser[who] += 1
        if foreground:
            self.fg_gcs += 1
        else:
            self.bg_gcs += 1
        self.gc_log.append((int(self.ctr[C_NOW]), seg, who, vsrc, moved, 1 if foreground else 0))
        if self.on_clean is not None:
            self.on_clean(vsrc, moved, wp - moved)
        if self.cfg.debug:
            self.check()
        return True

    def _foreground_gc(self) -> None:
        limit = 4 * self.n_segs + 16
        done = 0
        while int(self.ctr[C_FREE]) <= self.reserved:
            if not self._collect_one(foreground=True):
                # every invalid block sits in an open segment: seal those (F2FS would
                # allocate a new current segment too) and try once more
                if not (self._seal_open_with_garbage() and self._collect_one(foreground=True)):
                    raise DeviceFull("foreground GC found no victim with invalid blocks: the data "
                                     "and open logs do not fit the device (raise --spare)")
            done += 1
            if done > limit:
                raise SimError("foreground GC makes no progress")

    def _seal_open_with_garbage(self) -> bool:
        """Seal the open segments that hold invalid blocks; True if any."""
        sealed = 0
        for s in np.unique(self.opent[self.opent >= 0]):
            s = int(s)
            if self.segi[WP, s] > self.segi[VALID, s]:
                sealed += eng.seal_open(self.segi, self.segl, self.freeq, self.opent, self.clh,
                                        self.cand, self.ctr, self.cfgv, s, int(self.ctr[C_NOW]))
        self.forced_seals += sealed
        return sealed > 0

    def _enough_invalid(self) -> bool:
        return has_enough_invalid_blocks(self.n_lbas, int(self.ctr[C_LIVE]),
                                         int(self.ctr[C_FREE]), self.n_segs - self.logical_segs,
                                         self.bps)

    def _bg_pass(self) -> bool:
        # f2fs_gc(): a background pass becomes foreground when free sections are short
        fg = int(self.ctr[C_FREE]) <= self.reserved
        return self._collect_one(foreground=fg)

    def _take_sample(self) -> None:
        b = self._base
        self.timeline.append((int(self.ctr[C_USER]) - b["user"], int(self.ctr[C_GCW]) - b["gcw"],
                              int(self.ctr[C_FREE]), int(self.ctr[C_GCS]) - b["gcs"],
                              int(self.ctr[C_NOW])))
        self._next_sample += self.sample_every

    # --- results ------------------------------------------------------------------------------
    def _snapshot(self) -> dict:
        return {"user": int(self.ctr[C_USER]), "gcw": int(self.ctr[C_GCW]),
                "stim": int(self.ctr[C_STIM]), "gcs": int(self.ctr[C_GCS]),
                "trim": int(self.ctr[C_TRIM]), "autofree": int(self.ctr[C_AUTOFREE]),
                "erase": int(self.segi[ERASE].sum()), "hist": self.hist.copy(),
                "fallbacks": self.fallbacks, "bad": self.bad_choices,
                "src0": int(self.ctr[C_CLEANED_SRC0]), "src1": int(self.ctr[C_CLEANED_SRC1]),
                "fg": self.fg_gcs, "bg": self.bg_gcs, "who": list(self.by_chooser),
                "borrow": int(self.ctr[C_BORROW])}

    def stats(self) -> dict:
        """Integer counters: ``measured`` since :meth:`begin_measurement`,
        ``total`` since the start (fill included)."""
        b, now = self._base, self._snapshot()
        er = self.segi[ERASE]
        meas = {k: now[k] - b[k] for k in ("user", "gcw", "stim", "gcs", "trim", "autofree",
                                           "erase", "fallbacks", "bad", "src0", "src1", "fg",
                                           "bg", "borrow")}
        meas["who"] = [now["who"][i] - b["who"][i] for i in range(2)]
        meas["hist"] = now["hist"] - b["hist"]
        return {
            "measured": meas,
            "total": {k: now[k] for k in ("user", "gcw", "stim", "gcs", "trim", "autofree",
                                          "erase", "fallbacks", "bad")},
            "device": {"n_lbas": self.n_lbas, "blocks_per_seg": self.bps,
                       "segments": self.n_segs, "reserved": self.reserved,
                       "regime": self.cfg.regime, "spare_ppm": self.cfg.spare_ppm,
                       "peak_segments": int(self.ctr[C_PEAK]),
                       "open_segments": int(self.ctr[C_OPEN_SEGS])},
            "state": {"free": int(self.ctr[C_FREE]), "live": int(self.ctr[C_LIVE]),
                      "now": int(self.ctr[C_NOW]), "spos": int(self.ctr[C_SPOS]),
                      "sealed_invalid": int(self.ctr[C_SINV])},
            "erase": {"max": int(er.max()), "min": int(er.min()), "sum": int(er.sum())},
            "bg_thread": self.bg.stats() if self.bg is not None else None,
            "timeline": list(self.timeline),
        }

    def check(self) -> None:
        """Raise :class:`~.invariants.IntegrityError` if any invariant fails."""
        check_state(self.segi, self.lbat, self.physt, self.freeq, self.opent, self.cand, self.ctr,
                    self.cfgv)
