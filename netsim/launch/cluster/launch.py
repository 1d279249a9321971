"""What ``netsim.run`` does differently over many hosts: check the options, start the agents, place the
nodes, and tell the summary where they ran. The run itself is the single-host launcher's, with the
relay (``netsim.launch.cluster.relay``) as its fork server."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from netsim.errors import OptionError
from netsim.launch.cluster.placement import PLACEMENTS, Placement, place

if TYPE_CHECKING:
    from netsim.launch.cluster.ray_cluster import RayCluster
    from netsim.launch.limits import RunNeeds
    from netsim.topology.model import Topology


def check_cluster_options(cluster: str, placement: str) -> None:
    """Before anything starts: a placement netsim knows, an address Ray takes, and Ray installed."""
    from netsim.launch.cluster.ray_cluster import import_ray, ray_address

    if placement not in PLACEMENTS:
        raise OptionError(f"unknown --placement {placement!r}", hint=f"use one of: {', '.join(PLACEMENTS)}")
    ray_address(cluster)
    import_ray()


def start_cluster(
    cluster: str,
    placement: str,
    topo: Topology,
    transport: str,
    seed: int,
    socket_programs: frozenset[str],
    workload: Any,
) -> tuple[RayCluster, Placement]:
    """Connect to the cluster, start one agent per host and place the nodes on the hosts."""
    from netsim.launch.cluster.ray_cluster import RayCluster

    if socket_programs:
        raise OptionError(
            "--cluster: socket programs (def main(net)) run on one host: their nodes share the host's "
            "addresses and ports",
            hint="run them without --cluster, or run netsim apps or --cmd programs over the cluster",
        )
    if workload is not None:
        raise OptionError(
            "--cluster does not take --workload: the clients' history is written on the launcher's host",
            hint="run the workload without --cluster",
        )
    engine = RayCluster(cluster)
    engine.connect()
    try:
        hosts = engine.start_agents()
        placed = place(topo, hosts, placement, default_transport=transport, seed=seed)
    except BaseException:
        engine.close()
        raise
    return engine, placed


def cluster_summary(cluster: dict[str, Any]) -> dict[str, Any]:
    """The summary's ``cluster``: the header's without its node-by-node placement."""
    return {key: value for key, value in cluster.items() if key != "node_host"}


def launcher_needs_over_hosts(needs: RunNeeds, hosts: int) -> RunNeeds:
    """What the launcher's machine needs when the nodes run on the hosts: no node process and no fork
    server of its own, but for each node the relay's end of its control stream beside the launcher's,
    and a link per host (each host's agent raises its own limit for its nodes)."""
    return dataclasses.replace(
        needs,
        launcher_fds=needs.launcher_fds + needs.nodes + hosts,
        fork_server_fds=0,
        busiest_node=None,
        busiest_node_fds=0,
        processes=0,
    )
