"""``netsim trace diagram`` and ``netsim trace plot``: pictures of a run (thin skins over the library).

Each writes a file and prints one line on stderr: what was drawn, and what was left out. The drawing
modules (matplotlib for the plot) load only when a command draws.
"""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from pathlib import Path
from typing import Annotated, Literal

import typer

from netsim.cli.common import handles_errors, seconds_into_the_run, stderr
from netsim.cli.terminal import visible_text
from netsim.cli.trace_input import RunOrTraceArgument, explains_malformed_fields
from netsim.errors import InputError
from netsim.trace.outputs import PLOT_FORMATS

# The pictures' own wording of --lenient (the other trace commands add "at the first").
DrawLenientOption = Annotated[
    bool, typer.Option("--lenient", help="Skip malformed lines (and count them) instead of stopping.")
]

app = typer.Typer()


@app.command("diagram")
@handles_errors
@explains_malformed_fields
def diagram_command(
    run_dir_or_trace: RunOrTraceArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="The SVG file to write.")],
    nodes: Annotated[
        list[str] | None,
        typer.Option(
            "--nodes",
            help="Columns to draw, in order: a,b,c (or repeat --nodes). Default: all, or the busiest.",
        ),
    ] = None,
    since: Annotated[
        float | None,
        typer.Option("--since", help="Seconds into the run: draw from here.", callback=seconds_into_the_run),
    ] = None,
    until: Annotated[
        float | None,
        typer.Option("--until", help="Seconds into the run: draw up to here.", callback=seconds_into_the_run),
    ] = None,
    axis: Annotated[
        Literal["time", "lamport"],
        typer.Option("--axis", help="time: real time flows down; lamport: events by Lamport clock rank."),
    ] = "time",
    max_messages: Annotated[
        int, typer.Option("--max-messages", help="Draw at most this many messages.")
    ] = 400,
    max_nodes: Annotated[int, typer.Option("--max-nodes", help="Draw at most this many nodes.")] = 30,
    include_control: Annotated[
        bool, typer.Option("--include-control", help="Also draw netsim's own messages (netsim.hello).")
    ] = False,
    lenient: DrawLenientOption = False,
) -> None:
    """A space-time diagram (SVG): one line per node, time flowing down, one arrow per message.

    A socket program's bytes: an arrow per send call and receive call sharing some, labelled [start, end)."""
    # Here, not at the top: only this command loads it.
    from netsim.trace.diagram import diagram_nodes, render_diagram
    from netsim.trace.reader import read_header
    from netsim.trace.schema import header_node_names

    wanted = None
    if nodes is not None:
        wanted = diagram_nodes(nodes, header_node_names(read_header(run_dir_or_trace)))
    diagram = render_diagram(
        run_dir_or_trace,
        nodes=wanted,
        since=since,
        until=until,
        axis=axis,
        include_control=include_control,
        max_messages=max_messages,
        max_nodes=max_nodes,
        strict=not lenient,
    )
    _write(out, diagram.svg)
    line = (
        f"wrote {out}: {len(diagram.nodes)} nodes, {diagram.messages} messages "
        f"({diagram.lost} lost), {diagram.errors} errors, {diagram.axis} axis"
    )
    if diagram.note:
        line += f"; {diagram.note}"
    stderr.print(visible_text(line))


@app.command("plot")
@handles_errors
@explains_malformed_fields
def plot_command(
    run_dir_or_trace: RunOrTraceArgument,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help=f"The image to write: {', '.join('.' + f for f in PLOT_FORMATS)}."),
    ],
    seed: Annotated[
        int,
        typer.Option(
            "--seed", help="Seed of the spring layout (nodes without coordinates).", min=0, max=2**32 - 1
        ),
    ] = 1,
    include_control: Annotated[
        bool, typer.Option("--include-control", help="Also count netsim's own messages (netsim.hello).")
    ] = False,
    lenient: DrawLenientOption = False,
) -> None:
    """The topology with its traffic (edge width, node colour) and the messages sent over time."""
    # Here, not at the top: only this command loads matplotlib.
    from netsim.trace.plot import plot_run

    result = plot_run(
        run_dir_or_trace, out, layout_seed=seed, include_control=include_control, strict=not lenient
    )
    line = (
        f"wrote {result.path}: {result.nodes} nodes, {result.links} links, {result.messages} messages; "
        f"nodes placed by {result.positions}"
    )
    for note in result.notes:
        line += f"; {note}"
    stderr.print(visible_text(line))


def _write(out: Path, text: str) -> None:
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(f"{out}: cannot write: {error.strerror or error}") from None
