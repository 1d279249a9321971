"""Numbers in topologies: generator sizes refused before anything is built, seeds within int64,
numbers too long for int() located in the file, and nodes that would have no name."""

from __future__ import annotations

import time
from pathlib import Path

import networkx as nx
import pytest

from netsim.errors import OptionError, TopologyError
from netsim.topology import from_graph, generate_graph, load_topology
from netsim.topology.formats import find_overlong_integer
from netsim.topology.generate import MAX_GENERATED_NODES, SEED_MAX, SEED_MIN


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("tree:2x99999999999", "the height has 11 digits"),
        ("tree:99999999999x99999999999", "the branching factor has 11 digits"),
        ("tree:1x100000", "a 1x100000 tree is more than netsim generates"),
        ("tree:100001x1", "the branching factor 100001 is more than netsim generates"),
        ("complete:" + "9" * 400, "the node count has 400 digits"),
        ("random:" + "9" * 400 + ":0.5", "the node count has 400 digits"),
        ("ring:" + "9" * 5000, "the node count has 5000 digits"),
        ("grid:" + "9" * 5000 + "x2", "the row count has 5000 digits"),
    ],
)
def test_a_huge_generator_spec_is_refused_at_once(spec: str, expected: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TopologyError, match="more than netsim generates") as caught:
        load_topology(spec)
    assert expected in str(caught.value)
    assert time.perf_counter() - started < 1


def test_the_largest_trees_still_generate() -> None:
    assert len(generate_graph("tree", ["1x99999"])) == MAX_GENERATED_NODES
    assert len(generate_graph("tree", ["2x15"])) == 2**16 - 1


@pytest.mark.parametrize(
    "seed",
    [SEED_MAX + 1, SEED_MIN - 1, 10**30, 10**5000, 1.5, True, "7"],
    ids=["max+1", "min-1", "31 digits", "5001 digits", "float", "bool", "str"],
)
def test_seeds_must_fit_64_bits(seed) -> None:
    with pytest.raises(OptionError, match="--seed must be a whole number"):
        load_topology("random:10:0.5", seed=seed)
    with pytest.raises(OptionError, match="--seed"):
        generate_graph("ring", ["4"], seed=seed)


def test_the_extreme_seeds_are_accepted() -> None:
    first = load_topology("random:10:0.5", seed=SEED_MIN)
    last = load_topology("random:10:0.5", seed=SEED_MAX)
    assert len(first.nodes) == len(last.nodes) == 10


def test_a_json_number_too_long_for_int_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "long.json"
    path.write_text('{"nodes": [\n  {"id": "a"},\n  {"id": "b", "w": ' + "7" * 5000 + '}\n], "links": []}')
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert str(caught.value) == f"{path}: line 3: not valid JSON: a number of 5000 digits"


def test_find_overlong_integer() -> None:
    assert find_overlong_integer("1\n2\n" + "3" * 4300) is None
    assert find_overlong_integer("1\n2\n" + "3" * 4301) == (3, 4301)


def test_a_node_with_an_empty_name_is_refused() -> None:
    graph = nx.Graph([("", "b")])
    with pytest.raises(TopologyError, match=r"g.json: node #0: the node has an empty name"):
        from_graph(graph, "g.json")
    labelled = nx.Graph([("", "b")])
    labelled.nodes[""]["label"] = "a"
    assert [node.name for node in from_graph(labelled, "g.json").nodes] == ["a", "b"]
