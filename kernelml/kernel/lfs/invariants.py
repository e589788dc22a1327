"""Integrity checks of the LFS model state (debug mode runs them after every
GC; tests run them at the end).  O(device size) numpy, no Python loops over
blocks.  Each failed check raises :class:`IntegrityError` naming it.

Checked:

* forward and reverse maps agree: every mapped LBA's physical block holds
  that LBA, every valid physical block is the mapped copy of its LBA;
* with version stamps (debug): every live LBA maps to exactly its latest
  write, every trimmed or never-written LBA is unmapped, so nothing live was
  lost and trims invalidated;
* per segment: valid count = popcount of its reverse-map slots, nothing
  beyond the write pointer, free segments empty;
* counters: live LBAs, free segments (and the free queue holds exactly the
  free segments), blocks in the log, invalid blocks in sealed segments,
  open segments, the open-log table, and the GC candidate mask.
"""

from __future__ import annotations

import numpy as np

from .layout import (C_FREE, C_LIVE, C_LOGB, C_OPEN_SEGS, C_QHEAD, C_SINV, CLASS, FMAP, FREE,
                     K_BPS, K_DEBUG, K_MIN_INV, K_NSEGS, LVER, OPEN, PVER, RMAP, SEALED, SOURCE, STATE,
                     VALID, WP)


class IntegrityError(AssertionError):
    """The model state broke an invariant."""


def _fail(what: str) -> None:
    raise IntegrityError(what)


def check_state(segi, lbat, physt, freeq, opent, cand, ctr, cfg) -> None:
    bps = int(cfg[K_BPS])
    nseg = int(cfg[K_NSEGS])
    fmap = lbat[FMAP]
    rmap = physt[RMAP]
    mapped = np.flatnonzero(fmap >= 0)
    if mapped.size and not np.array_equal(rmap[fmap[mapped]], mapped):
        _fail("forward map points at a block that holds another LBA (or none)")
    holders = np.flatnonzero(rmap >= 0)
    if holders.size and not np.array_equal(fmap[rmap[holders]], holders):
        _fail("a valid physical block is not the mapped copy of its LBA")
    if mapped.size != holders.size:
        _fail("mapped LBAs and valid physical blocks differ in number")
    if int(ctr[C_LIVE]) != mapped.size:
        _fail(f"live counter {int(ctr[C_LIVE])} != mapped LBAs {mapped.size}")
    if int(cfg[K_DEBUG]) != 0:
        lver = lbat[LVER]
        if not np.array_equal(fmap >= 0, lver >= 0):
            _fail("an LBA with a live latest write is unmapped, or a trimmed one is mapped")
        if mapped.size and not np.array_equal(physt[PVER][fmap[mapped]], lver[mapped]):
            _fail("a live LBA does not map to its latest write")
    per_seg = (rmap.reshape(nseg, bps) >= 0)
    pop = per_seg.sum(axis=1)
    valid = segi[VALID].astype(np.int64)
    if not np.array_equal(pop, valid):
        bad = int(np.flatnonzero(pop != valid)[0])
        _fail(f"segment {bad}: valid count {int(valid[bad])} != bitmap popcount {int(pop[bad])}")
    wp = segi[WP].astype(np.int64)
    if np.any(wp < 0) or np.any(wp > bps) or np.any(valid > wp):
        _fail("write pointer out of range or valid > write pointer")
    beyond = np.arange(bps)[None, :] >= wp[:, None]
    if np.any(per_seg & beyond):
        _fail("a valid block beyond a segment's write pointer")
    state = segi[STATE]
    free = state == FREE
    if np.any(wp[free] != 0):
        _fail("a free segment is not empty")
    if int(ctr[C_FREE]) != int(free.sum()):
        _fail(f"free counter {int(ctr[C_FREE])} != free segments {int(free.sum())}")
    n = int(ctr[C_FREE])
    q = freeq[(int(ctr[C_QHEAD]) + np.arange(n)) % nseg]
    if n and not (np.array_equal(np.sort(q), np.flatnonzero(free))):
        _fail("the free queue does not hold exactly the free segments")
    if int(ctr[C_LOGB]) != int(wp[~free].sum()):
        _fail("log block counter != blocks appended to non-free segments")
    sealed = state == SEALED
    if int(ctr[C_SINV]) != int((wp[sealed] - valid[sealed]).sum()):
        _fail("sealed-invalid counter != invalid blocks of sealed segments")
    is_open = state == OPEN
    if int(ctr[C_OPEN_SEGS]) != int(is_open.sum()):
        _fail("open-segment counter != segments in the OPEN state")
    listed = opent[opent >= 0]
    if listed.size != np.unique(listed).size or listed.size != int(is_open.sum()):
        _fail("open-log table and OPEN segments disagree")
    cls, src = np.nonzero(opent >= 0)
    segs = opent[cls, src]
    if segs.size and (np.any(segi[CLASS][segs] != cls) or np.any(segi[SOURCE][segs] != src)
                      or np.any(state[segs] != OPEN)):
        _fail("an open log's segment has another class, source or state")
    want = sealed & (wp - valid >= int(cfg[K_MIN_INV]))
    if not np.array_equal(cand, want):
        _fail("GC candidate mask disagrees with the segment states")
