"""A :class:`Topology` out again: as a networkx graph, as netsim's node-link JSON, as a file in any
format the loader reads, and as the summary ``netsim topo show`` prints (:func:`describe`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx

from netsim.errors import OptionError, TopologyError
from netsim.topology.formats import NETSIM_TOPOLOGY_FORMAT
from netsim.topology.load import EXTENSION_FORMATS
from netsim.topology.model import NodeSpec, Topology
from netsim.vocabulary import TRANSPORT_NAMES

# Keys the node-link format uses itself, which attributes therefore cannot carry.
_RESERVED_NODE_KEYS = ("id", "app", "cmd")
_RESERVED_LINK_KEYS = ("source", "target", "key", "transport")


def _program(node: NodeSpec) -> dict[str, str]:
    """The node's ``app`` or ``cmd`` attribute, where it has one."""
    if node.cmd:
        return {"cmd": node.cmd}
    return {"app": node.app} if node.app else {}


def topology_to_graph(topo: Topology) -> nx.Graph:
    """An undirected networkx graph of ``topo``: nodes keyed by name, ``app`` and ``transport`` as
    attributes when set, graph attributes copied. Link direction (``a``/``b``) is not kept."""
    graph = nx.Graph()
    graph.graph.update(topo.graph_attrs)
    for node in topo.nodes:
        graph.add_node(node.name, **node.attrs, **_program(node))
    for link in topo.links:
        graph.add_edge(
            link.a, link.b, **link.attrs, **({"transport": link.transport} if link.transport else {})
        )
    return graph


def topology_to_node_link(topo: Topology) -> dict[str, Any]:
    """``topo`` as netsim's node-link JSON document: the "topology as run" file.

    Node ids are the node names; ``app`` and ``transport`` appear where set. The top-level ``format``,
    ``name``, ``source`` and ``warnings`` let :func:`netsim.topology.load_topology` read the file back
    to an equal Topology.
    """
    nodes: list[dict[str, Any]] = []
    for node in topo.nodes:
        _refuse_reserved(topo, f"node {node.name}", node.attrs, _RESERVED_NODE_KEYS)
        nodes.append({"id": node.name, **_program(node), **node.attrs})
    links: list[dict[str, Any]] = []
    for link in topo.links:
        _refuse_reserved(topo, f"edge {link.a} -> {link.b}", link.attrs, _RESERVED_LINK_KEYS)
        links.append(
            {
                "source": link.a,
                "target": link.b,
                **({"transport": link.transport} if link.transport else {}),
                **link.attrs,
            }
        )
    return {
        "format": NETSIM_TOPOLOGY_FORMAT,
        "name": topo.name,
        "source": topo.source,
        "warnings": list(topo.warnings),
        "directed": False,
        "multigraph": False,
        "graph": dict(topo.graph_attrs),
        "nodes": nodes,
        "links": links,
    }


def write_topology_json(topo: Topology, path: str | os.PathLike[str]) -> None:
    """Write :func:`topology_to_node_link` to ``path`` (UTF-8, indented, newline-terminated)."""
    text = json.dumps(topology_to_node_link(topo), indent=2, ensure_ascii=False) + "\n"
    _write_text(path, text)


def write_topology(topo: Topology, path: str | os.PathLike[str]) -> None:
    """Write ``topo`` in the format ``path``'s extension names (see ``EXTENSION_FORMATS``).

    JSON is lossless. GML and GraphML drop ``None`` values and store lists and objects as JSON
    strings; edge lists keep link attributes but no node attributes (and refuse isolated nodes);
    adjacency lists keep only the structure.
    """
    target = Path(os.fsdecode(path))
    file_format = EXTENSION_FORMATS.get(target.suffix.lower())
    if file_format is None:
        raise OptionError(
            f"{target}: unknown output extension {target.suffix or '(none)'!r}",
            hint=f"use one of {', '.join(EXTENSION_FORMATS)}",
        )
    if file_format == "json":
        write_topology_json(topo, target)
        return
    if file_format in ("edgelist", "adjlist"):
        _refuse_unwritable_names(topo, target, file_format)
        lines = _edgelist_lines(topo, target) if file_format == "edgelist" else _adjlist_lines(topo)
        _write_text(target, "".join(f"{line}\n" for line in lines))
        return
    graph = _scalar_graph(topo)
    try:
        text = "\n".join(nx.generate_gml(graph)) + "\n" if file_format == "gml" else _graphml_text(graph)
    except (nx.NetworkXError, ValueError, TypeError) as error:
        raise OptionError(
            f"{target}: cannot write this topology as {file_format}: {error}",
            hint="write it as .json, which keeps every attribute",
        ) from None
    _write_text(target, text)


def describe(
    topo: Topology, default_transport: str = "tcp", *, default_app: str | None = None
) -> dict[str, Any]:
    """What ``netsim topo show`` prints, JSON-ready.

    Links without a transport count under ``default_transport``; nodes without an app under
    ``default_app``, or ``"(default)"`` when that is not given. ``code_apps`` maps each app spec that
    is Python code named by the topology (not a built-in app) to the nodes naming it;
    ``needs_allow_topology_apps`` says that ``netsim run`` then needs ``--allow-topology-apps``.
    """
    if default_transport not in TRANSPORT_NAMES:
        raise OptionError(
            f"unknown default transport {default_transport!r}",
            hint=f"use one of {', '.join(TRANSPORT_NAMES)}",
        )
    graph = nx.Graph()
    graph.add_nodes_from(node.name for node in topo.nodes)
    graph.add_edges_from((link.a, link.b) for link in topo.links)
    degrees = [degree for _name, degree in graph.degree()]
    components = sorted((len(part) for part in nx.connected_components(graph)), reverse=True)
    transports = Counter(link.transport or default_transport for link in topo.links)
    apps = Counter(node.app or default_app or "(default)" for node in topo.nodes)
    code_apps = topo.code_apps()
    return {
        "name": topo.name,
        "source": topo.source,
        "nodes": len(topo.nodes),
        "links": len(topo.links),
        "transports": {name: transports[name] for name in sorted(transports, key=_transport_rank)},
        "apps": dict(sorted(apps.items())),
        "degree": {
            "min": min(degrees, default=0),
            "max": max(degrees, default=0),
            "mean": round(sum(degrees) / len(degrees), 3) if degrees else 0.0,
        },
        "connected": len(components) == 1,
        "components": len(components),
        "component_sizes": components,
        "isolated": [name for name, degree in graph.degree() if degree == 0],
        "code_apps": {spec: list(names) for spec, names in code_apps.items()},
        "needs_allow_topology_apps": bool(code_apps),
        "warnings": list(topo.warnings),
    }


def _transport_rank(name: str) -> int:
    return TRANSPORT_NAMES.index(name) if name in TRANSPORT_NAMES else len(TRANSPORT_NAMES)


def _refuse_reserved(topo: Topology, element: str, attrs: dict[str, Any], reserved: tuple[str, ...]) -> None:
    clash = [key for key in reserved if key in attrs]
    if clash:
        raise TopologyError(
            topo.source,
            element,
            f"attribute {clash[0]!r} cannot be written to node-link JSON, which uses that key itself",
            hint="rename the attribute in the topology file",
        )


def _write_text(path: str | os.PathLike[str], text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise OptionError(
            f"{os.fsdecode(path)}: cannot write the file: {error.strerror or error}",
            hint="check that the folder exists and is writable",
        ) from None


def _refuse_unwritable_names(topo: Topology, target: Path, file_format: str) -> None:
    for node in topo.nodes:
        if not node.name or any(char.isspace() or char == "#" for char in node.name):
            raise OptionError(
                f"{target}: node name {node.name!r} cannot be written to an {file_format} "
                "(names there cannot hold spaces or '#')",
                hint="write .gml, .graphml or .json instead",
            )


def _edgelist_lines(topo: Topology, target: Path) -> list[str]:
    linked = {name for link in topo.links for name in (link.a, link.b)}
    isolated = [node.name for node in topo.nodes if node.name not in linked]
    if isolated:
        raise OptionError(
            f"{target}: an edge list cannot hold isolated nodes ({', '.join(isolated[:5])}"
            f"{', ...' if len(isolated) > 5 else ''})",
            hint="write .adjlist, .gml, .graphml or .json instead",
        )
    lines = []
    for link in topo.links:
        attrs = {**({"transport": link.transport} if link.transport else {}), **link.attrs}
        # networkx reads the attributes back with ast.literal_eval: a Python dict literal, so repr().
        lines.append(f"{link.a} {link.b} {attrs!r}")
    return lines


def _adjlist_lines(topo: Topology) -> list[str]:
    # Each line lists a node and its neighbours that come earlier, so that reading the file back
    # meets the nodes in their original order (the loader numbers nodes as it first meets them).
    position = {node.name: number for number, node in enumerate(topo.nodes)}
    earlier: dict[str, list[str]] = {node.name: [] for node in topo.nodes}
    for link in topo.links:
        first, second = sorted((link.a, link.b), key=position.__getitem__)
        earlier[second].append(first)
    return [" ".join([name, *others]) for name, others in earlier.items()]


def _scalar(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def _scalar_graph(topo: Topology) -> nx.Graph:
    """GML and GraphML hold scalars only: lists and objects become JSON text, None values go."""
    graph = nx.Graph()
    graph.graph.update({key: _scalar(value) for key, value in topo.graph_attrs.items() if value is not None})
    source_graph = topology_to_graph(topo)
    for name, data in source_graph.nodes(data=True):
        graph.add_node(name, **{key: _scalar(value) for key, value in data.items() if value is not None})
    for a, b, data in source_graph.edges(data=True):
        graph.add_edge(a, b, **{key: _scalar(value) for key, value in data.items() if value is not None})
    return graph


def _graphml_text(graph: nx.Graph) -> str:
    return "\n".join(nx.generate_graphml(graph)) + "\n"
