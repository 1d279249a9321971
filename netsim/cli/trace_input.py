"""What every ``netsim trace`` command takes and says about its input: the run-or-trace argument, the
``--lenient`` option, and the warning for the malformed lines it skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netsim.cli.common import stderr
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


def warn_skipped_lines(skipped: int, path: str | None = None) -> None:
    """One warning on stderr for the malformed lines ``--lenient`` skipped (of ``path``); none for none."""
    if skipped:
        where = f" of {visible_markup(path)}" if path is not None else ""
        stderr.print(f"[yellow]warning:[/] skipped {skipped} malformed line(s){where}", highlight=False)
