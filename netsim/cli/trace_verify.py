"""``netsim trace verify``: check a trace against the guarantees of its format (a skin over
``netsim.trace.verify``). Exit status: 0 if every check passes, 1 if one fails, 2 for unreadable input."""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from netsim.cli.common import handles_errors, stderr
from netsim.cli.terminal import visible_markup, visible_text
from netsim.cli.trace_input import (
    LenientOption,
    RunOrTraceArgument,
    explains_malformed_fields,
    print_analysis,
)

if TYPE_CHECKING:
    from netsim.trace.verify import VerifyReport

# Figures a check reports besides its failures, shown under the table when they are not zero.
NOTED_COUNTS = (
    "lost_unreliable",
    "in_flight_at_end",
    "dropped_by_netsim",
    "deliberate_duplicates",
    "lost_to_faults",
    "killed_nodes",
    "crashed_nodes",
)

app = typer.Typer()


def _figure(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _checks_table(report: "VerifyReport") -> Table:
    table = Table(title=f"Verify {visible_markup(report.path)}", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("checked", justify="right")
    table.add_column("failures", justify="right")
    table.add_column("description")
    for check in report.checks:
        table.add_row(
            check.name,
            Text("PASS", style="bold green") if check.passed else Text("FAIL", style="bold red"),
            str(check.checked),
            Text(str(check.failures), style="red" if check.failures else ""),
            Text(check.description),
        )
    return table


def _print_report(report: "VerifyReport") -> None:
    from netsim.trace.events import format_event  # here: the help does without the trace tools

    stderr.print(_checks_table(report))
    for check in report.checks:
        noted = [
            f"{name.replace('_', ' ')}: {_figure(check.counts[name])}"
            for name in NOTED_COUNTS
            if check.counts.get(name)
        ]
        if noted:
            stderr.print(f"[dim]{check.name}:[/] {visible_markup('; '.join(noted))}", highlight=False)
    for check in report.checks:
        if check.passed:
            continue
        shown = len(check.examples)
        more = f" (first {shown} of {check.failures})" if check.failures > shown else ""
        stderr.print(f"[bold red]{check.name}[/] failed{more}:", highlight=False)
        for record, problem in zip(check.examples, check.problems, strict=True):
            # Text, not markup: node names and addresses may contain "[" or control characters.
            event_line = format_event(record, report.start_ts_ns).strip()
            stderr.print(visible_text(f"  {problem}"), visible_text(f"| {event_line}", style="dim"))
    if report.ok:
        stderr.print(
            f"[green]all {len(report.checks)} checks passed[/] on {report.events} events", highlight=False
        )


@app.command("verify")
@handles_errors
@explains_malformed_fields
def verify_command(
    run_dir_or_trace: RunOrTraceArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    lenient: LenientOption = False,
) -> None:
    """Check mirrored addresses, exactly-once and in-order delivery, Lamport clocks, and closed sockets.

    Exits 0 if every check passes, 1 if any fails, 2 if the trace cannot be read.
    """
    # Here, not at the top: only this command loads it.
    from netsim.trace.verify import verify_trace

    report = verify_trace(run_dir_or_trace, strict=not lenient)
    print_analysis(report, as_json, _print_report)
    if not report.ok:
        raise typer.Exit(1)
