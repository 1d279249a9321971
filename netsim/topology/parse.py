"""From any networkx graph to a validated :class:`Topology`: pure, no file I/O.

Every conversion rule lives here (and in docs/topologies.md): node names, ``app`` and ``transport``
attributes, JSON-compatible attributes, self-loops, parallel and directed edges, the graph's name.
"""

from __future__ import annotations

import shlex
import sys
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

from netsim.errors import TopologyError
from netsim.topology.model import LinkSpec, NodeSpec, Topology
from netsim.vocabulary import BUILTIN_APP_NAMES, TRANSPORT_NAMES, is_app_spec

if TYPE_CHECKING:
    # Only for the annotations: a graph comes in built, so converting it needs no networkx import.
    import networkx as nx

# Graph attributes that name the network, in order of preference (``Network`` is Topology Zoo's).
NAME_ATTRIBUTES: tuple[str, ...] = ("Network", "name", "label")
# At most this many examples in a warning, so that Cogentco's warnings stay one line each.
_EXAMPLES_SHOWN = 5

NodeNames = Literal["label", "id"]


def from_graph(
    graph: nx.Graph,
    source: str,
    name: str | None = None,
    *,
    edge_order: Sequence[tuple[Hashable, Hashable]] | None = None,
    node_names: NodeNames = "label",
) -> Topology:
    """Validate ``graph`` and convert it to a :class:`Topology`.

    ``source`` names the file or spec in errors and in ``Topology.source``. ``name`` overrides the
    graph's own name (graph attribute ``Network``, ``name`` or ``label``, else the stem of ``source``).

    ``edge_order`` lists every edge's ``(source, target)`` node ids in file order, parallel edges and
    self-loops included; readers pass it because an undirected networkx graph forgets both the order
    and the direction edges were written in. When it does not match ``graph`` it is ignored, and links
    follow ``graph.edges``. ``node_names="id"`` names nodes by their id, ignoring ``label`` (netsim's
    own node-link files, whose ids already are the names).
    """
    node_items = list(graph.nodes(data=True))
    if not node_items:
        raise TopologyError(
            source,
            None,
            "the graph has no nodes",
            hint="add nodes to the file, or use a generator spec like ring:8",
        )
    warnings: list[str] = []
    names = _node_names(source, node_items, node_names, warnings)
    nodes = tuple(
        NodeSpec(
            name=names[node_id],
            index=index,
            app=_node_app(source, names[node_id], data.get("app")),
            attrs=_json_attrs(data, ("app", "cmd"), source, f"node {names[node_id]}"),
            cmd=_node_cmd(source, names[node_id], data.get("cmd"), data.get("app")),
        )
        for index, (node_id, data) in enumerate(node_items)
    )
    links = _links(graph, source, names, edge_order, warnings)
    graph_attrs = _json_attrs(graph.graph, (), source, "graph")
    return Topology(
        name=name or _graph_name(graph_attrs, source),
        source=source,
        nodes=nodes,
        links=links,
        graph_attrs=graph_attrs,
        warnings=tuple(warnings),
    )


def from_networkx(graph: Any) -> Topology:
    """A networkx graph built in Python (``Graph``, ``DiGraph``, ``MultiGraph``, ``MultiDiGraph``) as a
    :class:`Topology`, by the rules and with the errors of a file's graph (``from_graph``).

    Errors and ``Topology.source`` call it ``networkx.Graph`` (its class), then its name if it has one;
    the topology's name is the graph's, else ``graph``. Anything else is a TopologyError.
    """
    # A caller holding a graph has imported networkx already: looked up, not imported, to check it.
    networkx = sys.modules.get("networkx")
    if networkx is None or not isinstance(graph, networkx.Graph):
        raise TopologyError(
            f"{type(graph).__name__} object",
            None,
            "not a topology",
            hint="pass a topology file, a generator spec such as ring:8, a netsim.Topology or a "
            "networkx.Graph",
        )
    name = _graph_name(_json_attrs(graph.graph, exclude=()), "graph")
    source = f"networkx.{type(graph).__name__}" + ("" if name == "graph" else f" {name!r}")
    return from_graph(graph, source, name)


def to_json_value(value: Any, _depth: int = 0) -> Any:
    """``value`` as str/int/float/bool/None or lists and str-keyed dicts of those; anything else -> str.

    Text that is not valid Unicode (a lone surrogate, which a JSON or GML file can spell) keeps its
    characters as ``\\udXXX`` escapes; nesting deeper than ``MAX_ATTRIBUTE_DEPTH`` is a ValueError."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(str(value))
    # Subclasses (IntEnum, numpy.float64, ...) collapse to the plain type that JSON knows.
    for plain in (int, float):
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, (Mapping, list, tuple)) and _depth >= MAX_ATTRIBUTE_DEPTH:
        raise ValueError(f"nested more than {MAX_ATTRIBUTE_DEPTH} levels deep")
    if isinstance(value, Mapping):
        return {_text(str(key)): to_json_value(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(item, _depth + 1) for item in value]
    return _text(str(value))


# Deeper attribute values are refused: nobody writes them, and each level is a Python frame.
MAX_ATTRIBUTE_DEPTH = 64


def _text(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    return text


def format_names(names: Sequence[str], limit: int = 5) -> str:
    """``a, b, c`` or, past ``limit``, ``a, b, c, d, e and 3 more``: the nodes an error or note names."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def format_node_ids(ids: Iterable[Hashable], limit: int = 8) -> str:
    """``0, 1, 2, 3, 7`` -> ``"0-3, 7"``; long lists end with ``..., (N in all)``."""
    values = list(ids)
    if values and all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        numbers = sorted(set(values))  # type: ignore[type-var]
        runs: list[str] = []
        start = previous = numbers[0]
        for number in [*numbers[1:], None]:
            if number is not None and number == previous + 1:
                previous = number
                continue
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            if number is not None:
                start = previous = number
        parts = runs
    else:
        parts = [str(value) for value in values]
    if len(parts) > limit:
        return f"{', '.join(parts[:limit])}, ... ({len(values)} in all)"
    return ", ".join(parts)


def _node_names(
    source: str, node_items: list[tuple[Hashable, dict[str, Any]]], mode: NodeNames, warnings: list[str]
) -> dict[Hashable, str]:
    """Label when unique, ``"<label> (<id>)"`` when shared, the id when missing; then made unique.

    A node left with an empty name (an id ``""`` and no label) is an error: apps, fault lines and the
    trace address nodes by name, and a run cannot name a node's files after nothing.
    """
    labels: dict[Hashable, str | None] = {}
    for position, (node_id, data) in enumerate(node_items):
        label = data.get("label") if mode == "label" else None
        labels[node_id] = None if label is None or str(label) == "" else str(label)
        if labels[node_id] is None and str(node_id) == "":
            raise TopologyError(
                source,
                f"node #{position}",
                f"the node has an empty name (id {str(node_id)!r} and no label)",
                hint="give the node an id or a label that is not empty",
            )
    for position, (node_id, _data) in enumerate(node_items):
        name = labels[node_id] if labels[node_id] is not None else str(node_id)
        if _text(name) != name:
            raise TopologyError(
                source,
                f"node #{position}",
                f"the node's name {ascii(name)} is not valid Unicode text (it holds a lone surrogate)",
                hint="name the node with text a file can hold in UTF-8",
            )
    label_counts: dict[str, int] = defaultdict(int)
    for label in labels.values():
        if label is not None:
            label_counts[label] += 1
    candidates: dict[Hashable, str] = {}
    for node_id, _data in node_items:
        label = labels[node_id]
        if label is None:
            candidates[node_id] = str(node_id)
        elif label_counts[label] == 1:
            candidates[node_id] = label
        else:
            candidates[node_id] = f"{label} ({node_id})"
    return _unique(candidates, warnings)


def _unique(candidates: dict[Hashable, str], warnings: list[str]) -> dict[Hashable, str]:
    # A label can equal another node's id (node 0 labelled "1", node 1 unlabelled): the first node in
    # file order keeps the name, later ones get "#2", "#3", ... so that every name stays unique.
    taken = set(candidates.values())
    seen: set[str] = set()
    renamed: list[str] = []
    names: dict[Hashable, str] = {}
    for node_id, candidate in candidates.items():
        name = candidate
        if name in seen:
            counter = 2
            while f"{candidate} #{counter}" in taken:
                counter += 1
            name = f"{candidate} #{counter}"
            taken.add(name)
            renamed.append(f"{node_id} -> {name!r}")
        seen.add(name)
        names[node_id] = name
    if renamed:
        warnings.append(f"renamed {len(renamed)} node(s) whose name was already taken: {_examples(renamed)}")
    return names


def _node_app(source: str, node_name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and is_app_spec(value):
        return value
    raise TopologyError(
        source,
        f"node {node_name}",
        f"unknown app {value!r}",
        hint=f"use a built-in app ({', '.join(BUILTIN_APP_NAMES)}) or a module:Class spec, "
        "or leave app unset for the run's default",
    )


def _node_cmd(source: str, node_name: str, value: Any, app: Any) -> str | None:
    if value is None or value == "":
        return None
    where = f"node {node_name}"
    if not isinstance(value, str):
        raise TopologyError(
            source,
            where,
            f"cmd {value!r} is not a command line",
            hint='write it as a string, e.g. cmd "python3 node.py"',
        )
    if app not in (None, ""):
        raise TopologyError(
            source, where, "has both an app and a cmd", hint="keep one: a node runs a Python app or a program"
        )
    try:
        argv = shlex.split(value)
    except ValueError as error:
        raise TopologyError(
            source, where, f"cmd {value!r} cannot be split into arguments: {error}", hint="close the quotes"
        ) from None
    if not argv:
        raise TopologyError(
            source, where, "cmd is blank", hint="give the program's command line, or leave cmd out"
        )
    return value


def _link_transport(source: str, a: str, b: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value in TRANSPORT_NAMES:
        return value
    raise TopologyError(
        source,
        f"edge {a} -> {b}",
        f"unknown transport {value!r}",
        hint=f"use one of {', '.join(TRANSPORT_NAMES)}, or leave transport unset for the run's default",
    )


def _json_attrs(
    data: Mapping[str, Any], exclude: tuple[str, ...], source: str = "", element: str | None = None
) -> dict[str, Any]:
    try:
        return {_text(str(key)): to_json_value(value) for key, value in data.items() if key not in exclude}
    except (ValueError, RecursionError) as error:
        raise TopologyError(
            source, element, f"an attribute's value is {error}", hint="give it a flat value"
        ) from None


def _graph_name(graph_attrs: Mapping[str, Any], source: str) -> str:
    for key in NAME_ATTRIBUTES:
        value = graph_attrs.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return PurePath(source).stem or source


def _examples(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_EXAMPLES_SHOWN])
    return f"{shown}, ..." if len(items) > _EXAMPLES_SHOWN else shown


_Edge = tuple[Hashable, Hashable, dict[str, Any]]


def _edges_in_order(graph: nx.Graph, edge_order: Sequence[tuple[Hashable, Hashable]] | None) -> list[_Edge]:
    """The graph's edges with their data, in file order when ``edge_order`` matches the graph."""
    in_graph_order: list[_Edge] = [(u, v, data) for u, v, data in graph.edges(data=True)]
    if edge_order is None or len(edge_order) != len(in_graph_order):
        return in_graph_order
    directed = graph.is_directed()
    # Per pair (per direction in a directed graph), the data of its edges in insertion order, which
    # networkx keeps: popping them while walking edge_order re-creates the file's sequence exactly.
    queues: dict[Any, deque[dict[str, Any]]] = defaultdict(deque)
    for u, v, data in in_graph_order:
        queues[(u, v) if directed else frozenset((u, v))].append(data)
    ordered: list[_Edge] = []
    for u, v in edge_order:
        queue = queues.get((u, v) if directed else frozenset((u, v)))
        if not queue:
            return in_graph_order
        ordered.append((u, v, queue.popleft()))
    return ordered


@dataclass(slots=True)
class _PendingLink:
    """A pair's first edge (its direction and attributes) and what its parallel edges added."""

    a: str
    b: str
    attrs: dict[str, Any]
    transports: list[str]
    edge_count: int = 1


def _links(
    graph: nx.Graph,
    source: str,
    names: dict[Hashable, str],
    edge_order: Sequence[tuple[Hashable, Hashable]] | None,
    warnings: list[str],
) -> tuple[LinkSpec, ...]:
    self_loops: list[str] = []
    pending: dict[frozenset[Hashable], _PendingLink] = {}  # in order of each pair's first edge
    for u, v, data in _edges_in_order(graph, edge_order):
        a, b = names[u], names[v]
        transport = _link_transport(source, a, b, data.get("transport"))
        if u == v:
            self_loops.append(a)
            continue
        link = pending.get(frozenset((u, v)))
        if link is None:
            pending[frozenset((u, v))] = _PendingLink(a, b, data, [transport] if transport else [])
            continue
        link.edge_count += 1
        if transport and transport not in link.transports:
            link.transports.append(transport)
        if len(link.transports) > 1:
            raise TopologyError(
                source,
                f"edge {link.a} -> {link.b}",
                f"parallel edges disagree on transport ({' vs '.join(map(repr, link.transports))})",
                hint="give the parallel edges the same transport, or keep only one of them",
            )
    if self_loops:
        warnings.append(
            f"dropped {len(self_loops)} self-loop(s) (a node linked to itself): "
            f"{_examples([f'{name} -> {name}' for name in self_loops])}"
        )
    if graph.is_directed():
        warnings.append(
            "the graph is directed: netsim links are undirected, so a -> b and b -> a are one link "
            "(a is the side that connects)"
        )
    merged = [link for link in pending.values() if link.edge_count > 1]
    if merged:
        extra = sum(link.edge_count - 1 for link in merged)
        examples = _examples([f"{link.a} -- {link.b} (x{link.edge_count})" for link in merged])
        warnings.append(
            f"merged {extra} parallel edge(s) into {len(merged)} link(s), "
            f"keeping each first edge's attributes: {examples}"
        )
    return tuple(
        LinkSpec(
            a=link.a,
            b=link.b,
            # One of the parallel edges may set the transport while the others leave it unset.
            transport=link.transports[0] if link.transports else None,
            attrs=_json_attrs(link.attrs, ("transport",), source, f"edge {link.a} -> {link.b}"),
        )
        for link in pending.values()
    )
