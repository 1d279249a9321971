"""What every command shares: the consoles, --json output, and where NetsimError becomes an exit code."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import typer
from rich.console import Console

from netsim.cli.terminal import visible_markup
from netsim.errors import NetsimError

# Tables, progress and errors are for people and go to stderr; stdout carries only machine-readable
# output (--json), so `netsim ... --json | jq` always works. No emoji codes: rich would turn a node
# named ":warning:" into a symbol, even in text printed with markup=False.
stderr = Console(stderr=True, soft_wrap=True, emoji=False)
stdout = Console(highlight=False, soft_wrap=True, emoji=False)

F = TypeVar("F", bound=Callable[..., Any])


def echo_json(data: Any) -> None:
    """``data`` as indented JSON on stdout: what ``--json`` prints."""
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def report_error(error: NetsimError) -> None:
    # Messages and hints name files, nodes and options as the user wrote them.
    stderr.print(f"[bold red]error:[/] {visible_markup(error.message)}", highlight=False)
    if error.hint:
        stderr.print(f"[dim]hint:[/] {visible_markup(error.hint)}", highlight=False)


def handles_errors(command: F) -> F:
    """Turn a NetsimError raised by a command into one red line (plus hint) and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NetsimError as error:
            report_error(error)
            raise typer.Exit(error.exit_code) from None

    return wrapper  # type: ignore[return-value]


def seconds_into_the_run(value: float | None) -> float | None:
    """An option's callback: ``--since`` / ``--until`` are finite seconds (not nan, not inf)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"expected a number of seconds into the run, got {value}")
    return value
