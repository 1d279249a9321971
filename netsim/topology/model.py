"""The validated topology a run executes: named nodes, links with a transport, and what was fixed up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node of the graph.

    ``name`` is unique within the topology and is what apps use to address the node; ``index`` is its
    position in ``Topology.nodes`` (used for short socket paths). ``app`` comes from the node's ``app``
    attribute, ``None`` meaning "the run's default app". ``attrs`` keeps every other attribute as read
    (Latitude, Longitude, x, y, label, ...), JSON-compatible values only.
    """

    name: str
    index: int
    app: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """One undirected link between two distinct nodes.

    ``a`` is the side that connects, ``b`` the side that listens (for stream transports); the order is
    the edge's order in the file. ``transport`` comes from the edge's ``transport`` attribute, ``None``
    meaning "the run's default transport".
    """

    a: str
    b: str
    transport: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Topology:
    """A topology ready to run.

    ``source`` is the file path or generator spec it came from, ``name`` a short label for run ids and
    summaries. ``warnings`` lists what loading fixed up (self-loops dropped, parallel links merged, ...)
    so that ``topo show`` and ``netsim run`` can tell the user.
    """

    name: str
    source: str
    nodes: tuple[NodeSpec, ...]
    links: tuple[LinkSpec, ...]
    graph_attrs: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def neighbours(self, name: str) -> list[str]:
        """The names of ``name``'s neighbours, in link order."""
        found: list[str] = []
        for link in self.links:
            if link.a == name:
                found.append(link.b)
            elif link.b == name:
                found.append(link.a)
        return found
