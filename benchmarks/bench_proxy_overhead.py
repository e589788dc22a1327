"""Per-decision overhead of the ML proxy against calling the human-made
policy directly, in each mode (Python control path).

    python benchmarks/bench_proxy_overhead.py [--n 200000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from kernelml.kernel.mllib import MLModelProxy, OpKind, ProxyConfig
from kernelml.transport import InProcChannel
from kernelml.uapi import messages as m
from kernelml.uapi.messages import Mode


def human(ctx):
    return ctx & 7


def timed(fn, n):
    t0 = time.perf_counter_ns()
    fn(n)
    return (time.perf_counter_ns() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--json")
    a = ap.parse_args()

    def direct(n):
        for i in range(n):
            human(i)

    results = {"direct_ns": timed(direct, a.n)}
    for mode in Mode:
        ch = InProcChannel()
        proxy = MLModelProxy(1, "bench", ch.kernel, ProxyConfig(agent_deadline=10**12))
        proxy.register(OpKind(1, "op", human=human, parse=lambda w: int(w[0]) & 7,
                              apply=lambda rec, ctx: rec))
        ch.agent.send(m.encode(m.Heartbeat(m.Sender.AGENT, 1, 0)))
        ch.agent.send(m.encode(m.Recommendation(1, 1, 10**15, np.array([3]))))
        proxy.poll(0)
        proxy.pin(1, mode, 0)
        decide = proxy.decide

        def via_proxy(n, decide=decide):
            for i in range(n):
                decide(1, i, i)

        results[f"{mode.name.lower()}_ns"] = timed(via_proxy, a.n)
    print(f"{'path':<22}{'ns/decision':>14}{'overhead ns':>14}")
    for k, v in results.items():
        print(f"{k[:-3]:<22}{v:>14.0f}{v - results['direct_ns']:>14.0f}")
    results["machine"] = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
