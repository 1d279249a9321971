"""The root ``netsim`` command: composes the command groups, each a ``typer.Typer`` of its own module.

``run`` is one command, merged in without a group name; ``topo``, ``trace`` and ``runs`` are groups.
A group's module is imported when a command line or a help page first needs it: ``netsim --version``
imports none of them, ``netsim run ...`` only ``netsim.cli.run``, and ``netsim --help`` all four, each
of which imports the library it drives inside its commands. So no command pays for another's imports,
and the help loads no networkx, launcher or trace analysis.
"""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup

from netsim import __version__

# Each top-level name, in the order `netsim --help` lists them: the module whose `app` holds it, and
# whether that app is the group NAME (True) or holds NAME as a command of its own (False: merged in).
COMMAND_MODULES: dict[str, tuple[str, bool]] = {
    "run": ("netsim.cli.run", False),
    "topo": ("netsim.cli.topo", True),
    "trace": ("netsim.cli.trace", True),
    "runs": ("netsim.cli.runs", True),
}


class _CommandsOnDemand(MutableMapping[str, Any]):
    """A group's commands by name: every name is there from the start (for the help's listing order and
    typo suggestions), and a command's module is imported, and its click command built, the first
    time the command itself is looked up."""

    def __init__(self, modules: Mapping[str, tuple[str, bool]]) -> None:
        # Name -> its click command, or, while it is pending, the (module, is_group) to build it from.
        self._commands: dict[str, Any] = dict(modules)
        self._pending = set(modules)

    def __getitem__(self, name: str) -> Any:
        command = self._commands[name]
        if name in self._pending:
            command = self._commands[name] = _build_command(name, *command)
            self._pending.discard(name)
        return command

    def __setitem__(self, name: str, command: Any) -> None:
        self._commands[name] = command
        self._pending.discard(name)

    def __delitem__(self, name: str) -> None:
        del self._commands[name]
        self._pending.discard(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)


def _build_command(name: str, module_name: str, is_group: bool) -> Any:
    """The click command NAME, built from its module's app as ``app.add_typer`` would have built it."""
    module = importlib.import_module(module_name)
    holder = typer.Typer(
        add_completion=False,
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
        suggest_commands=app.suggest_commands,
    )
    if is_group:
        holder.add_typer(module.app, name=name)
    else:
        holder.add_typer(module.app)
    return typer.main.get_group(holder).commands[name]


class _RootGroup(TyperGroup):
    """The ``netsim`` group, whose commands are built on demand (see ``_CommandsOnDemand``)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _CommandsOnDemand(COMMAND_MODULES)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # typer's rich pages cost more to import than this page has to draw (netsim/cli/root_help.py).
        from netsim.cli.root_help import print_root_help

        print_root_help(self, ctx)


app = typer.Typer(
    name="netsim",
    cls=_RootGroup,
    help="Run distributed systems for real: one OS process per node, real sockets on every link.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
