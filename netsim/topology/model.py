"""The validated topology a run executes: named nodes, links with a transport, and what was fixed up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netsim.vocabulary import BUILTIN_APP_NAMES


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node of the graph.

    ``name`` is unique within the topology and is what apps use to address the node; ``index`` is its
    position in ``Topology.nodes`` (used for short socket paths). ``app`` comes from the node's ``app``
    attribute, ``None`` meaning "the run's default app". ``attrs`` keeps every other attribute as read
    (Latitude, Longitude, x, y, label, ...), JSON-compatible values only. ``cmd`` comes from the node's
    ``cmd`` attribute: a program's command line that the node runs instead of an app (a node has an
    ``app`` or a ``cmd``, not both).
    """

    name: str
    index: int
    app: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    cmd: str | None = None


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
    # Indexes built once, so that a lookup per node costs O(1) and a node's neighbours O(degree), not a
    # scan of every node or link (a 5,000-node run looks every node up).
    _by_name: dict[str, NodeSpec] = field(init=False, repr=False, compare=False)
    _neighbours: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        neighbours: dict[str, list[str]] = {node.name: [] for node in self.nodes}
        for link in self.links:
            neighbours.setdefault(link.a, []).append(link.b)
            neighbours.setdefault(link.b, []).append(link.a)
        # A frozen dataclass sets its own fields through object.__setattr__.
        object.__setattr__(self, "_by_name", {node.name: node for node in self.nodes})
        object.__setattr__(self, "_neighbours", neighbours)

    def node(self, name: str) -> NodeSpec:
        """The node named ``name``; KeyError if there is none."""
        return self._by_name[name]

    def code_apps(self) -> dict[str, tuple[str, ...]]:
        """Each app spec a node names that is not built in, with the nodes naming it, in node order.

        Such a spec (``module:Class``, ``path/to/file.py:Class``) is Python code that the topology
        file points at: ``netsim run`` imports it only when the user allows it
        (``--allow-topology-apps``) or chose the same app with ``--app``.
        """
        found: dict[str, list[str]] = {}
        for node in self.nodes:
            if node.app is not None and node.app not in BUILTIN_APP_NAMES:
                found.setdefault(node.app, []).append(node.name)
        return {spec: tuple(names) for spec, names in found.items()}

    def commands(self) -> dict[str, tuple[str, ...]]:
        """Each program command line a node's ``cmd`` names, with the nodes naming it, in node order."""
        found: dict[str, list[str]] = {}
        for node in self.nodes:
            if node.cmd is not None:
                found.setdefault(node.cmd, []).append(node.name)
        return {line: tuple(names) for line, names in found.items()}

    def neighbours(self, name: str) -> list[str]:
        """The names of ``name``'s neighbours, in link order (a new list: the caller may change it)."""
        return list(self._neighbours.get(name, ()))
