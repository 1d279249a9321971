"""Which host of a cluster runs which node: a Topology and the cluster's hosts in, a Placement out.

Pure: no sockets, no processes, no Ray; networkx is imported inside the one function that needs it.

Rules every mode follows, in this order:

1. **Pins.** A node attribute ``host`` pins the node to the host whose ``name`` (``h1``) or
   ``address`` (``10.0.0.2``) it equals; names are matched first, and an address that several hosts
   share (Ray's local test clusters run every node on one address) pins to the first of them. A value
   that matches no host is a TopologyError naming the node and listing the hosts.
2. **Groups.** Some links cannot cross hosts: AF_UNIX ones (``unix``, ``unix-dgram``,
   ``unix-seqpacket``) always, and ``tcp6``/``udp6`` ones unless every host has an IPv6 address
   (``Host.address6``). A link's transport is its own, else the run's default. The connected
   components of those links are *groups*: a group's nodes always land on one host, so a group moves as
   one unit. A group pinned to two hosts is the one placement a topology can fail: a TopologyError
   names the two nodes, their hosts and the transport that joins them. CPU counts are balance weights,
   never caps: any other topology places, however lopsided.

Then the mode decides where the units that are not pinned go:

- ``pack``: on h0, the first host (the launcher's own when it is in the cluster). Only pins (and the
  groups they hold) go elsewhere.
- ``spread``: units dealt out in topology order, each to the host whose count would stay lowest
  relative to its CPUs (ties to the lowest index): a weighted round-robin, so that neighbours in node
  order mostly land on different hosts and most links cross the network. Pinned nodes count against
  their host from the start.
- ``balanced`` (the default): each host gets a share of the nodes proportional to its CPUs, pinned
  nodes counted against their host's share, while cutting as few links as possible:

  a. Pinned units go to their host.
  b. Unpinned groups, largest first (then in node order), go to a host whose remaining share
     (its CPU share of all nodes, less what it holds) still fits the group, preferring the one that
     holds most of the group's neighbours placed so far, then the most remaining share; a group that
     fits nowhere goes to the host with most remaining share.
  c. The integer number of free nodes each host still takes is worked out by water-filling (a host
     that already holds more than its share takes none, the others share the rest by CPUs) and
     largest remainders, so every host ends within one node of its share wherever pins and groups
     allow it.
  d. The free nodes (neither pinned nor grouped) are split by recursive bisection: the hosts in
     order are cut into two runs whose remaining capacities are as equal as possible, the nodes into
     two parts of exactly those sizes, and each side recursed into. Each bisection starts from the
     better (fewer links cut) of two orderings of its nodes, topology order and a breadth-first order
     from a pseudo-peripheral node (so a generated grid or ring starts with a straight cut), and is
     refined by networkx's ``kernighan_lin_bisection`` (which swaps pairs, so sizes stay as seeded).
     Only links among the free nodes are weighed there: links from a free node to a pinned or grouped
     node do not pull it towards that node's host.

Deterministic: the same topology, hosts, mode and seed give the same placement in any process. The
graphs handed to networkx have integer nodes (the topology index), whose hashes do not change with
``PYTHONHASHSEED``. ``seed`` is passed to ``kernighan_lin_bisection``, which (networkx 3.6) draws from it
only when it is given no starting partition, so today the placement does not depend on it.

Cost, measured with networkx 3.6 on one core (best of 2 or 3, ``balanced`` on 2 and 4 hosts of equal
CPUs): a 2,000-node G(n, p = 0.005) graph (10,025 links) 0.10 s and 0.20 s; a 5,000-node 50x100 grid 0.25
s and 0.31 s; a 20,000-node G(n, 0.0005) (100,369 links) 1.2 s and 2.5 s; a 100,000-node G(n, 0.0001)
(500,000 links; 100,000 nodes is the generators' cap) 7 s and 13 s, of which about 4 s is the seeding
without Kernighan-Lin. Nearly all of the rest is networkx's Kernighan-Lin, one sweep of which costs
O(links log nodes) in Python: a bisection keeps networkx's 10 sweeps while its graph has up to 30,000
nodes and links together, and fewer above (``_KL_SWEEP_BUDGET``, at least one), which took the
20,000-node graph from 3.1 s and 5.0 s down to the figures above for about 1% more links cut. ``spread``
and ``pack`` take under 0.2 s for 20,000 nodes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from netsim.errors import OptionError, TopologyError
from netsim.vocabulary import DEFAULT_TRANSPORT

if TYPE_CHECKING:
    from netsim.topology.model import Topology

PLACEMENTS = ("balanced", "spread", "pack")

# AF_UNIX sockets reach only processes of the same kernel; IPv6 ones cross hosts only between hosts
# that both have an IPv6 address.
_AF_UNIX_TRANSPORTS = frozenset({"unix", "unix-dgram", "unix-seqpacket"})
_IPV6_TRANSPORTS = frozenset({"tcp6", "udp6"})
# Kernighan-Lin's sweeps per bisection: networkx's default, cut down for big graphs so that the sweeps
# of one bisection touch at most about this many nodes and links in all (see the module docstring).
_KL_MAX_SWEEPS = 10
_KL_SWEEP_BUDGET = 300_000
# How many hosts an error's hint lists before it stops.
_HINT_HOSTS = 10


@dataclass(frozen=True, slots=True)
class Host:
    """One machine of the cluster that can run nodes.

    ``name`` is netsim's own (``h0``, ``h1``, ...; h0 is the launcher's host when it is in the
    cluster); ``address`` is the IPv4 address nodes bind for links that cross hosts; ``cpus`` the
    host's CPUs as the cluster reports them, the balance weight (> 0); ``address6`` an IPv6 address of
    the host, if it has one: tcp6/udp6 links may cross hosts only when every host has one.
    ``node_id`` is the cluster's own id for the host (a Ray node id); placement does not use it.
    """

    name: str
    address: str
    cpus: float
    address6: str | None = None
    node_id: str = ""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where each node of a topology runs.

    ``host_of`` maps every node's name to an index into ``hosts``, in topology node order.
    ``cross_host_links`` counts the links whose two ends are on different hosts, out of ``links``
    (every link of the topology).
    """

    mode: str
    hosts: tuple[Host, ...]
    host_of: dict[str, int]
    cross_host_links: int
    links: int = 0

    def nodes_on(self, host: int) -> list[str]:
        """The names of the nodes on ``hosts[host]``, in topology node order."""
        return [node for node, index in self.host_of.items() if index == host]

    def host_name(self, node: str) -> str:
        """The name of the host that runs ``node``; KeyError for a node the topology does not have."""
        return self.hosts[self.host_of[node]].name

    def to_json(self) -> dict[str, Any]:
        """The placement as plain JSON values, for the summary and the trace header."""
        counts = [0] * len(self.hosts)
        for index in self.host_of.values():
            counts[index] += 1
        return {
            "mode": self.mode,
            "cross_host_links": self.cross_host_links,
            "links": self.links,
            "hosts": [
                {
                    "name": host.name,
                    "address": host.address,
                    "address6": host.address6,
                    "cpus": host.cpus,
                    "nodes": count,
                }
                for host, count in zip(self.hosts, counts, strict=True)
            ],
            "node_host": {node: self.hosts[index].name for node, index in self.host_of.items()},
        }


def describe(placement: Placement) -> list[str]:
    """Plain-text lines for ``netsim topo show --cluster``: one per host, then the links that cross."""
    counts = [len(placement.nodes_on(index)) for index in range(len(placement.hosts))]
    addresses = [host.address + (f" {host.address6}" if host.address6 else "") for host in placement.hosts]
    name_width = max(len(host.name) for host in placement.hosts)
    address_width = max(len(address) for address in addresses)
    lines = [
        f"{host.name:<{name_width}}  {address:<{address_width}}  {host.cpus:g} CPUs  "
        f"{count} node{'' if count == 1 else 's'}"
        for host, address, count in zip(placement.hosts, addresses, counts, strict=True)
    ]
    lines.append(
        f"{placement.cross_host_links} of {placement.links} link{'' if placement.links == 1 else 's'} "
        f"cross hosts (placement {placement.mode})"
    )
    return lines


def place(
    topo: Topology,
    hosts: Sequence[Host],
    mode: str = "balanced",
    *,
    default_transport: str = DEFAULT_TRANSPORT,
    seed: int = 0,
) -> Placement:
    """Place every node of ``topo`` on one of ``hosts`` by ``mode`` (see the module docstring).

    Raises OptionError for an unknown mode, no hosts or a host without CPUs, and TopologyError for a
    pin that names no host or a group of nodes that must share a host but is pinned to two.
    """
    if mode not in PLACEMENTS:
        raise OptionError(f"unknown --placement {mode!r}", hint=f"use one of: {', '.join(PLACEMENTS)}")
    hosts = tuple(hosts)
    if not hosts:
        raise OptionError("the cluster has no hosts that are alive")
    for host in hosts:
        if not (isinstance(host.cpus, (int, float)) and math.isfinite(host.cpus) and host.cpus > 0):
            raise OptionError(
                f"host {host.name} ({host.address}) reports {host.cpus!r} CPUs: a host's CPUs must be "
                "a number above 0",
                hint="leave hosts without CPUs out of the cluster's hosts",
            )
    names = [node.name for node in topo.nodes]
    pins = _pins(topo, hosts)
    units = _units(topo, hosts, default_transport)
    unit_pins = [_unit_pin(topo, hosts, unit, pins, units.local_links) for unit in units.members]

    host_of_index: list[int] = [-1] * len(names)
    load = [0] * len(hosts)

    def assign(unit: int, host: int) -> None:
        for member in units.members[unit]:
            host_of_index[member] = host
        load[host] += len(units.members[unit])

    for unit, pin in enumerate(unit_pins):
        if pin is not None:
            assign(unit, pin)
    unpinned = [unit for unit, pin in enumerate(unit_pins) if pin is None]

    if mode == "pack":
        for unit in unpinned:
            assign(unit, 0)
    elif mode == "spread":
        weights = [Fraction(host.cpus) for host in hosts]
        for unit in unpinned:
            size = len(units.members[unit])
            best = min(range(len(hosts)), key=lambda index: ((load[index] + size) / weights[index], index))
            assign(unit, best)
    else:
        _place_balanced(topo, hosts, units, unpinned, host_of_index, assign, load, seed)

    host_of = {name: host_of_index[index] for index, name in enumerate(names)}
    cross = sum(1 for link in topo.links if host_of[link.a] != host_of[link.b])
    return Placement(mode, hosts, host_of, cross, len(topo.links))


# --- pins and groups ----------------------------------------------------------------------------------------


def _pins(topo: Topology, hosts: tuple[Host, ...]) -> dict[int, int]:
    """Node index -> host index for every node whose ``host`` attribute pins it."""
    by_key: dict[str, int] = {}
    for index, host in reversed(list(enumerate(hosts))):
        by_key[host.address] = index  # reversed: an address shared by several hosts means the first
    for index, host in reversed(list(enumerate(hosts))):
        by_key[host.name] = index  # after the addresses: a name wins over an address
    pins: dict[int, int] = {}
    for node in topo.nodes:
        if "host" not in node.attrs:
            continue
        value = node.attrs["host"]
        host_index = by_key.get(value) if isinstance(value, str) else None
        if host_index is None:
            shown = ", ".join(f"{host.name} ({host.address})" for host in hosts[:_HINT_HOSTS])
            more = f", ... ({len(hosts)} hosts)" if len(hosts) > _HINT_HOSTS else ""
            raise TopologyError(
                topo.source,
                f"node {node.name!r}",
                f"attribute host={value!r} names no host of the cluster",
                hint=f"use one of: {shown}{more}",
            )
        pins[node.index] = host_index
    return pins


@dataclass(frozen=True, slots=True)
class _Units:
    """The topology's nodes in units that move together: ``members`` lists each unit's node indexes
    (ascending; units in order of their first node), ``unit_of`` maps a node index to its unit, and
    ``local_links`` maps a node index to its neighbours over links that cannot cross hosts, with the
    transport of each."""

    members: list[list[int]]
    unit_of: list[int]
    local_links: dict[int, list[tuple[int, str]]]


def _units(topo: Topology, hosts: tuple[Host, ...], default_transport: str) -> _Units:
    local_only = set(_AF_UNIX_TRANSPORTS)
    if not all(host.address6 for host in hosts):
        local_only |= _IPV6_TRANSPORTS
    index_of = {node.name: node.index for node in topo.nodes}
    parent = list(range(len(topo.nodes)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    local_links: dict[int, list[tuple[int, str]]] = {}
    for link in topo.links:
        transport = link.transport or default_transport
        if transport not in local_only:
            continue
        a, b = index_of[link.a], index_of[link.b]
        local_links.setdefault(a, []).append((b, transport))
        local_links.setdefault(b, []).append((a, transport))
        root_a, root_b = root(a), root(b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    members: list[list[int]] = []
    unit_of_root: dict[int, int] = {}
    unit_of = [0] * len(topo.nodes)
    for index in range(len(topo.nodes)):
        top = root(index)
        if top not in unit_of_root:
            unit_of_root[top] = len(members)
            members.append([])
        unit_of[index] = unit_of_root[top]
        members[unit_of[index]].append(index)
    return _Units(members, unit_of, local_links)


def _unit_pin(
    topo: Topology,
    hosts: tuple[Host, ...],
    members: list[int],
    pins: dict[int, int],
    local_links: dict[int, list[tuple[int, str]]],
) -> int | None:
    """The host a unit is pinned to, None if none of its nodes is; TopologyError if pinned to two."""
    pinned = [index for index in members if index in pins]
    if not pinned:
        return None
    first = pinned[0]
    other = next((index for index in pinned if pins[index] != pins[first]), None)
    if other is None:
        return pins[first]
    path = _local_path(first, other, local_links)
    transports = list(dict.fromkeys(transport for _, transport in path))
    names = [topo.nodes[index].name for index in (first, other)]
    host_a, host_b = hosts[pins[first]], hosts[pins[other]]
    if len(path) == 1:
        joined = f"a {transports[0]} link"
    else:
        via = ", ".join(repr(topo.nodes[index].name) for index, _ in path[:-1])
        joined = f"{' and '.join(transports)} links through {via}"
    why = "AF_UNIX sockets reach only their own host"
    if any(transport in _IPV6_TRANSPORTS for transport in transports):
        lacking = next(host.name for host in hosts if not host.address6)
        why = f"tcp6 and udp6 cross hosts only when every host has an IPv6 address ({lacking} has none)"
        if any(transport in _AF_UNIX_TRANSPORTS for transport in transports):
            why = f"AF_UNIX sockets reach only their own host, and {why}"
    raise TopologyError(
        topo.source,
        f"nodes {names[0]!r} and {names[1]!r}",
        f"pinned to hosts {host_a.name} and {host_b.name}, but joined by {joined}, which cannot cross "
        f"hosts ({why})",
        hint=f"pin both to one host, or give the link{'' if len(path) == 1 else 's'} transport tcp or udp",
    )


def _local_path(
    start: int, goal: int, local_links: dict[int, list[tuple[int, str]]]
) -> list[tuple[int, str]]:
    """The shortest path from ``start`` to ``goal`` over local-only links, as (next node, transport)."""
    came_from: dict[int, tuple[int, str]] = {start: (start, "")}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current == goal:
            break
        for neighbour, transport in local_links.get(current, ()):
            if neighbour not in came_from:
                came_from[neighbour] = (current, transport)
                queue.append(neighbour)
    path: list[tuple[int, str]] = []
    current = goal
    while current != start:
        previous, transport = came_from[current]
        path.append((current, transport))
        current = previous
    path.reverse()
    return path


# --- balanced -----------------------------------------------------------------------------------------------


def _place_balanced(
    topo: Topology,
    hosts: tuple[Host, ...],
    units: _Units,
    unpinned: list[int],
    host_of_index: list[int],
    assign: Callable[[int, int], None],
    load: list[int],
    seed: int,
) -> None:
    total = len(topo.nodes)
    weights = [Fraction(host.cpus) for host in hosts]
    weight_sum = sum(weights)
    target = [total * weight / weight_sum for weight in weights]
    index_of = {node.name: node.index for node in topo.nodes}
    neighbours: list[list[int]] = [[] for _ in topo.nodes]
    for link in topo.links:
        a, b = index_of[link.a], index_of[link.b]
        neighbours[a].append(b)
        neighbours[b].append(a)

    groups = [unit for unit in unpinned if len(units.members[unit]) > 1]
    groups.sort(key=lambda unit: (-len(units.members[unit]), units.members[unit][0]))
    for unit in groups:
        size = len(units.members[unit])
        near = [0] * len(hosts)
        for member in units.members[unit]:
            for neighbour in neighbours[member]:
                if host_of_index[neighbour] >= 0:
                    near[host_of_index[neighbour]] += 1
        remaining = [target[index] - load[index] for index in range(len(hosts))]
        fitting = [index for index in range(len(hosts)) if remaining[index] >= size]
        if fitting:
            best = max(fitting, key=lambda index: (near[index], remaining[index], -index))
        else:
            best = max(range(len(hosts)), key=lambda index: (remaining[index], near[index], -index))
        assign(unit, best)

    free = [units.members[unit][0] for unit in unpinned if len(units.members[unit]) == 1]
    if not free:
        return
    capacity = [count - held for count, held in zip(_shares(total, weights, load), load, strict=True)]
    free_set = set(free)
    free_neighbours = {index: [other for other in neighbours[index] if other in free_set] for index in free}
    for index, host in _bisect(free, list(range(len(hosts))), capacity, free_neighbours, seed).items():
        host_of_index[index] = host


def _shares(total: int, weights: list[Fraction], held: list[int]) -> list[int]:
    """Each host's node count: at least what it ``held``, the rest by weight (water-filling), summing to
    ``total``; the fractions are rounded by largest remainder, ties to the lower index."""
    active = set(range(len(weights)))
    while True:
        rest = total - sum(held[index] for index in range(len(weights)) if index not in active)
        active_weight = sum(weights[index] for index in active)
        ideal = {index: rest * weights[index] / active_weight for index in active}
        over = {index for index in active if held[index] > ideal[index]}
        if not over:
            break
        active -= over
    counts = [
        held[index] if index not in active else math.floor(ideal[index]) for index in range(len(weights))
    ]
    short = total - sum(counts)
    by_remainder = sorted(active, key=lambda index: (-(ideal[index] - counts[index]), index))
    for index in by_remainder[:short]:
        counts[index] += 1
    return counts


def _bisect(
    nodes: list[int], hosts: list[int], capacity: list[int], neighbours: dict[int, list[int]], seed: int
) -> dict[int, int]:
    """Node index -> host for ``nodes`` (sum of the hosts' capacities of them), by recursive bisection."""
    hosts = [host for host in hosts if capacity[host] > 0]
    if len(hosts) == 1:
        return dict.fromkeys(nodes, hosts[0])
    # The hosts in order, cut where the two sides' capacities are closest to equal.
    half = sum(capacity[host] for host in hosts) / 2
    best_cut, prefix, best_gap = 1, 0, math.inf
    for cut in range(1, len(hosts)):
        prefix += capacity[hosts[cut - 1]]
        if abs(prefix - half) < best_gap:
            best_cut, best_gap = cut, abs(prefix - half)
    left_hosts, right_hosts = hosts[:best_cut], hosts[best_cut:]
    left_size = sum(capacity[host] for host in left_hosts)
    left, right = _split(nodes, left_size, neighbours, seed)
    placed = _bisect(left, left_hosts, capacity, neighbours, seed)
    placed.update(_bisect(right, right_hosts, capacity, neighbours, seed))
    return placed


def _split(
    nodes: list[int], left_size: int, neighbours: dict[int, list[int]], seed: int
) -> tuple[list[int], list[int]]:
    """``nodes`` in two parts, the first of ``left_size`` nodes, cutting few links; each in node order."""
    members = set(nodes)
    local = {index: [other for other in neighbours[index] if other in members] for index in nodes}
    candidates = [nodes, _breadth_first_order(nodes, local)]
    starts = [set(order[:left_size]) for order in candidates]
    left = min(starts, key=lambda start: _cut(start, local))
    if 0 < left_size < len(nodes) and _cut(left, local) > 0:
        left = _kernighan_lin(nodes, left, local, seed)
    return [index for index in nodes if index in left], [index for index in nodes if index not in left]


def _kernighan_lin(nodes: list[int], left: set[int], local: dict[int, list[int]], seed: int) -> set[int]:
    """``left`` refined by networkx's Kernighan-Lin bisection: the side of the same size, fewer cuts."""
    import networkx as nx
    from networkx.algorithms.community import kernighan_lin_bisection

    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((index, other) for index in nodes for other in local[index] if index < other)
    right = set(nodes) - left
    # Each sweep costs O(links log nodes) in Python: the sweeps a bisection may take shrink with its
    # size, so that a 20,000-node graph is refined in seconds rather than tens of seconds.
    size = graph.number_of_nodes() + graph.number_of_edges()
    sweeps = max(1, min(_KL_MAX_SWEEPS, _KL_SWEEP_BUDGET // max(size, 1)))
    part_a, part_b = kernighan_lin_bisection(graph, partition=(left, right), max_iter=sweeps, seed=seed)
    # networkx 3.6 hands the parts back in the other order; sizes (or, when equal, overlap) say which.
    if len(left) != len(right):
        refined = part_a if len(part_a) == len(left) else part_b
    else:
        refined = part_a if len(part_a & left) >= len(part_b & left) else part_b
    return refined if _cut(refined, local) <= _cut(left, local) else left


def _breadth_first_order(nodes: list[int], local: dict[int, list[int]]) -> list[int]:
    """``nodes`` component by component (in node order), each breadth first from a node far from its
    first node (a pseudo-peripheral node), so that a prefix of the order is a compact region."""
    order: list[int] = []
    seen: set[int] = set()
    for start in nodes:
        if start in seen:
            continue
        far = _breadth_first(start, local, set(seen))[-1]
        order.extend(_breadth_first(far, local, seen))
    return order


def _breadth_first(start: int, local: dict[int, list[int]], seen: set[int]) -> list[int]:
    """The nodes reached from ``start`` and not in ``seen``, breadth first; adds them to ``seen``."""
    seen.add(start)
    reached = [start]
    queue = deque([start])
    while queue:
        for other in local[queue.popleft()]:
            if other not in seen:
                seen.add(other)
                reached.append(other)
                queue.append(other)
    return reached


def _cut(left: set[int], local: dict[int, list[int]]) -> int:
    """The links with exactly one end in ``left``."""
    return sum(1 for index in left for other in local[index] if other not in left)
