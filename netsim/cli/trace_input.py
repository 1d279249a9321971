"""What every ``netsim trace`` command takes and says about its input: the run-or-trace argument, the
``--lenient`` option, the warning for the malformed lines it skipped, and how an analysis shows its
result (JSON on stdout or tables on stderr, then that warning)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import typer

from netsim.cli.common import echo_json, stderr
from netsim.cli.terminal import visible_markup

RunOrTraceArgument = Annotated[
    Path,
    typer.Argument(
        metavar="RUN_DIR_OR_TRACE", help="A run directory like runs/<run-id>, or a trace.jsonl file."
    ),
]
LenientOption = Annotated[
    bool,
    typer.Option("--lenient", help="Skip malformed lines (and count them) instead of stopping at the first."),
]


class Analysis(Protocol):
    """What a trace analysis returns: the trace it read, the lines it skipped, a JSON form."""

    @property
    def path(self) -> str: ...

    @property
    def skipped_lines(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


AnalysisT = TypeVar("AnalysisT", bound=Analysis)


def warn_skipped_lines(skipped: int, path: str | None = None) -> None:
    """One warning on stderr for the malformed lines ``--lenient`` skipped (of ``path``); none for none."""
    if skipped:
        where = f" of {visible_markup(path)}" if path is not None else ""
        stderr.print(f"[yellow]warning:[/] skipped {skipped} malformed line(s){where}", highlight=False)


def print_analysis(result: AnalysisT, as_json: bool, print_tables: Callable[[AnalysisT], None]) -> None:
    """``result`` as JSON on stdout (``--json``) or as ``print_tables`` draws it on stderr; then the
    warning for the lines it skipped."""
    if as_json:
        echo_json(result.to_dict())
    else:
        print_tables(result)
    warn_skipped_lines(result.skipped_lines, result.path)


F = TypeVar("F", bound=Callable[..., Any])


def explains_malformed_fields(command: F) -> F:
    """A trace command that raised on a field's type names the line and the field instead, as the
    reader names a line that is not JSON (``netsim.trace.field_types``); a real bug goes on."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from netsim.trace.field_types import naming_wrong_field_types

        with naming_wrong_field_types(kwargs.get("run_dir_or_trace")):
            return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
