"""from_graph: the conversion rules, on hand-made and random networkx graphs."""

from __future__ import annotations

import enum
import math

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.errors import TopologyError
from netsim.topology import from_graph, to_json_value
from netsim.topology.parse import format_node_ids


def test_names_unique_labels_duplicates_and_missing() -> None:
    graph = nx.Graph()
    graph.add_node(0, label="Paris")
    graph.add_node(1, label="Rome")
    graph.add_node(2, label="Rome")
    graph.add_node(3)
    graph.add_node("x", label="")
    topology = from_graph(graph, "cities.gml")
    assert [node.name for node in topology.nodes] == ["Paris", "Rome (1)", "Rome (2)", "3", "x"]
    assert [node.index for node in topology.nodes] == [0, 1, 2, 3, 4]
    assert topology.nodes[1].attrs == {"label": "Rome"}
    assert topology.warnings == ()


def test_a_label_that_equals_another_id_is_made_unique() -> None:
    graph = nx.Graph()
    graph.add_node(0, label="1")
    graph.add_node(1)
    topology = from_graph(graph, "clash.gml")
    assert [node.name for node in topology.nodes] == ["1", "1 #2"]
    assert "renamed 1 node(s)" in topology.warnings[0]


def test_node_names_by_id() -> None:
    graph = nx.Graph()
    graph.add_node("a", label="same")
    graph.add_node("b", label="same")
    topology = from_graph(graph, "x.json", node_names="id")
    assert [node.name for node in topology.nodes] == ["a", "b"]


def test_app_and_transport_are_taken_out_of_attrs() -> None:
    graph = nx.Graph()
    graph.add_node("a", app="echo", colour="red")
    graph.add_node("b", app="mypkg.apps:Pinger")
    graph.add_node("c", app="")
    graph.add_edge("a", "b", transport="unix-seqpacket", latency_ms=3)
    graph.add_edge("b", "c", transport="")
    topology = from_graph(graph, "apps.graphml")
    assert [node.app for node in topology.nodes] == ["echo", "mypkg.apps:Pinger", None]
    assert topology.node("a").attrs == {"colour": "red"}
    assert topology.links[0] == topology.links[0].__class__("a", "b", "unix-seqpacket", {"latency_ms": 3})
    assert topology.links[1].transport is None


@pytest.mark.parametrize("app", ["pingpong", ":Class", "module:", 7])
def test_unknown_app(app: object) -> None:
    graph = nx.Graph()
    graph.add_node("a", app=app)
    with pytest.raises(TopologyError) as caught:
        from_graph(graph, "apps.gml")
    assert str(caught.value).startswith(f"apps.gml: node a: unknown app {app!r}")
    assert "echo, flood, gossip" in (caught.value.hint or "") and "module:Class" in (caught.value.hint or "")


@pytest.mark.parametrize("transport", ["quic", "TCP", 4])
def test_unknown_transport(transport: object) -> None:
    graph = nx.Graph()
    graph.add_edge("a", "b", transport=transport)
    with pytest.raises(TopologyError) as caught:
        from_graph(graph, "t.gml")
    assert str(caught.value) == f"t.gml: edge a -> b: unknown transport {transport!r}"
    assert "unix-seqpacket" in (caught.value.hint or "")


def test_no_nodes() -> None:
    with pytest.raises(TopologyError, match="the graph has no nodes"):
        from_graph(nx.Graph(), "empty.json")


def test_self_loops_dropped_with_warning() -> None:
    graph = nx.Graph([("a", "a"), ("a", "b")])
    topology = from_graph(graph, "loops.gml")
    assert [(link.a, link.b) for link in topology.links] == [("a", "b")]
    assert topology.warnings == ("dropped 1 self-loop(s) (a node linked to itself): a -> a",)


def test_parallel_edges_merged_first_attributes_win() -> None:
    graph = nx.MultiGraph()
    graph.add_edge("a", "b", speed=1)
    graph.add_edge("a", "b", speed=2)
    graph.add_edge("a", "b", speed=3)
    topology = from_graph(graph, "multi.gml")
    assert [(link.a, link.b, link.attrs) for link in topology.links] == [("a", "b", {"speed": 1})]
    assert topology.warnings == (
        "merged 2 parallel edge(s) into 1 link(s), keeping each first edge's attributes: a -- b (x3)",
    )


def test_parallel_edges_transport_set_on_one_of_them() -> None:
    graph = nx.MultiGraph()
    graph.add_edge("a", "b")
    graph.add_edge("a", "b", transport="udp")
    assert from_graph(graph, "multi.gml").links[0].transport == "udp"


def test_parallel_edges_disagreeing_on_transport() -> None:
    graph = nx.MultiGraph()
    graph.add_edge("a", "b", transport="tcp")
    graph.add_edge("b", "a", transport="udp")
    with pytest.raises(TopologyError) as caught:
        from_graph(graph, "multi.gml")
    assert (
        str(caught.value) == "multi.gml: edge a -> b: parallel edges disagree on transport ('tcp' vs 'udp')"
    )


def test_directed_graph_is_undirected_with_a_warning() -> None:
    graph = nx.DiGraph([("b", "a"), ("a", "b"), ("a", "c")])
    topology = from_graph(graph, "d.graphml")
    assert [(link.a, link.b) for link in topology.links] == [("b", "a"), ("a", "c")]
    assert any("directed" in warning for warning in topology.warnings)
    assert any("merged 1 parallel edge(s)" in warning for warning in topology.warnings)


def test_edge_order_sets_link_order_and_direction() -> None:
    graph = nx.MultiGraph()
    graph.add_nodes_from("abc")
    graph.add_edge("c", "a", n=1)
    graph.add_edge("b", "a", n=2)
    graph.add_edge("a", "b", n=3)
    in_file = [("c", "a"), ("b", "a"), ("a", "b")]
    topology = from_graph(graph, "x.gml", edge_order=in_file)
    assert [(link.a, link.b, link.attrs) for link in topology.links] == [
        ("c", "a", {"n": 1}),
        ("b", "a", {"n": 2}),
    ]
    # An order that does not match the graph is ignored rather than trusted.
    ignored = from_graph(graph, "x.gml", edge_order=[("a", "b")])
    assert len(ignored.links) == 2


def test_disconnected_and_isolated_are_fine() -> None:
    graph = nx.Graph([("a", "b"), ("c", "d")])
    graph.add_node("e")
    topology = from_graph(graph, "parts.gml")
    assert len(topology.nodes) == 5 and topology.warnings == ()


def test_graph_name_rules() -> None:
    graph = nx.Graph([(1, 2)])
    assert from_graph(graph, "dir/some-file.gml").name == "some-file"
    graph.graph["label"] = "Labelled"
    assert from_graph(graph, "x.gml").name == "Labelled"
    graph.graph["name"] = "Named"
    assert from_graph(graph, "x.gml").name == "Named"
    graph.graph["Network"] = "Zoo"
    assert from_graph(graph, "x.gml").name == "Zoo"
    assert from_graph(graph, "x.gml", name="override").name == "override"


class Colour(enum.IntEnum):
    RED = 1


def test_to_json_value() -> None:
    assert to_json_value({"a": (1, [2.5, None]), 3: {"b": True}}) == {"a": [1, [2.5, None]], "3": {"b": True}}
    assert to_json_value(Colour.RED) == 1 and type(to_json_value(Colour.RED)) is int
    assert to_json_value({1, 2}) in ("{1, 2}", "{2, 1}")
    assert to_json_value(b"x") == "b'x'"
    assert math.isinf(to_json_value(float("inf")))


def test_attrs_are_json_compatible() -> None:
    graph = nx.Graph()
    graph.add_node("a", where=(1.5, 2.5), obj=object())
    graph.graph["created"] = ("2024", 1)
    topology = from_graph(graph, "x.gml")
    assert topology.node("a").attrs["where"] == [1.5, 2.5]
    assert isinstance(topology.node("a").attrs["obj"], str)
    assert topology.graph_attrs == {"created": ["2024", 1]}


def test_format_node_ids() -> None:
    assert format_node_ids([0, 1, 2, 3, 7, 9, 10]) == "0-3, 7, 9-10"
    assert format_node_ids(["a", "b"]) == "a, b"
    assert format_node_ids([str(number) for number in range(20)]).endswith("... (20 in all)")


# -- properties on random graphs ---------------------------------------------------------------------

labels = st.one_of(st.none(), st.sampled_from(["", "a", "b", "1", "2", "a (1)", "x #2"]), st.text(max_size=4))
node_ids = st.one_of(st.integers(0, 12), st.sampled_from(["1", "a", "b", "a (1)"]))


@st.composite
def random_graphs(draw: st.DrawFn) -> nx.Graph:
    kind = draw(st.sampled_from([nx.Graph, nx.MultiGraph, nx.DiGraph, nx.MultiDiGraph]))
    graph = kind()
    ids = draw(st.lists(node_ids, min_size=1, max_size=15, unique_by=lambda value: (type(value), value)))
    for node_id in ids:
        label = draw(labels)
        graph.add_node(node_id, **({} if label is None else {"label": label}))
    edges = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=40))
    graph.add_edges_from(edges)
    return graph


@settings(max_examples=300, deadline=None)
@given(graph=random_graphs())
def test_from_graph_invariants(graph: nx.Graph) -> None:
    topology = from_graph(graph, "random.gml")
    names = [node.name for node in topology.nodes]
    assert len(names) == len(set(names)) == graph.number_of_nodes()
    assert all(name for name in names)
    assert [node.index for node in topology.nodes] == list(range(len(names)))
    pairs = [frozenset((link.a, link.b)) for link in topology.links]
    assert all(len(pair) == 2 for pair in pairs)
    assert len(pairs) == len(set(pairs))
    assert {name for pair in pairs for name in pair} <= set(names)
    simple = nx.Graph(graph.to_undirected()) if graph.is_directed() else nx.Graph(graph)
    simple.remove_edges_from(list(nx.selfloop_edges(simple)))
    assert len(topology.links) == simple.number_of_edges()
