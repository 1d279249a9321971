"""Generator specs: parsing, every kind's shape, and clear errors for bad arguments."""

from __future__ import annotations

import pytest

from netsim.errors import TopologyError
from netsim.topology import (
    GENERATOR_KINDS,
    generate_graph,
    is_generator_spec,
    load_topology,
    parse_generator_spec,
)


@pytest.mark.parametrize(
    ("spec", "nodes", "links"),
    [
        ("ring:8", 8, 8),
        ("ring:3", 3, 3),
        ("grid:4x4", 16, 24),
        ("grid:2x3", 6, 7),
        ("grid:1x2", 2, 1),
        ("star:10", 10, 9),
        ("star:2", 2, 1),
        ("line:5", 5, 4),
        ("tree:2x3", 15, 14),
        ("tree:1x4", 5, 4),
        ("tree:3x2", 13, 12),
        ("complete:6", 6, 15),
        ("complete:2", 2, 1),
        ("random:50:0", 50, 0),
        ("random:10:1", 10, 45),
    ],
)
def test_generator_sizes(spec: str, nodes: int, links: int) -> None:
    topology = load_topology(spec)
    assert (len(topology.nodes), len(topology.links)) == (nodes, links)
    assert [node.name for node in topology.nodes] == [f"n{index}" for index in range(nodes)]
    assert [node.index for node in topology.nodes] == list(range(nodes))
    assert topology.source == spec
    assert topology.warnings == ()


def test_every_kind_is_covered() -> None:
    assert set(GENERATOR_KINDS) == {"ring", "grid", "star", "line", "tree", "complete", "random"}


def test_parse_generator_spec() -> None:
    assert parse_generator_spec("random:50:0.1") == ("random", ["50", "0.1"])
    assert parse_generator_spec("grid:4x4") == ("grid", ["4x4"])
    assert is_generator_spec("ring:8")
    assert not is_generator_spec("topologies/ring8.gml")
    assert not is_generator_spec("donut:8")


def test_grid_is_row_major_with_row_and_col() -> None:
    graph = generate_graph("grid", ["2x3"], None)
    assert list(graph.nodes) == [f"n{index}" for index in range(6)]
    assert graph.nodes["n4"] == {"row": 1, "col": 1}
    assert graph.has_edge("n0", "n1") and graph.has_edge("n0", "n3") and not graph.has_edge("n2", "n3")


def test_grid_and_tree_take_two_arguments_too() -> None:
    assert generate_graph("grid", ["3", "2"], None).number_of_nodes() == 6
    assert generate_graph("tree", "2:2", None).number_of_nodes() == 7


def test_star_hub_is_n0() -> None:
    topology = load_topology("star:5")
    assert all(link.a == "n0" for link in topology.links)


def test_tree_is_a_balanced_tree() -> None:
    graph = generate_graph("tree", ["2x2"], None)
    assert sorted(graph.neighbors("n0")) == ["n1", "n2"]
    assert sorted(graph.neighbors("n2")) == ["n0", "n5", "n6"]


def test_random_is_deterministic_given_a_seed() -> None:
    first = load_topology("random:40:0.2", seed=7)
    second = load_topology("random:40:0.2", seed=7)
    other = load_topology("random:40:0.2", seed=8)
    assert first == second
    assert first.links != other.links
    assert first.graph_attrs == {"name": "random:40:0.2", "seed": 7}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ring:2", "at least 3"),
        ("ring:eight", "whole number"),
        ("ring:8:9", "one argument"),
        ("line:1", "at least 2"),
        ("star:1", "at least 2"),
        ("complete:1", "at least 2"),
        ("grid:4", "two dimensions"),
        ("grid:1x1", "single node"),
        ("grid:0x4", "at least 1"),
        ("tree:2", "two dimensions"),
        ("tree:0x3", "at least 1"),
        ("random:50", "two arguments"),
        ("random:50:1.5", "between 0 and 1"),
        ("random:50:nan", "between 0 and 1"),
        ("random:50:often", "must be a number"),
        ("complete:100000", "more than netsim generates"),
        ("ring:1000001", "more than netsim generates"),
        ("tree:10x10", "more than netsim generates"),
    ],
)
def test_bad_generator_arguments(spec: str, expected: str) -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology(spec)
    assert expected in str(caught.value)
    assert str(caught.value).startswith(f"{spec}: ")
    assert caught.value.hint and "e.g." in caught.value.hint


def test_unknown_kind_names_the_accepted_forms() -> None:
    with pytest.raises(TopologyError) as caught:
        generate_graph("donut", ["8"], None)
    assert "donut" in str(caught.value) and "ring" in str(caught.value)
    assert "grid:RxC" in (caught.value.hint or "")
    with pytest.raises(TopologyError) as caught:
        parse_generator_spec("donut:8")
    assert "known kinds" in str(caught.value)


def test_unknown_kind_without_a_file_says_both() -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology("donut:8")
    assert "no such file" in str(caught.value) and "'donut' is not a generator kind" in str(caught.value)
    assert "ring:N" in (caught.value.hint or "")


def test_an_existing_file_wins_over_a_spec(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ring:3").write_text("a b\n")
    with pytest.raises(TopologyError, match="unknown topology file extension"):
        load_topology("ring:3")
