"""The ``kernelml damon`` command line: names and output are a contract."""

import json

from typer.testing import CliRunner

from kernelml.cli.damon import app

runner = CliRunner()
SMALL = ["--workload", "hotcold", "--pages", "2048", "--duration", "20"]


def test_policies_lists_every_name():
    r = runner.invoke(app, ["policies"])
    assert r.exit_code == 0
    for name in ("none", "damon-reclaim", "damon-reclaim-psi", "lru", "senpai", "belady"):
        assert name in r.output


def test_run_json():
    r = runner.invoke(app, ["run", *SMALL, "--policy", "lru", "--target-saving", "30", "--seed", "2", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    for k in ("saving_pct", "refaults", "slowdown_pct", "policy", "workload"):
        assert k in d
    assert d["policy"] == "lru" and d["workload"] == "hotcold" and d["seed"] == 2
    assert d["saving_pct"] > 20


def test_run_damon_with_watermarks_off_and_a_param():
    r = runner.invoke(app, ["run", *SMALL, "--policy", "damon-reclaim", "--watermarks", "off",
                            "--param", "min_age_us=5000000", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["policy_stats"]["params"]["wmarks"] is False and d["policy_stats"]["params"]["min_age_us"] == 5_000_000


def test_bad_input_is_one_line_exit_2():
    cases = [
        ["run", "--policy", "lru"],  # no workload
        ["run", *SMALL, "--policy", "nosuch"],
        ["run", "--workload", "nosuch", "--policy", "lru"],
        ["run", *SMALL, "--target-saving", "150"],
        ["run", *SMALL, "--watermarks", "maybe"],
        ["run", "--trace", "/nonexistent/file", "--policy", "lru"],
        ["run", *SMALL, "--param", "novalue"],
        ["run", *SMALL, "--device", "floppy"],
        ["run", *SMALL, "--policy", "lru", "--param", "no_such_knob=1"],
        ["compare", *SMALL, "--policies", "lru,nosuch"],
    ]
    for args in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "error" in r.output.lower() or "usage" in r.output.lower()


def test_compare_writes_png_and_record(tmp_path):
    out = tmp_path / "cmp.png"
    r = runner.invoke(app, ["compare", *SMALL, "--policies", "none,lru,belady", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.exists() and out.stat().st_size > 1000
    rec = json.loads(out.with_suffix(".json").read_text())
    assert [x["policy"] for x in rec["results"]] == ["none", "lru", "belady"]
    assert rec["oracle"] and rec["seed"] == 0
