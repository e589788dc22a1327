"""The ``kernelml`` command: one subcommand per file in this package."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="kernelml: an ML model proxy in the kernel, a learning agent in user space.")

# subcommand -> module; a module exposes either `app` (a group) or `main` (one command)
SUBCOMMANDS = {
    "demo": "kernelml.cli.demo",
    "uapi": "kernelml.cli.uapi",
    "gc": "kernelml.cli.gc",
    "damon": "kernelml.cli.damon",
    "bench": "kernelml.cli.bench",
    "kernel": "kernelml.cli.kernel",
    "agent": "kernelml.cli.agent",
    "capture": "kernelml.cli.capture",
    "readahead": "kernelml.cli.readahead",
}


def _mount() -> None:
    for name, module in SUBCOMMANDS.items():
        if importlib.util.find_spec(module) is None:  # a subcommand not built yet
            continue
        mod = importlib.import_module(module)
        if hasattr(mod, "app"):
            app.add_typer(mod.app, name=name, help=(mod.__doc__ or "").strip().splitlines()[0])
        else:
            app.command(name, help=(mod.main.__doc__ or "").strip().splitlines()[0])(mod.main)


def main(argv: list[str] | None = None) -> int:
    _mount()
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
