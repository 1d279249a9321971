"""Topology files and generator specs in, :class:`Topology` out.

This is the one place where file-system and reader errors (``OSError``, ``UnicodeDecodeError``,
``NetworkXError``, ``json.JSONDecodeError``, ``xml.etree.ElementTree.ParseError``, ...) become
:class:`TopologyError`, each naming the file, the line or element, and a fix. Readers are picked by
extension; each returns the networkx graph plus the edges' order in the file, which an undirected
networkx graph does not keep.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
import json
import os
import re
import stat
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from netsim.errors import TopologyError
from netsim.topology.generate import (
    GENERATOR_KINDS,
    accepted_forms,
    check_seed,
    generate_graph,
    is_generator_spec,
    parse_generator_spec,
)
from netsim.topology.model import Topology
from netsim.topology.parse import NodeNames, format_node_ids, from_graph

# Extension -> format. Extensions are matched case-insensitively.
EXTENSION_FORMATS: dict[str, str] = {
    ".gml": "gml",
    ".graphml": "graphml",
    ".xml": "graphml",
    ".json": "json",
    ".edgelist": "edgelist",
    ".edges": "edgelist",
    ".adjlist": "adjlist",
}
ACCEPTED_EXTENSIONS: tuple[str, ...] = tuple(EXTENSION_FORMATS)

# The marker of netsim's own node-link files (``write_topology_json``): their node ids are the node
# names, and ``name``, ``source`` and ``warnings`` at the top level restore the Topology as it was run.
NETSIM_TOPOLOGY_FORMAT = "netsim-topology/1"

_BINARY_PROBE_BYTES = 8192
_EXTENSIONS_HINT = f"accepted extensions: {', '.join(ACCEPTED_EXTENSIONS)}"

EdgeOrder = list[tuple[Hashable, Hashable]]


@dataclass
class _Read:
    """What a reader found: the graph, the edges in file order, and what a netsim file restores."""

    graph: nx.Graph
    edge_order: EdgeOrder | None = None
    node_names: NodeNames = "label"
    restored: dict[str, Any] = field(default_factory=dict)


def load_topology(spec: str | os.PathLike[str], *, seed: int | None = None) -> Topology:
    """Load a topology file, or build the topology a generator spec (``ring:8``) stands for.

    A string ``KIND:ARGS`` with a known KIND is a generator spec unless a file of that name exists;
    anything else is a path. ``seed`` makes ``random:N:P`` reproducible. Raises TopologyError, or
    OptionError for a seed outside 64 bits (``check_seed``).
    """
    if seed is not None:
        check_seed(seed)
    source = os.fsdecode(spec)
    if is_generator_spec(source) and not os.path.lexists(source):
        kind, args = parse_generator_spec(source)
        return from_graph(generate_graph(kind, args, seed), source)
    read = _read_file(source)
    topology = from_graph(
        read.graph,
        source,
        read.restored.get("name"),
        edge_order=read.edge_order,
        node_names=read.node_names,
    )
    if read.restored:
        topology = dataclasses.replace(
            topology,
            source=read.restored["source"],
            warnings=tuple(read.restored["warnings"]),
        )
    return topology


def read_graph(path: str | os.PathLike[str]) -> nx.Graph:
    """Read a topology file into a networkx graph, picking the reader by extension.

    GML nodes are keyed by their ``id`` (labels stay attributes), GraphML, edge list and adjacency
    list nodes by their string id. Raises TopologyError only.
    """
    return _read_file(os.fsdecode(path)).graph


# -- files -------------------------------------------------------------------------------------------


def _read_file(source: str) -> _Read:
    path = Path(source)
    data = _read_bytes(path, source)
    file_format = EXTENSION_FORMATS[path.suffix.lower()]
    if not data.strip():
        raise TopologyError(
            source,
            None,
            "the file is empty",
            hint=f"write a {file_format} graph into it, or use a generator spec",
        )
    if file_format == "graphml":
        # XML declares its own encoding (possibly UTF-16, whose bytes include NULs): expat decodes it.
        if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            _refuse_binary(data, source)
        return _read_graphml(data, source)
    _refuse_binary(data, source)
    text = _decode(data, source)
    reader: Callable[[str, str], _Read] = {
        "gml": _read_gml,
        "json": _read_json,
        "edgelist": _read_edgelist,
        "adjlist": _read_adjlist,
    }[file_format]
    return reader(text, source)


def _read_bytes(path: Path, source: str) -> bytes:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise _missing_file(source) from None
    except PermissionError:
        raise TopologyError(
            source, None, "cannot look at the file: permission denied", hint="check the folder's permissions"
        ) from None
    except (OSError, ValueError) as error:
        raise TopologyError(source, None, f"cannot read the file: {_os_reason(error)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise TopologyError(
            source,
            None,
            "is a directory, not a topology file",
            hint=f"pass one file inside it ({_EXTENSIONS_HINT})",
        )
    if not stat.S_ISREG(info.st_mode):
        raise TopologyError(source, None, "is not a regular file", hint="pass a topology file")
    if path.suffix.lower() not in EXTENSION_FORMATS:
        shown = path.suffix or "(none)"
        raise TopologyError(
            source,
            None,
            f"unknown topology file extension {shown!r}",
            hint=f"rename the file to say its format; {_EXTENSIONS_HINT}",
        )
    try:
        return path.read_bytes()
    except PermissionError:
        raise TopologyError(
            source,
            None,
            "cannot read the file: permission denied",
            hint=f"make it readable (chmod u+r {source})",
        ) from None
    except OSError as error:
        raise TopologyError(source, None, f"cannot read the file: {_os_reason(error)}") from None


def _missing_file(source: str) -> TopologyError:
    match = re.match(r"^([a-z]+):", source)
    if match and match[1] not in GENERATOR_KINDS and "/" not in source:
        return TopologyError(
            source,
            None,
            f"no such file, and {match[1]!r} is not a generator kind "
            f"(known kinds: {', '.join(GENERATOR_KINDS)})",
            hint=f"accepted generator forms: {accepted_forms()}",
        )
    return TopologyError(
        source, None, "no such file", hint="check the path, or use a generator spec like ring:8 or grid:4x4"
    )


def _os_reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)


def _refuse_binary(data: bytes, source: str) -> None:
    offset = data.find(b"\x00", 0, _BINARY_PROBE_BYTES)
    if offset >= 0:
        raise TopologyError(
            source,
            None,
            f"the file holds binary data (a NUL byte at offset {offset}), not a text topology",
            hint=f"is this the right file? {_EXTENSIONS_HINT}",
        )


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TopologyError(
            source,
            f"line {line}",
            f"the file is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})",
            hint="save the file as UTF-8, or check that it is a topology file at all",
        ) from None


def find_overlong_integer(text: str) -> tuple[int, int] | None:
    """(line, digits) of the first run of digits longer than ``int()`` converts, or None.

    Python refuses to convert more than ``sys.get_int_max_str_digits()`` digits (4,300 by default),
    so a JSON or YAML reader raises a bare ValueError on such a number; this finds it for the error.
    """
    limit = sys.get_int_max_str_digits()
    match = re.search(rf"[0-9]{{{limit + 1},}}", text) if limit else None
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1, len(match[0])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reader_failed(source: str, file_format: str, error: BaseException) -> TopologyError:
    """Any error a networkx reader raises, as a TopologyError with its line when it gives one."""
    message = _one_line(str(error)) or type(error).__name__
    # int()'s own wording ends in advice about sys.set_int_max_str_digits(), which is not the fix here.
    message = re.sub(r"Exceeds the limit \((\d+) digits\) .*", r"a number longer than \1 digits", message)
    element = None
    position = re.search(r"\s*at \((\d+), (\d+)\)", message)
    if position:
        element = f"line {position[1]}"
        message = (message[: position.start()] + message[position.end() :]).strip()
    return TopologyError(
        source,
        element,
        f"not a valid {file_format} file: {message}",
        hint=f"check the {file_format} there, and that the file's extension matches its format",
    )


# -- GML -------------------------------------------------------------------------------------------

_GML_DUPLICATE_EDGE = re.compile(r"^edge #\d+ \(.*\) is duplicated")
_GML_UNDEFINED_ENDPOINT = re.compile(r"^edge #(\d+) has undefined (?:source|target)")
_GML_DUPLICATE_NODE = re.compile(r"^node id (.+) is duplicated$")
_GML_TOKEN = re.compile(r'\s+|#[^\n]*|"[^"]*"|\[|\]|[^\s\[\]"#]+')


def _read_gml(text: str, source: str) -> _Read:
    # label="id" always: Topology Zoo files repeat labels, which read_gml's default refuses.
    try:
        graph = nx.parse_gml(text, label="id")
    except nx.NetworkXError as error:
        message = str(error)
        if _GML_DUPLICATE_EDGE.match(message):
            # A simple graph that lists an edge twice: read it as a multigraph so that the parallel
            # edges get merged with a warning, like everywhere else, instead of refusing the file.
            graph = _parse_gml_as_multigraph(text, source)
        elif match := _GML_UNDEFINED_ENDPOINT.match(message):
            raise _gml_undefined_endpoint(text, source, int(match[1]), error) from None
        elif match := _GML_DUPLICATE_NODE.match(message):
            raise TopologyError(
                source, f"node {match[1]}", "the node id is defined twice", hint="give every node its own id"
            ) from None
        else:
            raise _reader_failed(source, "GML", error) from None
    except Exception as error:  # the reader's internals (KeyError, TypeError, ...) on odd input
        raise _reader_failed(source, "GML", error) from None
    _node_ids, edges = _scan_gml(text)
    return _Read(graph, edge_order=edges)


def _parse_gml_as_multigraph(text: str, source: str) -> nx.Graph:
    forced = re.sub(r"\bgraph\s*\[", lambda match: f"{match[0]} multigraph 1", text, count=1)
    try:
        return nx.parse_gml(forced, label="id")
    except Exception as error:
        raise _reader_failed(source, "GML", error) from None


def _gml_undefined_endpoint(text: str, source: str, edge_number: int, error: Exception) -> TopologyError:
    node_ids, edges = _scan_gml(text)
    if edge_number >= len(edges):
        return _reader_failed(source, "GML", error)
    edge_source, edge_target = edges[edge_number]
    known = set(node_ids)
    missing = edge_source if edge_source not in known else edge_target
    return TopologyError(
        source,
        f"edge {edge_source} -> {edge_target}",
        f"node {missing} is not defined (known nodes: {format_node_ids(node_ids)})",
        hint=f"add a node with id {missing}, or fix the edge's source and target",
    )


def _gml_value(token: str) -> Hashable:
    """A GML value token as networkx's GML reader types it (int, float or str)."""
    if token.startswith('"'):
        return html.unescape(token[1:-1])
    for convert in (int, float):
        try:
            return convert(token)
        except ValueError:
            pass
    return token


def _scan_gml(text: str) -> tuple[list[Hashable], list[tuple[Hashable, Hashable]]]:
    """Node ids and edge (source, target) pairs in file order.

    networkx has already accepted the file when this runs: the scan only recovers what an undirected
    networkx graph forgets (the edges' order and direction), so it can stay this small.
    """
    node_ids: list[Hashable] = []
    edges: list[tuple[Hashable, Hashable]] = []
    open_keys: list[str] = []
    key: str | None = None
    record: dict[str, Hashable] = {}
    for match in _GML_TOKEN.finditer(text):
        token = match[0]
        if token[0].isspace() or token[0] == "#":
            continue
        if key is None:
            if token == "]" and open_keys:
                closed = open_keys.pop()
                if open_keys == ["graph"] and closed == "node":
                    node_ids.append(record.get("id"))
                elif open_keys == ["graph"] and closed == "edge":
                    edges.append((record.get("source"), record.get("target")))
            elif token not in ("[", "]"):
                key = token
            continue
        if token == "[":
            open_keys.append(key)
            if len(open_keys) == 2:
                record = {}
        elif len(open_keys) == 2 and key in ("id", "source", "target"):
            record[key] = _gml_value(token)
        key = None
    return node_ids, edges


# -- GraphML -----------------------------------------------------------------------------------------


_GRAPHML_NAMESPACE = "http://graphml.graphdrawing.org/xmlns"


def _local_name(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _read_graphml(data: bytes, source: str) -> _Read:
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
    if _local_name(root.tag) != "graphml":
        raise TopologyError(
            source,
            None,
            f"not a GraphML file: the root element is <{_local_name(root.tag)}>, not <graphml>",
            hint="save the graph as GraphML, or give the file the extension of its format",
        )
    graph_element = next((child for child in root if _local_name(child.tag) == "graph"), None)
    if graph_element is None:
        raise TopologyError(
            source, None, "the GraphML file has no <graph> element", hint="add a <graph> with nodes"
        )
    edge_order = _check_graphml_ids(graph_element, source)
    if not root.tag.startswith("{"):
        data = _with_graphml_namespace(root)
    try:
        graph = nx.parse_graphml(data, force_multigraph=True)
    except Exception as error:  # NetworkXError, KeyError, ValueError ... from the reader's internals
        raise _reader_failed(source, "GraphML", error) from None
    _apply_graphml_defaults(graph)
    return _Read(graph, edge_order=edge_order)


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


# -- node-link JSON ----------------------------------------------------------------------------------

# networkx renamed node_link_graph's ``link`` parameter to ``edges`` in 3.4.
_EDGES_PARAMETER = "edges" if "edges" in inspect.signature(nx.node_link_graph).parameters else "link"


def _read_json(text: str, source: str) -> _Read:
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
        problem = f"a number of {overlong[1]} digits" if overlong else _one_line(str(error))
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
        raise _reader_failed(source, "node-link JSON", error) from None
    if restored:
        return _Read(graph, edge_order=edge_order, node_names="id", restored=restored)
    return _Read(graph, edge_order=edge_order)


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
    if data.get("format") != NETSIM_TOPOLOGY_FORMAT:
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


# -- edge list and adjacency list ---------------------------------------------------------------------


def _content(line: str) -> str:
    # networkx's readers cut comments at the first "#" and split on whitespace.
    return line.split("#", 1)[0].strip()


def _read_edgelist(text: str, source: str) -> _Read:
    graph = nx.MultiGraph()
    edge_order: EdgeOrder = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = _content(line)
        if not content:
            continue
        words = content.split()
        if len(words) < 2:
            raise TopologyError(
                source,
                f"line {number}",
                f"expected an edge 'a b' or 'a b {{...}}', found {content!r}",
                hint="an edge list cannot hold isolated nodes: use .adjlist, .gml, .graphml or .json",
            )
        try:
            parsed = nx.parse_edgelist([content], nodetype=str, data=True, create_using=nx.MultiGraph)
        except Exception as error:  # networkx wraps literal_eval's SyntaxError/ValueError in TypeError
            raise TopologyError(
                source,
                f"line {number}",
                f"not a valid edge list line: {_one_line(str(error))}",
                hint="write 'a b' or 'a b {\"transport\": \"udp\"}' (attributes as a Python dict literal)",
            ) from None
        graph.add_edges_from(parsed.edges(data=True))
        edge_order.append((words[0], words[1]))
    return _Read(graph, edge_order=edge_order)


def _read_adjlist(text: str, source: str) -> _Read:
    try:
        graph = nx.parse_adjlist(text.splitlines(), nodetype=str, create_using=nx.Graph)
    except Exception as error:
        raise _reader_failed(source, "adjacency list", error) from None
    # An adjacency list often names each edge from both ends and carries no attributes, so repeats
    # merge silently (a simple Graph); the order kept is each pair's first mention.
    edge_order: EdgeOrder = []
    seen: set[frozenset[str]] = set()
    for line in text.splitlines():
        words = _content(line).split()
        for neighbour in words[1:]:
            pair = frozenset((words[0], neighbour))
            if pair not in seen:
                seen.add(pair)
                edge_order.append((words[0], neighbour))
    return _Read(graph, edge_order=edge_order)
