"""Shared scaffolding of the flow tests: the kernel side and the agent as real
processes, their status files followed, everything stopped and removed at
the end (the processes by their own pids, the files with ``tmp_path``)."""

from __future__ import annotations

import os

from kernelml.flow.procs import StatusWatch, start_agent, start_kernel, wait_for

WAIT = 90.0  # seconds: generous, the machine may be busy; never a timing assertion
SMALL = ["--workload", "hotcold-90-10", "--blocks", "16384", "--spare", "0.25", "--sample-shift", "2",
         "--status-every", "0.2",
         "--check-every", "1"]
ENDLESS = ["--writes", "1000000000"]  # stopped by the test (SIGTERM -> final status line)


class Flow:
    """One test's processes.  ``kernel()`` / ``agent()`` start them (several
    of each may be started in turn); ``close()`` stops whatever is left."""

    def __init__(self, tmp_path, transport: str = "shm") -> None:
        self.dir = str(tmp_path)
        self.transport = transport
        self.path = os.path.join(self.dir, "k.kml" if transport == "shm" else "k.sock")
        self.procs = []
        self.n_kernel = 0
        self.n_agent = 0

    def kernel(self, *args: str, writes: list[str] | None = None):
        self.n_kernel += 1
        status = os.path.join(self.dir, f"kernel{self.n_kernel}.jsonl")
        p = start_kernel([*SMALL, *(writes or ENDLESS), "--transport", self.transport, "--path", self.path,
                          *args], status, os.path.join(self.dir, f"kernel{self.n_kernel}.log"))
        self.procs.append(p)
        return p, StatusWatch(status)

    def agent(self, *args: str):
        self.n_agent += 1
        log = os.path.join(self.dir, f"agent{self.n_agent}.jsonl")
        p = start_agent(["--connect", self.path, "--transport", self.transport, *args],
                        os.path.join(self.dir, f"agent{self.n_agent}.log"), log)
        self.procs.append(p)
        return p, StatusWatch(log)

    def close(self) -> None:
        for p in self.procs:
            p.stop(timeout=10)


def mode(watch: StatusWatch, op: str = "placement") -> str | None:
    st = watch.last()
    return st["modes"][op] if st and "modes" in st else None


def wait_status(watch: StatusWatch, pred, procs=()) -> dict:
    """Wait until the kernel side's latest status satisfies ``pred``; that status."""
    st = wait_for(lambda: (lambda s: s if s and pred(s) else None)(watch.last()), WAIT, alive=procs)
    assert st, f"condition never met; last status: {watch.last()}; logs: {[p.log_tail(5) for p in procs]}"
    return st


def wait_mode(watch: StatusWatch, want: str, procs=(), op: str = "placement", extra=None) -> dict:
    """Wait until the kernel side reports ``want`` for ``op`` (and ``extra(status)``); the status."""
    def ok():
        st = watch.last()
        if st and st.get("modes", {}).get(op) == want and (extra is None or extra(st)):
            return st
        return None

    st = wait_for(ok, WAIT, alive=procs)
    assert st, (f"the kernel side never reported {op} in {want}; last status: {watch.last()}; "
                f"logs: {[p.log_tail(5) for p in procs]}")
    return st


def stop_kernel(proc, watch: StatusWatch) -> dict:
    """SIGTERM the kernel side; its final status (the run stops cleanly)."""
    rc = proc.stop(timeout=60)
    final = watch.last("final")
    assert final is not None, f"no final status (exit code {rc}): {proc.log_tail()}"
    assert rc == 0, f"kernel side exit code {rc}: {proc.log_tail()}"
    return final


def assert_intact(final: dict) -> None:
    """Nothing lost, every invariant check passed."""
    assert final["ok"], final
    inv = final["invariants"]
    assert inv["ok"] and inv["checks"] >= 1, inv
    res = final["result"]
    assert res["mapped_lbas"] == res["n_lbas"] == res["live_lbas"], res  # no trims here: every LBA is mapped
