"""What-if replay for the LFS learner: which victim rule suits the writes
the kernel side published?

No online estimator separates a victim policy's effect on a shared device
(see docs/gc.md), and the choice matters in both directions: cost-benefit
halves the write amplification of hot/cold and Zipf workloads but costs
10-20 % on some real traces where greedy is better.  The agent has the
write stream the kernel side published (``REC_WRITE``) and the device's
geometry (``REC_DEVICE``), so it replays the recent writes on a small model
of the device in user space, once with each victim rule, with the classes
its own placement table gives, and recommends the rule that copies less.
The model is deliberately simple (one open segment per class, a GC copy
stays in the class of the segment it leaves, foreground GC only); only the
comparison between the two rules is used.

The replay is compiled without the GIL (``nogil``): an agent daemon runs it
in a background thread (``LifetimeTable(background_replay=True)``) so that
its heartbeats, telemetry and recommendations go on meanwhile (a replay of
a 1 GiB device takes about half a second, longer than the kernel side waits
for a silent agent).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _append(x, c, seg_of, slot, valid, wp, state, klass, lastmod, freeq, q, open_seg, bps, now):
    """Append LBA ``x`` to class ``c``'s open segment (opening one from the free
    queue ``q = [head, n_free]`` when needed).  False when no segment is free."""
    n_segs = valid.shape[0]
    s = open_seg[c]
    if s < 0:
        if q[1] == 0:
            return False
        s = freeq[q[0]]
        q[0] = (q[0] + 1) % n_segs
        q[1] -= 1
        state[s] = 1
        klass[s] = c
        wp[s] = 0
        valid[s] = 0
        open_seg[c] = s
    p = s * bps + wp[s]
    slot[p] = x
    seg_of[x] = p
    wp[s] += 1
    valid[s] += 1
    lastmod[s] = now
    if wp[s] == bps:
        state[s] = 2
        open_seg[c] = -1
    return True


@njit(cache=True, nogil=True)
def replay(lbas, classes, n_lbas, n_segs, bps, n_classes, cost_benefit, measure_from):
    """Write every LBA once (class 0), then ``lbas`` with ``classes``, on a
    device of ``n_segs`` segments of ``bps`` blocks.  Returns (user writes,
    GC copies) counted from write ``measure_from`` of ``lbas`` on; copies is
    -1 when the device cannot make room (no verdict)."""
    seg_of = np.full(n_lbas, -1, np.int64)  # physical slot of each LBA
    slot = np.full(n_segs * bps, -1, np.int64)  # LBA in each slot
    valid = np.zeros(n_segs, np.int64)
    wp = np.zeros(n_segs, np.int64)
    state = np.zeros(n_segs, np.int64)  # 0 free, 1 open, 2 sealed
    klass = np.zeros(n_segs, np.int64)
    lastmod = np.zeros(n_segs, np.int64)
    freeq = np.arange(n_segs)
    q = np.array([0, n_segs])  # free queue head, free segments
    open_seg = np.full(n_classes, -1, np.int64)
    users = 0
    copies = 0
    now = 0
    for i in range(n_lbas + lbas.shape[0]):
        if i < n_lbas:
            x = i
            c = 0
        else:
            x = lbas[i - n_lbas]
            c = classes[i - n_lbas]
            if x < 0 or x >= n_lbas or c < 0 or c >= n_classes:
                continue
        now += 1
        measuring = i >= n_lbas + measure_from
        while q[1] <= 2:  # foreground GC
            best = -1
            best_v = -1.0
            for s in range(n_segs):
                if state[s] != 2 or valid[s] == wp[s]:
                    continue
                u = valid[s] / bps
                v = (1.0 - u) * (now - lastmod[s]) / (1.0 + u) if cost_benefit else 1.0 - u
                if v > best_v:
                    best = s
                    best_v = v
            if best < 0:
                return users, -1
            for off in range(wp[best]):  # copies stay in the class of their segment
                y = slot[best * bps + off]
                if y < 0:
                    continue
                slot[best * bps + off] = -1
                valid[best] -= 1
                if not _append(y, klass[best], seg_of, slot, valid, wp, state, klass, lastmod, freeq, q,
                               open_seg, bps, now):
                    return users, -1
                if measuring:
                    copies += 1
            state[best] = 0
            wp[best] = 0
            valid[best] = 0
            freeq[(q[0] + q[1]) % n_segs] = best
            q[1] += 1
        old = seg_of[x]
        if old >= 0:
            slot[old] = -1
            valid[old // bps] -= 1
        if not _append(x, c, seg_of, slot, valid, wp, state, klass, lastmod, freeq, q, open_seg, bps, now):
            return users, -1
        if measuring:
            users += 1
    return users, copies


def prefer_cost_benefit(lbas: np.ndarray, classes: np.ndarray, n_lbas: int, n_segs: int, bps: int,
                        n_classes: int, margin: float = 0.02) -> bool | None:
    """True when cost-benefit copies at least ``margin`` less than greedy on
    the replay, False when it does not, None without a verdict."""
    if lbas.size < 2 * n_lbas or n_segs < n_classes + 4:
        return None
    half = lbas.size // 2
    out = []
    for cb in (False, True):
        u, c = replay(lbas.astype(np.int64), classes.astype(np.int64), int(n_lbas), int(n_segs), int(bps),
                      int(n_classes), cb, half)
        if c < 0 or u == 0:
            return None
        out.append(c / u)
    return out[1] < out[0] * (1.0 - margin)
