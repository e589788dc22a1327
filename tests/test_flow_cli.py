"""The flow's commands: ``kernelml demo`` end to end (small), the agent's
Prometheus metrics and recommendation round trips, clear errors."""

import os
import subprocess
import sys
import urllib.request

import pytest

from flow_helpers import WAIT, Flow, assert_intact, stop_kernel, wait_status
from kernelml.cli.main import main
from kernelml.flow.procs import wait_for

pytestmark = pytest.mark.timeout(240)


@pytest.mark.parametrize("argv, msg", [
    (["kernel", "--workload", "no-such-workload", "--writes", "10"], "unknown workload"),
    (["kernel", "--subsystem", "damon", "--workload", "zipf-1.2"], "unknown subsystem"),
    (["kernel", "--writes", "10"], "exactly one"),
    (["kernel", "--workload", "zipf-1.2", "--transport", "tcp"], "transport"),
    (["agent", "--fault", "meteor"], "--fault"),
    (["agent", "--learner", "nope"], "unknown learner"),
    (["demo", "--workload", "nope"], "unknown workload"),
    (["demo", "--learner", "toy-table"], "learner must be"),
])
def test_bad_options_are_one_clear_line_and_exit_2(argv, msg, capsys, tmp_path):
    if argv[0] == "kernel":
        argv = argv + ["--path", str(tmp_path / "k.kml"), "--status", str(tmp_path / "s.jsonl")]
    assert main(argv) == 2
    out = capsys.readouterr()
    assert msg in out.err + out.out


def test_demo_runs_end_to_end(tmp_path):
    env = dict(os.environ, COLUMNS="160")
    work = tmp_path / "demo"
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    before = set(os.listdir(shm)) if shm else set()
    r = subprocess.run([sys.executable, "-m", "kernelml", "demo", "--blocks", "65536", "--spare", "0.2",
                        "--writes", "1500000",
                        "--workdir", str(work)], capture_output=True, text=True, timeout=200, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "human-made f2fs alone" in r.stdout and "ML proxy + lfs-lifetime over shm" in r.stdout
    assert "invariant checks" in r.stdout and "passed" in r.stdout
    assert (work / "kernel.status.jsonl").exists() and (work / "agent.jsonl").exists()
    if shm:  # the shared-memory region is gone
        assert not [f for f in set(os.listdir(shm)) - before if f.startswith("kernelml-demo-")]


def test_metrics_and_round_trips(tmp_path):
    flow = Flow(tmp_path)
    try:
        # a device with room for the model's classes, a learner told to recommend early
        kernel, kw = flow.kernel("--blocks", "65536", "--spare", "0.2")
        agent, aw = flow.agent("--metrics-port", "0", "--recommend-every", "65536", "--stats-every", "0.3",
                               "-o", "confirm=0", "-o", "min_overwrites=1000")
        port = wait_for(lambda: (aw.last("agent.metrics") or {}).get("port"), WAIT, alive=[agent])
        assert port
        assert wait_for(lambda: (aw.last("agent.stats") or {}).get("rtt_n", 0) > 0, WAIT, alive=[agent, kernel])
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        values = {}
        for line in text.splitlines():
            if line.startswith("kernelml_"):
                name, _, v = line.rpartition(" ")
                values[name] = float(v)
        assert values["kernelml_agent_connected"] == 1
        assert values["kernelml_agent_recommendation_rtt_seconds_count"] >= 1
        assert values["kernelml_agent_recommendations_total"] >= 1
        assert values["kernelml_agent_telemetry_records_total"] > 0
        assert 'kernelml_proxy_mode{op_kind="placement"}' in values
        assert 'kernelml_proxy_rejects{reason="flood"}' in values
        assert "kernelml_agent_model_error" in values
        st = wait_status(kw, lambda s: s["acks"] >= 1, [kernel])  # accepted recommendations acknowledged
        assert st["epochs"]["placement"] >= 1 and st["modes"]["placement"] != "emergency"
        final = stop_kernel(kernel, kw)
        assert_intact(final)
    finally:
        flow.close()
