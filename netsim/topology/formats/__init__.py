"""One pure parser per topology file format: the file's content and its name in, a networkx graph out.

Like networkx's ``parse_gml`` beside ``read_gml``, a parser here never touches the file system: it takes
the text (bytes for GraphML, whose XML declares its own encoding) and ``source``, the name its
TopologyError messages give, and returns a :class:`ParsedGraph`. Opening, size and encoding checks and
the choice of parser by extension stay in ``netsim.topology.load``. networkx's own parsers do the
parsing; these modules check what networkx would accept silently or reject without a location, and
recover what an undirected networkx graph forgets (the edges' order and direction in the file).
"""

from __future__ import annotations

from netsim.topology.formats.adjlist import parse_adjlist
from netsim.topology.formats.common import EdgeOrder, ParsedGraph, find_overlong_integer
from netsim.topology.formats.edgelist import parse_edgelist
from netsim.topology.formats.gml import parse_gml
from netsim.topology.formats.graphml import parse_graphml
from netsim.topology.formats.node_link import NETSIM_TOPOLOGY_FORMAT, parse_node_link

__all__ = [
    "NETSIM_TOPOLOGY_FORMAT",
    "EdgeOrder",
    "ParsedGraph",
    "find_overlong_integer",
    "parse_adjlist",
    "parse_edgelist",
    "parse_gml",
    "parse_graphml",
    "parse_node_link",
]
