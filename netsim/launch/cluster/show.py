"""``netsim topo show --cluster``: where a run would put each node, without running anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.launch.cluster.launch import check_cluster_options
from netsim.launch.cluster.placement import Placement, place
from netsim.vocabulary import DEFAULT_TRANSPORT

if TYPE_CHECKING:
    from netsim.topology.model import Topology


def cluster_placement(
    topo: Topology, cluster: str, placement: str, *, transport: str = DEFAULT_TRANSPORT, seed: int = 0
) -> Placement:
    """The placement a run of ``topo`` on ``cluster`` would use now (its agents start and end again:
    they tell each host's addresses)."""
    from netsim.launch.cluster.ray_cluster import RayCluster

    check_cluster_options(cluster, placement)
    engine = RayCluster(cluster)
    engine.connect()
    try:
        return place(topo, engine.start_agents(), placement, default_transport=transport, seed=seed)
    finally:
        engine.close()
