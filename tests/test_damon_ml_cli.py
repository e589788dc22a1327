"""The ml policy on the command line, and the bench matrix on a tiny track."""

import json
import os

from typer.testing import CliRunner

from kernelml.bench import damon_matrix as dm
from kernelml.cli.damon import app

runner = CliRunner()
SMALL = ["--workload", "scan", "--pages", "1024", "--duration", "40", "--param", "min_age_us=4000000"]


def test_policies_lists_ml():
    r = runner.invoke(app, ["policies"])
    assert r.exit_code == 0 and "\nml " in "\n" + r.output


def test_run_ml_json_has_the_proxy_story():
    r = runner.invoke(app, ["run", *SMALL, "--policy", "ml", "--learner", "random", "--target-saving", "20",
                            "--seed", "1", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["policy"] == "ml" and d["learner"] == "damon-random" and d["seed"] == 1
    for k in ("mode", "mode_timeline", "ml_share_pm", "rejects", "saving_pct", "refaults"):
        assert k in d
    assert d["mode_timeline"][0]["reason"] == "START" and 0 <= d["ml_share_pm"] <= 1000
    assert set(d["rejects"]) >= {"malformed", "stale_epoch", "expired", "out_of_range"}


def test_run_ml_without_agent_is_damon_reclaim():
    a = json.loads(runner.invoke(app, ["run", *SMALL, "--policy", "ml", "--learner", "none", "--json"]).output)
    b = json.loads(runner.invoke(app, ["run", *SMALL, "--policy", "damon-reclaim", "--json"]).output)
    assert (a["saving_pct"], a["refaults"]) == (b["saving_pct"], b["refaults"]) and a["mode"] == "emergency"


def test_bad_learner_is_one_line_exit_2():
    for args in (["run", *SMALL, "--policy", "ml", "--learner", "nosuch"],
                 ["run", *SMALL, "--policy", "lru", "--learner", "random"],
                 ["run", *SMALL, "--policy", "ml", "--learner", "toy-table"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "error" in r.output.lower(), (args, r.output)


def test_matrix_unit_summary_and_plots(tmp_path):
    track = dm.Track("scan", "scan", params={"scan_period_s": 10.0}, pages=1024, duration_s=40.0,
                     min_age_us=4_000_000)
    u = dm.run_unit(track, 0)
    for tag in ("damon-reclaim", "ml", "ml-free", "ml-random", "ml-inverted", "lru", "belady", "min-gaps"):
        assert tag in u["runs"]
    assert u["runs"]["min-gaps"]["refaults"] <= u["runs"]["belady"]["refaults"]
    assert set(u["metrics"]) == {"ml", "ml-free", "ml-random", "ml-inverted", "lru"}
    summary = dm.summarize([u])
    meta = {"command": "test", "date": "-", "seeds": [0], "trace_seeds": [0], "device": "zram", "jobs": 1,
            "wall_s": 1.0}
    text = dm.markdown(summary, meta)
    assert "| scan |" in text
    paths = dm.plot_track([u], meta, str(tmp_path)) + [dm.plot_summary(summary, meta, str(tmp_path))]
    assert all(os.path.getsize(p) > 1000 for p in paths)


def test_min_gaps_oracle_is_a_lower_bound_and_monotone():
    import numpy as np

    from kernelml.bench import damon_run as dr

    rng = np.random.default_rng(0)
    pages = rng.integers(0, 50, 4000)
    times = np.arange(4000, dtype=np.int64) * 1000
    tr = dr.from_arrays("tiny", times, pages)
    mg = dm.MinGaps(tr)
    vals = [mg.refaults(p) for p in (10, 30, 50, 70)]
    assert vals == sorted(vals)
    b = dr.run_policy(tr, "belady", target_saving_pct=50)
    assert mg.refaults(b["saving_pct"]) <= b["refaults"]
