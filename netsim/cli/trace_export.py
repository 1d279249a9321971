"""``netsim trace export``: a trace to SQLite or CSV (a thin skin over ``netsim.trace.export``).

The module adds its command to the ``netsim trace`` group through ``register(app)``; it creates no app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from netsim.cli.common import handles_errors, stderr
from netsim.errors import OptionError
from netsim.trace.export import ExportResult, export_csv, export_sqlite


def register(app: typer.Typer) -> None:
    """Add ``export`` to the ``netsim trace`` group."""
    app.command("export")(export_command)


def _report(result: ExportResult) -> None:
    size_mb = result.bytes_written / 1e6
    where = ", ".join(str(path) for path in result.paths)
    stderr.print(
        f"wrote {result.events:,} events, {result.nodes:,} nodes and {result.links:,} links "
        f"to {escape(where)} ({size_mb:,.1f} MB)",
        highlight=False,
    )


@handles_errors
def export_command(
    run_dir_or_trace: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR_OR_TRACE", help="A run directory like runs/<run-id>, or a trace.jsonl file."
        ),
    ],
    sqlite: Annotated[
        Path | None,
        typer.Option(
            "--sqlite", metavar="FILE", help="Write a SQLite database (tables events, nodes, links, meta)."
        ),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option("--csv", metavar="DIR", help="Write events.csv, nodes.csv and links.csv into DIR."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that already exist.")] = False,
    lenient: Annotated[
        bool,
        typer.Option(
            "--lenient", help="Skip malformed lines (and count them) instead of stopping at the first."
        ),
    ] = False,
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
    if sqlite is not None:
        result = export_sqlite(run_dir_or_trace, sqlite, strict=not lenient, overwrite=force)
    else:
        assert csv is not None
        result = export_csv(run_dir_or_trace, csv, strict=not lenient, overwrite=force)
    if as_json:
        typer.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
    _report(result)
    if result.skipped_lines:
        stderr.print(f"[yellow]warning:[/] skipped {result.skipped_lines} malformed line(s)", highlight=False)
