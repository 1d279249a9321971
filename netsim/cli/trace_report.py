"""``netsim trace report``: write a run's self-contained HTML report (a thin skin over ``write_report``)."""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from pathlib import Path
from typing import Annotated

import typer

from netsim.cli.common import handles_errors, stderr
from netsim.cli.terminal import visible_markup
from netsim.cli.trace_input import RunOrTraceArgument, explains_malformed_fields
from netsim.trace.outputs import DEFAULT_MAX_TABLE_EVENTS, REPORT_FILE_NAME

app = typer.Typer()


def _size(size_bytes: int) -> str:
    if size_bytes >= 1 << 20:
        return f"{size_bytes / (1 << 20):.1f} MB"
    return f"{size_bytes / 1024:.0f} kB"


@app.command("report")
@handles_errors
@explains_malformed_fields
def report_command(
    run_dir_or_trace: RunOrTraceArgument,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help=f"The HTML file to write (default: {REPORT_FILE_NAME} next to the trace).",
        ),
    ] = None,
    max_events: Annotated[
        int,
        typer.Option(
            "--max-events",
            min=0,
            help="Put at most this many events (the first ones) in the page's event table.",
        ),
    ] = DEFAULT_MAX_TABLE_EVENTS,
) -> None:
    """One HTML page with the run's summary, checks, stats, plot, message diagram and events."""
    # Here, not at the top: only this command loads the report (and with it every analysis).
    from netsim.trace.report import default_report_path, write_report

    target = out if out is not None else default_report_path(run_dir_or_trace)
    result = write_report(run_dir_or_trace, target, max_table_events=max_events)
    for section, reason in {**result.unavailable, **result.failed}.items():
        stderr.print(
            f"[yellow]warning:[/] {section} section left out: {visible_markup(reason)}", highlight=False
        )
    if result.table_truncated:
        stderr.print(
            f"[yellow]note:[/] the event table holds the first {result.events_in_table:,} of "
            f"{result.events_total:,} events (--max-events)",
            highlight=False,
        )
    stderr.print(f"wrote {visible_markup(result.path)} ({_size(result.size_bytes)})", highlight=False)
