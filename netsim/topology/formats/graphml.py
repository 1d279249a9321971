"""GraphML: ``parse_graphml(data, source)``, networkx's GraphML parser after netsim's own id checks."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import networkx as nx
from networkx.readwrite.graphml import GraphMLReader

from netsim.errors import TopologyError
from netsim.topology.formats.common import EdgeOrder, ParsedGraph, reader_failed
from netsim.topology.parse import format_node_ids

_GRAPHML_NAMESPACE = "http://graphml.graphdrawing.org/xmlns"


def parse_graphml(data: bytes, source: str) -> ParsedGraph:
    """The graph in GraphML ``data`` (bytes: the XML declares its own encoding); raises TopologyError.

    Nodes are keyed by their string id; ``<default>`` values are applied to every node and edge
    that leaves the key out.
    """
    # networkx's GraphML reader creates any node an edge mentions, so check the ids first, with the
    # same ElementTree parser it uses (the file is the user's own, not untrusted network input).
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        line, column = error.position
        reason = re.sub(r": line \d+, column \d+$", "", str(error))
        raise TopologyError(
            source,
            f"line {line}",
            f"not well-formed XML: {reason} (column {column + 1})",
            hint="fix the XML there; GraphML is XML with <graphml>, <graph>, <node> and <edge> elements",
        ) from None
    except (LookupError, ValueError) as error:
        # The XML declaration names an encoding Python does not have, or one that cannot be used.
        raise TopologyError(
            source,
            "line 1",
            f"the XML declaration's encoding cannot be read: {error}",
            hint="save it as UTF-8",
        ) from None
    if _local_name(root.tag) != "graphml":
        raise TopologyError(
            source,
            None,
            f"not a GraphML file: the root element is <{_local_name(root.tag)}>, not <graphml>",
            hint="save the graph as GraphML, or give the file the extension of its format",
        )
    graph_elements = [child for child in root if _local_name(child.tag) == "graph"]
    if not graph_elements:
        raise TopologyError(
            source, None, "the GraphML file has no <graph> element", hint="add a <graph> with nodes"
        )
    if len(graph_elements) > 1:
        # networkx would read the first and drop the rest without a word.
        raise TopologyError(
            source,
            None,
            f"the GraphML file holds {len(graph_elements)} <graph> elements; a topology is one graph",
            hint="save each graph in a file of its own",
        )
    graph_element = graph_elements[0]
    edge_order = _check_graphml_ids(graph_element, source)
    if not root.tag.startswith("{"):
        data = _with_graphml_namespace(root)
    try:
        graphs = list(_PythonTypesReader(force_multigraph=True)(string=data))
    except Exception as error:  # NetworkXError, KeyError, ValueError ... from the reader's internals
        raise reader_failed(source, "GraphML", error) from None
    if not graphs:
        raise reader_failed(source, "GraphML", nx.NetworkXError("no graph in the file"))
    graph = graphs[0]
    _apply_graphml_defaults(graph)
    return ParsedGraph(graph, edge_order=edge_order)


class _PythonTypesReader(GraphMLReader):
    """networkx's GraphML reader without numpy's types in its type table.

    Its table maps GraphML types to Python types for reading and numpy types to GraphML types for
    writing; reading keeps the Python types whatever the table holds, but building the table imports
    numpy whenever numpy is installed (matplotlib brings it), ~100 ms of a `topo validate`.
    """

    def construct_types(self) -> None:
        self.xml_type = dict(PYTHON_GRAPHML_TYPES)
        self.python_type = {name: kind for kind, name in PYTHON_GRAPHML_TYPES}


# networkx's own table (GraphML.construct_types) less numpy; a test holds the two to the same reading.
PYTHON_GRAPHML_TYPES: tuple[tuple[type, str], ...] = (
    (int, "integer"),  # Gephi writes "integer"
    (str, "yfiles"),
    (str, "string"),
    (int, "int"),
    (int, "long"),
    (float, "float"),
    (float, "double"),
    (bool, "boolean"),
)


def _local_name(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _with_graphml_namespace(root: ET.Element) -> bytes:
    # networkx finds elements by their namespaced tags and repairs only an exact "<graphml>" start
    # tag (and only in str input), so files that leave the namespace out get it here.
    for element in root.iter():
        if isinstance(element.tag, str) and not element.tag.startswith("{"):
            element.tag = f"{{{_GRAPHML_NAMESPACE}}}{element.tag}"
    return ET.tostring(root)


def _graphml_elements(graph_element: ET.Element, nodes: list[ET.Element], edges: list[ET.Element]) -> None:
    """The node and edge elements networkx reads: this graph's, and yEd group nodes' nested graphs."""
    for child in graph_element:
        if _local_name(child.tag) == "node":
            nodes.append(child)
            if child.get("yfiles.foldertype") == "group":
                nested = next((item for item in child if _local_name(item.tag) == "graph"), None)
                if nested is not None:
                    _graphml_elements(nested, nodes, edges)
    for child in graph_element:
        if _local_name(child.tag) == "edge":
            edges.append(child)


def _check_graphml_ids(graph_element: ET.Element, source: str) -> EdgeOrder:
    nodes: list[ET.Element] = []
    edges: list[ET.Element] = []
    _graphml_elements(graph_element, nodes, edges)
    node_ids: list[str] = []
    seen: set[str] = set()
    for number, node in enumerate(nodes):
        node_id = node.get("id")
        if node_id is None:
            raise TopologyError(
                source, f"node #{number}", "the <node> element has no id attribute", hint='add id="..." to it'
            )
        if node_id in seen:
            raise TopologyError(
                source, f"node {node_id}", "the node id is defined twice", hint="give every <node> its own id"
            )
        seen.add(node_id)
        node_ids.append(node_id)
    edge_order: EdgeOrder = []
    for number, edge in enumerate(edges):
        edge_source, edge_target = edge.get("source"), edge.get("target")
        if edge_source is None or edge_target is None:
            raise TopologyError(
                source,
                f"edge #{number}",
                "the <edge> element needs both a source and a target attribute",
                hint='write <edge source="a" target="b"/>',
            )
        for endpoint in (edge_source, edge_target):
            if endpoint not in seen:
                raise TopologyError(
                    source,
                    f"edge {edge_source} -> {edge_target}",
                    f"node {endpoint} is not defined (known nodes: {format_node_ids(node_ids)})",
                    hint=f'add <node id="{endpoint}"/>, or fix the edge\'s source and target',
                )
        edge_order.append((edge_source, edge_target))
    return edge_order


def _apply_graphml_defaults(graph: nx.Graph) -> None:
    # GraphML <default> values hold for every element that leaves the key out; networkx only records
    # them in graph["node_default"] / graph["edge_default"], so apply them here (transport included).
    node_defaults = graph.graph.pop("node_default", None) or {}
    edge_defaults = graph.graph.pop("edge_default", None) or {}
    for _node, data in graph.nodes(data=True):
        for key, value in node_defaults.items():
            data.setdefault(key, value)
    for _u, _v, data in graph.edges(data=True):
        for key, value in edge_defaults.items():
            data.setdefault(key, value)
