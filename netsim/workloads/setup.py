"""A workload's part of a run: its options, and the client and service nodes it adds to the topology.

Clients are nodes ``c1`` ... ``cK`` (K = ``concurrency``), as Maelstrom names them, each running
``WorkloadClient``. Every server node (the topology's own) is linked to exactly one client when there
are at least as many servers as clients (client ``ci`` takes the servers whose position modulo K is
i - 1), else each client to one server; so every server gets requests and a final read. Services
(``seq-kv``, ``lin-kv``, ``lww-kv``, ``lin-tso``) are nodes linked to every server node. Neither kind of
link is shaped by the run's default conditions or touched by its faults unless ``shape_clients`` is
set: the topology the conditions and the fault schedule are worked out on is the one the user gave.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netsim.errors import OptionError
from netsim.runs.layout import HISTORY_DIR_NAME
from netsim.topology.model import LinkSpec, NodeSpec, Topology
from netsim.workloads.generators import WORKLOADS

CLIENT_APP = "netsim.workloads.client:WorkloadClient"
SERVICE_APP = "netsim.workloads.service_node:ServiceNode"
SERVICE_NAMES = ("seq-kv", "lin-kv", "lww-kv", "lin-tso")
TOPOLOGY_HINTS = ("grid", "line", "tree", "total")
# The fanout of --topology-hint tree (Maelstrom's tree4).
TREE_FANOUT = 4


# A day: settling longer than that is a typo, and would hold the run's duration with it.
MAX_FINAL_WAIT_S = 86_400.0


@dataclass(frozen=True, slots=True)
class WorkloadOptions:
    """``--workload`` and its companions: ``rate`` is operations per second over all clients."""

    name: str
    time_limit_s: float = 10.0
    rate: float = 10.0
    concurrency: int = 5
    timeout_s: float = 5.0
    final_wait_s: float = 2.0
    topology_hint: str | None = None
    services: tuple[str, ...] = SERVICE_NAMES
    shape_clients: bool = False

    def check(self) -> None:
        if self.name not in WORKLOADS:
            raise OptionError(
                f"unknown workload {self.name!r}", hint=f"use one of: {', '.join(sorted(WORKLOADS))}"
            )
        for option, value in (
            ("--time-limit", self.time_limit_s),
            ("--rate", self.rate),
            ("--op-timeout", self.timeout_s),
        ):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise OptionError(f"{option} must be a positive number, got {value!r}")
        final_wait = self.final_wait_s
        if not (isinstance(final_wait, (int, float)) and math.isfinite(final_wait) and final_wait >= 0):
            raise OptionError(f"--final-wait must be a number of seconds, 0 or more, got {final_wait!r}")
        if final_wait > MAX_FINAL_WAIT_S:
            raise OptionError(f"--final-wait must be at most {MAX_FINAL_WAIT_S:g} s, got {final_wait!r}")
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 1000:
            raise OptionError(
                f"--concurrency must be a whole number from 1 to 1000, got {self.concurrency!r}"
            )
        if self.topology_hint is not None and self.topology_hint not in TOPOLOGY_HINTS:
            raise OptionError(
                f"unknown --topology-hint {self.topology_hint!r}",
                hint=f"use one of: {', '.join(TOPOLOGY_HINTS)}",
            )
        unknown = [name for name in self.services if name not in SERVICE_NAMES]
        if unknown:
            raise OptionError(
                f"unknown service {unknown[0]!r}", hint=f"use some of: {', '.join(SERVICE_NAMES)}, or none"
            )

    def run_seconds(self, servers: int) -> float:
        """How long the workload itself may take over ``servers`` server nodes: its time limit, the
        settling, and for the client that holds the most servers a set-up request and a final read per
        server, each up to its timeout (one more for the operation under way at the time limit), and a
        margin."""
        per_client = -(-max(servers, 1) // self.concurrency)
        return self.time_limit_s + self.final_wait_s + (2 * per_client + 1) * self.timeout_s + 10.0


def client_names(options: WorkloadOptions) -> list[str]:
    return [f"c{index}" for index in range(1, options.concurrency + 1)]


def with_workload_nodes(
    topology: Topology, options: WorkloadOptions, *, seed: int, run_dir: Path
) -> tuple[Topology, dict[str, dict[str, Any]]]:
    """``topology`` with the workload's clients and services added, and each added node's config."""
    servers = [node.name for node in topology.nodes]
    clients = client_names(options)
    taken = set(servers) & {*clients, *options.services}
    if taken:
        name = sorted(taken)[0]
        raise OptionError(
            f"{topology.source}: the topology has a node named {name!r}, which the workload's clients "
            "and services use",
            hint="rename the node (clients are c1, c2, ...; services seq-kv, lin-kv, lww-kv, lin-tso)",
        )
    nodes = list(topology.nodes)
    links = list(topology.links)
    history_dir = run_dir / HISTORY_DIR_NAME
    broadcast_topology = hinted_topology(topology, options.topology_hint)
    configs: dict[str, dict[str, Any]] = {}
    for position, client in enumerate(clients):
        nodes.append(NodeSpec(client, len(nodes), app=CLIENT_APP))
        if len(servers) >= len(clients):
            mine = servers[position :: len(clients)]
        else:
            mine = [servers[position % len(servers)]]
        links += [LinkSpec(client, server) for server in mine]
        configs[client] = {
            "workload": options.name,
            "seed": seed,
            "nodes": servers,
            "topology": broadcast_topology,
            "interval_s": len(clients) / options.rate,
            "timeout_s": options.timeout_s,
            "time_limit_s": options.time_limit_s,
            "final_wait_s": options.final_wait_s,
            "history_path": str(history_dir / f"{client}.jsonl"),
        }
    for service in options.services:
        nodes.append(NodeSpec(service, len(nodes), app=SERVICE_APP))
        links += [LinkSpec(server, service) for server in servers]
        configs[service] = {"service": service, "seed": seed}
    augmented = Topology(
        name=topology.name,
        source=topology.source,
        nodes=tuple(nodes),
        links=tuple(links),
        graph_attrs=topology.graph_attrs,
        warnings=topology.warnings,
    )
    return augmented, configs


def hinted_topology(topology: Topology, hint: str | None) -> dict[str, list[str]]:
    """The ``topology`` message broadcast's clients send: each server's neighbours, from the netsim
    topology (no hint) or a shape of Maelstrom's over the servers in node order."""
    names = [node.name for node in topology.nodes]
    if hint is None:
        return {name: topology.neighbours(name) for name in names}
    count = len(names)
    neighbours: dict[str, set[str]] = {name: set() for name in names}

    def join(a: int, b: int) -> None:
        neighbours[names[a]].add(names[b])
        neighbours[names[b]].add(names[a])

    if hint == "total":
        return {name: [other for other in names if other != name] for name in names}
    if hint == "line":
        for index in range(count - 1):
            join(index, index + 1)
    elif hint == "tree":
        for index in range(1, count):
            join(index, (index - 1) // TREE_FANOUT)
    else:  # grid
        side = max(1, math.ceil(math.sqrt(count)))
        for index in range(count):
            if (index + 1) % side and index + 1 < count:
                join(index, index + 1)
            if index + side < count:
                join(index, index + side)
    return {name: sorted(neighbours[name], key=names.index) for name in names}
