"""Topologies: files and generator specs in, validated :class:`Topology` out, and back again.

``load_topology("topologies/abilene.gml")`` or ``load_topology("ring:8")`` is the entry point; the
modules split the work: ``model`` (the dataclasses), ``parse`` (pure: networkx graph -> Topology),
``formats`` (pure: one parser per file format, text -> networkx graph, with located errors), ``load``
(files -> text -> the format's parser, where I/O and encoding errors become TopologyError),
``generate`` (generator specs) and ``write`` (Topology -> node-link JSON, files, and ``describe``).

Every name here is imported on first use (PEP 562), and networkx only by the code that builds, parses
or writes a graph: the model, the generator forms and the file extensions cost no networkx import, so
the CLI's help and a run's plans do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from netsim.topology.formats import NETSIM_TOPOLOGY_FORMAT
    from netsim.topology.generate import (
        GENERATOR_FORMS,
        GENERATOR_KINDS,
        canonical_spec,
        generate_graph,
        is_generator_spec,
        parse_generator_spec,
    )
    from netsim.topology.load import ACCEPTED_EXTENSIONS, EXTENSION_FORMATS, load_topology, read_graph
    from netsim.topology.model import LinkSpec, NodeSpec, Topology
    from netsim.topology.parse import from_graph, from_networkx, to_json_value
    from netsim.topology.write import (
        describe,
        topology_to_graph,
        topology_to_node_link,
        write_topology,
        write_topology_json,
    )

# Public name -> the module that defines it.
_HOMES: dict[str, str] = {
    "NETSIM_TOPOLOGY_FORMAT": "netsim.topology.formats",
    **dict.fromkeys(
        (
            "GENERATOR_FORMS",
            "GENERATOR_KINDS",
            "canonical_spec",
            "generate_graph",
            "is_generator_spec",
            "parse_generator_spec",
        ),
        "netsim.topology.generate",
    ),
    **dict.fromkeys(
        ("ACCEPTED_EXTENSIONS", "EXTENSION_FORMATS", "load_topology", "read_graph"), "netsim.topology.load"
    ),
    **dict.fromkeys(("LinkSpec", "NodeSpec", "Topology"), "netsim.topology.model"),
    **dict.fromkeys(("from_graph", "from_networkx", "to_json_value"), "netsim.topology.parse"),
    **dict.fromkeys(
        (
            "describe",
            "topology_to_graph",
            "topology_to_node_link",
            "write_topology",
            "write_topology_json",
        ),
        "netsim.topology.write",
    ),
}

__all__ = [
    "ACCEPTED_EXTENSIONS",
    "EXTENSION_FORMATS",
    "GENERATOR_FORMS",
    "GENERATOR_KINDS",
    "NETSIM_TOPOLOGY_FORMAT",
    "LinkSpec",
    "NodeSpec",
    "Topology",
    "canonical_spec",
    "describe",
    "from_graph",
    "from_networkx",
    "generate_graph",
    "is_generator_spec",
    "load_topology",
    "parse_generator_spec",
    "read_graph",
    "to_json_value",
    "topology_to_graph",
    "topology_to_node_link",
    "write_topology",
    "write_topology_json",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals(), __all__)
