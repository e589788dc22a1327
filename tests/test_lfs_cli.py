"""`kernelml gc ...`: names are a contract; user mistakes exit 2 with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kernelml.cli.main import main


def run_cli(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_run_json(capsys):
    rc, out, err = run_cli(["gc", "run", "--workload", "uniform", "--policy", "greedy",
                            "--blocks", "16384", "--writes", "40000", "--warmup", "0", "--json"], capsys)
    assert rc == 0, err
    r = json.loads(out)
    for k in ("waf", "user_writes", "gc_writes", "policy", "placement", "workload"):
        assert k in r
    assert r["user_writes"] == 40000 and r["waf"] > 1.0
    assert r["policy"] == "greedy" and r["placement"] == "single"


def test_run_summary_and_policies(capsys):
    rc, out, err = run_cli(["gc", "run", "-w", "hotcold-90-10", "-p", "f2fs", "--blocks", "16384",
                            "--writes", "20000"], capsys)
    assert rc == 0, err
    assert "WAF" in out and "f2fs-temp" in out
    rc, out, _ = run_cli(["gc", "policies"], capsys)
    assert rc == 0
    for name in ("greedy", "cost-benefit", "f2fs-cb", "f2fs-atgc", "nilfs2-timestamp", "cat",
                 "d-choices", "f2fs", "fk", "single", "f2fs-temp", "sepgc", "dac", "sepbit",
                 "ssdfs", "table"):
        assert f"  {name} " in out, name


@pytest.mark.parametrize("args,needle", [
    (["--workload", "nope"], "unknown block workload"),
    (["--workload", "uniform", "--policy", "nope"], "unknown victim policy"),
    (["--workload", "uniform", "--placement", "nope"], "unknown placement"),
    (["--workload", "uniform", "--spare", "0"], "--spare"),
    (["--workload", "uniform", "--spare", "1.2"], "--spare"),
    (["--trace", "/no/such/file", "--format", "csv"], "not found"),
    (["--trace", "x"], "--format"),
    ([], "exactly one"),
    (["--workload", "uniform", "--blocks", "4096"], "device too small"),
])
def test_errors_exit_2_with_one_line(args, needle, capsys):
    base = [] if "--blocks" in args else ["--blocks", "16384"]
    rc, out, err = run_cli(["gc", "run", "--writes", "100"] + base + args, capsys)
    assert rc == 2
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err


def test_trace_run(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("".join(f"3,W,{(i * 7919 % 4096) * 4096},4096,{i * 10}\n" for i in range(20000)))
    rc, out, err = run_cli(["gc", "run", "--trace", str(path), "--format", "alibaba", "--blocks", "16384",
                            "--json"], capsys)
    assert rc == 0, err
    r = json.loads(out)
    assert r["user_writes"] == 20000


def test_compare_writes_png(tmp_path, capsys):
    png = tmp_path / "c.png"
    rc, out, err = run_cli(["gc", "compare", "-w", "hotcold-90-10", "--policies",
                            "greedy,cost-benefit/sepgc", "--blocks", "16384", "--writes", "20000",
                            "--out", str(png)], capsys)
    assert rc == 0, err
    assert png.exists() and png.stat().st_size > 1000
    assert "cost-benefit/sepgc" in out


def test_module_entry_point_exit_code():
    p = subprocess.run([sys.executable, "-m", "kernelml", "gc", "run", "--workload", "nope"],
                       capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert p.returncode == 2 and "unknown block workload" in p.stderr
