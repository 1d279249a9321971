"""Topology out again: the node-link round trip, writing every format, and describe()."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.errors import OptionError, TopologyError
from netsim.topology import (
    NETSIM_TOPOLOGY_FORMAT,
    Topology,
    describe,
    from_graph,
    load_topology,
    topology_to_graph,
    topology_to_node_link,
    write_topology,
    write_topology_json,
)
from netsim.topology.model import LinkSpec, NodeSpec

REPO = Path(__file__).resolve().parents[2]
ZOO = REPO.parent / "shared" / "topology-zoo"

ROUND_TRIP_SOURCES = [
    str(REPO / "topologies" / name)
    for name in ("ring8.gml", "mixed-transports.graphml", "star5.json", "line4.edgelist", "grid3x3.adjlist")
] + ["grid:3x4", "random:30:0.2", "tree:2x3"]
ROUND_TRIP_SOURCES += (
    [str(ZOO / f"{name}.gml") for name in ("Interoute", "Esnet", "Bandcon")] if ZOO.is_dir() else []
)


@pytest.mark.parametrize("source", ROUND_TRIP_SOURCES, ids=lambda source: Path(source).name)
def test_node_link_round_trip(source: str, tmp_path: Path) -> None:
    original = load_topology(source, seed=3)
    path = tmp_path / "as-run.json"
    write_topology_json(original, path)
    again = load_topology(path)
    assert again == original
    assert json.loads(path.read_text())["format"] == NETSIM_TOPOLOGY_FORMAT


def test_node_link_document_shape() -> None:
    topology = load_topology(REPO / "topologies" / "mixed-transports.graphml")
    document = topology_to_node_link(topology)
    assert document["name"] == topology.name and document["source"] == topology.source
    assert document["nodes"][0] == {"id": "hub", "app": "echo"}
    assert document["links"][0] == {"source": "hub", "target": "alpha", "transport": "tcp"}
    assert "transport" not in document["links"][-1]
    json.dumps(document, allow_nan=False)


def test_round_trip_of_a_hand_made_topology(tmp_path: Path) -> None:
    topology = Topology(
        name="hand",
        source="somewhere.gml",
        nodes=(
            NodeSpec("a b", 0, "echo", {"label": "x", "nested": {"k": [1, 2.5, None, True]}}),
            NodeSpec("[c]", 1, None, {"label": "x"}),
        ),
        links=(LinkSpec("[c]", "a b", "udp6", {"weight": 2}),),
        graph_attrs={"Network": "other"},
        warnings=("something was fixed",),
    )
    path = tmp_path / "hand.json"
    write_topology_json(topology, path)
    assert load_topology(path) == topology


def test_reserved_attribute_names_are_refused() -> None:
    topology = Topology("t", "t.gml", (NodeSpec("a", 0, None, {"id": 3}),), ())
    with pytest.raises(TopologyError, match="attribute 'id' cannot be written"):
        topology_to_node_link(topology)


name_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)


@settings(max_examples=100, deadline=None)
@given(
    names=st.lists(name_text, min_size=1, max_size=8, unique=True),
    data=st.data(),
)
def test_round_trip_property(names: list[str], data: st.DataObject) -> None:
    import tempfile

    graph = nx.Graph()
    for name in names:
        graph.add_node(name, label=data.draw(st.sampled_from(["x", "y", name])))
    pairs = [(a, b) for a in names for b in names if a < b]
    if pairs:
        graph.add_edges_from(data.draw(st.lists(st.sampled_from(pairs), max_size=10)))
    topology = from_graph(graph, "property.gml")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.json"
        write_topology_json(topology, path)
        assert load_topology(path) == topology


@pytest.mark.parametrize(
    "extension", [".gml", ".graphml", ".xml", ".json", ".edgelist", ".edges", ".adjlist"]
)
def test_write_every_format_reads_back(extension: str, tmp_path: Path) -> None:
    original = load_topology("grid:3x3")
    path = tmp_path / f"grid{extension}"
    write_topology(original, path)
    again = load_topology(path)
    assert [node.name for node in again.nodes] == [node.name for node in original.nodes] or extension in (
        ".edgelist",
        ".edges",
    )
    assert {frozenset((link.a, link.b)) for link in again.links} == {
        frozenset((link.a, link.b)) for link in original.links
    }
    if extension in (".gml", ".graphml", ".xml", ".json"):
        assert again.node("n4").attrs["row"] == 1


def test_write_keeps_transports_and_apps(tmp_path: Path) -> None:
    original = load_topology(REPO / "topologies" / "mixed-transports.graphml")
    for extension in (".gml", ".graphml", ".json", ".edgelist"):
        path = tmp_path / f"mixed{extension}"
        write_topology(original, path)
        again = load_topology(path)
        as_set = {(frozenset((link.a, link.b)), link.transport) for link in again.links}
        assert as_set == {(frozenset((link.a, link.b)), link.transport) for link in original.links}, extension
        if extension != ".edgelist":
            assert again.node("hub").app == "echo"


def test_write_refusals(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="unknown output extension"):
        write_topology(load_topology("ring:3"), tmp_path / "ring.txt")
    isolated = load_topology("random:10:0", seed=1)
    with pytest.raises(OptionError, match="isolated nodes"):
        write_topology(isolated, tmp_path / "r.edgelist")
    write_topology(isolated, tmp_path / "r.adjlist")
    assert len(load_topology(tmp_path / "r.adjlist").nodes) == 10
    spaced = from_graph(nx.Graph([("New York", "Boston")]), "x.gml")
    with pytest.raises(OptionError, match="cannot hold spaces"):
        write_topology(spaced, tmp_path / "s.adjlist")
    with pytest.raises(OptionError, match="cannot write the file"):
        write_topology(spaced, tmp_path / "missing-folder" / "s.json")


def test_topology_to_graph() -> None:
    topology = load_topology(REPO / "topologies" / "star5.json")
    graph = topology_to_graph(topology)
    assert list(graph.nodes) == ["hub", "leaf1", "leaf2", "leaf3", "leaf4"]
    assert graph.nodes["hub"]["app"] == "echo"
    assert graph.edges["leaf3", "hub"]["transport"] == "udp"
    assert graph.graph == {"name": "star5"}


def test_describe_star() -> None:
    summary = describe(load_topology(REPO / "topologies" / "star5.json"), "unix")
    assert summary == {
        "name": "star5",
        "source": str(REPO / "topologies" / "star5.json"),
        "nodes": 5,
        "links": 4,
        "transports": {"udp": 1, "unix": 3},
        "apps": {"(default)": 4, "echo": 1},
        "degree": {"min": 1, "max": 4, "mean": 1.6},
        "connected": True,
        "components": 1,
        "component_sizes": [5],
        "isolated": [],
        "code_apps": {},
        "needs_allow_topology_apps": False,
        "warnings": [],
    }
    json.dumps(summary)


def test_describe_transport_order_and_default_app() -> None:
    summary = describe(load_topology(REPO / "topologies" / "mixed-transports.graphml"), default_app="flood")
    assert list(summary["transports"]) == [
        "tcp",
        "tcp6",
        "udp",
        "udp6",
        "unix",
        "unix-dgram",
        "unix-seqpacket",
    ]
    assert summary["apps"] == {"echo": 1, "flood": 5}


def test_describe_disconnected_with_isolated_nodes() -> None:
    graph = nx.Graph([("a", "b"), ("b", "c"), ("d", "e")])
    graph.add_node("f")
    summary = describe(from_graph(graph, "parts.gml"))
    assert (summary["connected"], summary["components"], summary["component_sizes"]) == (False, 3, [3, 2, 1])
    assert summary["isolated"] == ["f"]
    assert summary["degree"] == {"min": 0, "max": 2, "mean": 1.0}


def test_describe_rejects_an_unknown_default_transport() -> None:
    with pytest.raises(OptionError, match="unknown default transport"):
        describe(load_topology("ring:3"), "quic")
