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
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
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
    head = 0
    n_free = n_segs
    open_seg = np.full(n_classes, -1, np.int64)
    users = 0
    copies = 0
    now = 0
    total = n_lbas + lbas.shape[0]
    for i in range(total):
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
        while n_free <= 2:  # foreground GC
            best = -1
            best_v = -1.0
            for s in range(n_segs):
                if state[s] != 2 or valid[s] == wp[s]:
                    continue
                u = valid[s] / bps
                if cost_benefit:
                    v = (1.0 - u) * (now - lastmod[s]) / (1.0 + u)
                else:
                    v = 1.0 - u
                if v > best_v:
                    best = s
                    best_v = v
            if best < 0:
                return users, -1
            vc = klass[best]
            for off in range(wp[best]):
                y = slot[best * bps + off]
                if y < 0:
                    continue
                slot[best * bps + off] = -1
                valid[best] -= 1
                # append y to class vc
                s2 = open_seg[vc]
                if s2 < 0:
                    if n_free == 0:
                        return users, -1
                    s2 = freeq[head]
                    head = (head + 1) % n_segs
                    n_free -= 1
                    state[s2] = 1
                    klass[s2] = vc
                    wp[s2] = 0
                    valid[s2] = 0
                    open_seg[vc] = s2
                p = s2 * bps + wp[s2]
                slot[p] = y
                seg_of[y] = p
                wp[s2] += 1
                valid[s2] += 1
                lastmod[s2] = now
                if wp[s2] == bps:
                    state[s2] = 2
                    open_seg[vc] = -1
                if measuring:
                    copies += 1
            state[best] = 0
            wp[best] = 0
            valid[best] = 0
            freeq[(head + n_free) % n_segs] = best
            n_free += 1
        old = seg_of[x]
        if old >= 0:
            slot[old] = -1
            valid[old // bps] -= 1
        s2 = open_seg[c]
        if s2 < 0:
            if n_free == 0:
                return users, -1
            s2 = freeq[head]
            head = (head + 1) % n_segs
            n_free -= 1
            state[s2] = 1
            klass[s2] = c
            wp[s2] = 0
            valid[s2] = 0
            open_seg[c] = s2
        p = s2 * bps + wp[s2]
        slot[p] = x
        seg_of[x] = p
        wp[s2] += 1
        valid[s2] += 1
        lastmod[s2] = now
        if wp[s2] == bps:
            state[s2] = 2
            open_seg[c] = -1
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
