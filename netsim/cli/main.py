"""The root ``netsim`` command: mounts each command group."""

from __future__ import annotations

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
app.command("run")(run_cli.run_command)
app.add_typer(topo_cli.app, name="topo")
app.add_typer(trace_cli.app, name="trace")
app.add_typer(runs_cli.app, name="runs")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"netsim {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Run distributed systems for real: one OS process per node, real sockets on every link."""


def main() -> None:
    app()
