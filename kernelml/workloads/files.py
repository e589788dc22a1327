"""A file-level workload with F2FS-style temperature hints (``files``).

Files are created, appended, overwritten and deleted over a file system of
``n_blocks`` 4 KiB logical blocks; the stream is the data blocks that the
file system writes (OP_WRITE) and the blocks it discards when a file is
deleted (OP_TRIM).  A block number is the file system's logical address of
a file block: a new block takes a free number (LIFO free list), an
overwrite keeps the number (the old copy becomes invalid), a delete frees
it.  Each write carries the hint F2FS would derive (see
:mod:`kernelml.workloads.temperature`).

File classes (name used for the F2FS rule; share of operations; size):

======== ============ ======= ==========================================
class    name         ops     behaviour
======== ============ ======= ==========================================
dentry   (directory)  --      one block per directory, rewritten on every
                              create/delete in it: hot (dentry blocks)
db       ``x.db``     40 %    ``n_db`` files made at start; overwrite 1-4
                              blocks, skewed to the front: hot (extension)
log      ``x.log``    20 %    ``n_logs`` append-only files, 1-4 blocks per
                              append, rotated (deleted, recreated) at
                              ``log_max`` blocks: hot by the 16-dirty-block
                              rule though they are write-once
regular  ``x.txt``    13/12/12 % create / rewrite whole / delete;
                              lognormal size (median 4 blocks, sigma 1.5):
                              hot when <= 16 blocks, else warm
media    ``x.mp4``    1.5/1.5 % create / delete; lognormal size (median 128
                              blocks = 512 KiB, sigma 1.2, >= 16): cold
======== ============ ======= ==========================================

Capacity: a create that would push live data above ``fill`` of the device
becomes a delete of the same class, and a delete while live data is below
90 % of that target becomes a create, so the file system fills up quickly
(the first part of the stream, about one device's worth of writes) and
then churns near ``fill``.  The file system starts empty: block numbers it
never uses (above about ``fill`` of the device) keep whatever a simulator's
warm-up fill put there.  File sizes are capped at ``max_file`` blocks
(default n_blocks/16, at most 16384 = 64 MiB).  Sizes follow the lognormal
shape reported for file sizes by Agrawal et al., "A five-year study of
file-system metadata" (FAST'07); the parameters are ours.
``total_writes`` counts OP_WRITE blocks only; trims come on top.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernelml.workloads.base import _BATCH, HINT_COLD, HINT_HOT, HINT_WARM
from kernelml.workloads.blockgen import GeneratedBlockWorkload
from kernelml.workloads.temperature import DEF_MIN_HOT_BLOCKS

C_DB, C_LOG, C_REG, C_MEDIA = 0, 1, 2, 3
CLASS_NAMES = {C_DB: "data.db", C_LOG: "app.log", C_REG: "notes.txt", C_MEDIA: "clip.mp4"}
# parameter vector indices
P_NBLK, P_NDIR, P_TARGET, P_MAXF, P_LOGMAX, P_NLOG, P_NDB, P_DBBLK = range(8)
# state vector indices
S_NFREE, S_NFFREE, S_TOP, S_NREG, S_NMEDIA, S_INIT = range(6)
# cumulative operation mix
MIX = np.cumsum([0.40, 0.20, 0.13, 0.12, 0.12, 0.015, 0.015])


@njit(cache=True)
def _hint(cls, k):
    if cls == C_MEDIA:
        return HINT_COLD
    if cls == C_DB or k <= DEF_MIN_HOT_BLOCKS:
        return HINT_HOT
    return HINT_WARM


@njit(cache=True)
def _lognormal(u1, u2, median, sigma, lo, hi):
    z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
    v = int(median * math.exp(sigma * z) + 0.5)
    return min(max(v, lo), hi)


@njit(cache=True)
def _compact(st, f_off, f_cap, f_len, arena, scratch):
    top = 0
    for f in range(f_len.shape[0]):
        if f_len[f] < 0:
            continue
        n = f_len[f]
        scratch[top:top + n] = arena[f_off[f]:f_off[f] + n]
        f_off[f] = top
        f_cap[f] = max(n, 4)
        top += f_cap[f]
    arena[:top] = scratch[:top]
    st[S_TOP] = top


@njit(cache=True)
def _reserve(st, f, need, f_off, f_cap, f_len, arena, scratch):
    """Make room for ``need`` more blocks in file f's block list."""
    if f_len[f] + need <= f_cap[f]:
        return
    cap = max(2 * f_cap[f], f_len[f] + need, 4)
    if st[S_TOP] + cap > arena.shape[0]:
        _compact(st, f_off, f_cap, f_len, arena, scratch)
    off = st[S_TOP]
    arena[off:off + f_len[f]] = arena[f_off[f]:f_off[f] + f_len[f]]
    f_off[f] = off
    f_cap[f] = cap
    st[S_TOP] = off + cap


@njit(cache=True)
def _files_kernel(u, o_lba, o_op, o_hint, target, P, st, free, ffree, f_cls, f_dir, f_off,
                  f_cap, f_len, lists, l_pos, arena, scratch, db_ids, log_ids, mix):
    n = 0
    iu = 0
    nu = u.shape[0]
    ndir = P[P_NDIR]
    while n < target and iu + 16 <= nu:
        # ---- pick the operation
        if st[S_INIT] < P[P_NDB] + P[P_NLOG]:  # start: make the db and log files
            i = st[S_INIT]
            st[S_INIT] += 1
            cls = C_DB if i < P[P_NDB] else C_LOG
            size = P[P_DBBLK] if cls == C_DB else 0
            op = -1
        else:
            r = u[iu]
            iu += 1
            op = 0
            while op < 6 and r >= mix[op]:
                op += 1
            cls = -1
            size = 0
        live = P[P_NBLK] - ndir - st[S_NFREE]
        if (op == 4 or op == 6) and live < P[P_TARGET] - P[P_TARGET] // 10:
            op -= 2  # below the low-water mark: create instead of delete
        if op == 2 or op == 5:  # create regular / media
            cls = C_REG if op == 2 else C_MEDIA
            if cls == C_REG:
                size = _lognormal(u[iu], u[iu + 1], 4.0, 1.5, 1, P[P_MAXF])
            else:
                size = _lognormal(u[iu], u[iu + 1], 128.0, 1.2, 16, P[P_MAXF])
            iu += 2
            if live + size > P[P_TARGET] or st[S_NFREE] < size or st[S_NFFREE] == 0:
                op = 4 if cls == C_REG else 6  # over the fill target: delete instead
        # ---- run it
        if op == -1 or op == 2 or op == 5:  # create a file of `size` blocks
            f = ffree[st[S_NFFREE] - 1]
            st[S_NFFREE] -= 1
            f_cls[f] = cls
            f_dir[f] = int(u[iu] * ndir)
            iu += 1
            f_len[f] = 0
            f_cap[f] = 0
            _reserve(st, f, max(size, 4), f_off, f_cap, f_len, arena, scratch)
            h = _hint(cls, size)
            for j in range(size):
                b = free[st[S_NFREE] - 1]
                st[S_NFREE] -= 1
                arena[f_off[f] + j] = b
                o_lba[n] = b
                o_op[n] = 0
                o_hint[n] = h
                n += 1
            f_len[f] = size
            if cls == C_DB:
                db_ids[st[S_INIT] - 1] = f
            elif cls == C_LOG:
                log_ids[st[S_INIT] - 1 - P[P_NDB]] = f
            else:
                c = cls - C_REG
                l_pos[f] = st[S_NREG + c]
                lists[c, st[S_NREG + c]] = f
                st[S_NREG + c] += 1
            o_lba[n] = f_dir[f]
            o_op[n] = 0
            o_hint[n] = HINT_HOT
            n += 1
        elif op == 0:  # db overwrite: 1-4 blocks, skewed to the front of the file
            f = db_ids[int(u[iu] * P[P_NDB])]
            k = 1 + int(u[iu + 1] * 4)
            iu += 2
            for j in range(k):
                x = u[iu + j]
                o_lba[n] = arena[f_off[f] + int(x * x * f_len[f])]
                o_op[n] = 0
                o_hint[n] = HINT_HOT
                n += 1
            iu += k
        elif op == 1:  # log append; rotate when full
            li = int(u[iu] * P[P_NLOG])
            f = log_ids[li]
            k = 1 + int(u[iu + 1] * 4)
            iu += 2
            if st[S_NFREE] < k:
                continue
            _reserve(st, f, k, f_off, f_cap, f_len, arena, scratch)
            h = _hint(C_LOG, k)
            for j in range(k):
                b = free[st[S_NFREE] - 1]
                st[S_NFREE] -= 1
                arena[f_off[f] + f_len[f]] = b
                f_len[f] += 1
                o_lba[n] = b
                o_op[n] = 0
                o_hint[n] = h
                n += 1
            if f_len[f] >= P[P_LOGMAX]:  # rotate: delete and recreate (same inode slot)
                for j in range(f_len[f]):
                    b = arena[f_off[f] + j]
                    o_lba[n] = b
                    o_op[n] = 1
                    o_hint[n] = 0
                    n += 1
                    free[st[S_NFREE]] = b
                    st[S_NFREE] += 1
                f_len[f] = 0
                o_lba[n] = f_dir[f]
                o_op[n] = 0
                o_hint[n] = HINT_HOT
                n += 1
        elif op == 3:  # rewrite a whole regular file in place
            if st[S_NREG] == 0:
                iu += 1
                continue
            f = lists[0, int(u[iu] * st[S_NREG])]
            iu += 1
            h = _hint(C_REG, f_len[f])
            for j in range(f_len[f]):
                o_lba[n] = arena[f_off[f] + j]
                o_op[n] = 0
                o_hint[n] = h
                n += 1
        else:  # op 4 / 6: delete a regular / media file
            c = 0 if op == 4 else 1
            if st[S_NREG + c] == 0:
                c = 1 - c
            if st[S_NREG + c] == 0:
                iu += 1
                continue
            f = lists[c, int(u[iu] * st[S_NREG + c])]
            iu += 1
            for j in range(f_len[f]):
                b = arena[f_off[f] + j]
                o_lba[n] = b
                o_op[n] = 1
                o_hint[n] = 0
                n += 1
                free[st[S_NFREE]] = b
                st[S_NFREE] += 1
            last = lists[c, st[S_NREG + c] - 1]
            lists[c, l_pos[f]] = last
            l_pos[last] = l_pos[f]
            st[S_NREG + c] -= 1
            o_lba[n] = f_dir[f]
            o_op[n] = 0
            o_hint[n] = HINT_HOT
            n += 1
            f_len[f] = -1
            ffree[st[S_NFFREE]] = f
            st[S_NFFREE] += 1
    return n


class Files(GeneratedBlockWorkload):
    """File-level workload (create/append/overwrite/delete) with F2FS hot/warm/cold hints."""

    has_hints = True

    def __init__(self, name, n_blocks, writes, seed=0, fill=0.75, n_dirs=None, n_db=4,
                 db_frac=0.04, n_logs=4, log_max=1024, max_file=None, **timing):
        super().__init__(name, n_blocks, writes, seed, **timing)
        n = self.n_blocks
        if n < 1024:
            raise ValueError("the files workload needs n_blocks >= 1024")
        if not (0.1 <= fill <= 0.95):
            raise ValueError("fill must be in [0.1, 0.95]")
        n_dirs = int(n_dirs or max(4, n // 4096))
        max_file = int(max_file or max(16, min(16384, n // 16)))
        db_blocks = max(16, min(max_file, int(n * db_frac / max(1, n_db))))
        if n_db * db_blocks + n_dirs + n_logs * log_max > fill * n:
            raise ValueError("db files, directories and logs do not fit under the fill target")
        self.cfg = dict(fill=float(fill), n_dirs=n_dirs, n_db=int(n_db), db_blocks=db_blocks,
                        n_logs=int(n_logs), log_max=int(log_max), max_file=max_file)
        self.params = dict(self.cfg)
        self.class_names = dict(CLASS_NAMES)

    def _stream(self, rng):
        c = self.cfg
        n = self.n_blocks
        maxf = n // 2 + 64
        P = np.zeros(8, np.int64)
        P[P_NBLK], P[P_NDIR], P[P_TARGET] = n, c["n_dirs"], int(c["fill"] * n)
        P[P_MAXF], P[P_LOGMAX], P[P_NLOG], P[P_NDB] = c["max_file"], c["log_max"], c["n_logs"], c["n_db"]
        P[P_DBBLK] = c["db_blocks"]
        st = np.zeros(6, np.int64)
        free = np.arange(n - 1, c["n_dirs"] - 1, -1, dtype=np.int64)
        free = np.concatenate((free, np.zeros(c["n_dirs"], np.int64)))
        st[S_NFREE] = n - c["n_dirs"]
        ffree = np.arange(maxf - 1, -1, -1, dtype=np.int64)
        st[S_NFFREE] = maxf
        f_cls = np.zeros(maxf, np.int8)
        f_dir, f_off, f_cap = (np.zeros(maxf, np.int64) for _ in range(3))
        f_len = np.full(maxf, -1, np.int64)
        lists = np.zeros((2, maxf), np.int64)
        l_pos = np.zeros(maxf, np.int64)
        arena = np.zeros(4 * n + 8 * maxf, np.int64)
        scratch = np.zeros_like(arena)
        db_ids = np.zeros(max(1, c["n_db"]), np.int64)
        log_ids = np.zeros(max(1, c["n_logs"]), np.int64)
        slack = 2 * max(c["max_file"], c["db_blocks"]) + c["log_max"] + 64
        o_lba = np.empty(_BATCH + slack, np.int64)
        o_op = np.empty(_BATCH + slack, np.int8)
        o_hint = np.empty(_BATCH + slack, np.int8)
        left = self.total_writes
        while left > 0:
            u = rng.random(_BATCH * 2)
            m = _files_kernel(u, o_lba, o_op, o_hint, _BATCH, P, st, free, ffree, f_cls, f_dir,
                              f_off, f_cap, f_len, lists, l_pos, arena, scratch, db_ids, log_ids, MIX)
            op = o_op[:m]
            w = np.cumsum(op == 0)
            if m and w[-1] >= left:
                m = int(np.searchsorted(w, left)) + 1
            left -= int(np.count_nonzero(op[:m] == 0))
            yield op[:m].copy(), o_lba[:m].copy(), o_hint[:m].copy()


def files(n_blocks: int, writes: int, seed: int = 0, **params) -> Files:
    """File-level workload (db, logs, regular and media files) with F2FS temperature hints."""
    return Files("files", n_blocks, writes, seed, **params)
