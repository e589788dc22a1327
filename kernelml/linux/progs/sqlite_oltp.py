"""An OLTP-style program on SQLite in WAL mode (run as its own process).

Usage: ``python -m kernelml.linux.progs.sqlite_oltp DB --seconds S [options]``

Tables (a small order-entry schema)::

    account(id INTEGER PRIMARY KEY, balance INTEGER, name TEXT, payload BLOB)
    orders(id INTEGER PRIMARY KEY, account INTEGER, amount INTEGER, created INTEGER, note BLOB)
    index orders_account ON orders(account)

Load phase: ``--rows`` accounts with ``--payload`` bytes each, one orders
row per account.  Run phase, until ``--seconds`` elapse, transactions of
``--txn`` operations drawn from the mix (per cent): ``update`` (balance and
payload of one account, key Zipf(``--zipf``) over accounts, so some rows
are hot), ``insert`` (a new order), ``delete`` (the oldest orders, to keep
the table from growing without bound), ``select`` (an account and its
orders).  ``PRAGMA journal_mode=WAL``, ``synchronous`` as given (NORMAL:
the WAL is synced at checkpoints; FULL: at every commit),
``wal_autocheckpoint`` pages, ``page_size`` 4096.  Prints ``phase <name>``
lines when a phase starts and a JSON summary at the end.  Deterministic
for a seed (the operations; timing decides how many run).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from bisect import bisect_left
from itertools import accumulate


def zipf_sampler(n: int, s: float, rng: random.Random):
    weights = [1.0 / (k ** s) for k in range(1, n + 1)]
    cum = list(accumulate(weights))
    total = cum[-1]
    perm = list(range(1, n + 1))
    rng.shuffle(perm)  # hot keys spread over the table, not clustered at its start

    def draw() -> int:
        return perm[min(n - 1, bisect_left(cum, rng.random() * total))]

    return draw


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="SQLite WAL OLTP mix")
    ap.add_argument("db")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--payload", type=int, default=200)
    ap.add_argument("--txn", type=int, default=8)
    ap.add_argument("--mix", default="update:60,insert:20,delete:10,select:10")
    ap.add_argument("--zipf", type=float, default=1.1)
    ap.add_argument("--synchronous", default="NORMAL", choices=["OFF", "NORMAL", "FULL"])
    ap.add_argument("--wal-autocheckpoint", type=int, default=1000)
    ap.add_argument("--cache-kib", type=int, default=8192)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    mix = [(k, int(v)) for k, v in (p.split(":") for p in a.mix.split(","))]
    kinds = [k for k, _ in mix]
    cum = list(accumulate(w for _, w in mix))

    con = sqlite3.connect(a.db, isolation_level=None)
    con.execute("PRAGMA page_size=4096")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={a.synchronous}")
    con.execute(f"PRAGMA wal_autocheckpoint={a.wal_autocheckpoint}")
    con.execute(f"PRAGMA cache_size=-{a.cache_kib}")
    print("phase load", flush=True)
    con.execute("CREATE TABLE account(id INTEGER PRIMARY KEY, balance INTEGER, name TEXT, payload BLOB)")
    con.execute("CREATE TABLE orders(id INTEGER PRIMARY KEY, account INTEGER, amount INTEGER, "
                "created INTEGER, note BLOB)")
    batch = 5000
    for start in range(1, a.rows + 1, batch):
        con.execute("BEGIN")
        ids = range(start, min(a.rows + 1, start + batch))
        con.executemany("INSERT INTO account VALUES(?,?,?,?)",
                        ((i, 1000, f"acct{i}", rng.randbytes(a.payload)) for i in ids))
        con.executemany("INSERT INTO orders(account, amount, created, note) VALUES(?,?,?,?)",
                        ((i, rng.randrange(1, 500), 0, rng.randbytes(a.payload // 2)) for i in ids))
        con.execute("COMMIT")
    con.execute("CREATE INDEX orders_account ON orders(account)")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    draw = zipf_sampler(a.rows, a.zipf, rng)
    counts = {k: 0 for k in kinds}
    txns = 0
    print("phase run", flush=True)
    t0 = time.monotonic()
    tick = 0
    while time.monotonic() - t0 < a.seconds:
        con.execute("BEGIN")
        for _ in range(a.txn):
            kind = kinds[bisect_left(cum, rng.randrange(cum[-1]) + 1)]
            counts[kind] += 1
            if kind == "update":
                con.execute("UPDATE account SET balance = balance + ?, payload = ? WHERE id = ?",
                            (rng.randrange(-50, 51), rng.randbytes(a.payload), draw()))
            elif kind == "insert":
                con.execute("INSERT INTO orders(account, amount, created, note) VALUES(?,?,?,?)",
                            (draw(), rng.randrange(1, 500), tick, rng.randbytes(a.payload // 2)))
            elif kind == "delete":
                con.execute("DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY id LIMIT 3)")
            else:
                k = draw()
                con.execute("SELECT balance FROM account WHERE id = ?", (k,)).fetchall()
                con.execute("SELECT sum(amount) FROM orders WHERE account = ?", (k,)).fetchall()
        con.execute("COMMIT")
        txns += 1
        tick += 1
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(json.dumps({"transactions": txns, "ops": counts, "seconds": round(time.monotonic() - t0, 3)}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
