"""A TPC-C-like page update stream (registered as ``tpcc``).

Model (after the TPC-C specification, rev. 5.11, clauses 1.3 and 2.4-2.8):

* Tables and row sizes (bytes, clause 1.3): WAREHOUSE 89, DISTRICT 95,
  CUSTOMER 655, STOCK 306, ITEM 82, ORDERS 24, NEW-ORDER 8, ORDER-LINE 54,
  HISTORY 46.  A 4 KiB page holds ``4096 // row`` rows (no page header).
  Per warehouse: 10 districts, 3,000 customers per district, 100,000 stock
  rows; ITEM has 100,000 rows.  ``scale`` < 1 shrinks the per-warehouse
  and item row counts for small devices.
* Transaction mix (clause 5.2.3): New-Order 45 %, Payment 43 %, Delivery
  4 %, Order-Status 4 % and Stock-Level 4 % (read-only: no writes).
* New-Order: random district of a uniform home warehouse; 5-15 items with
  ``NURand(8191, 1, 100000)`` ids, 1 % supplied by a remote warehouse;
  updates the DISTRICT row (next order id) and each STOCK row, inserts one
  ORDERS, one NEW-ORDER and one ORDER-LINE row per item.  1 % roll back
  (clause 2.4.1.4): no writes.
* Payment: updates WAREHOUSE and DISTRICT year-to-date, the CUSTOMER row
  (``NURand(1023, 1, 3000)``; 15 % of customers from a remote warehouse),
  inserts a HISTORY row.  Selection by last name (60 % in the spec) is
  modelled as selection by id.
* Delivery: for the 10 oldest undelivered orders (one global FIFO rather
  than one per district) deletes the NEW-ORDER row, updates the ORDERS
  row, every ORDER-LINE row of the order and the CUSTOMER balance.
* I/O model: each transaction writes every page it modified once, at
  commit (write-through, no coalescing across transactions).  Growing
  tables (ORDERS, NEW-ORDER, ORDER-LINE, HISTORY) are rings over the space
  left after the static tables, sized by their insert rates: old rows are
  overwritten as if archived (real TPC-C grows without bound).  ITEM is
  read-only: it occupies LBAs but is never written by the stream.

Static tables take about ``static_frac`` (default 50 %) of the device;
the warehouse count follows (or pass ``warehouses``).  Skew comes from
NURand (hot stock and customer rows), the append rings (hot tail pages)
and tiny WAREHOUSE/DISTRICT pages (very hot).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernelml.workloads.base import _BATCH
from kernelml.workloads.blockgen import GeneratedBlockWorkload

ROW = {"warehouse": 89, "district": 95, "customer": 655, "stock": 306, "item": 82,
       "orders": 24, "new_order": 8, "order_line": 54, "history": 46}
RPP = {k: 4096 // v for k, v in ROW.items()}  # rows per 4 KiB page

# layout vector indices
(L_W, L_CPD, L_SPW, L_AC, L_CC, L_AI, L_CI, L_WH, L_DI, L_CU, L_ST,
 L_O, L_OP, L_NO, L_NOP, L_OL, L_OLP, L_H, L_HP, L_ITEMS) = range(20)
# state vector indices
S_ORDERS, S_OLROWS, S_HROWS, S_DELIV = range(4)


def _nurand_a(a_spec: int, y: int, y_spec: int) -> int:
    a = max(1, int(a_spec * y / y_spec))
    return (1 << int(math.log2(a + 1))) - 1


@njit(cache=True)
def _nurand(u1, u2, A, x, y, C):
    r1 = int(u1 * (A + 1))
    r2 = x + int(u2 * (y - x + 1))
    return (((r1 | r2) + C) % (y - x + 1)) + x


@njit(cache=True)
def _add(txn, k, page):
    for i in range(k):
        if txn[i] == page:
            return k
    txn[k] = page
    return k + 1


@njit(cache=True)
def _tpcc_kernel(u, out, target, st, lay, m_start, m_cnt, m_cust):
    W = lay[L_W]
    cpd = lay[L_CPD]
    spw = lay[L_SPW]
    items = lay[L_ITEMS]
    mb = m_start.shape[0]
    txn = np.empty(96, np.int64)
    n = 0
    iu = 0
    nu = u.shape[0]
    while n < target and iu + 100 <= nu:
        r = u[iu]
        iu += 1
        k = 0
        if r < 0.45:  # New-Order
            w = int(u[iu] * W)
            d = int(u[iu + 1] * 10)
            c = _nurand(u[iu + 2], u[iu + 3], lay[L_AC], 1, cpd, lay[L_CC]) - 1
            ol = 5 + int(u[iu + 4] * 11)
            rollback = u[iu + 5] < 0.01
            iu += 6
            k = _add(txn, k, lay[L_DI] + (w * 10 + d) // 43)
            for j in range(ol):
                it = _nurand(u[iu], u[iu + 1], lay[L_AI], 1, items, lay[L_CI]) - 1
                sw = w
                if W > 1 and u[iu + 2] < 0.01:
                    sw = int(u[iu + 3] * W)
                iu += 4
                k = _add(txn, k, lay[L_ST] + (sw * spw + it) // 13)
            if rollback:
                continue
            o = st[S_ORDERS]
            k = _add(txn, k, lay[L_O] + (o // 170) % lay[L_OP])
            k = _add(txn, k, lay[L_NO] + (o // 512) % lay[L_NOP])
            row0 = st[S_OLROWS]
            for j in range(ol):
                k = _add(txn, k, lay[L_OL] + ((row0 + j) // 75) % lay[L_OLP])
            m_start[o % mb] = row0
            m_cnt[o % mb] = ol
            m_cust[o % mb] = (w * 10 + d) * cpd + c
            st[S_OLROWS] = row0 + ol
            st[S_ORDERS] = o + 1
            if st[S_ORDERS] - st[S_DELIV] > mb:
                st[S_DELIV] = st[S_ORDERS] - mb
        elif r < 0.88:  # Payment
            w = int(u[iu] * W)
            d = int(u[iu + 1] * 10)
            cw = w
            cd = d
            if W > 1 and u[iu + 2] < 0.15:
                cw = int(u[iu + 3] * W)
                cd = int(u[iu + 4] * 10)
            c = _nurand(u[iu + 5], u[iu + 6], lay[L_AC], 1, cpd, lay[L_CC]) - 1
            iu += 7
            k = _add(txn, k, lay[L_WH] + w // 46)
            k = _add(txn, k, lay[L_DI] + (w * 10 + d) // 43)
            k = _add(txn, k, lay[L_CU] + ((cw * 10 + cd) * cpd + c) // 6)
            h = st[S_HROWS]
            k = _add(txn, k, lay[L_H] + (h // 89) % lay[L_HP])
            st[S_HROWS] = h + 1
        elif r < 0.92:  # Delivery
            for j in range(10):
                o = st[S_DELIV]
                if o >= st[S_ORDERS]:
                    break
                st[S_DELIV] = o + 1
                k = _add(txn, k, lay[L_NO] + (o // 512) % lay[L_NOP])
                k = _add(txn, k, lay[L_O] + (o // 170) % lay[L_OP])
                s0 = m_start[o % mb]
                for x in range(m_cnt[o % mb]):
                    k = _add(txn, k, lay[L_OL] + ((s0 + x) // 75) % lay[L_OLP])
                k = _add(txn, k, lay[L_CU] + m_cust[o % mb] // 6)
        else:
            continue  # Order-Status, Stock-Level: read-only
        for j in range(k):
            out[n] = txn[j]
            n += 1
    return n


class TPCC(GeneratedBlockWorkload):
    """TPC-C-like page update stream: hot WAREHOUSE/DISTRICT pages, NURand-skewed
    STOCK/CUSTOMER updates, append rings for orders, order lines and history."""

    def __init__(self, name, n_blocks, writes, seed=0, warehouses=None, scale=1.0,
                 static_frac=0.5, **timing):
        super().__init__(name, n_blocks, writes, seed, **timing)
        if not (0.05 <= static_frac <= 0.9):
            raise ValueError("static_frac must be in [0.05, 0.9]")
        scale = float(scale)

        def static_pages(W, sc):
            cpd = max(1, int(round(3000 * sc)))
            spw = max(1, int(round(100000 * sc)))
            return (math.ceil(W / RPP["warehouse"]) + math.ceil(10 * W / RPP["district"])
                    + math.ceil(W * 10 * cpd / RPP["customer"]) + math.ceil(W * spw / RPP["stock"])
                    + math.ceil(spw / RPP["item"])), cpd, spw

        budget = static_frac * self.n_blocks
        if warehouses is None:
            per_w = static_pages(1, scale)[0]
            if per_w > budget:
                scale *= budget / per_w
                W = 1
            else:
                W = max(1, int(budget // per_w))
        else:
            W = int(warehouses)
        total_static, cpd, spw = static_pages(W, scale)
        rest = self.n_blocks - total_static
        if rest < 16:
            raise ValueError(f"device of {self.n_blocks} blocks too small for {W} warehouse(s) "
                             f"at scale {scale:.3g}: static tables need {total_static}")
        rates = {"orders": 0.45 / RPP["orders"], "new_order": 0.45 / RPP["new_order"],
                 "order_line": 0.45 * 10 / RPP["order_line"], "history": 0.43 / RPP["history"]}
        tot = sum(rates.values())
        ring = {t: max(2, int(rest * r / tot)) for t, r in rates.items()}
        ring["order_line"] = rest - ring["orders"] - ring["new_order"] - ring["history"]
        base = {}
        at = 0
        for t, size in (("item", math.ceil(spw / RPP["item"])), ("warehouse", math.ceil(W / RPP["warehouse"])),
                        ("district", math.ceil(10 * W / RPP["district"])),
                        ("customer", math.ceil(W * 10 * cpd / RPP["customer"])),
                        ("stock", math.ceil(W * spw / RPP["stock"])), ("orders", ring["orders"]),
                        ("new_order", ring["new_order"]), ("order_line", ring["order_line"]),
                        ("history", ring["history"])):
            base[t] = (at, size)
            at += size
        assert at == self.n_blocks
        crng = np.random.default_rng([self.seed, 4])
        a_c, a_i = _nurand_a(1023, cpd, 3000), _nurand_a(8191, spw, 100000)
        lay = np.zeros(20, np.int64)
        lay[L_W], lay[L_CPD], lay[L_SPW], lay[L_ITEMS] = W, cpd, spw, spw
        lay[L_AC], lay[L_CC] = a_c, int(crng.integers(0, a_c + 1))
        lay[L_AI], lay[L_CI] = a_i, int(crng.integers(0, a_i + 1))
        lay[L_WH], lay[L_DI] = base["warehouse"][0], base["district"][0]
        lay[L_CU], lay[L_ST] = base["customer"][0], base["stock"][0]
        lay[L_O], lay[L_OP] = base["orders"]
        lay[L_NO], lay[L_NOP] = base["new_order"]
        lay[L_OL], lay[L_OLP] = base["order_line"]
        lay[L_H], lay[L_HP] = base["history"]
        self._lay = lay
        self.layout = {t: {"first_lba": a, "pages": s} for t, (a, s) in base.items()}
        self.params = {"warehouses": W, "scale": scale, "static_frac": static_frac,
                       "customers_per_district": cpd, "stock_per_warehouse": spw}

    def describe(self) -> dict:
        d = super().describe()
        d["layout"] = {t: dict(v) for t, v in self.layout.items()}
        return d

    def _stream(self, rng):
        st = np.zeros(4, np.int64)
        mb = 1 << 16  # undelivered-order backlog kept for Delivery
        m_start, m_cnt, m_cust = np.zeros(mb, np.int64), np.zeros(mb, np.int64), np.zeros(mb, np.int64)
        out = np.empty(_BATCH + 256, np.int64)
        left = self.total_writes
        while left > 0:
            u = rng.random(_BATCH * 4)
            n = _tpcc_kernel(u, out, min(_BATCH, left), st, self._lay, m_start, m_cnt, m_cust)
            n = min(n, left)
            left -= n
            yield np.zeros(n, np.int8), out[:n].copy(), np.zeros(n, np.int8)


def tpcc(n_blocks: int, writes: int, seed: int = 0, **params) -> TPCC:
    """TPC-C-like page update stream (NURand skew, append rings, hot district pages)."""
    return TPCC("tpcc", n_blocks, writes, seed, **params)
