"""``netsim trace summary``: counts per node and per link direction (a thin skin over
``netsim.trace.summary``)."""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from netsim.cli.common import handles_errors, stderr
from netsim.cli.tables import field_table, link_sections
from netsim.cli.terminal import visible_text
from netsim.cli.trace_input import (
    LenientOption,
    RunOrTraceArgument,
    explains_malformed_fields,
    print_analysis,
)

if TYPE_CHECKING:
    from netsim.trace.summary import TraceSummary

app = typer.Typer()


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f} s"


def _overview_table(summary: "TraceSummary") -> Table:
    totals = summary.totals()
    rows: list[tuple[str, object]] = [
        ("trace", summary.path),
        ("run id", summary.run_id or "-"),
        ("schema", summary.schema),
        ("topology", summary.topology or "-"),
        ("app", summary.app or "-"),
        ("transport", summary.transport or "-"),
        ("events", summary.events),
        ("first event", _seconds(summary.first_s)),
        ("last event", _seconds(summary.last_s)),
        ("duration", _seconds(summary.duration_s)),
        ("messages sent", totals["messages_sent"]),
        ("messages received", totals["messages_received"]),
        ("bytes sent", totals["bytes_sent"]),
        ("bytes received", totals["bytes_received"]),
        ("lost", totals["lost"]),
        ("dropped by netsim (link conditions, faults)", totals["dropped"]),
        ("errors", summary.errors),
        ("skipped lines", summary.skipped_lines),
    ]
    return field_table("Trace", rows)


def _nodes_table(summary: "TraceSummary") -> Table:
    table = Table(title="Nodes", title_justify="left")
    table.add_column("node")
    for column in ("events", "msgs sent", "msgs recv", "bytes sent", "bytes recv", "errors"):
        table.add_column(column, justify="right")
    for stats in summary.nodes.values():
        table.add_row(
            visible_text(stats.node),
            str(stats.events),
            str(stats.messages_sent),
            str(stats.messages_received),
            str(stats.bytes_sent),
            str(stats.bytes_received),
            Text(str(stats.errors), style="red" if stats.errors else ""),
        )
    return table


def _links_table(summary: "TraceSummary") -> Table:
    # One section per link, one row per direction: "a -> b" names both ends, so no link column is needed.
    table = Table(title="Links (per direction)", title_justify="left")
    table.add_column("direction")
    table.add_column("transport")
    for column in ("sent", "recv", "lost", "dropped", "bytes out", "bytes in"):
        table.add_column(column, justify="right")
    for link, transport in link_sections(table, summary.links.values()):
        for direction in (link.a_to_b, link.b_to_a):
            table.add_row(
                visible_text(f"{direction.source} -> {direction.destination}"),
                visible_text(transport),
                str(direction.messages_sent),
                str(direction.messages_received),
                Text(str(direction.lost), style="yellow" if direction.lost else ""),
                str(direction.dropped),
                str(direction.bytes_sent),
                str(direction.bytes_received),
            )
    return table


def _errors_table(summary: "TraceSummary") -> Table:
    table = Table(title="Errors", title_justify="left")
    table.add_column("count", justify="right")
    table.add_column("error (first characters)")
    for text, count in summary.error_counts.items():
        table.add_row(str(count), visible_text(text))
    return table


@app.command("summary")
@handles_errors
@explains_malformed_fields
def summary_command(
    run_dir_or_trace: RunOrTraceArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    lenient: LenientOption = False,
) -> None:
    """Counts per node and per link direction, message loss, and errors, from one pass over the trace."""
    from netsim.trace.summary import summarize_trace  # here: the help does without the trace tools

    summary = summarize_trace(run_dir_or_trace, strict=not lenient)
    print_analysis(summary, as_json, _print_tables)


def _print_tables(summary: "TraceSummary") -> None:
    stderr.print(_overview_table(summary))
    stderr.print(_nodes_table(summary))
    stderr.print(_links_table(summary))
    if summary.error_counts:
        stderr.print(_errors_table(summary))
