"""Which library for the GC learner's lifetime model?  River's online
regressors against the vectorised life table ``lfs-lifetime`` uses, on the
same labelled stream, prequentially (predict, then learn, one record at a
time for river; per batch for the table, as the agent receives telemetry).

The stream is what an overwrite teaches the agent: when LBA ``x`` is written
at ``t`` and was last written at ``p`` (and before that at ``pp``), the write
at ``p`` had lifetime ``t - p``; its features are what was known at ``p``:
log2 of ``p - pp`` (the previous interval, SepBIT's signal) and the LBA's
hint-map group (here: the LBA's 1/16 slice of the address space).  Label:
log2 of the lifetime.  Error: mean absolute error in log2 units (a factor
2 is 1.0).

    python benchmarks/bench_learner_libs.py [--workloads hotcold-90-10,zipf-1.2]
        [--blocks 65536] [--writes 2000000] [--river-records 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from kernelml.workloads import make
from kernelml.workloads.base import OP_WRITE

N_BUCKETS = 40
BATCH = 4096


def labelled_stream(name: str, n_blocks: int, writes: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bucket of the previous interval, LBA group, log2 lifetime) per overwrite, in time order."""
    wl = make(name, n_blocks, writes, seed=seed)
    lbas = np.concatenate([c.lba[c.op == OP_WRITE] for c in wl.chunks()])[:writes]
    last = np.full(n_blocks, -1, np.int64)
    prev_iv = np.zeros(n_blocks, np.int64)  # interval that ended at the last write (0: first write)
    feat_b, feat_g, label = [], [], []
    for t, x in enumerate(lbas.tolist()):
        p = last[x]
        if p >= 0:
            feat_b.append(int(prev_iv[x]).bit_length())
            feat_g.append(x * 16 // n_blocks)
            label.append(t - p)
            prev_iv[x] = t - p
        last[x] = t
    return np.array(feat_b, np.int64), np.array(feat_g, np.int64), np.log2(np.array(label, np.float64))


def life_table(b: np.ndarray, g: np.ndarray, y: np.ndarray, half_life: int = 1 << 20) -> tuple[float, float]:
    """The lfs-lifetime shape: per cell (group x bucket) decayed sums of the
    log2 lifetime, predicted as the cell mean (global mean for an empty cell);
    learned per batch with numpy.  (records/s, MAE)"""
    cells = 16 * (N_BUCKETS + 1)
    s = np.zeros(cells)
    n = np.zeros(cells)
    decay = 0.5 ** (BATCH / half_life)
    cell = g * (N_BUCKETS + 1) + np.minimum(b, N_BUCKETS)
    err = 0.0
    t0 = time.perf_counter()
    for a in range(0, len(y), BATCH):
        c, yy = cell[a:a + BATCH], y[a:a + BATCH]
        glob = s.sum() / n.sum() if n.sum() > 0 else 0.0
        pred = np.where(n[c] > 0, s[c] / np.maximum(n[c], 1e-12), glob)
        err += float(np.abs(pred - yy).sum())
        s *= decay
        n *= decay
        np.add.at(s, c, yy)
        np.add.at(n, c, 1.0)
    dt = time.perf_counter() - t0
    return len(y) / dt, err / len(y)


def river_model(kind: str, b: np.ndarray, g: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from river import linear_model, preprocessing, tree

    if kind == "linear":
        model = preprocessing.StandardScaler() | linear_model.LinearRegression()
    else:
        model = tree.HoeffdingTreeRegressor(grace_period=200)
    err = 0.0
    t0 = time.perf_counter()
    for bi, gi, yi in zip(b.tolist(), g.tolist(), y.tolist()):
        x = {"bucket": bi, "group": gi}
        err += abs(model.predict_one(x) - yi)
        model.learn_one(x, yi)
    dt = time.perf_counter() - t0
    return len(y) / dt, err / len(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="hotcold-90-10,zipf-1.2,uniform")
    ap.add_argument("--blocks", type=int, default=1 << 16)
    ap.add_argument("--writes", type=int, default=2_000_000)
    ap.add_argument("--river-records", type=int, default=100_000, help="river is fed the first N records")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    out = {"machine": f"{platform.machine()}, {platform.python_version()}", "args": vars(a), "rows": []}
    print(f"{'workload':16} {'model':22} {'records':>9} {'records/s':>12} {'MAE (log2)':>10}")
    for name in a.workloads.split(","):
        b, g, y = labelled_stream(name, a.blocks, a.writes, a.seed)
        k = min(a.river_records, len(y))
        runs = [("life table (numpy)", life_table(b, g, y), len(y)),
                ("life table, first N", life_table(b[:k], g[:k], y[:k]), k),
                ("river LinearRegression", river_model("linear", b[:k], g[:k], y[:k]), k),
                ("river HoeffdingTree", river_model("tree", b[:k], g[:k], y[:k]), k)]
        for label, (rate, mae), n in runs:
            print(f"{name:16} {label:22} {n:9d} {rate:12,.0f} {mae:10.3f}")
            out["rows"].append({"workload": name, "model": label, "records": n, "records_per_s": rate, "mae_log2": mae})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
