"""Routes and the forwarding envelope (``netsim.runtime.routing``), pure."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.runtime.routing import first_hops, unwrap, wrap


def test_first_hops_on_a_line_and_a_ring() -> None:
    line = [(0, 1), (1, 2), (2, 3)]
    assert first_hops(0, line) == {1: 1, 2: 1, 3: 1}
    assert first_hops(2, line) == {1: 1, 0: 1, 3: 3}
    ring = [(0, 1), (1, 2), (2, 3), (3, 0)]
    # Two shortest paths to 2: through the lower-indexed neighbour, every time.
    assert first_hops(0, ring) == {1: 1, 3: 3, 2: 1}


def test_nodes_out_of_reach_have_no_route() -> None:
    assert first_hops(0, [(0, 1), (2, 3)]) == {1: 1}
    assert first_hops(5, [(0, 1)]) == {}


@settings(max_examples=60)
@given(st.integers(2, 25), st.floats(0.05, 0.6), st.integers(0, 10_000))
def test_every_first_hop_starts_a_shortest_path(nodes: int, p: float, seed: int) -> None:
    graph = nx.gnp_random_graph(nodes, p, seed=seed)
    links = list(graph.edges)
    for source in graph.nodes:
        hops = first_hops(source, links)
        lengths = nx.single_source_shortest_path_length(graph, source)
        assert set(hops) == set(lengths) - {source}
        for dest, hop in hops.items():
            assert graph.has_edge(source, hop)
            assert nx.shortest_path_length(graph, hop, dest) == lengths[dest] - 1


def test_the_envelope_round_trips_and_is_never_a_maelstrom_body() -> None:
    body = {"type": "echo", "msg_id": 3}
    assert unwrap(wrap("n0", "n3", 1, body)) == ("n0", "n3", 1, body)
    assert unwrap(body) is None
    assert unwrap({"type": "x", "forward": {"src": "a", "dest": "b", "hops": 1}}) is None
    assert unwrap({"forward": {"src": "a", "dest": "b"}}) is None
    assert unwrap(["forward"]) is None
