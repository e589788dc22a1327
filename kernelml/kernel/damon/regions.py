"""Monitoring regions and the adaptive regions adjustment (mm/damon/core.c).

Regions live in one int64 array ``R`` of shape ``(N_FIELDS, capacity)``,
sorted by address, ``nr`` of them valid.  Addresses are *page numbers* of
the dense page space (DAMON_MIN_REGION is PAGE_SIZE, so every kernel
region boundary is a page boundary); sizes compared with byte quantities
are converted with ``<< PAGE_SHIFT``.  The size-weighted averages and the
split points below give the same integers as the kernel's byte arithmetic
(``a * 4096 / (b * 4096) == a / b``; ``ALIGN_DOWN(k * sz * 4096 / 10, 4096)
/ 4096 == k * sz / 10``).

Fields: START, END (page numbers, [start, end)), NR (nr_accesses of the
current aggregation), LAST (last_nr_accesses), AGE (aggregation intervals),
SAMP (the page sampled in the current sampling interval).

:func:`merge_regions` follows kdamond_merge_regions and
damon_merge_regions_of; :func:`split_regions` follows kdamond_split_regions
and damon_split_regions_of; :func:`reset_aggregated` follows
kdamond_reset_aggregated.  nr_accesses_bp (the pseudo moving sum) is not
kept: schemes apply only at aggregation boundaries here, where the kernel's
nr_accesses_bp equals nr_accesses * 10000.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rng import below

START = 0
END = 1
NR = 2
LAST = 3
AGE = 4
SAMP = 5
N_FIELDS = 6


def new_regions(capacity: int, start: int, end: int) -> tuple[np.ndarray, int]:
    """One region [start, end) in a fresh array (the paddr target's init)."""
    if end <= start:
        raise ValueError("empty monitoring target")
    R = np.zeros((N_FIELDS, capacity), np.int64)
    R[START, 0] = start
    R[END, 0] = end
    R[SAMP, 0] = start
    return R, 1


def even_regions(capacity: int, start: int, end: int, nr: int) -> tuple[np.ndarray, int]:
    """``nr`` equal regions over [start, end) (like vaddr's initial split)."""
    nr = max(1, min(nr, end - start))
    R = np.zeros((N_FIELDS, capacity), np.int64)
    edges = start + (np.arange(nr + 1, dtype=np.int64) * (end - start)) // nr
    R[START, :nr] = edges[:-1]
    R[END, :nr] = edges[1:]
    R[SAMP, :nr] = edges[:-1]
    return R, nr


@njit(cache=True)
def merge_regions_of(R, nr, thres, sz_limit):
    """One pass of damon_merge_regions_of; returns the new region count.

    Ages first: a region whose nr_accesses moved by more than ``thres``
    since the last aggregation restarts at age 0, else ages by one.  Then
    adjacent regions whose nr_accesses differ by at most ``thres`` merge,
    if the merged size is at most ``sz_limit`` pages, with size-weighted
    nr_accesses and age (damon_merge_two_regions; the left region keeps
    its last_nr_accesses).
    """
    w = -1
    for i in range(nr):
        s = R[START, i]
        e = R[END, i]
        na = R[NR, i]
        age = R[AGE, i]
        if abs(na - R[LAST, i]) > thres:
            age = 0
        else:
            age += 1
        if w >= 0 and R[END, w] == s and abs(R[NR, w] - na) <= thres \
                and (R[END, w] - R[START, w]) + (e - s) <= sz_limit:
            szl = R[END, w] - R[START, w]
            szr = e - s
            R[NR, w] = (R[NR, w] * szl + na * szr) // (szl + szr)
            R[AGE, w] = (R[AGE, w] * szl + age * szr) // (szl + szr)
            R[END, w] = e
        else:
            w += 1
            if w != i:
                for k in range(R.shape[0]):
                    R[k, w] = R[k, i]
            R[AGE, w] = age
    return w + 1


def merge_regions(R: np.ndarray, nr: int, threshold: int, sz_limit: int,
                  max_nr_regions: int, max_thres: int) -> int:
    """kdamond_merge_regions: repeat with a doubling threshold while there
    are more than ``max_nr_regions`` regions (each pass ages regions again,
    as in the kernel)."""
    while True:
        nr = int(merge_regions_of(R, nr, threshold, sz_limit))
        threshold = max(1, threshold * 2)
        if not (nr > max_nr_regions and threshold // 2 < max_thres):
            return nr


@njit(cache=True)
def split_regions_of(R, nr, nr_subs, rng, out):
    """damon_split_regions_of into ``out``; returns the new region count.

    Each region of more than two pages is cut at a random 10-90 % point
    (damon_rand(1, 10) tenths, aligned down to a page); for three
    sub-regions the left part is cut again.  New regions copy the parent's
    nr_accesses, last_nr_accesses and age.
    """
    w = 0
    cuts = np.empty(nr_subs, np.int64)
    for i in range(nr):
        s = R[START, i]
        e = R[END, i]
        sz_region = e - s
        nc = 0
        for _ in range(nr_subs - 1):
            if sz_region <= 2:
                break
            sz_sub = (1 + below(rng, 9)) * sz_region // 10
            if sz_sub == 0 or sz_sub >= sz_region:
                continue
            cuts[nc] = s + sz_sub
            nc += 1
            sz_region = sz_sub
        # cuts decrease; pieces in address order: [s, cuts[nc-1]), ..., [cuts[0], e)
        lo = s
        for j in range(nc - 1, -2, -1):
            hi = cuts[j] if j >= 0 else e
            out[START, w] = lo
            out[END, w] = hi
            out[NR, w] = R[NR, i]
            out[LAST, w] = R[LAST, i]
            out[AGE, w] = R[AGE, i]
            out[SAMP, w] = lo
            w += 1
            lo = hi
    return w


def split_regions(R: np.ndarray, nr: int, max_nr_regions: int, last_nr_regions: int,
                  rng: np.ndarray, scratch: np.ndarray) -> tuple[int, int]:
    """kdamond_split_regions; returns (new count, new last_nr_regions).

    Splits only while there are at most ``max_nr_regions / 2`` regions;
    into three when the count did not change since the last split and is
    below ``max_nr_regions / 3``, else into two.
    """
    if nr > max_nr_regions // 2:
        return nr, last_nr_regions
    nr_subs = 2
    if last_nr_regions == nr and nr < max_nr_regions // 3:
        nr_subs = 3
    new_nr = int(split_regions_of(R, nr, nr_subs, rng, scratch))
    R[:, :new_nr] = scratch[:, :new_nr]
    return new_nr, nr


def reset_aggregated(R: np.ndarray, nr: int) -> None:
    """kdamond_reset_aggregated: last_nr_accesses = nr_accesses; nr_accesses = 0."""
    R[LAST, :nr] = R[NR, :nr]
    R[NR, :nr] = 0


def split_region_at(R: np.ndarray, nr: int, i: int, sz_pages: int) -> int:
    """damon_split_region_at: cut region ``i`` after ``sz_pages`` pages; the
    new right part copies age, nr_accesses and last_nr_accesses.  Returns
    the new count."""
    if not 0 < sz_pages < R[END, i] - R[START, i]:
        raise ValueError("split point outside the region")
    if nr >= R.shape[1]:
        raise OverflowError("region capacity exhausted")
    R[:, i + 2:nr + 1] = R[:, i + 1:nr]
    R[:, i + 1] = R[:, i]
    R[END, i] = R[START, i] + sz_pages
    R[START, i + 1] = R[END, i]
    R[SAMP, i + 1] = R[START, i + 1]
    return nr + 1


def region_sz_limit(R: np.ndarray, nr: int, min_nr_regions: int) -> int:
    """damon_region_sz_limit in pages: total size / min_nr_regions, >= 1."""
    sz = int((R[END, :nr] - R[START, :nr]).sum())
    if min_nr_regions:
        sz //= min_nr_regions
    return max(sz, 1)
