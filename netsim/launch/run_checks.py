"""What ``netsim.run`` refuses before any process starts, one check per input: durations, the run's
default link conditions, ``--out``, the apps, programs and transports a topology needs, and the fault
schedule. Each raises the InputError that names the option or the element at fault and how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from netsim.apps.registry import resolve_app
from netsim.errors import ConditionError, FaultError, OptionError, TopologyError
from netsim.launch.plan import link_transport
from netsim.shaping.conditions import (
    CONDITION_KEYS,
    CONDITION_OPTIONS,
    NO_CONDITIONS,
    check_condition,
    override_conditions,
    parse_probability,
    parse_seconds,
    split_directions,
)
from netsim.shaping.faults import (
    Fault,
    FaultSchedule,
    check_schedule,
    load_fault_schedule,
    parse_fault_item,
)
from netsim.shaping.links import LinkConditionsMap
from netsim.topology.commands import check_topology_commands
from netsim.topology.model import Topology
from netsim.topology.parse import format_names
from netsim.transport import get_transport


def fault_schedule(
    topo: Topology,
    lines: list[str | dict[str, Any]] | None,
    path: str | os.PathLike[str] | None,
    shaped_links: LinkConditionsMap,
    default_transport: str,
    duration: float,
    seed: int,
) -> FaultSchedule:
    """The run's faults in time order, checked against the topology before any process starts."""
    try:
        items = load_fault_schedule(path) if path is not None else []
        items += [parse_fault_item(line) for line in lines or []]
        names = [node.name for node in topo.nodes]
        links = {frozenset((link.a, link.b)): link for link in topo.links}
        check_schedule(items, names, set(links), duration_s=duration)
        attrs = {node.name: node.attrs for node in topo.nodes}
        for fault in items:
            if isinstance(fault, Fault) and fault.action == "slow":
                link = links[frozenset(fault.nodes)]
                override_conditions(
                    shaped_links.get((link.a, link.b), (NO_CONDITIONS, NO_CONDITIONS)),
                    fault.conditions,
                    datagram=not get_transport(link.transport or default_transport).connected,
                    a_attrs=attrs[link.a],
                    b_attrs=attrs[link.b],
                )
    except (FaultError, ConditionError) as error:
        raise OptionError(f"fault schedule: {error}", hint="see 'Faults over time' in the README") from None
    # Lazy: a repeating fault's occurrences are computed while the run goes, never listed here.
    return FaultSchedule(items, names, duration_s=duration, seed=seed)


def seconds_option(option: str, value: Any, maximum_s: float | None = None) -> float:
    try:
        return parse_seconds(value) if maximum_s is None else parse_seconds(value, maximum_s=maximum_s)
    except ConditionError as error:
        raise OptionError(f"{option} {error}") from None


def check_link_defaults(conditions: dict[str, Any]) -> None:
    """The run's default link conditions, named by their option, before any link is looked at."""
    unknown = sorted(set(conditions) - set(CONDITION_KEYS))
    if unknown:
        raise OptionError(
            f"unknown link condition(s): {', '.join(unknown)}", hint=f"use {', '.join(CONDITION_KEYS)}"
        )
    for key, value in conditions.items():
        try:
            check_condition(key, value)
        except ConditionError as error:
            raise OptionError(
                f"{CONDITION_OPTIONS[key]}: {error}", hint="see 'Link conditions' in the README"
            ) from None


def check_reorder_has_a_datagram_link(topo: Topology, conditions: dict[str, Any], transport: str) -> None:
    """``--reorder`` acts on datagram links only: on a run without one it would do nothing, silently."""
    value = conditions.get("reorder")
    if value in (None, "") or not any(parse_probability(side) > 0 for side in split_directions(value)):
        return
    if any(not get_transport(link.transport or transport).connected for link in topo.links):
        return
    raise OptionError(
        f"--reorder {value}: this run has no datagram link to reorder on (a stream or seqpacket socket "
        "delivers in order)",
        hint="use --transport udp, udp6 or unix-dgram, or give datagram links in the topology",
    )


def check_out_dir(out: str | os.PathLike[str]) -> None:
    """``out`` is a directory, or can become one: the nearest existing ancestor is a writable directory."""
    path = Path(out)
    for existing in (path, *path.absolute().parents):
        try:
            is_dir = existing.is_dir()
            exists = is_dir or existing.exists()
        except OSError as error:  # a name too long, a symlink loop, ...
            raise OptionError(f"--out {os.fsdecode(out)}: {error.strerror or error}") from None
        if not exists:
            continue
        if not is_dir:
            where = "is a file" if existing == path else f"is inside {existing}, which is not a directory"
            raise OptionError(
                f"--out {os.fsdecode(out)} {where}",
                hint="--out names the directory that receives run directories (default: runs)",
            )
        if not os.access(existing, os.W_OK | os.X_OK):
            raise OptionError(
                f"--out {os.fsdecode(out)}: cannot create a run directory in {existing}: permission denied",
                hint="pick a directory you can write to",
            )
        return


def check_runnable(
    topo: Topology,
    default_app: str,
    default_transport: str,
    *,
    allow_topology_apps: bool = False,
    cmd: str | None = None,
) -> None:
    """Fail before any process starts: code the topology names unasked, apps that do not import,
    programs that are not there, transports the kernel lacks."""
    if not allow_topology_apps:
        _refuse_topology_code(topo, default_app)
        _refuse_topology_commands(topo, cmd)
    check_topology_commands(topo)
    app_nodes = [node for node in topo.nodes if node.cmd is None and (node.app or cmd is None)]
    for spec in sorted({node.app or default_app for node in app_nodes}):
        resolve_app(spec)
    for name in sorted({link_transport(link.transport, default_transport) for link in topo.links}):
        reason = get_transport(name).available()
        if reason is not None:
            raise OptionError(
                f"{topo.source}: transport {name!r} is not available on this machine: {reason}",
                hint="use another transport (--transport, or the edge's transport attribute)",
            )
    if not topo.nodes:
        raise OptionError(f"{topo.source}: the topology has no nodes")


def _refuse_topology_code(topo: Topology, chosen_app: str) -> None:
    """A node's app that is Python code, not chosen by the user: refused before anything is imported."""
    unasked = {spec: names for spec, names in topo.code_apps().items() if spec != chosen_app}
    if not unasked:
        return
    spec, names = next(iter(unasked.items()))
    shown = format_names(names)
    others = f" (and {len(unasked) - 1} more app spec(s))" if len(unasked) > 1 else ""
    raise TopologyError(
        topo.source,
        f"node{'s' if len(names) > 1 else ''} {shown}",
        f"app {spec!r}{others} is Python code named by the topology file, and netsim run does not run "
        "code from a topology unless asked",
        hint=f"if you trust this file, pass --allow-topology-apps (Python: allow_topology_apps=True), "
        f"or choose the app yourself with --app {spec}",
    )


def _refuse_topology_commands(topo: Topology, chosen_cmd: str | None) -> None:
    """A node's program that the user did not choose: refused before anything starts."""
    unasked = {line: names for line, names in topo.commands().items() if line != chosen_cmd}
    if not unasked:
        return
    line, names = next(iter(unasked.items()))
    shown = format_names(names)
    raise TopologyError(
        topo.source,
        f"node{'s' if len(names) > 1 else ''} {shown}",
        f"cmd {line!r} is a program named by the topology file, and netsim run does not start programs "
        "a topology names unless asked",
        hint=f"if you trust this file, pass --allow-topology-apps (Python: allow_topology_apps=True), "
        f"or choose the program yourself with --cmd {line!r}",
    )
