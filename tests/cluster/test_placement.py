"""Placement of a topology's nodes on a cluster's hosts: shares, cuts, modes, pins, groups, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from netsim.errors import OptionError, TopologyError
from netsim.launch.cluster.placement import PLACEMENTS, Host, Placement, describe, place
from netsim.topology import Topology, from_networkx, load_topology

REPO = Path(__file__).resolve().parents[2]


def hosts(*cpus: float, ipv6: bool = False) -> list[Host]:
    return [
        Host(f"h{index}", f"10.0.0.{index + 1}", cpus=count, address6=f"fd00::{index + 1}" if ipv6 else None)
        for index, count in enumerate(cpus)
    ]


def shaped(
    spec: str,
    pins: dict[str, object] | None = None,
    transports: dict[tuple[str, str], str] | None = None,
    *,
    seed: int = 0,
) -> Topology:
    """The generated topology ``spec`` with ``host`` attributes and link transports set."""
    topo = load_topology(spec, seed=seed)
    pins = pins or {}
    by_pair = {frozenset(pair): transport for pair, transport in (transports or {}).items()}
    nodes = tuple(
        replace(node, attrs={**node.attrs, "host": pins[node.name]}) if node.name in pins else node
        for node in topo.nodes
    )
    links = tuple(
        replace(link, transport=by_pair.get(frozenset((link.a, link.b)), link.transport))
        for link in topo.links
    )
    assert len(by_pair) == sum(1 for link in topo.links if frozenset((link.a, link.b)) in by_pair)
    return Topology(topo.name, topo.source, nodes, links)


def counts(placement: Placement) -> list[int]:
    return [len(placement.nodes_on(index)) for index in range(len(placement.hosts))]


def same_host(placement: Placement, *nodes: str) -> bool:
    return len({placement.host_of[node] for node in nodes}) == 1


# --- balanced: shares and cuts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "cpus", "expected"),
    [
        ("ring:8", (4, 4), [4, 4]),
        ("ring:16", (1, 3), [4, 12]),
        ("grid:4x4", (8, 8), [8, 8]),
        ("grid:4x4", (2, 6), [4, 12]),
        ("ring:8", (1, 1, 2), [2, 2, 4]),
        ("ring:10", (1, 1, 1), [4, 3, 3]),
        ("ring:9", (0.5, 1.0), [3, 6]),
    ],
)
def test_balanced_shares_follow_cpus(spec: str, cpus: tuple[float, ...], expected: list[int]) -> None:
    assert counts(place(load_topology(spec), hosts(*cpus))) == expected


@pytest.mark.parametrize(
    ("spec", "cpus", "cut"),
    [
        ("ring:8", (1, 1), 2),
        ("ring:8", (1, 3), 2),
        ("ring:8", (1, 1, 1, 1), 4),
        ("grid:4x4", (1, 1), 4),
        ("grid:4x4", (1, 1, 1, 1), 8),
        ("grid:6x6", (1, 1), 6),
        ("line:10", (1, 1, 1), 2),
    ],
)
def test_balanced_cuts_the_fewest_links_on_rings_grids_and_lines(
    spec: str, cpus: tuple[float, ...], cut: int
) -> None:
    placement = place(load_topology(spec), hosts(*cpus))
    assert placement.cross_host_links == cut
    assert placement.mode == "balanced"


def test_balanced_ring_halves_are_arcs() -> None:
    placement = place(load_topology("ring:8"), hosts(1, 1))
    for host in (0, 1):
        on_host = {int(name[1:]) for name in placement.nodes_on(host)}
        # An arc of the ring: exactly one member whose successor is elsewhere.
        assert sum(1 for index in on_host if (index + 1) % 8 not in on_host) == 1


def test_balanced_cuts_far_fewer_links_than_spread_on_a_big_grid() -> None:
    import networkx as nx

    topo = from_networkx(nx.convert_node_labels_to_integers(nx.grid_2d_graph(30, 40)))
    balanced = place(topo, hosts(1, 1, 1))
    spread = place(topo, hosts(1, 1, 1), "spread")
    assert counts(balanced) == [400, 400, 400]
    # The best three-way cut of a 30x40 grid is 60 links; spread cuts every one of the 2,330.
    assert balanced.cross_host_links <= 120
    assert spread.cross_host_links == len(topo.links) == 2330


def test_balanced_refines_a_random_graph_with_kernighan_lin() -> None:
    import networkx as nx

    topo = from_networkx(nx.gnp_random_graph(300, 0.02, seed=3))
    placement = place(topo, hosts(1, 1))
    assert counts(placement) == [150, 150]
    # Measured: 214 links cut; the better seeding order alone cuts 377, spread about half of them all.
    assert placement.cross_host_links <= 260
    assert place(topo, hosts(1, 1), "spread").cross_host_links > 400


def test_balanced_stays_fast_on_thousands_of_nodes() -> None:
    import networkx as nx

    random_topo = from_networkx(nx.gnp_random_graph(2000, 0.005, seed=7))
    grid_topo = from_networkx(nx.convert_node_labels_to_integers(nx.grid_2d_graph(50, 100)))
    for topo in (random_topo, grid_topo):
        started = time.perf_counter()
        placement = place(topo, hosts(2, 2, 2, 2))
        # Measured at 0.2-0.3 s; the bound only catches a quadratic slip.
        assert time.perf_counter() - started < 10
        assert counts(placement) == [len(topo.nodes) // 4] * 4
        assert placement.cross_host_links < place(topo, hosts(2, 2, 2, 2), "spread").cross_host_links


# --- spread and pack ----------------------------------------------------------------------------------------


def test_spread_puts_ring_neighbours_on_different_hosts() -> None:
    placement = place(load_topology("ring:8"), hosts(1, 1), "spread")
    assert [placement.host_of[f"n{index}"] for index in range(8)] == [0, 1] * 4
    assert placement.cross_host_links == 8


def test_spread_is_weighted_by_cpus() -> None:
    placement = place(load_topology("ring:8"), hosts(1, 3), "spread")
    assert counts(placement) == [2, 6]
    # Each node goes where its host's count per CPU stays lowest: h1 (1/3 < 1) first.
    assert [placement.host_of[f"n{index}"] for index in range(8)] == [1, 1, 0, 1, 1, 1, 0, 1]
    # h0's two nodes are not neighbours, so all four of their links cross: the most any 2/6 split can.
    assert placement.cross_host_links == 4


def test_pack_puts_every_node_on_h0() -> None:
    topo = load_topology("grid:4x4")
    placement = place(topo, hosts(1, 8, 8), "pack")
    assert placement.nodes_on(0) == [node.name for node in topo.nodes]
    assert counts(placement) == [16, 0, 0]
    assert placement.cross_host_links == 0


def test_pack_moves_only_pins_and_what_they_pull() -> None:
    topo = shaped("ring:8", pins={"n4": "h1"}, transports={("n4", "n5"): "unix"})
    placement = place(topo, hosts(1, 1), "pack")
    assert placement.nodes_on(1) == ["n4", "n5"]
    assert placement.cross_host_links == 2


# --- pins ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", PLACEMENTS)
def test_pins_by_name_and_by_address_are_honoured(mode: str) -> None:
    topo = shaped("ring:8", pins={"n0": "h1", "n1": "10.0.0.1", "n5": "10.0.0.2"})
    placement = place(topo, hosts(1, 1), mode)
    assert (placement.host_name("n0"), placement.host_name("n1"), placement.host_name("n5")) == (
        "h1",
        "h0",
        "h1",
    )


def test_pinned_nodes_count_against_their_hosts_share() -> None:
    topo = shaped("ring:8", pins={"n0": "h1", "n2": "h1", "n4": "h1"})
    for mode in ("balanced", "spread"):
        assert counts(place(topo, hosts(1, 1), mode)) == [4, 4]


def test_a_host_holding_more_pins_than_its_share_takes_no_free_node() -> None:
    topo = shaped("ring:8", pins={name: "h0" for name in ("n0", "n1", "n2", "n3", "n4", "n5")})
    placement = place(topo, hosts(1, 1, 1))
    assert counts(placement) == [6, 1, 1]


def test_an_address_shared_by_hosts_pins_to_the_first() -> None:
    shared = [Host("h0", "127.0.0.1", 1), Host("h1", "127.0.0.1", 1)]
    placement = place(shaped("ring:4", pins={"n3": "127.0.0.1", "n0": "h1"}), shared)
    assert (placement.host_name("n3"), placement.host_name("n0")) == ("h0", "h1")


def test_a_pin_that_names_no_host_is_one_clear_error() -> None:
    with pytest.raises(TopologyError) as caught:
        place(shaped("ring:8", pins={"n3": "h9"}), hosts(1, 2))
    assert str(caught.value) == "ring:8: node 'n3': attribute host='h9' names no host of the cluster"
    assert caught.value.hint == "use one of: h0 (10.0.0.1), h1 (10.0.0.2)"


def test_a_pin_that_is_not_text_names_no_host() -> None:
    with pytest.raises(TopologyError, match=r"node 'n1': attribute host=1 names no host"):
        place(shaped("ring:4", pins={"n1": 1}), hosts(1, 1))


# --- groups: links that cannot cross hosts ------------------------------------------------------------------


@pytest.mark.parametrize("mode", PLACEMENTS)
@pytest.mark.parametrize("transport", ["unix", "unix-dgram", "unix-seqpacket"])
def test_unix_links_keep_their_ends_on_one_host(mode: str, transport: str) -> None:
    topo = shaped(
        "ring:8", transports={("n0", "n1"): transport, ("n1", "n2"): transport, ("n5", "n6"): transport}
    )
    placement = place(topo, hosts(1, 1), mode)
    assert same_host(placement, "n0", "n1", "n2")
    assert same_host(placement, "n5", "n6")


def test_balanced_places_groups_and_still_balances() -> None:
    topo = shaped("ring:8", transports={("n0", "n1"): "unix", ("n1", "n2"): "unix"})
    placement = place(topo, hosts(1, 1))
    assert same_host(placement, "n0", "n1", "n2")
    assert counts(placement) == [4, 4]


def test_a_default_unix_transport_keeps_everything_on_one_host() -> None:
    placement = place(load_topology("grid:3x3"), hosts(1, 1, 1), default_transport="unix")
    assert sorted(counts(placement)) == [0, 0, 9]
    assert placement.cross_host_links == 0


def test_a_link_of_its_own_transport_is_not_held_by_the_default() -> None:
    topo = shaped("ring:4", transports={("n0", "n1"): "tcp"})
    placement = place(topo, hosts(1, 1), "spread", default_transport="unix")
    # Only n0-n1 may cross: n1-n2-n3-n0 hold together.
    assert same_host(placement, "n1", "n2", "n3", "n0")


def test_tcp6_stays_within_a_host_when_a_host_lacks_ipv6() -> None:
    topo = shaped("ring:8", transports={("n0", "n1"): "tcp6", ("n2", "n3"): "udp6"})
    mixed = [Host("h0", "10.0.0.1", 1, address6="fd00::1"), Host("h1", "10.0.0.2", 1)]
    placement = place(topo, mixed, "spread")
    assert same_host(placement, "n0", "n1")
    assert same_host(placement, "n2", "n3")


def test_tcp6_may_cross_hosts_when_every_host_has_ipv6() -> None:
    topo = shaped("ring:8", transports={("n0", "n1"): "tcp6", ("n2", "n3"): "udp6"})
    placement = place(topo, hosts(1, 1, ipv6=True), "spread")
    assert placement.host_of["n0"] != placement.host_of["n1"]
    assert placement.host_of["n2"] != placement.host_of["n3"]
    assert placement.cross_host_links == 8


def test_conflicting_pins_across_a_unix_link_are_one_clear_error() -> None:
    topo = shaped("ring:8", pins={"n2": "h0", "n3": "10.0.0.2"}, transports={("n2", "n3"): "unix"})
    with pytest.raises(TopologyError) as caught:
        place(topo, hosts(1, 1))
    assert str(caught.value) == (
        "ring:8: nodes 'n2' and 'n3': pinned to hosts h0 and h1, but joined by a unix link, which cannot "
        "cross hosts (AF_UNIX sockets reach only their own host)"
    )
    assert "\n" not in str(caught.value)
    assert caught.value.hint == "pin both to one host, or give the link transport tcp or udp"


def test_conflicting_pins_through_a_chain_name_the_nodes_between() -> None:
    topo = shaped(
        "line:5",
        pins={"n0": "h0", "n3": "h1"},
        transports={("n0", "n1"): "unix", ("n1", "n2"): "unix-dgram", ("n2", "n3"): "unix"},
    )
    with pytest.raises(TopologyError) as caught:
        place(topo, hosts(1, 1), "pack")
    assert str(caught.value) == (
        "line:5: nodes 'n0' and 'n3': pinned to hosts h0 and h1, but joined by unix and unix-dgram links "
        "through 'n1', 'n2', which cannot cross hosts (AF_UNIX sockets reach only their own host)"
    )
    assert caught.value.hint == "pin both to one host, or give the links transport tcp or udp"


def test_conflicting_pins_across_tcp6_name_the_host_without_ipv6() -> None:
    topo = shaped("ring:4", pins={"n0": "h0", "n1": "h1"}, transports={("n0", "n1"): "tcp6"})
    mixed = [Host("h0", "10.0.0.1", 1, address6="fd00::1"), Host("h1", "10.0.0.2", 1)]
    with pytest.raises(TopologyError, match=r"joined by a tcp6 link.*\(h1 has none\)"):
        place(topo, mixed)
    # The same pins are fine once both hosts have IPv6.
    assert place(topo, hosts(1, 1, ipv6=True)).cross_host_links >= 1


# --- every node once, determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", PLACEMENTS)
def test_every_node_is_placed_exactly_once(mode: str) -> None:
    first, second = load_topology("random:60:0.08", seed=11).links[:2]
    topo = shaped(
        "random:60:0.08",
        pins={"n7": "h2", "n30": "10.0.0.2"},
        transports={(first.a, first.b): "unix", (second.a, second.b): "unix"},
        seed=11,
    )
    placement = place(topo, hosts(1, 2, 3), mode)
    assert list(placement.host_of) == [node.name for node in topo.nodes]
    assert all(0 <= index < 3 for index in placement.host_of.values())
    listed = [name for index in range(3) for name in placement.nodes_on(index)]
    assert sorted(listed) == sorted(node.name for node in topo.nodes)
    assert placement.cross_host_links == sum(
        1 for link in topo.links if placement.host_of[link.a] != placement.host_of[link.b]
    )
    assert placement.links == len(topo.links)
    assert same_host(placement, first.a, first.b) and same_host(placement, second.a, second.b)
    assert (placement.host_name("n7"), placement.host_name("n30")) == ("h2", "h1")


def test_same_seed_same_placement() -> None:
    import networkx as nx

    topo = from_networkx(nx.gnp_random_graph(300, 0.02, seed=3))
    first = place(topo, hosts(1, 2, 3), seed=5)
    assert place(topo, hosts(1, 2, 3), seed=5) == first
    assert first.to_json() == place(topo, hosts(1, 2, 3), seed=5).to_json()


_CHILD = """
import json, networkx as nx
from netsim.launch.cluster.placement import Host, place
from netsim.topology import from_networkx
topo = from_networkx(nx.relabel_nodes(nx.gnp_random_graph(300, 0.02, seed=3), lambda n: f"node-{n}"))
hosts = [Host(f"h{i}", f"10.0.0.{i + 1}", c) for i, c in enumerate((1, 2, 3))]
print(json.dumps(place(topo, hosts, seed=5).to_json()))
"""


def test_placement_does_not_depend_on_the_hash_seed() -> None:
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]
    assert outputs[0]["cross_host_links"] > 0


# --- JSON and describe --------------------------------------------------------------------------------------


def test_to_json_is_plain_json_with_every_node() -> None:
    topo = shaped("ring:8", pins={"n6": "h1"})
    placement = place(topo, [Host("h0", "10.0.0.1", 2, "fd00::1", node_id="abc"), Host("h1", "10.0.0.2", 2)])
    value = placement.to_json()
    assert json.loads(json.dumps(value)) == value
    assert value["mode"] == "balanced"
    assert value["cross_host_links"] == 2
    assert value["links"] == 8
    assert value["hosts"] == [
        {"name": "h0", "address": "10.0.0.1", "address6": "fd00::1", "cpus": 2, "nodes": 4},
        {"name": "h1", "address": "10.0.0.2", "address6": None, "cpus": 2, "nodes": 4},
    ]
    assert list(value["node_host"]) == [f"n{index}" for index in range(8)]
    assert value["node_host"]["n6"] == "h1"
    assert {name: placement.host_name(name) for name in value["node_host"]} == value["node_host"]


def test_describe_gives_one_line_per_host_and_the_crossing_links() -> None:
    placement = place(
        load_topology("grid:4x4"), [Host("h0", "10.0.0.1", 4, "fd00::1"), Host("h1", "192.168.10.20", 12)]
    )
    assert describe(placement) == [
        "h0  10.0.0.1 fd00::1  4 CPUs  4 nodes",
        "h1  192.168.10.20     12 CPUs  12 nodes",
        "4 of 24 links cross hosts (placement balanced)",
    ]


def test_describe_counts_one_node_and_one_link_in_the_singular() -> None:
    placement = place(load_topology("line:2"), [Host("h0", "10.0.0.1", 1.5), Host("h1", "10.0.0.2", 1.5)])
    assert describe(placement) == [
        "h0  10.0.0.1  1.5 CPUs  1 node",
        "h1  10.0.0.2  1.5 CPUs  1 node",
        "1 of 1 link cross hosts (placement balanced)",
    ]


# --- bad options --------------------------------------------------------------------------------------------


def test_an_unknown_mode_is_an_option_error() -> None:
    with pytest.raises(OptionError) as caught:
        place(load_topology("ring:4"), hosts(1), "scatter")
    assert str(caught.value) == "unknown --placement 'scatter'"
    assert caught.value.hint == "use one of: balanced, spread, pack"


def test_no_hosts_is_an_option_error() -> None:
    with pytest.raises(OptionError, match=r"^the cluster has no hosts that are alive$"):
        place(load_topology("ring:4"), [])


@pytest.mark.parametrize("cpus", [0, -1, float("nan"), float("inf")])
def test_a_host_without_cpus_is_an_option_error(cpus: float) -> None:
    with pytest.raises(OptionError, match=r"^host h1 \(10.0.0.2\) reports .* CPUs"):
        place(load_topology("ring:4"), hosts(1, cpus))


def test_one_host_takes_everything() -> None:
    placement = place(shaped("ring:5", pins={"n2": "h0"}, transports={("n0", "n1"): "unix"}), hosts(3))
    assert counts(placement) == [5]
    assert placement.cross_host_links == 0
