"""The agent process of the live readahead controller.

``python -m kernelml.linux.readahead_agent --socket PATH --learner NAME``
connects to the controller's Unix socket and runs
:meth:`kernelml.agent.Agent.run` (reconnecting if the controller restarts)
until SIGTERM.  It reaches the kernel side only through uapi frames.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from kernelml.agent import Agent
from kernelml.transport.unix import UnixClient

ALIASES = {"random": "readahead-random", "inverted": "readahead-inverted", "window": "readahead-window"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--learner", default="readahead-window")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recommend-ms", type=int, default=250)
    ap.add_argument("--duration", type=float, default=None)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    agent = Agent(ALIASES.get(a.learner, a.learner), seed=a.seed, recommend_every=a.recommend_ms,
                  heartbeat_every=a.recommend_ms, heartbeat_period_s=0.25)
    agent.run(lambda: UnixClient(a.socket, timeout=1.0), stop=stop, duration_s=a.duration)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
