"""Turn a topology and the run's options into one NodePlan per node process."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from netsim.runs.layout import STATE_DIR_NAME, node_part_name
from netsim.runtime.plan import LinkPlan, NodePlan, RuntimeSettings
from netsim.shaping.conditions import NO_CONDITIONS
from netsim.shaping.links import LinkConditionsMap
from netsim.topology.model import NodeSpec, Topology


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe form of a node or topology name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:limit] or "x"


def link_transport(transport: str | None, default_transport: str) -> str:
    return transport or default_transport


def build_plans(
    topology: Topology,
    *,
    default_app: str,
    default_transport: str,
    seed: int,
    socket_dir: str,
    node_dir: Path,
    settings: RuntimeSettings,
    conditions: LinkConditionsMap | None = None,
    run_key: bytes,
    default_cmd: str | None = None,
    configs: dict[str, dict[str, Any]] | None = None,
    servers: int = 0,
    forwarding: bool = True,
    socket_programs: frozenset[str] = frozenset(),
    host_base: int = 0,
) -> list[NodePlan]:
    """One plan per node. A node runs its own ``cmd`` or ``app`` attribute if it has one, else the
    run's ``default_cmd`` (a program's command line) if given, else ``default_app``. ``configs``: an
    app's ``NodeContext.config`` by node name; ``servers``: how many nodes, from the first, are the
    topology's own (0: all), the others a workload's clients and services. ``forwarding``: programs'
    messages to non-neighbours are forwarded hop by hop along the links between program nodes.
    ``socket_programs``: the nodes that run a ``main(net)``, addressed under ``host_base``."""
    index_of = {node.name: node.index for node in topology.nodes}
    links: dict[str, list[LinkPlan]] = {node.name: [] for node in topology.nodes}
    for link in topology.links:
        transport = link_transport(link.transport, default_transport)
        forward, backward = (conditions or {}).get((link.a, link.b), (NO_CONDITIONS, NO_CONDITIONS))
        links[link.a].append(
            LinkPlan(link.b, index_of[link.b], transport, initiator=True, conditions=forward)
        )
        links[link.b].append(
            LinkPlan(link.a, index_of[link.a], transport, initiator=False, conditions=backward)
        )
    node_names = tuple(node.name for node in topology.nodes)
    longest_name = max((len(name) for name in node_names), default=1)
    state_root = node_dir.parent / STATE_DIR_NAME

    def command(node: NodeSpec) -> tuple[str, ...] | None:
        line = node.cmd or (None if node.app else default_cmd)
        return tuple(shlex.split(line)) if line else None

    programs = {node.name for node in topology.nodes if command(node)}
    program_links = tuple(
        (index_of[link.a], index_of[link.b])
        for link in topology.links
        if forwarding and link.a in programs and link.b in programs
    )
    return [
        NodePlan(
            name=node.name,
            index=node.index,
            app=node.app or default_app,
            links=tuple(links[node.name]),
            node_names=node_names,
            seed=seed,
            socket_dir=socket_dir,
            trace_path=str(node_dir / node_part_name(node.index)),
            log_path=str(node_dir / f"{node.index}-{slug(node.name)}.log"),
            settings=settings,
            run_key=run_key,
            longest_name=longest_name,
            cmd=command(node),
            config=(configs or {}).get(node.name),
            servers=servers,
            program_links=program_links,
            socket_program=node.name in socket_programs,
            host_base=host_base,
            state_dir=str(state_root / f"{node.index}-{slug(node.name)}") if command(node) else None,
        )
        for node in topology.nodes
    ]
