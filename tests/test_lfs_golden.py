"""Golden results: a small bundled workload through every registered victim
policy and placement, WAF pinned in tests/golden/lfs_golden.json
(regenerate with ``python benchmarks/regen_golden.py`` after an intended
change, and review the diff)."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden", "lfs_golden.json")


def _regen():
    spec = importlib.util.spec_from_file_location("regen_golden",
                                                  os.path.join(ROOT, "benchmarks", "regen_golden.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_golden_covers_every_registered_name():
    from kernelml.kernel.lfs.placement import PLACEMENTS
    from kernelml.kernel.lfs.victims import VICTIMS

    with open(GOLDEN) as f:
        pinned = json.load(f)["results"]
    pols = {k.split("/")[0] for k in pinned}
    pls = {k.split("/")[1] for k in pinned}
    assert set(VICTIMS.names()) <= pols
    assert set(PLACEMENTS.names()) <= pls


def test_golden_results_unchanged():
    mod = _regen()
    with open(GOLDEN) as f:
        pinned = json.load(f)
    now = mod.compute()
    assert now["config"] == pinned["config"]
    diff = {k: (pinned["results"].get(k), v) for k, v in now["results"].items()
            if pinned["results"].get(k) != v}
    assert not diff, f"golden results changed (regenerate if intended): {diff}"


def test_golden_oracle_is_best():
    with open(GOLDEN) as f:
        pinned = json.load(f)["results"]
    fk = pinned["fk/fk"]["waf"]
    assert all(fk <= v["waf"] for v in pinned.values())
    assert all(v["gc_background"] > 0 for v in pinned.values())  # idle gaps ran the GC thread
