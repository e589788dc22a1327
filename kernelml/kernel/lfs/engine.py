"""The compiled write path of the LFS model (numba, integer only).

One call of :func:`run` applies a slice of a chunk of block operations and
returns to Python only when the control path must act: foreground GC is
due, the SepBIT-regime trigger fired, the background GC thread wakes, a
sampling point was reached, or an error.  :func:`gc_collect` moves the valid
blocks of one victim chosen in Python and frees it.

Per user write of LBA ``x`` (time ``acc`` = user writes so far + 1):

1. f2fs regime: if free segments <= reserved, return for foreground GC
   (F2FS ``f2fs_balance_fs`` runs before the write);
2. invalidate the old copy (reverse map to -1, valid count - 1; F2FS
   ``update_segment_mtime`` pulls the old segment's mtime towards now;
   a sealed segment left with no valid block is freed at once when
   ``K_AUTOFREE``, F2FS's prefree -> free at checkpoint);
3. ask the placement for the class (the human-made placement always runs, so
   its state follows every write; the ML table decides instead when the
   chunk's source is 1);
4. append to the open segment of (class, source), opening one from the free
   queue if needed; a full segment is sealed and, with ``K_EAGER``, the log
   opens its next segment at once (F2FS ``new_curseg``);
5. SSDFS-style migration stimulation, if configured.

All state lives in the arrays described in :mod:`.layout`.
"""

from __future__ import annotations

from .jit import hot, inline

from .jitcache import purge_if_stale

purge_if_stale()  # before any compiled function below is loaded from the cache

from .layout import (C_AUTOFREE, C_BORROW, C_CLEANED_SRC0, C_DEAD_BLOCKS0, C_DEAD_MOVES0, C_ERR, C_FREE, C_GCS, C_GCW, C_LAST_TIME,
                     C_LIVE, C_LOGB, C_NOW, C_OPEN_SEGS, C_PEAK, C_QHEAD, C_SINV, C_SPOS,
                     C_STIM, C_TRIM, C_USER, CLASS, CTIME, DEATH, E_BAD_LBA, E_BAD_VICTIM,
                     E_NO_FREE, ERASE, FIRST, FMAP, FREE, K_AUTOFREE, K_BPS, K_DEBUG, K_EAGER,
                     K_GC_MTIME, K_GP_PM, K_HAS_HINT, K_HAS_NWI, K_HAS_TIME, K_KIND, K_MIN_INV, K_NLBAS,
                     K_KEY_DEN, K_KEY_NUM, K_NSEGS, K_REGIME, K_RESERVED, K_SOURCE, K_STIM, LASTMOD, LVER, LWT,
                     MOVES, PSRC, SOURCE_KEYED,
                     MTIME, NEVER, NEXT, OPEN, PREV, PVER, R_BG_WAKE, R_DONE, R_ERROR,
                     R_FG_GC, R_SEPBIT_GC, R_STOP, REGIME_F2FS, REGIME_SEPBIT, RMAP, SCAN,
                     SEALED, SOURCE, STATE, VALID, WP)
from .placement.dispatch import gc_class, ml_gc_class, ml_user_class, on_collect, user_class


@inline
def _alloc(segi, segl, freeq, opent, ctr, cfg, cls, src, t):
    """Open the segment at the head of the free queue for (cls, src)."""
    if ctr[C_FREE] == 0:
        return -1
    nseg = cfg[K_NSEGS]
    h = ctr[C_QHEAD]
    s = freeq[h]
    ctr[C_QHEAD] = h + 1 if h + 1 < nseg else 0
    ctr[C_FREE] -= 1
    segi[STATE, s] = OPEN
    segi[CLASS, s] = cls
    segi[SOURCE, s] = src
    segi[VALID, s] = 0
    segi[WP, s] = 0
    segi[SCAN, s] = 0
    segi[PREV, s] = -1
    segi[NEXT, s] = -1
    segl[LASTMOD, s] = t
    segl[CTIME, s] = t
    opent[cls, src] = s
    ctr[C_OPEN_SEGS] += 1
    used = nseg - ctr[C_FREE]
    if used > ctr[C_PEAK]:
        ctr[C_PEAK] = used
    return s


@inline
def _release(segi, segl, freeq, clh, cand, ctr, cfg, s):
    """Erase a sealed segment and append it to the free queue.  Its mtime is
    left stale, as F2FS does (the next append with no valid block resets it)."""
    p = segi[PREV, s]
    n = segi[NEXT, s]
    c = segi[CLASS, s]
    if p >= 0:
        segi[NEXT, p] = n
    else:
        clh[c, 0] = n
    if n >= 0:
        segi[PREV, n] = p
    else:
        clh[c, 1] = p
    wp = segi[WP, s]
    ctr[C_LOGB] -= wp
    ctr[C_SINV] -= wp - segi[VALID, s]
    segi[ERASE, s] += 1
    segi[STATE, s] = FREE
    cand[s] = False
    segi[CLASS, s] = -1
    segi[WP, s] = 0
    segi[VALID, s] = 0
    segi[SCAN, s] = 0
    segi[PREV, s] = -1
    segi[NEXT, s] = -1
    segl[LASTMOD, s] = 0
    segl[CTIME, s] = 0
    segl[FIRST, s] = 0
    nseg = cfg[K_NSEGS]
    tail = ctr[C_QHEAD] + ctr[C_FREE]
    if tail >= nseg:
        tail -= nseg
    freeq[tail] = s
    ctr[C_FREE] += 1


@inline
def _seal(segi, segl, freeq, opent, clh, cand, ctr, cfg, s, t):
    segi[STATE, s] = SEALED
    cand[s] = segi[WP, s] - segi[VALID, s] >= cfg[K_MIN_INV]
    ctr[C_OPEN_SEGS] -= 1
    ctr[C_SINV] += segi[WP, s] - segi[VALID, s]
    c = segi[CLASS, s]
    src = segi[SOURCE, s]
    tl = clh[c, 1]
    segi[PREV, s] = tl
    segi[NEXT, s] = -1
    if tl >= 0:
        segi[NEXT, tl] = s
    else:
        clh[c, 0] = s
    clh[c, 1] = s
    opent[c, src] = -1
    if cfg[K_AUTOFREE] != 0 and segi[VALID, s] == 0:
        _release(segi, segl, freeq, clh, cand, ctr, cfg, s)
        ctr[C_AUTOFREE] += 1
    if cfg[K_EAGER] != 0 and ctr[C_FREE] > 0:
        _alloc(segi, segl, freeq, opent, ctr, cfg, c, src, t)


@inline
def _append(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, x, cls, src, t, mt, ver,
            gc):
    """Append LBA ``x`` to the log (cls, src); ``mt`` is the time folded into
    the segment's mtime.  Returns False when no segment could be opened."""
    s = opent[cls, src]
    bps = cfg[K_BPS]
    if s < 0:
        s = _alloc(segi, segl, freeq, opent, ctr, cfg, cls, src, t)
        if s < 0 and gc:
            # no free segment in the middle of a GC pass: borrow the open
            # segment of this lineage with the most room (counted)
            room = 0
            for c in range(opent.shape[0]):
                o = opent[c, src]
                if o >= 0 and bps - segi[WP, o] > room:
                    room = bps - segi[WP, o]
                    s = o
            if s < 0:  # last resort: the other source's open segments (lineage blurs, counted)
                for c in range(opent.shape[0]):
                    o = opent[c, 1 - src]
                    if o >= 0 and bps - segi[WP, o] > room:
                        room = bps - segi[WP, o]
                        s = o
            if s >= 0:
                ctr[C_BORROW] += 1
        if s < 0:
            ctr[C_ERR] = E_NO_FREE
            return False
    off = segi[WP, s]
    p = s * bps + off
    physt[RMAP, p] = x
    lbat[FMAP, x] = p
    if cfg[K_DEBUG] != 0:
        physt[PVER, p] = ver
    v = segi[VALID, s]
    m = segl[MTIME, s]
    segl[MTIME, s] = mt if m == 0 else (m * v + mt) // (v + 1)
    segi[VALID, s] = v + 1
    segi[WP, s] = off + 1
    segl[LASTMOD, s] = t
    if off == 0:
        segl[FIRST, s] = t
    ctr[C_LOGB] += 1
    if off + 1 == bps:
        _seal(segi, segl, freeq, opent, clh, cand, ctr, cfg, s, t)
    return True


@inline
def _invalidate(segi, segl, physt, freeq, clh, cand, ctr, cfg, p, t):
    """A user overwrite or a trim kills the copy at physical block ``p``."""
    s = p // cfg[K_BPS]
    physt[RMAP, p] = -1
    v = segi[VALID, s]
    m = segl[MTIME, s]
    segl[MTIME, s] = t if m == 0 else (m * v + t) // (v + 1)
    segi[VALID, s] = v - 1
    if segi[STATE, s] == SEALED:
        ctr[C_SINV] += 1
        if segi[WP, s] - v + 1 >= cfg[K_MIN_INV]:
            cand[s] = True
        if v == 1 and cfg[K_AUTOFREE] != 0:
            _release(segi, segl, freeq, clh, cand, ctr, cfg, s)
            ctr[C_AUTOFREE] += 1


@inline
def source_of(cfg, x):
    """Who places LBA ``x``'s data now: the chunk's source, or with keyed
    interleaving a fixed hash split of the LBAs (Fibonacci hashing)."""
    src = cfg[K_SOURCE]
    if src != SOURCE_KEYED:
        return src
    h = ((x * 0x9E3779B1) & 0xFFFFFFFF) >> 8
    return 1 if h % cfg[K_KEY_DEN] < cfg[K_KEY_NUM] else 0


@inline
def _died(lbat, ctr, x):
    """The live data of LBA ``x`` dies: its lifetime's GC copies are charged to
    the source that placed it (per-block lineage of placement decisions)."""
    s = lbat[PSRC, x]
    ctr[C_DEAD_BLOCKS0 + s] += 1
    ctr[C_DEAD_MOVES0 + s] += lbat[MOVES, x]
    lbat[MOVES, x] = 0


@inline
def _move(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, pp, ps, lb, ring, tab, tpp,
          v, off, t, mt):
    """GC copy of the block at offset ``off`` of sealed segment ``v``: a
    placement decision like a user write's, made by the source in charge of
    placement now (``K_SOURCE``), whose lineage the copy then has."""
    bps = cfg[K_BPS]
    p = v * bps + off
    x = physt[RMAP, p]
    src = source_of(cfg, x)
    if src == 0:
        cls = gc_class(cfg[K_KIND], pp, ps, lb, ring, lbat, tab, tpp, x, ctr[C_SPOS], ctr[C_NOW])
    else:
        cls = ml_gc_class(tab, tpp, lbat, x, ctr[C_NOW])
    ver = physt[PVER, p] if cfg[K_DEBUG] != 0 else 0
    lbat[MOVES, x] += 1
    physt[RMAP, p] = -1
    segi[VALID, v] -= 1
    ctr[C_SINV] += 1
    ctr[C_GCW] += 1
    return _append(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, x, cls, src, t, mt, ver,
                   True)


@hot
def gc_collect(v, segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, pp, ps, lb, ring,
               tab, tpp, hist):
    """Collect sealed segment ``v``: move its valid blocks, erase it.
    Returns the blocks moved, or -1 on error (``ctr[C_ERR]``)."""
    if v < 0 or v >= cfg[K_NSEGS] or segi[STATE, v] != SEALED:
        ctr[C_ERR] = E_BAD_VICTIM
        return -1
    acc = ctr[C_NOW]
    vsrc = segi[SOURCE, v]
    # the human-made placement learns from its own segments only (SepBIT's lifespans)
    on_collect(cfg[K_KIND], pp, ps, segi[CLASS, v] if vsrc == 0 else -1, segl[CTIME, v], acc)
    mt = acc if cfg[K_GC_MTIME] == 0 else segl[MTIME, v]
    bps = cfg[K_BPS]
    base = v * bps
    moved = 0
    for off in range(segi[WP, v]):
        if physt[RMAP, base + off] < 0:
            continue
        if not _move(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, pp, ps, lb, ring,
                     tab, tpp, v, off, acc, mt):
            return -1
        moved += 1
    _release(segi, segl, freeq, clh, cand, ctr, cfg, v)
    ctr[C_GCS] += 1
    ctr[C_CLEANED_SRC0 + vsrc] += 1
    hist[moved] += 1
    return moved


@hot
def _stimulate(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, pp, ps, lb, ring, tab,
               tpp, cls, k, t):
    """Move up to ``k`` valid blocks from the oldest sealed segment of
    ``cls`` (SSDFS migration stimulation).  Drained sources are erased."""
    bps = cfg[K_BPS]
    moved = 0
    while moved < k:
        s = clh[cls, 0]
        if s < 0:
            break
        wp = segi[WP, s]
        off = segi[SCAN, s]
        base = s * bps
        while off < wp and physt[RMAP, base + off] < 0:
            off += 1
        segi[SCAN, s] = off
        if off < wp:
            mt = t if cfg[K_GC_MTIME] == 0 else segl[MTIME, s]
            if not _move(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, pp, ps, lb,
                         ring, tab, tpp, s, off, t, mt):
                return False
            moved += 1
            ctr[C_STIM] += 1
        elif segi[VALID, s] != 0:
            break  # unreachable: the cursor only skips invalid blocks
        if segi[VALID, s] == 0:
            _release(segi, segl, freeq, clh, cand, ctr, cfg, s)
            ctr[C_AUTOFREE] += 1
    return True


@hot
def run(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, pp, ps, lb, ring, tab, tpp,
        chunk, i0, i1, stop_user, next_wake):
    """Apply operations ``i0 <= i < i1`` of ``chunk`` (int64 rows: op, lba,
    time_us, hint, next_write_index, class out, age of the LBA's previous
    write out (0: never written)).  Returns ``(i, reason)``:
    the first operation not applied and why the loop stopped."""
    regime = cfg[K_REGIME]
    reserved = cfg[K_RESERVED]
    has_time = cfg[K_HAS_TIME] != 0
    has_hint = cfg[K_HAS_HINT] != 0
    has_nwi = cfg[K_HAS_NWI] != 0
    debug = cfg[K_DEBUG] != 0
    nl = cfg[K_NLBAS]
    kind = cfg[K_KIND]
    stim = cfg[K_STIM]
    gp = cfg[K_GP_PM]
    i = i0
    while i < i1:
        t_us = chunk[2, i]
        if has_time and t_us >= next_wake:
            return i, R_BG_WAKE
        o = chunk[0, i]
        x = chunk[1, i]
        if x < 0 or x >= nl:
            ctr[C_ERR] = E_BAD_LBA
            return i, R_ERROR
        spos = ctr[C_SPOS]
        if o == 0:
            if regime == REGIME_F2FS and ctr[C_FREE] <= reserved:
                return i, R_FG_GC
            src = source_of(cfg, x)
            acc = ctr[C_NOW] + 1
            if has_nwi:
                n = chunk[4, i]
                lbat[DEATH, x] = n if n >= 0 else NEVER
            old = lbat[FMAP, x]
            if old >= 0:
                _invalidate(segi, segl, physt, freeq, clh, cand, ctr, cfg, old, acc)
                _died(lbat, ctr, x)
            else:
                ctr[C_LIVE] += 1
            lbat[PSRC, x] = src
            h = chunk[3, i] if has_hint else 0
            log_valid = ctr[C_LOGB] - ctr[C_SINV]
            c = user_class(kind, pp, ps, lb, ring, lbat, tab, tpp, x, h, spos, acc, log_valid)
            if src != 0:
                c = ml_user_class(tab, tpp, lbat, x, h, acc)
            lw = lbat[LWT, x]
            chunk[6, i] = acc - lw if lw > 0 else 0
            if not _append(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, x, c, src,
                           acc, acc, spos, False):
                return i, R_ERROR
            lbat[LWT, x] = acc
            if debug:
                lbat[LVER, x] = spos
            ctr[C_NOW] = acc
            ctr[C_USER] += 1
            chunk[5, i] = c
            if stim > 0 and opent[c, src] >= 0:  # a destination is open: migrating
                if not _stimulate(segi, segl, lbat, physt, freeq, opent, clh, cand, ctr, cfg, pp, ps,
                                  lb, ring, tab, tpp, c, stim, acc):
                    return i + 1, R_ERROR
        else:
            old = lbat[FMAP, x]
            if old >= 0:
                _invalidate(segi, segl, physt, freeq, clh, cand, ctr, cfg, old, ctr[C_NOW])
                _died(lbat, ctr, x)
                lbat[FMAP, x] = -1
                ctr[C_LIVE] -= 1
            if debug:
                lbat[LVER, x] = -1
            ctr[C_TRIM] += 1
            chunk[5, i] = -1
            chunk[6, i] = 0
        ctr[C_SPOS] = spos + 1
        ctr[C_LAST_TIME] = t_us
        i += 1
        if o == 0:
            if regime == REGIME_SEPBIT and ctr[C_SINV] * 1000 > gp * ctr[C_LOGB]:
                return i, R_SEPBIT_GC
            if ctr[C_USER] >= stop_user:
                return i, R_STOP
    return i, R_DONE


@hot
def seal_open(segi, segl, freeq, opent, clh, cand, ctr, cfg, s, t):
    """Seal open segment ``s`` before it is full, so GC may collect it (the
    last resort when no sealed segment holds an invalid block)."""
    if segi[STATE, s] != OPEN:
        return False
    _seal(segi, segl, freeq, opent, clh, cand, ctr, cfg, s, t)
    return True


@hot
def open_segment(segi, segl, freeq, opent, ctr, cfg, cls, src, t):
    """Open a segment for (cls, src) from Python (the sepbit regime opens
    every class's segment when the log is created)."""
    return _alloc(segi, segl, freeq, opent, ctr, cfg, cls, src, t)


@hot
def future_valid(segi, physt, lbat, cand, limit, bps, out):
    """``out[s]`` = valid blocks of segment ``s`` (for ``s`` in ``cand``)
    whose data is still alive at stream position ``limit`` (oracle)."""
    for j in range(cand.shape[0]):
        s = cand[j]
        base = s * bps
        cnt = 0
        for off in range(segi[WP, s]):
            x = physt[RMAP, base + off]
            if x >= 0 and lbat[DEATH, x] > limit:
                cnt += 1
        out[s] = cnt
