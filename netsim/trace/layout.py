"""Where a run's nodes are drawn: its topology as a graph, and a position for each node.

``run_graph`` builds the graph from the run's ``topology.json`` (for the nodes' coordinates) or from the
trace header alone; ``node_positions`` places nodes from their coordinates (Longitude/Latitude, or x/y)
or with a seeded spring layout. Nothing here draws: ``netsim.trace.plot`` does.
"""

from __future__ import annotations

import math
import os
from typing import Any

import networkx as nx

from netsim.errors import NetsimError
from netsim.runs.layout import TOPOLOGY_FILE_NAME
from netsim.topology import load_topology
from netsim.trace.reader import read_header, resolve_trace_path
from netsim.trace.schema import header_links, header_node_names

GEO_KEYS = ("Longitude", "Latitude")
XY_KEYS = ("x", "y")


def run_graph(run_or_trace: str | os.PathLike[str]) -> tuple[nx.Graph, str, list[str]]:
    """The run's topology as a graph: (graph, where it came from, notes).

    Node attributes (coordinates) come from the run's ``topology.json`` next to the trace when there is
    one that matches the header's nodes; otherwise the graph is built from the header alone. Nodes are in
    the header's order, edges are the header's links (with their ``transport``).
    """
    path = resolve_trace_path(run_or_trace)
    header = read_header(path)
    names = header_node_names(header)
    notes: list[str] = []
    attrs: dict[str, dict[str, Any]] = {}
    source = "trace header"
    topology_path = path.parent / TOPOLOGY_FILE_NAME
    if topology_path.is_file():
        try:
            topology = load_topology(topology_path)
        except NetsimError as error:
            notes.append(f"{topology_path} not used: {error.message}")
        else:
            found = {spec.name: dict(spec.attrs) for spec in topology.nodes}
            if not names or set(names) <= set(found):
                attrs = found
                source = str(topology_path)
                if not names:
                    names = list(found)
            else:
                notes.append(f"{topology_path} not used: its nodes differ from the trace header's")
    graph = nx.Graph()
    for name in names:
        graph.add_node(name, **attrs.get(name, {}))
    for a, b, transport in header_links(header):
        graph.add_edge(a, b, transport=transport)
    return graph, source, notes


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _coordinates(attrs: dict[str, Any], keys: tuple[str, str]) -> tuple[float, float] | None:
    x, y = _number(attrs.get(keys[0])), _number(attrs.get(keys[1]))
    return None if x is None or y is None else (x, y)


def node_positions(graph: nx.Graph, *, seed: int = 1) -> tuple[dict[str, tuple[float, float]], str]:
    """Where to draw each node, and how that was decided.

    Every node with Longitude/Latitude: those (x = longitude, y = latitude), method ``"Longitude/Latitude"``.
    Else every node with x/y: those, ``"x/y"``. Else ``networkx.spring_layout(seed=seed)`` with the nodes
    that have coordinates (either kind, scaled into the unit square) held fixed: ``"spring layout"``, or
    ``"spring layout, N nodes fixed by coordinates"``.
    """
    nodes = list(graph.nodes)
    if not nodes:
        return {}, "empty"
    for keys in (GEO_KEYS, XY_KEYS):
        found = {n: _coordinates(graph.nodes[n], keys) for n in nodes}
        if all(point is not None for point in found.values()):
            return {n: point for n, point in found.items() if point is not None}, "/".join(keys)
    partial: dict[str, tuple[float, float]] = {}
    for keys in (GEO_KEYS, XY_KEYS):
        partial = {n: p for n in nodes if (p := _coordinates(graph.nodes[n], keys)) is not None}
        if partial:
            break
    fixed = _unit_square(partial)
    try:
        if fixed:
            layout = nx.spring_layout(graph, pos=fixed, fixed=list(fixed), seed=seed)
        else:
            layout = nx.spring_layout(graph, seed=seed)
    except ImportError:
        # networkx lays out 500+ nodes with scipy, which netsim does not depend on.
        layout, fixed = nx.circular_layout(graph), {}
        method = "circular layout (a spring layout of this many nodes needs scipy)"
        return {n: (float(p[0]), float(p[1])) for n, p in layout.items()}, method
    method = "spring layout" if not fixed else f"spring layout, {len(fixed)} nodes fixed by coordinates"
    return {n: (float(p[0]), float(p[1])) for n, p in layout.items()}, method


def _unit_square(points: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """The points scaled (same factor on both axes) into [0, 1] x [0, 1], where spring_layout works."""
    if not points:
        return {}
    xs = [p[0] for p in points.values()]
    ys = [p[1] for p in points.values()]
    extent = max(max(xs) - min(xs), max(ys) - min(ys))
    if extent == 0:
        return {n: (0.5, 0.5) for n in points}
    return {n: ((x - min(xs)) / extent, (y - min(ys)) / extent) for n, (x, y) in points.items()}
