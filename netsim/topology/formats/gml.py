"""GML: ``parse_gml(text, source)``, networkx's GML parser with located errors and the edges' file order."""

from __future__ import annotations

import html
import re
from collections.abc import Hashable

import networkx as nx

from netsim.errors import TopologyError
from netsim.topology.formats.common import EdgeOrder, ParsedGraph, reader_failed
from netsim.topology.parse import format_node_ids

_GML_DUPLICATE_EDGE = re.compile(r"^edge #\d+ \(.*\) is duplicated")
_GML_UNDEFINED_ENDPOINT = re.compile(r"^edge #(\d+) has undefined (?:source|target)")
_GML_DUPLICATE_NODE = re.compile(r"^node id (.+) is duplicated$")
_GML_TOKEN = re.compile(r'\s+|#[^\n]*|"[^"]*"|\[|\]|[^\s\[\]"#]+')


def parse_gml(text: str, source: str) -> ParsedGraph:
    """The graph in GML ``text``, nodes keyed by their ``id``; raises TopologyError naming ``source``."""
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
            raise reader_failed(source, "GML", error) from None
    except Exception as error:  # the reader's internals (KeyError, TypeError, ...) on odd input
        raise reader_failed(source, "GML", error) from None
    _node_ids, edges = _scan_gml(text)
    return ParsedGraph(graph, edge_order=edges)


def _parse_gml_as_multigraph(text: str, source: str) -> nx.Graph:
    forced = re.sub(r"\bgraph\s*\[", lambda match: f"{match[0]} multigraph 1", text, count=1)
    try:
        return nx.parse_gml(forced, label="id")
    except Exception as error:
        raise reader_failed(source, "GML", error) from None


def _gml_undefined_endpoint(text: str, source: str, edge_number: int, error: Exception) -> TopologyError:
    node_ids, edges = _scan_gml(text)
    if edge_number >= len(edges):
        return reader_failed(source, "GML", error)
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


def _scan_gml(text: str) -> tuple[list[Hashable], EdgeOrder]:
    """Node ids and edge (source, target) pairs in file order.

    networkx has already accepted the file when this runs: the scan only recovers what an undirected
    networkx graph forgets (the edges' order and direction), so it can stay this small.
    """
    node_ids: list[Hashable] = []
    edges: EdgeOrder = []
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
