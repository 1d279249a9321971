"""``netsim runs``: the runs on disk (a thin skin over ``netsim.runs``)."""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from netsim.cli.common import echo_json, handles_errors, stderr
from netsim.cli.terminal import visible_markup, visible_text
from netsim.runs.layout import DEFAULT_RUNS_DIR

if TYPE_CHECKING:
    from netsim.runs.listing import RunInfo

app = typer.Typer(
    help="The runs on disk: what ran, when, and how it ended.", no_args_is_help=True, add_completion=False
)

STATUS_STYLES = {"ok": "green", "failed": "red", "incomplete": "yellow", "unreadable": "red"}


def _date(info: "RunInfo") -> str:
    started = info.started
    return started.astimezone().strftime("%Y-%m-%d %H:%M") if started is not None else "-"


def _runs_table(directory: Path, runs: "list[RunInfo]") -> Table:
    table = Table(title=f"Runs in {visible_markup(directory)}", title_justify="left")
    table.add_column("id", no_wrap=True)  # people copy it: never cut it with "…"
    table.add_column("date")
    table.add_column("topology")
    table.add_column("app")
    table.add_column("nodes", justify="right")
    table.add_column("messages", justify="right")
    table.add_column("status")
    for info in runs:
        table.add_row(
            visible_text(info.run_id),
            _date(info),
            visible_text(info.topology or "-"),
            visible_text(info.app or "-"),
            "-" if info.nodes is None else str(info.nodes),
            "-" if info.messages is None else str(info.messages),
            visible_text(info.status, style=STATUS_STYLES.get(info.status, "")),
        )
    return table


@app.command("list")
@handles_errors
def list_command(
    directory: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="The directory `netsim run --out` wrote runs to."),
    ] = Path(DEFAULT_RUNS_DIR),
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as a JSON list on stdout.")] = False,
) -> None:
    """List the runs in DIR (runs/ by default), newest first."""
    from netsim.runs.listing import list_runs  # here: it reads traces, which the help does not

    runs = list_runs(directory)
    if as_json:
        echo_json([info.to_dict() for info in runs])
        return
    if not runs:
        stderr.print(f"no runs in {visible_markup(directory)}", highlight=False)
        return
    stderr.print(_runs_table(directory, runs))
    for info in runs:
        if info.problem:
            stderr.print(
                f"[yellow]warning:[/] {visible_markup(info.run_id)}: {visible_markup(info.problem)}",
                highlight=False,
            )


@app.command("recover")
@handles_errors
def recover_command(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="A run directory whose launcher died before the end.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the new summary.json on stdout.")] = False,
) -> None:
    """Finish a run whose launcher was killed (SIGKILL): merge its nodes' trace parts, write a summary."""
    from netsim.launch.finish import recover_run  # here: the launcher's package, for this command only

    summary = recover_run(run_dir).to_dict()
    if as_json:
        echo_json(summary)
        return
    stderr.print(
        Text.assemble(
            "recovered ",
            visible_text(summary["run_id"], style="bold"),
            f": {summary['events']:,} events in ",
            visible_text(summary["trace"]),
        ),
        highlight=False,
    )
    for warning in summary["warnings"]:
        stderr.print(Text.assemble(("warning: ", "yellow"), visible_text(warning)), highlight=False)
