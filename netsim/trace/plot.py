"""A picture of a run (PNG, or SVG/PDF by extension): the topology with its traffic, and messages over time.

What it draws is counted by ``netsim.trace.plot_counts`` (``count_traffic``, whose names this module
gives too) in one streaming pass; where the nodes go is ``netsim.trace.layout``'s. ``plot_run`` and
``render_plot_png`` draw with matplotlib's object API (``Figure`` + ``FigureCanvasAgg``), never pyplot's
global state, so they are safe in a library and in threads.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib
import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from netsim.errors import InputError, OptionError
from netsim.trace.layout import node_positions, run_graph
from netsim.trace.outputs import PLOT_FORMATS

# What the plot draws is counted there; these are this module's API too.
from netsim.trace.plot_counts import MAX_BUCKETS as MAX_BUCKETS
from netsim.trace.plot_counts import MAX_SERIES_NODES as MAX_SERIES_NODES
from netsim.trace.plot_counts import MIN_BUCKET_NS as MIN_BUCKET_NS
from netsim.trace.plot_counts import TARGET_BUCKETS as TARGET_BUCKETS
from netsim.trace.plot_counts import PlotCounter as PlotCounter
from netsim.trace.plot_counts import Traffic as Traffic
from netsim.trace.plot_counts import bucket_size_ns as bucket_size_ns
from netsim.trace.plot_counts import count_traffic as count_traffic
from netsim.trace.plot_counts import last_ts_ns as last_ts_ns
from netsim.trace.reader import read_header
from netsim.trace.records import cut
from netsim.trace.timeline import nice_at_least

# The plot_counts module's fine buckets are merged into about this many bins to draw.
DISPLAY_BINS = 60
# Labels on the topology only while they stay readable.
MAX_NODE_LABELS = 60
MAX_EDGE_LABELS = 40
LABEL_CHARS = 20

FIGURE_SIZE = (14.0, 6.2)
DPI = 100
NODE_COLOURMAP = "viridis"
IDLE_EDGE_COLOUR = "#ced4da"
BUSY_EDGE_COLOUR = "#495057"


@dataclass(frozen=True, slots=True)
class PlotResult:
    """What ``plot_run`` drew and where; ``to_dict()`` is JSON-ready."""

    path: str | None
    format: str
    run_id: str | None
    nodes: int
    links: int
    messages: int
    bucket_ns: int
    positions: str
    topology_source: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "run_id": self.run_id,
            "nodes": self.nodes,
            "links": self.links,
            "messages": self.messages,
            "bucket_ns": self.bucket_ns,
            "positions": self.positions,
            "topology_source": self.topology_source,
            "notes": list(self.notes),
        }


def _plain(text: str) -> str:
    """Text matplotlib shows as is: a ``$`` would otherwise start mathtext."""
    return text.replace("$", r"\$")


def _bucket_label(bucket_ns: int) -> str:
    if bucket_ns >= 1_000_000_000:
        return f"{bucket_ns / 1e9:g} s"
    if bucket_ns >= 1_000_000:
        return f"{bucket_ns / 1e6:g} ms"
    return f"{bucket_ns / 1e3:g} \u00b5s"


def place_aside(positions: dict[str, tuple[float, float]], nodes: list[str]) -> None:
    """Put ``nodes`` (nodes only the trace knows) on the side, out of the way: each a tenth of the
    drawing's width (at least 0.1) right of the rightmost node so far, at the lowest height.

    The extent is kept as the nodes are placed, not measured again for each: an app that talks to
    thousands of non-neighbours in a 5,000-node run made that thousands of scans of every node.
    """
    if not nodes:
        return
    xs = [p[0] for p in positions.values()] or [0.0]
    ys = [p[1] for p in positions.values()] or [0.0]
    left, right, bottom = min(xs), max(xs), min(ys)
    if not positions:
        left = None  # the 0.0 above stood in for a drawing with no node yet
    for node in nodes:
        x = right + 0.1 * (right - (right if left is None else left) or 1)
        positions[node] = (x, bottom)
        left = x if left is None else left
        right = x


def _draw_topology(
    fig: Figure,
    ax: Any,
    graph: nx.Graph,
    positions: dict[str, tuple[float, float]],
    method: str,
    traffic: Traffic,
) -> None:
    aside: dict[str, None] = {}
    for pair in traffic.link_messages:
        if not graph.has_edge(*pair):
            for node in pair:
                if node not in positions and node not in aside:
                    aside[node] = None
                    graph.add_node(node)
            graph.add_edge(*pair, transport=None, off_topology=True)
    place_aside(positions, list(aside))

    def traffic_of(a: str, b: str) -> int:
        return traffic.link_messages.get((a, b) if a <= b else (b, a), 0)

    edges = list(graph.edges)
    busiest = max((traffic_of(a, b) for a, b in edges), default=0)
    # Linear in messages, so that twice the traffic looks twice as wide; the labels give exact counts.
    widths = [0.8 + 7.0 * traffic_of(a, b) / busiest if busiest else 0.8 for a, b in edges]
    colours = [BUSY_EDGE_COLOUR if traffic_of(a, b) else IDLE_EDGE_COLOUR for a, b in edges]
    styles = ["dashed" if graph.edges[a, b].get("off_topology") else "solid" for a, b in edges]
    if edges:
        nx.draw_networkx_edges(
            graph, positions, ax=ax, edgelist=edges, width=widths, edge_color=colours, style=styles
        )
    if 0 < len(edges) <= MAX_EDGE_LABELS and busiest:
        labels = {(a, b): str(traffic_of(a, b)) for a, b in edges if traffic_of(a, b)}
        nx.draw_networkx_edge_labels(
            graph, positions, edge_labels=labels, ax=ax, font_size=7, font_color=BUSY_EDGE_COLOUR
        )

    nodes = list(graph.nodes)
    handled = [traffic.handled(n) for n in nodes]
    size = 320 if len(nodes) <= 30 else max(30, 320 * 30 // len(nodes))
    collection = nx.draw_networkx_nodes(
        graph,
        positions,
        ax=ax,
        nodelist=nodes,
        node_color=handled,
        cmap=NODE_COLOURMAP,
        vmin=0,
        vmax=max(1, max(handled, default=1)),
        node_size=size,
        edgecolors="#212529",
        linewidths=0.8,
    )
    if len(nodes) <= MAX_NODE_LABELS:
        for node in nodes:
            ax.annotate(
                cut(node, LABEL_CHARS),
                positions[node],
                xytext=(0, 10),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                parse_math=False,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
            )
    # An inset colour bar stays next to the map even when the map's aspect narrows its box.
    colour_bar_axes = ax.inset_axes((1.01, 0.12, 0.022, 0.76))
    fig.colorbar(collection, cax=colour_bar_axes, label="messages handled (sent + received)")
    if method == "Longitude/Latitude":
        # Degrees of longitude shrink with latitude; this keeps the map's shape.
        mean_latitude = sum(p[1] for p in positions.values()) / len(positions)
        ax.set_aspect(1 / max(0.2, math.cos(math.radians(mean_latitude))), adjustable="box")
    elif method == "x/y":
        ax.set_aspect("equal", adjustable="box")
    ax.margins(0.12)
    ax.set_axis_off()
    ax.set_title(f"Topology: edge width = messages (both directions); nodes placed by {method}", fontsize=9)


def _draw_over_time(ax: Any, traffic: Traffic) -> None:
    if traffic.first_send_ts_ns is None or traffic.last_send_ts_ns is None:
        ax.text(0.5, 0.5, "no messages", ha="center", va="center", transform=ax.transAxes, fontsize=11)
        ax.set_xlabel("seconds into the run")
        return
    # The fine buckets counted over the whole run are merged for display, over the part of the run
    # that has traffic (start-up takes most of a short run), into about DISPLAY_BINS bins.
    counts = traffic.sent_per_bucket

    def bucket(ts_ns: int) -> int:
        return min(len(counts) - 1, max(0, (ts_ns - traffic.start_ts_ns) // traffic.bucket_ns))

    first, last = bucket(traffic.first_send_ts_ns), bucket(traffic.last_send_ts_ns)
    merge = nice_at_least((last - first + 1) / DISPLAY_BINS)
    first -= first % merge
    bins = range(first, last + 1, merge)
    bin_ns = traffic.bucket_ns * merge

    def merged(values: list[int]) -> list[int]:
        return [sum(values[start : start + merge]) for start in bins]

    # Each bin drawn as a step over its whole width, closed at zero on both sides.
    edges_s = [start * traffic.bucket_ns / 1e9 for start in bins]
    edges_s.append(edges_s[-1] + bin_ns / 1e9)

    # Per node (small runs): stacked filled steps, so the top of the stack is the total and each
    # node's share stays visible even in one bursty bin; a plain outline draws the total on top.
    series = traffic.node_sent_per_bucket
    if series and len(series) > 1:
        bottom = [0] * len(edges_s[:-1])
        palette = matplotlib.colormaps["tab10"]
        for index, node in enumerate(sorted(series, key=lambda name: -sum(series[name]))):
            values = merged(series[node])
            top = [b + v for b, v in zip(bottom, values, strict=True)]
            colour = palette(index % 10) if palette is not None else None
            ax.stairs(
                top,
                edges_s,
                baseline=bottom,
                fill=True,
                alpha=0.8,
                color=colour,
                label=_plain(cut(node, LABEL_CHARS)),
            )
            bottom = top
    ax.stairs(merged(counts), edges_s, color="#212529", linewidth=1.3, label="all nodes")
    ax.set_xlim(edges_s[0] - bin_ns / 1e9, edges_s[-1] + bin_ns / 1e9)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel(f"messages sent per {_bucket_label(bin_ns)}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper right", ncols=2 if series and len(series) > 4 else 1)
    stacked = " (stacked by sending node)" if series and len(series) > 1 else ""
    ax.set_title(f"Messages sent over time{stacked}", fontsize=9)


def _figure(
    run_or_trace: str | os.PathLike[str],
    file_format: str,
    *,
    layout_seed: int,
    include_control: bool,
    strict: bool,
    traffic: Traffic | None = None,
) -> tuple[Figure, PlotResult]:
    """The drawn figure, and what it shows (a ``PlotResult`` whose ``path`` is None until it is saved)."""
    header = read_header(run_or_trace)
    graph, source, notes = run_graph(run_or_trace)
    if traffic is None:
        traffic = count_traffic(run_or_trace, include_control=include_control, strict=strict)
    positions, method = node_positions(graph, seed=layout_seed)
    if traffic.skipped_lines:
        notes.append(f"{traffic.skipped_lines} malformed line(s) skipped")

    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, width_ratios=[1.35, 1.0])
    run_id = header.get("run_id") if isinstance(header.get("run_id"), str) else None
    topology = header.get("topology") if isinstance(header.get("topology"), dict) else {}
    topology_name = topology.get("name") if isinstance(topology.get("name"), str) else "?"
    app = header.get("app") if isinstance(header.get("app"), str) else "?"
    hidden = "" if include_control else f" ({traffic.control_messages} netsim.* control messages not counted)"
    with warnings.catch_warnings():
        # A node name in a script the default font lacks draws as boxes; say nothing 100 times.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        _draw_topology(figure, left, graph, positions, method, traffic)
        _draw_over_time(right, traffic)
        figure.suptitle(
            f"{run_id or '(no run id)'}\ntopology {topology_name} \u00b7 app {app} \u00b7 "
            f"{graph.number_of_nodes()} nodes \u00b7 {graph.number_of_edges()} links \u00b7 "
            f"{traffic.messages} messages{hidden}",
            fontsize=10,
            parse_math=False,
        )
        # Lay out now, under the filter, so that saving warns no more; no pixels: saving draws them.
        figure.draw_without_rendering()
    return figure, PlotResult(
        path=None,
        format=file_format,
        run_id=run_id,
        nodes=graph.number_of_nodes(),
        links=graph.number_of_edges(),
        messages=traffic.messages,
        bucket_ns=traffic.bucket_ns,
        positions=method,
        topology_source=source,
        notes=tuple(notes),
    )


def _save(figure: Figure, target: str | os.PathLike[str] | io.BytesIO, file_format: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(target, format=file_format, dpi=DPI)


def plot_run(
    run_or_trace: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    layout_seed: int = 1,
    include_control: bool = False,
    strict: bool = True,
) -> PlotResult:
    """Draw a run (topology with traffic, messages over time) to ``out_path``: .png, .svg or .pdf."""
    target = Path(out_path)
    file_format = target.suffix.lower().lstrip(".")
    if file_format not in PLOT_FORMATS:
        raise OptionError(
            f"{target}: cannot tell the image format from the extension {target.suffix or '(none)'!r}",
            hint=f"end the file name with one of {', '.join('.' + f for f in PLOT_FORMATS)}",
        )
    figure, result = _figure(
        run_or_trace, file_format, layout_seed=layout_seed, include_control=include_control, strict=strict
    )
    try:
        _save(figure, target, file_format)
    except OSError as error:
        raise InputError(f"{target}: cannot write the plot: {error.strerror or error}") from None
    return replace(result, path=str(target))


def render_plot_png(
    run_or_trace: str | os.PathLike[str],
    *,
    layout_seed: int = 1,
    include_control: bool = False,
    strict: bool = True,
    traffic: Traffic | None = None,
) -> bytes:
    """The same picture as ``plot_run``, as PNG bytes (for embedding in a report).

    ``traffic`` is what ``count_traffic`` would count (with the same ``include_control``), for a caller
    that counted it in a pass of its own (the report does); by default the trace is read for it.
    """
    figure, _ = _figure(
        run_or_trace,
        "png",
        layout_seed=layout_seed,
        include_control=include_control,
        strict=strict,
        traffic=traffic,
    )
    buffer = io.BytesIO()
    _save(figure, buffer, "png")
    return buffer.getvalue()
