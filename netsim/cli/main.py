"""The root ``netsim`` command: composes the command groups, each a ``typer.Typer`` of its own module.

``run`` is one command, merged in without a group name; ``topo``, ``trace`` and ``runs`` are groups.
"""

from __future__ import annotations

from typing import Annotated

import typer

from netsim import __version__
from netsim.cli import run as run_cli
from netsim.cli import runs as runs_cli
from netsim.cli import topo as topo_cli
from netsim.cli import trace as trace_cli

app = typer.Typer(
    name="netsim",
    help="Run distributed systems for real: one OS process per node, real sockets on every link.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(run_cli.app)
app.add_typer(topo_cli.app, name="topo")
app.add_typer(trace_cli.app, name="trace")
app.add_typer(runs_cli.app, name="runs")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"netsim {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run distributed systems for real: one OS process per node, real sockets on every link."""


def main() -> None:
    app()
