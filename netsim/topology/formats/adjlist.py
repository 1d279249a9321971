"""Adjacency list: ``parse_adjlist(text, source)``, a node and its neighbours a line."""

from __future__ import annotations

import networkx as nx

from netsim.topology.formats.common import EdgeOrder, ParsedGraph, line_content, reader_failed


def parse_adjlist(text: str, source: str) -> ParsedGraph:
    """The graph in adjacency list ``text``; raises TopologyError naming ``source``."""
    try:
        graph = nx.parse_adjlist(text.splitlines(), nodetype=str, create_using=nx.Graph)
    except Exception as error:
        raise reader_failed(source, "adjacency list", error) from None
    # An adjacency list often names each edge from both ends and carries no attributes, so repeats
    # merge silently (a simple Graph); the order kept is each pair's first mention.
    edge_order: EdgeOrder = []
    seen: set[frozenset[str]] = set()
    for line in text.splitlines():
        words = line_content(line).split()
        for neighbour in words[1:]:
            pair = frozenset((words[0], neighbour))
            if pair not in seen:
                seen.add(pair)
                edge_order.append((words[0], neighbour))
    return ParsedGraph(graph, edge_order=edge_order)
