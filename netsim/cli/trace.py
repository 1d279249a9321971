"""``netsim trace``: look into a run's trace (a thin skin over ``netsim.trace``).

Each command, or family of commands, is a module with a ``typer.Typer`` of its own; this group merges
them (``add_typer`` without a name), in the order ``netsim trace --help`` lists them. The modules import
the analyses (and matplotlib) inside their commands, so the group itself loads fast.
"""

from __future__ import annotations

import typer

from netsim.cli import (
    trace_draw,
    trace_events,
    trace_export,
    trace_report,
    trace_stats,
    trace_summary,
    trace_verify,
)

app = typer.Typer(
    help="Inspect a run's trace: pass a run directory like runs/<run-id> or a trace.jsonl file.",
    no_args_is_help=True,
    add_completion=False,
)


for commands in (
    trace_summary,
    trace_events,
    trace_verify,
    trace_stats,
    trace_draw,
    trace_export,
    trace_report,
):
    app.add_typer(commands.app)
