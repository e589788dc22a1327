"""Inspect the kernel/user-space contract (message layouts)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("header")
def header() -> None:
    """Print the message layouts as a C header."""
    from ..uapi.cheader import c_header

    typer.echo(c_header(), nl=False)


@app.command("layouts")
def layouts() -> None:
    """List every layout with its size and fields."""
    from ..uapi.messages import layouts as all_layouts

    for lay in all_layouts():
        typer.echo(f"{lay.cname} ({lay.size} bytes): " + ", ".join(f"{n}:{t}" for n, t in lay.fields))
