"""Space-time (Lamport) diagrams of a run as self-contained SVG: one line per node, one arrow per message.

Two steps, two modules: ``model`` decides what to draw from the trace (lanes, arrows, error marks, axis
ticks, what was left out and why) and ``svg`` draws it. ``render_diagram`` does both; a caller who wants
the drawing's content without the picture calls ``read_model``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from netsim.trace.diagram.lanes import NodeMessages
from netsim.trace.diagram.model import (
    AXES,
    LIMIT_REASONS,
    Axis,
    DiagramModel,
    diagram_nodes,
    left_out_note,
    read_model,
)
from netsim.trace.diagram.svg import render_svg

__all__ = [
    "AXES",
    "LIMIT_REASONS",
    "Axis",
    "Diagram",
    "DiagramModel",
    "NodeMessages",
    "diagram_nodes",
    "left_out_note",
    "read_model",
    "render_diagram",
]


@dataclass(frozen=True, slots=True)
class Diagram:
    """A rendered space-time diagram.

    ``svg`` is the document (UTF-8 text, no XML declaration, so it can also be inlined into HTML).
    ``left_out`` maps each reason something was not drawn to ``{"count": n, "reason": text}`` (plus
    ``"names"`` for nodes); it is empty when everything in range was drawn. ``note`` is the same in one
    line, for a terminal.
    """

    svg: str
    run_id: str | None
    axis: str
    nodes: tuple[str, ...]
    messages: int
    lost: int
    errors: int
    left_out: dict[str, dict[str, Any]]
    note: str
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        """Everything but the SVG itself, JSON-ready."""
        return {
            "run_id": self.run_id,
            "axis": self.axis,
            "nodes": list(self.nodes),
            "messages": self.messages,
            "lost": self.lost,
            "errors": self.errors,
            "left_out": self.left_out,
            "note": self.note,
            "width": self.width,
            "height": self.height,
        }


def render_diagram(
    run_or_trace: str | os.PathLike[str],
    *,
    nodes: list[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    axis: Axis = "time",
    include_control: bool = False,
    max_messages: int = 400,
    max_nodes: int = 30,
    strict: bool = True,
    node_messages: NodeMessages | None = None,
) -> Diagram:
    """Draw a run's messages as a space-time diagram (SVG): one column per node, time flowing down.

    ``nodes`` picks the columns (in that order); by default every node, or the ``max_nodes`` busiest
    when there are more. ``since``/``until`` are seconds into the run and select messages by their
    send. ``axis="lamport"`` spaces events evenly by the rank of their Lamport clock instead of by
    real time. Messages of type ``netsim.*`` (the link handshake) are hidden unless
    ``include_control``. At most ``max_messages`` messages (the first ones sent) and as many error
    marks are drawn; what is left out is in ``Diagram.left_out`` and in a note in the SVG.

    To pick the busiest nodes the trace is read twice; ``node_messages``, a ``NodeMessages`` of the
    same window fed the whole trace already (the report counts it in its own pass), saves the first.
    """
    model = read_model(
        run_or_trace,
        nodes=nodes,
        since=since,
        until=until,
        axis=axis,
        include_control=include_control,
        max_messages=max_messages,
        max_nodes=max_nodes,
        strict=strict,
        node_messages=node_messages,
    )
    svg, width, height = render_svg(model)
    return Diagram(
        svg=svg,
        run_id=model.run_id,
        axis=model.axis,
        nodes=model.nodes,
        messages=len(model.arrows),
        lost=model.lost,
        errors=len(model.errors),
        left_out=model.left_out,
        note=model.note,
        width=width,
        height=height,
    )
