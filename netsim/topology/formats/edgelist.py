"""Edge list: ``parse_edgelist(text, source)``, one edge a line, networkx's parser line by line."""

from __future__ import annotations

import networkx as nx

from netsim.errors import TopologyError
from netsim.topology.formats.common import EdgeOrder, ParsedGraph, line_content, one_line


def parse_edgelist(text: str, source: str) -> ParsedGraph:
    """The multigraph in edge list ``text`` (``a b`` or ``a b {...}``); raises TopologyError naming the line.

    Each line goes to networkx alone, so that an error names its line.
    """
    graph = nx.MultiGraph()
    edge_order: EdgeOrder = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line_content(line)
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
                f"not a valid edge list line: {one_line(str(error))}",
                hint="write 'a b' or 'a b {\"transport\": \"udp\"}' (attributes as a Python dict literal)",
            ) from None
        graph.add_edges_from(parsed.edges(data=True))
        edge_order.append((words[0], words[1]))
    return ParsedGraph(graph, edge_order=edge_order)
