"""Node-link JSON: ``parse_node_link(text, source)``, and the marker of netsim's own node-link files."""

from __future__ import annotations

import inspect
import json
from collections.abc import Hashable
from typing import Any

import networkx as nx

from netsim.errors import TopologyError
from netsim.topology.formats.common import (
    EdgeOrder,
    ParsedGraph,
    find_overlong_integer,
    one_line,
    reader_failed,
)
from netsim.topology.parse import format_node_ids

# The marker of netsim's own node-link files (``write_topology_json``): their node ids are the node
# names, and ``name``, ``source`` and ``warnings`` at the top level restore the Topology as it was run.
NETSIM_TOPOLOGY_FORMAT = "netsim-topology/1"

# networkx renamed node_link_graph's ``link`` parameter to ``edges`` in 3.4.
_EDGES_PARAMETER = "edges" if "edges" in inspect.signature(nx.node_link_graph).parameters else "link"


def parse_node_link(text: str, source: str) -> ParsedGraph:
    """The graph in node-link JSON ``text`` (``"links"`` or ``"edges"``); raises TopologyError.

    A file marked ``"format": NETSIM_TOPOLOGY_FORMAT`` names its nodes by id and restores the
    ``name``, ``source`` and ``warnings`` it was written with.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TopologyError(
            source,
            f"line {error.lineno}",
            f"not valid JSON: {error.msg} (column {error.colno})",
            hint='fix the JSON there; a node-link file is {"nodes": [...], "links": [...]}',
        ) from None
    except RecursionError:
        raise TopologyError(source, None, "not valid JSON: nested too deeply") from None
    except ValueError as error:  # int() refusing a number of thousands of digits
        overlong = find_overlong_integer(text)
        element = f"line {overlong[0]}" if overlong else None
        problem = f"a number of {overlong[1]} digits" if overlong else one_line(str(error))
        raise TopologyError(
            source, element, f"not valid JSON: {problem}", hint="no attribute needs a number that long"
        ) from None
    shape_hint = (
        'a node-link file is {"nodes": [{"id": ...}, ...], "links": [{"source": ..., "target": ...}]}'
    )
    if not isinstance(data, dict):
        raise TopologyError(
            source, None, f"expected a JSON object at the top, found {_json_kind(data)}", hint=shape_hint
        )
    if "edges" in data and "links" in data:
        raise TopologyError(
            source, None, 'the file has both "edges" and "links"', hint="keep one list of edges"
        )
    edges_key = "edges" if "edges" in data else "links"
    nodes = data.get("nodes")
    edges = data.get(edges_key, [])
    if not isinstance(nodes, list):
        problem = 'no "nodes" list' if nodes is None else f'"nodes" is {_json_kind(nodes)}, not a list'
        raise TopologyError(source, None, problem, hint=shape_hint)
    if not isinstance(edges, list):
        raise TopologyError(
            source, None, f'"{edges_key}" is {_json_kind(edges)}, not a list', hint=shape_hint
        )
    graph_attrs = data.get("graph", {})
    if not isinstance(graph_attrs, dict):
        raise TopologyError(
            source, None, f'"graph" is {_json_kind(graph_attrs)}, not an object', hint=shape_hint
        )
    node_ids = _check_json_nodes(nodes, source)
    edge_order = _check_json_edges(edges, edges_key, node_ids, source)
    restored = _restored_netsim_fields(data, source)
    # Always a multigraph, so that parallel edges reach from_graph (merged with a warning) instead of
    # networkx's Graph quietly keeping the last one's attributes.
    normalized = {**data, "multigraph": True, "nodes": nodes, edges_key: edges}
    try:
        graph = nx.node_link_graph(normalized, **{_EDGES_PARAMETER: edges_key})
    except Exception as error:  # anything left that the checks above did not foresee
        raise reader_failed(source, "node-link JSON", error) from None
    if restored:
        return ParsedGraph(graph, edge_order=edge_order, node_names="id", restored=restored)
    return ParsedGraph(graph, edge_order=edge_order)


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _check_json_nodes(nodes: list[Any], source: str) -> list[Hashable]:
    node_ids: list[Hashable] = []
    seen: set[Hashable] = set()
    for number, node in enumerate(nodes):
        if not isinstance(node, dict) or "id" not in node:
            raise TopologyError(
                source,
                f"node #{number}",
                'each node must be an object with an "id"',
                hint='write {"id": "a"}',
            )
        node_id = node["id"]
        if isinstance(node_id, bool) or not isinstance(node_id, (str, int, float)):
            raise TopologyError(
                source,
                f"node #{number}",
                f"the node id must be a string or a number, not {_json_kind(node_id)}",
                hint='write {"id": "a"}',
            )
        if node_id in seen:
            raise TopologyError(
                source, f"node {node_id}", "the node id is defined twice", hint="give every node its own id"
            )
        seen.add(node_id)
        node_ids.append(node_id)
    return node_ids


def _check_json_edges(edges: list[Any], edges_key: str, node_ids: list[Hashable], source: str) -> EdgeOrder:
    known = set(node_ids)
    known_text = {str(node_id) for node_id in node_ids}
    edge_order: EdgeOrder = []
    for number, edge in enumerate(edges):
        if not isinstance(edge, dict) or "source" not in edge or "target" not in edge:
            raise TopologyError(
                source,
                f"{edges_key} #{number}",
                'each edge must be an object with a "source" and a "target"',
                hint='write {"source": "a", "target": "b"}',
            )
        edge_source, edge_target = edge["source"], edge["target"]
        for endpoint in (edge_source, edge_target):
            if not isinstance(endpoint, Hashable) or endpoint not in known:
                # 1 and "1" are different ids in JSON; say so when that is the likely mistake.
                typed = str(endpoint) in known_text
                shown = json.dumps if typed else _json_text
                raise TopologyError(
                    source,
                    f"edge {shown(edge_source)} -> {shown(edge_target)}",
                    f"node {shown(endpoint)} is not defined (known nodes: {format_node_ids(node_ids)})",
                    hint='node ids are typed: the string "1" is not the number 1; write them the same way'
                    if typed
                    else 'add the node to "nodes", or fix the edge\'s source and target',
                )
        edge_order.append((edge_source, edge_target))
    return edge_order


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _restored_netsim_fields(data: dict[str, Any], source: str) -> dict[str, Any]:
    written = data.get("format")
    if (
        isinstance(written, str)
        and written.startswith("netsim-topology/")
        and written != NETSIM_TOPOLOGY_FORMAT
    ):
        raise TopologyError(
            source,
            None,
            f"format {written!r}: this netsim reads {NETSIM_TOPOLOGY_FORMAT!r}",
            hint='read it with the netsim that wrote it, or drop the "format" key (plain node-link JSON)',
        )
    if written != NETSIM_TOPOLOGY_FORMAT:
        return {}
    name, origin, warnings = data.get("name"), data.get("source"), data.get("warnings", [])
    if not (
        isinstance(name, str)
        and isinstance(origin, str)
        and isinstance(warnings, list)
        and all(isinstance(item, str) for item in warnings)
    ):
        raise TopologyError(
            source,
            None,
            f'a {NETSIM_TOPOLOGY_FORMAT} file needs "name" and "source" strings '
            'and a "warnings" list of strings',
            hint='rewrite it with netsim, or drop the "format" key to read it as plain node-link JSON',
        )
    return {"name": name, "source": origin, "warnings": warnings}
