"""``netsim trace export``: a trace to SQLite or CSV (a thin skin over ``netsim.trace.export``)."""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netsim.cli.common import echo_json, handles_errors, stderr
from netsim.cli.terminal import visible_markup
from netsim.cli.trace_input import (
    LenientOption,
    RunOrTraceArgument,
    explains_malformed_fields,
    warn_skipped_lines,
)
from netsim.errors import OptionError

if TYPE_CHECKING:
    from netsim.trace.export import ExportResult

app = typer.Typer()


def _report(result: "ExportResult") -> None:
    size_mb = result.bytes_written / 1e6
    where = ", ".join(str(path) for path in result.paths)
    stderr.print(
        f"wrote {result.events:,} events, {result.nodes:,} nodes and {result.links:,} links "
        f"to {visible_markup(where)} ({size_mb:,.1f} MB)",
        highlight=False,
    )


@app.command("export")
@handles_errors
@explains_malformed_fields
def export_command(
    run_dir_or_trace: RunOrTraceArgument,
    sqlite: Annotated[
        Path | None,
        typer.Option(
            "--sqlite", metavar="FILE", help="Write a SQLite database (tables events, nodes, links, meta)."
        ),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            metavar="DIR",
            help="Write events.csv, nodes.csv and links.csv into DIR. A text cell that starts with "
            "=, +, -, @, a tab or a carriage return gets a leading ' so that spreadsheets do not run it "
            "as a formula; numbers stay as they are.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that already exist.")] = False,
    lenient: LenientOption = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was written as JSON on stdout.")
    ] = False,
) -> None:
    """Export every event, plus per-node and per-link counts, to SQLite or CSV for SQL and dataframes."""
    if (sqlite is None) == (csv is None):
        raise OptionError(
            "pass exactly one of --sqlite FILE or --csv DIR",
            hint="netsim trace export runs/<run-id> --sqlite trace.sqlite",
        )
    # Here, not at the top: only this command loads it.
    from netsim.trace.export import export_csv, export_sqlite

    if sqlite is not None:
        result = export_sqlite(run_dir_or_trace, sqlite, strict=not lenient, overwrite=force)
    else:
        assert csv is not None
        result = export_csv(run_dir_or_trace, csv, strict=not lenient, overwrite=force)
    if as_json:
        echo_json(result.to_dict())
    _report(result)
    warn_skipped_lines(result.skipped_lines)
