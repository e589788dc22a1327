"""Run a benchmark matrix and write its table, JSON and plots under results/."""

from __future__ import annotations

import importlib
import importlib.util

import typer

app = typer.Typer(no_args_is_help=True)

# one file per matrix: kernelml/cli/bench_<name>.py exposes `main`
MATRICES = {
    "gc": "kernelml.cli.bench_gc",
    "damon": "kernelml.cli.bench_damon",
    "readahead": "kernelml.cli.bench_readahead",
}

for _name, _module in MATRICES.items():
    if importlib.util.find_spec(_module) is not None:
        _mod = importlib.import_module(_module)
        app.command(_name, help=(_mod.main.__doc__ or "").strip().splitlines()[0])(_mod.main)
