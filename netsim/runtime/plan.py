"""What a node process is told before it starts: who it is, its links, and where to write."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any

from netsim.runtime.bounds import LOG_LIMIT_BYTES
from netsim.shaping.conditions import NO_CONDITIONS, Conditions
from netsim.wire.auth import RUN_KEY_BYTES


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """One link as seen from one of its ends.

    ``initiator``: this end connects (the edge's first node); the other end listens and accepts.
    Datagram links have no connection, but the initiator is still the one named first.
    """

    peer: str
    peer_index: int
    transport: str
    initiator: bool
    # What the link does to messages this node sends to the peer (latency, loss, ...).
    conditions: Conditions = NO_CONDITIONS


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Timing knobs shared by every node of a run."""

    startup_timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    # How long a node must see no I/O and hold no timers before it reports itself idle.
    idle_after_s: float = 0.05
    # The least time between two status reports of one node.
    status_interval_s: float = 0.2
    # A node's log stops growing here (netsim.runtime.bounds.CappedLog).
    log_limit_bytes: int = LOG_LIMIT_BYTES
    # How long a node's program (``NodePlan.cmd``) has to answer init with init_ok.
    program_init_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class NodePlan:
    name: str
    index: int
    app: str
    links: tuple[LinkPlan, ...]
    node_names: tuple[str, ...]
    seed: int
    socket_dir: str
    trace_path: str
    log_path: str
    settings: RuntimeSettings = RuntimeSettings()
    # A restarted node binds where its previous process was: {"listeners": {transport: address},
    # "links": {peer: address}}, so its neighbours' address books stay right.
    fixed_addresses: dict[str, Any] | None = None
    generation: int = 0
    # A program to run instead of the app (netsim.runtime.program), as its argument vector; and the
    # directory it may keep state in across restarts.
    cmd: tuple[str, ...] | None = None
    state_dir: str | None = None
    # What the app is told besides the plan (``NodeContext.config``): JSON values, e.g. a workload
    # client's settings.
    config: dict[str, Any] | None = None
    # How many of node_names, from the first, are the topology's own nodes (a program's node_ids);
    # 0: all of them. A workload's clients and services come after them.
    servers: int = 0
    # Run-wide, like node_names: the links whose two ends both run programs, as pairs of node indexes,
    # which programs' messages to non-neighbours are forwarded along (netsim.runtime.routing); empty
    # when the run does not forward.
    program_links: tuple[tuple[int, int], ...] = ()
    # The run's secret (netsim.wire.auth), the same for every node of a run; never printed.
    run_key: bytes = field(default_factory=lambda: secrets.token_bytes(RUN_KEY_BYTES), repr=False)
    # The node runs a socket program, ``def main(net)`` (netsim.runtime.socket_program): netsim makes no
    # link sockets of its own for it. ``host_base``: the run's second octet of per-node IPv4 addresses
    # (netsim.runtime.hosts; 0: every node is 127.0.0.1).
    socket_program: bool = False
    host_base: int = 0
    # The host addresses the node's IPv4 and IPv6 sockets bind instead of loopback: set by the host agent
    # of a run over many hosts (netsim.cluster.agent), so that nodes on other hosts can reach them.
    bind_host: str | None = None
    bind_host6: str | None = None
    # The longest name in node_names, in characters: a hello's size bound, computed once for the run
    # rather than by each node over every name (0: work it out here).
    longest_name: int = 0

    def __post_init__(self) -> None:
        if self.longest_name <= 0:
            longest = max((len(name) for name in self.node_names), default=1)
            object.__setattr__(self, "longest_name", longest)


# ---- plans as JSON values, for the fork server ----------------------------------------------------
# What every plan of a run shares (the node names, the run key) travels once, not once per node.


def plan_to_json(plan: NodePlan) -> dict[str, Any]:
    """``plan`` as plain JSON values, without the run-wide ``node_names``, ``run_key`` and
    ``program_links``."""
    return {
        "name": plan.name,
        "index": plan.index,
        "app": plan.app,
        "links": [
            [link.peer, link.peer_index, link.transport, link.initiator, _conditions_to_json(link.conditions)]
            for link in plan.links
        ],
        "seed": plan.seed,
        "socket_dir": plan.socket_dir,
        "trace_path": plan.trace_path,
        "log_path": plan.log_path,
        "settings": dataclasses.asdict(plan.settings),
        "fixed_addresses": plan.fixed_addresses,
        "generation": plan.generation,
        "longest_name": plan.longest_name,
        "cmd": None if plan.cmd is None else list(plan.cmd),
        "state_dir": plan.state_dir,
        "config": plan.config,
        "servers": plan.servers,
        "socket_program": plan.socket_program,
        "host_base": plan.host_base,
        "bind_host": plan.bind_host,
        "bind_host6": plan.bind_host6,
    }


def plan_from_json(
    data: dict[str, Any],
    node_names: tuple[str, ...],
    run_key: bytes,
    program_links: tuple[tuple[int, int], ...] = (),
) -> NodePlan:
    """The NodePlan that ``plan_to_json`` gave ``data`` for (with the run-wide values given apart)."""
    links = tuple(
        LinkPlan(peer, peer_index, transport, initiator, _conditions_from_json(conditions))
        for peer, peer_index, transport, initiator, conditions in data["links"]
    )
    return NodePlan(
        name=data["name"],
        index=data["index"],
        app=data["app"],
        links=links,
        node_names=node_names,
        seed=data["seed"],
        socket_dir=data["socket_dir"],
        trace_path=data["trace_path"],
        log_path=data["log_path"],
        settings=RuntimeSettings(**data["settings"]),
        fixed_addresses=data["fixed_addresses"],
        generation=data["generation"],
        run_key=run_key,
        longest_name=data["longest_name"],
        cmd=None if data["cmd"] is None else tuple(data["cmd"]),
        state_dir=data["state_dir"],
        config=data["config"],
        servers=data["servers"],
        program_links=program_links,
        socket_program=data["socket_program"],
        host_base=data["host_base"],
        bind_host=data.get("bind_host"),
        bind_host6=data.get("bind_host6"),
    )


def _conditions_to_json(conditions: Conditions) -> dict[str, Any] | None:
    return None if conditions == NO_CONDITIONS else dataclasses.asdict(conditions)


def _conditions_from_json(data: dict[str, Any] | None) -> Conditions:
    return NO_CONDITIONS if data is None else Conditions(**data)
