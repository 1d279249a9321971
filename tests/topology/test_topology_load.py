"""Loading files: every reader, the Topology Zoo samples, and one clear TopologyError per bad file."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsim.errors import TopologyError
from netsim.topology import ACCEPTED_EXTENSIONS, describe, load_topology, read_graph
from netsim.vocabulary import TRANSPORT_NAMES

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = REPO / "topologies"
BAD = TOPOLOGIES / "bad"
ZOO = REPO.parent / "shared" / "topology-zoo"

requires_zoo = pytest.mark.skipif(
    not ZOO.is_dir(), reason=f"Topology Zoo samples not found at {ZOO} (../shared/topology-zoo)"
)


def load_zoo(name: str):
    return load_topology(ZOO / f"{name}.gml")


# -- the shipped examples -----------------------------------------------------------------------------


def test_ring8_gml() -> None:
    topology = load_topology(TOPOLOGIES / "ring8.gml")
    assert topology.name == "ring8"
    assert [node.name for node in topology.nodes] == [f"n{index}" for index in range(8)]
    assert [(link.a, link.b) for link in topology.links][-1] == ("n7", "n0")
    assert all(len(topology.neighbours(node.name)) == 2 for node in topology.nodes)


def test_mixed_transports_graphml_uses_every_transport() -> None:
    topology = load_topology(TOPOLOGIES / "mixed-transports.graphml")
    transports = [link.transport for link in topology.links]
    assert set(transports) == {*TRANSPORT_NAMES, None}
    assert transports.count(None) == 1
    assert topology.node("hub").app == "echo"
    assert topology.links[2].attrs == {"latency_ms": 5.0}
    assert describe(topology)["transports"]["tcp"] == 2  # the explicit tcp link and the default one


def test_star5_json() -> None:
    topology = load_topology(TOPOLOGIES / "star5.json")
    assert topology.name == "star5"
    assert [node.name for node in topology.nodes] == ["hub", "leaf1", "leaf2", "leaf3", "leaf4"]
    assert all(link.b == "hub" for link in topology.links)  # a = the edge's source in the file
    assert [link.transport for link in topology.links] == [None, None, "udp", "unix"]


def test_line4_edgelist() -> None:
    topology = load_topology(TOPOLOGIES / "line4.edgelist")
    assert [(link.a, link.b, link.transport) for link in topology.links] == [
        ("a", "b", None),
        ("b", "c", "udp"),
        ("c", "d", "unix"),
    ]
    assert topology.links[2].attrs == {"latency_ms": 2.5}
    assert topology.name == "line4"


def test_grid3x3_adjlist_matches_the_generator() -> None:
    from_file = load_topology(TOPOLOGIES / "grid3x3.adjlist")
    generated = load_topology("grid:3x3")
    assert [node.name for node in from_file.nodes] == [node.name for node in generated.nodes]
    as_pairs = {frozenset((link.a, link.b)) for link in from_file.links}
    assert as_pairs == {frozenset((link.a, link.b)) for link in generated.links}


def test_abilene_copy() -> None:
    topology = load_topology(TOPOLOGIES / "abilene.gml")
    assert (topology.name, len(topology.nodes), len(topology.links)) == ("Abilene", 11, 14)
    assert topology.node("New York").attrs["Latitude"] == pytest.approx(40.71427)
    assert (
        "Abilene" in (TOPOLOGIES / "README.md").read_text()
        and "CC BY-SA 3.0" in (TOPOLOGIES / "README.md").read_text()
    )


def test_every_example_is_described_in_the_readme() -> None:
    readme = (TOPOLOGIES / "README.md").read_text()
    for path in TOPOLOGIES.iterdir():
        if path.is_file() and path.name != "README.md":
            assert path.name in readme, path.name


def test_read_graph_returns_the_networkx_graph() -> None:
    graph = read_graph(TOPOLOGIES / "ring8.gml")
    assert isinstance(graph, nx.Graph)
    assert graph.number_of_nodes() == 8
    assert graph.nodes[0]["label"] == "n0"  # GML nodes keyed by id, label kept


# -- readers, one by one -----------------------------------------------------------------------------


def test_json_accepts_edges_and_links(tmp_path: Path) -> None:
    for key in ("edges", "links"):
        path = tmp_path / f"{key}.json"
        path.write_text(
            f'{{"nodes": [{{"id": "a"}}, {{"id": "b"}}], "{key}": [{{"source": "a", "target": "b"}}]}}'
        )
        assert [(link.a, link.b) for link in load_topology(path).links] == [("a", "b")]


def test_json_written_by_networkx_loads(tmp_path: Path) -> None:
    import json

    graph = nx.path_graph(4)
    graph.nodes[0]["app"] = "gossip"
    graph.edges[1, 2]["transport"] = "udp6"
    path = tmp_path / "nx.json"
    path.write_text(json.dumps(nx.node_link_data(graph, edges="links")))
    topology = load_topology(path)
    assert [node.name for node in topology.nodes] == ["0", "1", "2", "3"]
    assert topology.node("0").app == "gossip"
    assert topology.links[1].transport == "udp6"


def test_gml_written_by_networkx_loads(tmp_path: Path) -> None:
    graph = nx.cycle_graph(["x", "y", "z"])
    path = tmp_path / "cycle.gml"
    nx.write_gml(graph, path)
    topology = load_topology(path)
    assert [node.name for node in topology.nodes] == ["x", "y", "z"]


def test_graphml_defaults_apply(tmp_path: Path) -> None:
    path = tmp_path / "defaults.xml"
    path.write_text(
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<key id="t" for="edge" attr.name="transport" attr.type="string"><default>udp</default></key>'
        '<graph edgedefault="undirected"><node id="a"/><node id="b"/><node id="c"/>'
        '<edge source="a" target="b"/><edge source="b" target="c"><data key="t">unix</data></edge>'
        "</graph></graphml>"
    )
    topology = load_topology(path)
    assert [link.transport for link in topology.links] == ["udp", "unix"]
    assert "node_default" not in topology.graph_attrs


def test_graphml_without_namespace_and_directed(tmp_path: Path) -> None:
    path = tmp_path / "plain.graphml"
    path.write_text(
        '<graphml><graph edgedefault="directed"><node id="a"/><node id="b"/>'
        '<edge source="b" target="a"/><edge source="a" target="b"/></graph></graphml>'
    )
    topology = load_topology(path)
    assert [(link.a, link.b) for link in topology.links] == [("b", "a")]
    assert any("directed" in warning for warning in topology.warnings)
    assert any("merged 1 parallel" in warning for warning in topology.warnings)


def test_gml_keeps_file_order_and_direction(tmp_path: Path) -> None:
    path = tmp_path / "order.gml"
    path.write_text(
        'graph [\n node [ id 0 label "a" ]\n node [ id 1 label "b" ]\n node [ id 2 label "c" ]\n'
        " edge [ source 2 target 0 ]\n edge [ source 1 target 0 ]\n edge [ source 1 target 2 ]\n]\n"
    )
    assert [(link.a, link.b) for link in load_topology(path).links] == [("c", "a"), ("b", "a"), ("b", "c")]


def test_gml_simple_graph_with_a_repeated_edge_is_merged(tmp_path: Path) -> None:
    path = tmp_path / "repeat.gml"
    path.write_text(
        "graph [ node [ id 0 ] node [ id 1 ]"
        " edge [ source 0 target 1 speed 1 ] edge [ source 1 target 0 speed 2 ] ]"
    )
    topology = load_topology(path)
    assert [(link.a, link.b, link.attrs) for link in topology.links] == [("0", "1", {"speed": 1})]
    assert "merged 1 parallel edge(s)" in topology.warnings[0]


def test_edgelist_parallel_edges_first_attributes_win(tmp_path: Path) -> None:
    path = tmp_path / "parallel.edges"
    path.write_text("a b {'w': 1}\nb a {'w': 2}\nb c\n")
    topology = load_topology(path)
    assert [(link.a, link.b, link.attrs) for link in topology.links] == [("a", "b", {"w": 1}), ("b", "c", {})]
    assert "merged 1 parallel edge(s) into 1 link(s)" in topology.warnings[0]


def test_adjlist_isolated_node_and_symmetric_listing(tmp_path: Path) -> None:
    path = tmp_path / "sym.adjlist"
    path.write_text("a b\nb a c\nc b\nlonely\n")
    topology = load_topology(path)
    assert [node.name for node in topology.nodes] == ["a", "b", "c", "lonely"]
    assert [(link.a, link.b) for link in topology.links] == [("a", "b"), ("b", "c")]
    assert topology.warnings == ()
    assert describe(topology)["isolated"] == ["lonely"]


def test_extension_is_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "UPPER.GML"
    path.write_text("graph [ node [ id 0 ] node [ id 1 ] edge [ source 0 target 1 ] ]")
    assert len(load_topology(path).links) == 1


def test_utf8_names_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "köln.edgelist"
    path.write_bytes("\ufeffKöln Bonn\n".encode())
    topology = load_topology(path)
    assert [node.name for node in topology.nodes] == ["Köln", "Bonn"]
    assert topology.name == "köln"


# -- the Topology Zoo samples -----------------------------------------------------------------------


@requires_zoo
@pytest.mark.parametrize(
    "name", ["Abilene", "Arpanet196912", "Bandcon", "Cogentco", "Esnet", "Geant2010", "Interoute", "Nsfnet"]
)
def test_every_zoo_sample_loads(name: str) -> None:
    topology = load_zoo(name)
    names = [node.name for node in topology.nodes]
    assert len(set(names)) == len(names)
    assert topology.name
    assert all(link.a != link.b for link in topology.links)
    assert len({frozenset((link.a, link.b)) for link in topology.links}) == len(topology.links)


@requires_zoo
@pytest.mark.parametrize(
    ("name", "nodes", "links"), [("Esnet", 68, 79), ("Cogentco", 197, 243), ("Interoute", 110, 146)]
)
def test_zoo_duplicate_labels_get_the_id(name: str, nodes: int, links: int) -> None:
    topology = load_zoo(name)
    assert (len(topology.nodes), len(topology.links)) == (nodes, links)
    graph = nx.read_gml(ZOO / f"{name}.gml", label="id")
    labels = [data.get("label") for _node, data in graph.nodes(data=True)]
    duplicated = {label for label in labels if labels.count(label) > 1}
    assert duplicated
    for (node_id, data), node in zip(graph.nodes(data=True), topology.nodes, strict=True):
        expected = f"{data['label']} ({node_id})" if data["label"] in duplicated else data["label"]
        assert node.name == expected
        assert node.attrs["label"] == data["label"]


@requires_zoo
def test_interoute_self_loops_dropped_with_warning() -> None:
    topology = load_zoo("Interoute")
    loops = [warning for warning in topology.warnings if "self-loop" in warning]
    assert loops == [
        "dropped 2 self-loop(s) (a node linked to itself): Dubai -> Dubai, Luxembourg -> Luxembourg"
    ]


@requires_zoo
def test_geant_parallel_edges_merged() -> None:
    topology = load_zoo("Geant2010")
    assert (len(topology.nodes), len(topology.links)) == (37, 56)
    assert any(
        warning.startswith("merged 2 parallel edge(s) into 2 link(s)") for warning in topology.warnings
    )


@requires_zoo
def test_bandcon_is_disconnected() -> None:
    summary = describe(load_zoo("Bandcon"))
    assert summary["connected"] is False
    assert summary["components"] == 2
    assert sum(summary["component_sizes"]) == 22
    assert summary["warnings"] == []


@requires_zoo
def test_zoo_graph_attributes_and_coordinates() -> None:
    topology = load_zoo("Geant2010")
    assert topology.name == "GEANT"
    assert topology.graph_attrs["Network"] == "GEANT"
    assert all("Latitude" in node.attrs for node in topology.nodes)


# -- bad input: one TopologyError each, naming the file ------------------------------------------------

BAD_FILES = sorted(path for path in BAD.iterdir() if path.is_file())

EXPECTED_BAD = {
    "empty.gml": "the file is empty",
    "garbage.gml": "binary data",
    "latin1.edgelist": "line 1: the file is not UTF-8 text",
    "malformed.gml": "line 5: not a valid GML file: expected ']', found EOF",
    "malformed.json": "line 3: not valid JSON",
    "malformed.graphml": "line 7: not well-formed XML",
    "malformed.edgelist": "line 3: not a valid edge list line",
    "lonely-node.edgelist": "line 2: expected an edge",
    "unknown-transport.graphml": "edge a -> b: unknown transport 'quic'",
    "unknown-transport-type.gml": "edge 0 -> 1: unknown transport 6",
    "unknown-app.gml": "node a: unknown app 'pingpong'",
    "undefined-node.gml": "edge 0 -> 9: node 9 is not defined (known nodes: 0-1)",
    "undefined-node.graphml": "edge b -> z: node z is not defined (known nodes: a, b)",
    "undefined-node.json": "edge 1 -> 9: node 9 is not defined (known nodes: 0-1)",
    "no-nodes.json": "the graph has no nodes",
    "no-nodes.gml": "the graph has no nodes",
    "unknown-extension.topo": "unknown topology file extension '.topo'",
    "parallel-transport-conflict.gml": "edge a -> b: parallel edges disagree on transport ('tcp' vs 'udp')",
    "duplicate-node.json": "node a: the node id is defined twice",
    "duplicate-node.graphml": "node a: the node id is defined twice",
    "duplicate-node.gml": "node 0: the node id is defined twice",
    "not-graphml.xml": "not a GraphML file",
    "bad-node-id.json": "node #0: the node id must be a string or a number",
    "not-an-object.json": "expected a JSON object",
    "bad-encoding.graphml": "line 1: the XML declaration's encoding cannot be read: unknown encoding",
    "lone-surrogate.json": "node #0: the node's name '\\ud800' is not valid Unicode text",
    "deep-attribute.json": "node a: an attribute's value is nested more than 64 levels deep",
    "newer-format.json": "format 'netsim-topology/99': this netsim reads 'netsim-topology/1'",
}


def test_every_bad_file_has_an_expectation() -> None:
    assert {path.name for path in BAD_FILES} == set(EXPECTED_BAD)


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda path: path.name)
def test_bad_file_raises_one_line_topology_error(path: Path) -> None:
    relative = path.relative_to(REPO)
    with pytest.raises(TopologyError) as caught:
        load_topology(relative if Path.cwd() == REPO else path)
    message = str(caught.value)
    assert path.name in message
    assert "\n" not in message
    assert EXPECTED_BAD[path.name] in message
    assert caught.value.hint and "\n" not in caught.value.hint
    assert caught.value.exit_code == 2


def test_the_documented_example_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    with pytest.raises(TopologyError) as caught:
        load_topology("topologies/bad/undefined-node.gml")
    assert (
        str(caught.value)
        == "topologies/bad/undefined-node.gml: edge 0 -> 9: node 9 is not defined (known nodes: 0-1)"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path / "nope.gml")
    assert str(caught.value) == f"{tmp_path / 'nope.gml'}: no such file"
    assert "ring:8" in (caught.value.hint or "")


def test_missing_parent_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(TopologyError, match="no such file"):
        load_topology(tmp_path / "file" / "ring.gml")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "ring.gml"
    folder.mkdir()
    with pytest.raises(TopologyError, match="is a directory"):
        load_topology(folder)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.gml"
    path.write_text("graph [ node [ id 0 ] ]")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not stop reading")
        with pytest.raises(TopologyError) as caught:
            load_topology(path)
        assert "permission denied" in str(caught.value) and "secret.gml" in str(caught.value)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_not_a_regular_file() -> None:
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null")
    with pytest.raises(TopologyError, match="not a regular file"):
        load_topology("/dev/null")


def test_json_typed_ids_hint(tmp_path: Path) -> None:
    path = tmp_path / "typed.json"
    path.write_text('{"nodes": [{"id": 1}, {"id": 2}], "links": [{"source": 1, "target": "2"}]}')
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert 'edge 1 -> "2": node "2" is not defined' in str(caught.value)
    assert "typed" in (caught.value.hint or "")


def test_json_structure_errors(tmp_path: Path) -> None:
    cases = {
        '{"links": []}': 'no "nodes" list',
        '{"nodes": {}}': '"nodes" is an object, not a list',
        '{"nodes": [{"id": 1}], "links": {}}': '"links" is an object, not a list',
        '{"nodes": [{"name": 1}]}': 'node #0: each node must be an object with an "id"',
        '{"nodes": [{"id": 1}], "links": [{"source": 1}]}': "links #0: each edge must be an object",
        '{"nodes": [{"id": 1}], "links": [], "edges": []}': 'both "edges" and "links"',
        '{"nodes": [{"id": 1}], "graph": 3}': '"graph" is a number',
        '{"format": "netsim-topology/1", "nodes": [{"id": 1}]}': 'needs "name" and "source"',
    }
    for number, (text, expected) in enumerate(cases.items()):
        path = tmp_path / f"case{number}.json"
        path.write_text(text)
        with pytest.raises(TopologyError) as caught:
            load_topology(path)
        assert expected in str(caught.value), text


def test_gml_and_graphml_structure_errors(tmp_path: Path) -> None:
    cases = {
        "a.gml": ('graph [ node [ label "x" ] ]', "not a valid GML file: node #0 has no 'id' attribute"),
        "b.gml": ("graph [ node [ id 0 ] ] graph [ ]", "more than one graph"),
        "c.gml": ('creator "me"', "no graph"),
        "d.graphml": ("<graphml><graph><node/></graph></graphml>", "node #0: the <node> element has no id"),
        "e.graphml": ('<graphml><graph><node id="a"/><edge source="a"/></graph></graphml>', "edge #0"),
        "f.graphml": ("<graphml/>", "no <graph> element"),
        "f2.graphml": (
            '<graphml><graph><node id="a"/></graph><graph/></graphml>',
            "holds 2 <graph> elements",
        ),
        "g.graphml": (
            '<graphml><graph><node id="a"><data key="nope">1</data></node></graph></graphml>',
            "not a valid GraphML file",
        ),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(TopologyError) as caught:
            load_topology(path)
        assert expected in str(caught.value), name
        assert name in str(caught.value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), extension=st.sampled_from(ACCEPTED_EXTENSIONS))
def test_random_bytes_raise_only_topology_error(data: bytes, extension: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{extension}"
        path.write_bytes(data)
        try:
            load_topology(path)
        except TopologyError as error:
            assert path.name in str(error)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list('graph node edge id source target label [ ] " 0 1 2 # \n')),
        max_size=200,
    )
)
def test_gml_like_text_raises_only_topology_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.gml"
        path.write_text(text)
        with contextlib.suppress(TopologyError):
            load_topology(path)


def test_permission_denied_is_reported_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real chmod test above skips under root; this one forces the same OSError through the loader.
    path = tmp_path / "secret.gml"
    path.write_text("graph [ node [ id 0 ] ]")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert str(caught.value) == f"{path}: cannot read the file: permission denied"
    assert "chmod" in (caught.value.hint or "")


# -- networkx graphs built in Python ----------------------------------------------------------------------


def test_a_networkx_graph_loads_by_the_rules_of_a_file() -> None:
    graph = nx.Graph(name="triangle")
    graph.add_node("a", app="echo")
    graph.add_edge("a", "b", transport="udp", latency_ms=5)
    graph.add_edge("b", 3)
    topo = load_topology(graph)
    assert topo.name == "triangle" and topo.source == "networkx.Graph 'triangle'"
    assert [node.name for node in topo.nodes] == ["a", "b", "3"]
    assert topo.nodes[0].app == "echo"
    assert [(link.a, link.b, link.transport) for link in topo.links] == [("a", "b", "udp"), ("b", "3", None)]
    assert topo.links[0].attrs == {"latency_ms": 5}


def test_an_unnamed_networkx_graph_is_called_graph() -> None:
    topo = load_topology(nx.MultiDiGraph(nx.cycle_graph(3)))
    assert (topo.name, topo.source) == ("graph", "networkx.MultiDiGraph")
    assert len(topo.links) == 3


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        (nx.Graph(), "networkx.Graph: the graph has no nodes"),
        (nx.Graph([("a", "b", {"transport": "pigeon"})]), "networkx.Graph: edge a -> b: unknown transport"),
        (42, "int object: not a topology"),
        ([("a", "b")], "list object: not a topology"),
    ],
)
def test_a_bad_graph_is_one_topology_error(graph: object, message: str) -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology(graph)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and caught.value.hint


def test_an_error_that_quotes_a_huge_value_stays_one_short_line(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    document = {
        "directed": False,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": "a"}, {"id": "b"}],
        "links": [{"source": "a", "target": "b", "transport": "q" * 5_000_000}],
    }
    huge.write_text(json.dumps(document))
    with pytest.raises(TopologyError) as caught:
        load_topology(huge)
    message = str(caught.value)
    assert len(message) < 2_500 and "\n" not in message
    assert message.startswith(f"{huge}: edge a -> b: unknown transport 'qqq")
    assert "characters left out" in message
