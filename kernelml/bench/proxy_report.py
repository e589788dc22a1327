"""What a run reports about one op kind of an ML model proxy: its mode, the
transitions, ML's share, the rejects and the efficiency comparison (the
fields every readahead runner writes, modelled or live)."""

from __future__ import annotations

from ..kernel.mllib import MLModelProxy
from ..uapi.messages import Mode, Reason, RejectReason


def proxy_report(p: MLModelProxy, op: int, now: int) -> dict:
    fb = p.feedback(op, now)
    return {
        "mode": Mode(p.mode(op)).name.lower(),
        "timeline": [[t.at, Mode(t.src).name.lower(), Mode(t.dst).name.lower(), Reason(t.reason).name]
                     for t in p.transitions(op)],
        "ml_share": round(p.ml_share_pm(op) / 1000, 3),
        "rejects": {r.name.lower(): int(p.rejects[r]) for r in RejectReason if p.rejects[r]},
        "efficiency": {"human_mean_ppm": fb.human_mean, "ml_mean_ppm": fb.ml_mean,
                       "human_batches": fb.human_batches, "ml_batches": fb.ml_batches},
        "fallbacks": fb.fallbacks,
    }
