"""Round-trip latency and one-way throughput of the transports.

Latency: the kernel side sends a frame (64 bytes or 4 KiB), an echo agent
sends it back, the kernel side polls until it is back (it never waits);
median and p99 in microseconds.  In-process: both ends in one process.  Unix
socket: the echo agent is another process (``UnixClient.wait`` then ``recv``
then ``send``).  Shared memory: the echo agent is another process spinning
in ``ShmClient.wait`` (a spinning peer); the frame goes down the telemetry
ring and, being a RECOMMENDATION, comes back through its slot of the
seqlock table (``shm``), or, for a non-recommendation frame of the same size,
through the control ring (``shm-ring``).

Throughput: the kernel side sends pre-encoded TELEMETRY frames as fast as the
channel takes them (``send`` returning False is retried); the agent counts
frames and bytes between the first and the last frame.

    python benchmarks/bench_transport.py [--n 20000] [--frames 200000] [--json out.json] [--pin]

``--pin`` puts the kernel side on CPU 0 and the agent process on CPU 1.  A
spinning peer needs a core of its own: when the scheduler puts both ends on
one CPU (a small or busy machine), a spinner burns its time slice while the
other end waits, and round-trip tails and shared-memory throughput turn
bimodal (milliseconds instead of microseconds).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import tempfile
import time

import numpy as np

from kernelml.transport import InProcChannel
from kernelml.transport.shm import ShmClient, ShmServer
from kernelml.transport.unix import UnixClient, UnixServer
from kernelml.uapi import messages as m

STOP = b"STOP"
AGENT_CPUS: set[int] | None = None  # --pin: the agent processes' CPU


def _place(proc: mp.Process) -> None:
    if AGENT_CPUS is not None:
        os.sched_setaffinity(proc.pid, AGENT_CPUS)


def rec_frame(size: int) -> bytes:
    """A RECOMMENDATION frame of exactly ``size`` bytes."""
    n = (size - m.HEADER.size - m.RECOMMENDATION_BODY.size) // 8
    f = m.encode(m.Recommendation(1, 1, 1, np.arange(n, dtype=np.int64)))
    assert len(f) == size, (len(f), size)
    return f


def ring_frame(size: int) -> bytes:
    """A TELEMETRY frame of exactly ``size`` bytes (one record)."""
    n = (size - m.HEADER.size - m.TELEMETRY_BODY.size) // 8
    f = m.encode(m.Telemetry(1, 1, np.arange(n, dtype=np.int64).reshape(1, n), 0, 0, 0))
    assert len(f) == size, (len(f), size)
    return f


def tel_frame(n_records: int, n_fields: int = 8) -> bytes:
    rec = np.arange(n_records * n_fields, dtype=np.int64).reshape(n_records, n_fields)
    return m.encode(m.Telemetry(1, 1, rec, 0, 0, 0))


def stats(ns: list[int]) -> dict:
    a = np.sort(np.asarray(ns, dtype=np.int64))
    return {"median_us": float(a[len(a) // 2]) / 1e3, "p99_us": float(a[min(len(a) - 1, len(a) * 99 // 100)]) / 1e3,
            "n": int(len(a))}


# -- in-process ------------------------------------------------------------------
def inproc_rtt(frame: bytes, n: int) -> dict:
    ch = InProcChannel(capacity=16)
    k, a = ch.kernel, ch.agent
    out = []
    clock = time.perf_counter_ns
    for i in range(n + n // 10):
        t0 = clock()
        k.send(frame)
        for f in a.recv():
            a.send(f)
        back = k.recv()
        t1 = clock()
        assert back == [frame]
        if i >= n // 10:  # warm-up excluded
            out.append(t1 - t0)
    return stats(out)


def inproc_throughput(frame: bytes, frames: int) -> dict:
    ch = InProcChannel(capacity=256)
    k, a = ch.kernel, ch.agent
    got = nbytes = 0
    t0 = time.perf_counter()
    sent = 0
    while got < frames:
        while sent < frames and k.send(frame):
            sent += 1
        for f in a.recv(256):
            got += 1
            nbytes += len(f)
    dt = time.perf_counter() - t0
    return {"frames_per_s": got / dt, "MB_per_s": nbytes / dt / 1e6, "frame_bytes": len(frame)}


# -- Unix socket, agent in another process -------------------------------------------------
def _echo_agent(path: str) -> None:
    cli = UnixClient(path, timeout=10.0)
    while cli.connected:
        if not cli.wait(1.0):
            continue
        for f in cli.recv():
            if f == STOP:
                cli.close()
                return
            cli.send(f)


def _sink_agent(path: str, conn) -> None:
    cli = UnixClient(path, timeout=10.0)
    got = nbytes = 0
    first = last = 0.0
    while cli.connected:
        if not cli.wait(1.0):
            continue
        for f in cli.recv(256):
            if f == STOP:
                conn.send((got, nbytes, last - first))
                cli.close()
                return
            if got == 0:
                first = time.perf_counter()
            got += 1
            nbytes += len(f)
            last = time.perf_counter()


def _serve(path: str, target, args) -> tuple[UnixServer, mp.Process]:
    srv = UnixServer(path)
    proc = mp.get_context("spawn").Process(target=target, args=(path, *args), daemon=True)
    proc.start()
    _place(proc)
    deadline = time.monotonic() + 30
    while srv.connection_id is None:
        srv.accept_pending()
        if time.monotonic() > deadline:
            raise RuntimeError("the agent process did not connect")
        time.sleep(0.001)
    return srv, proc


def _send(srv: UnixServer | ShmServer, frame: bytes) -> int:
    """Send, retrying while the socket is full; returns the number of refusals."""
    full = 0
    while not srv.send(frame):
        if srv.connection_id is None:
            raise RuntimeError("the agent went away")
        full += 1
    return full


def unix_rtt(path: str, frames: dict[str, bytes], n: int) -> dict:
    srv, proc = _serve(path, _echo_agent, ())
    res = {}
    clock = time.perf_counter_ns
    try:
        for label, frame in frames.items():
            out = []
            for i in range(n + n // 10):
                t0 = clock()
                _send(srv, frame)
                back: list[bytes] = []
                while not back:
                    back = srv.recv(1)
                t1 = clock()
                assert back == [frame]
                if i >= n // 10:
                    out.append(t1 - t0)
            res[label] = stats(out)
        _send(srv, STOP)
        proc.join(10)
    finally:
        srv.close()
        proc.kill()
    return res


def unix_throughput(path: str, frame: bytes, frames: int) -> dict:
    parent, child = mp.get_context("spawn").Pipe()
    srv, proc = _serve(path, _sink_agent, (child,))
    try:
        full = 0
        for _ in range(frames):
            full += _send(srv, frame)
        _send(srv, STOP)
        got, nbytes, dt = parent.recv()
        proc.join(10)
    finally:
        srv.close()
        proc.kill()
    assert got == frames
    return {"frames_per_s": got / dt, "MB_per_s": nbytes / dt / 1e6, "frame_bytes": len(frame),
            "send_full_retries": full}


# -- shared memory, agent in another process ---------------------------------------------
SPIN_S = 3600.0  # the agent spins for its whole wait: the lowest latency, a busy core


def _shm_echo_agent(path: str) -> None:
    cli = ShmClient(path, spin_s=SPIN_S)
    while cli.connected:
        if not cli.wait(1.0):
            continue
        for f in cli.recv():
            if f == STOP:
                cli.close()
                return
            while not cli.send(f):
                pass


def _shm_sink_agent(path: str, conn) -> None:
    cli = ShmClient(path, spin_s=SPIN_S)
    got = nbytes = 0
    first = last = 0.0
    while cli.connected:
        if not cli.wait(1.0):
            continue
        for f in cli.recv(256):
            if f == STOP:
                conn.send((got, nbytes, last - first, cli.kernel_drops))
                cli.close()
                return
            if got == 0:
                first = time.perf_counter()
            got += 1
            nbytes += len(f)
            last = time.perf_counter()


def _shm_serve(path: str, target, args) -> tuple[ShmServer, mp.Process]:
    srv = ShmServer(path)
    proc = mp.get_context("spawn").Process(target=target, args=(path, *args), daemon=True)
    proc.start()
    _place(proc)
    deadline = time.monotonic() + 30
    while srv.connection_id is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the agent process did not attach")
        time.sleep(0.001)
    return srv, proc


def shm_rtt(path: str, frames: dict[str, bytes], n: int) -> dict:
    srv, proc = _shm_serve(path, _shm_echo_agent, ())
    res = {}
    clock = time.perf_counter_ns
    try:
        for label, frame in frames.items():
            out = []
            for i in range(n + n // 10):
                t0 = clock()
                _send(srv, frame)
                back: list[bytes] = []
                while not back:
                    back = srv.recv(1)
                t1 = clock()
                assert back == [frame]
                if i >= n // 10:
                    out.append(t1 - t0)
            res[label] = stats(out)
        _send(srv, STOP)
        proc.join(10)
    finally:
        srv.close()
        proc.kill()
    return res


def shm_throughput(path: str, frame: bytes, frames: int) -> dict:
    parent, child = mp.get_context("spawn").Pipe()
    srv, proc = _shm_serve(path, _shm_sink_agent, (child,))
    try:
        full = 0
        for _ in range(frames):
            full += _send(srv, frame)
        _send(srv, STOP)
        got, nbytes, dt, drops = parent.recv()
        proc.join(10)
    finally:
        srv.close()
        proc.kill()
    assert got == frames and drops == full  # every refusal was counted where the agent sees it
    return {"frames_per_s": got / dt, "MB_per_s": nbytes / dt / 1e6, "frame_bytes": len(frame),
            "send_full_retries": full}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="round trips per frame size")
    ap.add_argument("--frames", type=int, default=200_000, help="telemetry frames per throughput run")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--pin", action="store_true", help="kernel side on CPU 0, agent process on CPU 1")
    a = ap.parse_args()
    global AGENT_CPUS
    if a.pin and len(os.sched_getaffinity(0)) >= 2:
        first, second = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, {first})
        AGENT_CPUS = {second}

    sizes = {"64 B": rec_frame(64), "4 KiB": rec_frame(4096)}
    ring_sizes = {"64 B": ring_frame(64), "4 KiB": ring_frame(4096)}
    tels = {"1x8": tel_frame(1), "64x8": tel_frame(64)}
    d = tempfile.mkdtemp(prefix="kml-bench-")
    path = os.path.join(d, "k.sock")
    shm_dir = tempfile.mkdtemp(prefix="kml-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    shm_path = os.path.join(shm_dir, "k.kml")
    try:
        rtt = {"inproc": {k: inproc_rtt(f, a.n) for k, f in sizes.items()},
               "unix": unix_rtt(path, sizes, a.n),
               "shm": shm_rtt(shm_path, sizes, a.n),
               "shm-ring": shm_rtt(shm_path, ring_sizes, a.n)}
        thr = {"inproc": {k: inproc_throughput(f, a.frames) for k, f in tels.items()},
               "unix": {k: unix_throughput(path, f, a.frames) for k, f in tels.items()},
               "shm": {k: shm_throughput(shm_path, f, a.frames) for k, f in tels.items()}}
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(shm_dir, ignore_errors=True)

    print(f"round trip (kernel side polls, echo agent), {a.n} round trips each")
    print(f"{'channel':8} {'frame':>6} {'median us':>10} {'p99 us':>9}")
    for ch, rows in rtt.items():
        for k, r in rows.items():
            print(f"{ch:8} {k:>6} {r['median_us']:10.2f} {r['p99_us']:9.2f}")
    print(f"\none-way TELEMETRY throughput (records x fields), {a.frames} frames each")
    print(f"{'channel':8} {'frame':>6} {'bytes':>6} {'frames/s':>11} {'MB/s':>8}")
    for ch, rows in thr.items():
        for k, r in rows.items():
            print(f"{ch:8} {k:>6} {r['frame_bytes']:6d} {r['frames_per_s']:11.0f} {r['MB_per_s']:8.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"round_trip": rtt, "throughput": thr, "n": a.n, "frames": a.frames, "pinned": a.pin,
                       "python": platform.python_version(), "machine": platform.machine(),
                       "cpus": os.cpu_count()}, f, indent=2)


if __name__ == "__main__":
    main()
