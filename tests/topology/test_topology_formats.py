"""The format parsers called directly on strings and bytes: no file, the source name only in errors.

Each parser is held to its whole input (graph and edges in file order), a malformed input (the located
error, message and hint to the byte), and trailing garbage after a valid graph.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable
from typing import Any

import pytest

from netsim.errors import TopologyError
from netsim.topology.formats import (
    NETSIM_TOPOLOGY_FORMAT,
    parse_adjlist,
    parse_edgelist,
    parse_gml,
    parse_graphml,
    parse_node_link,
)

SOURCE = "no/such/dir/topology"  # never opened: a parser only names it

RING3_GML = (
    "graph [\n"
    '  label "tri"\n'
    '  node [ id 0 label "a" ]\n'
    '  node [ id 1 label "b" ]\n'
    '  node [ id 2 label "c" ]\n'
    "  edge [ source 1 target 0 ]\n"
    '  edge [ source 1 target 2 transport "udp" ]\n'
    "  edge [ source 2 target 0 ]\n"
    "]\n"
)

STAR_JSON = (
    '{"graph": {"name": "star"},\n'
    ' "nodes": [{"id": "hub"}, {"id": "x", "app": "echo"}, {"id": "y"}],\n'
    ' "links": [{"source": "x", "target": "hub"}, {"source": "y", "target": "hub", "transport": "unix"}]}\n'
)

LINE_EDGELIST = 'a b\n# a comment line\nc b {"transport": "udp", "latency_ms": 2.5}  # trailing comment\n'

PAIR_GRAPHML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<graphml>\n"
    b'  <key id="t" for="edge" attr.name="transport" attr.type="string"><default>tcp</default></key>\n'
    b'  <graph edgedefault="undirected">\n'
    b'    <node id="b"/>\n'
    b'    <node id="a"/>\n'
    b'    <edge source="b" target="a"/>\n'
    b"  </graph>\n"
    b"</graphml>\n"
)


def located(parse: Callable[[Any, str], Any], content: Any) -> tuple[str, str | None]:
    with pytest.raises(TopologyError) as caught:
        parse(content, SOURCE)
    return str(caught.value), caught.value.hint


# -- whole inputs -------------------------------------------------------------------------------------


def test_gml_whole_input() -> None:
    parsed = parse_gml(RING3_GML, SOURCE)
    assert dict(parsed.graph.nodes(data="label")) == {0: "a", 1: "b", 2: "c"}
    assert parsed.graph.graph == {"label": "tri"}
    assert parsed.edge_order == [(1, 0), (1, 2), (2, 0)]  # as written, direction included
    assert parsed.graph.edges[1, 2]["transport"] == "udp"
    assert (parsed.node_names, parsed.restored) == ("label", {})


def test_gml_edge_listed_twice_is_read_as_a_multigraph() -> None:
    parsed = parse_gml(
        "graph [ node [ id 0 ] node [ id 1 ] edge [ source 0 target 1 ] edge [ source 1 target 0 ] ]", SOURCE
    )
    assert parsed.graph.is_multigraph()
    assert parsed.graph.number_of_edges() == 2
    assert parsed.edge_order == [(0, 1), (1, 0)]


def test_node_link_whole_input() -> None:
    parsed = parse_node_link(STAR_JSON, SOURCE)
    assert parsed.graph.is_multigraph()
    assert list(parsed.graph.nodes) == ["hub", "x", "y"]
    assert parsed.graph.nodes["x"] == {"app": "echo"}
    assert parsed.edge_order == [("x", "hub"), ("y", "hub")]
    assert (parsed.node_names, parsed.restored) == ("label", {})


def test_node_link_of_netsim_restores_name_source_and_warnings() -> None:
    text = (
        f'{{"format": "{NETSIM_TOPOLOGY_FORMAT}", "name": "r", "source": "ring:2", "warnings": ["w"],'
        ' "nodes": [{"id": "n0"}, {"id": "n1"}], "links": [{"source": "n0", "target": "n1"}]}'
    )
    parsed = parse_node_link(text, SOURCE)
    assert parsed.node_names == "id"
    assert parsed.restored == {"name": "r", "source": "ring:2", "warnings": ["w"]}


def test_edgelist_whole_input() -> None:
    parsed = parse_edgelist(LINE_EDGELIST, SOURCE)
    assert parsed.edge_order == [("a", "b"), ("c", "b")]
    assert sorted(parsed.graph.edges(data=True)) == [
        ("a", "b", {}),
        ("b", "c", {"transport": "udp", "latency_ms": 2.5}),
    ]


def test_adjlist_whole_input_keeps_each_pair_once_in_first_mention_order() -> None:
    parsed = parse_adjlist("a b c\nb a c  # b again\nd\n", SOURCE)
    assert parsed.edge_order == [("a", "b"), ("a", "c"), ("b", "c")]
    assert list(parsed.graph.nodes) == ["a", "b", "c", "d"]


def test_graphml_whole_input_applies_defaults() -> None:
    parsed = parse_graphml(PAIR_GRAPHML, SOURCE)
    assert list(parsed.graph.nodes) == ["b", "a"]
    assert parsed.edge_order == [("b", "a")]
    assert [data for _u, _v, data in parsed.graph.edges(data=True)] == [{"transport": "tcp"}]


def test_graphml_reads_types_as_networkx_does() -> None:
    """netsim's reader leaves numpy out of networkx's type table; reading must map every name alike."""
    from networkx.readwrite.graphml import GraphMLReader

    from netsim.topology.formats.graphml import _PythonTypesReader

    assert _PythonTypesReader().python_type == GraphMLReader().python_type


def test_graphml_in_utf16_is_decoded_by_its_declaration() -> None:
    data = PAIR_GRAPHML.decode().replace("UTF-8", "UTF-16").encode("utf-16")
    assert parse_graphml(data, SOURCE).edge_order == [("b", "a")]


# -- malformed inputs: the located error, to the byte -------------------------------------------------


def test_gml_undefined_endpoint_names_the_edge_and_the_known_nodes() -> None:
    text = RING3_GML.replace("source 2 target 0", "source 2 target 9")
    assert located(parse_gml, text) == (
        f"{SOURCE}: edge 2 -> 9: node 9 is not defined (known nodes: 0-2)",
        "add a node with id 9, or fix the edge's source and target",
    )


def test_gml_cut_short_names_the_line() -> None:
    assert located(parse_gml, RING3_GML[: RING3_GML.index("  edge")]) == (
        f"{SOURCE}: line 6: not a valid GML file: expected ']', found EOF",
        "check the GML there, and that the file's extension matches its format",
    )


def test_gml_trailing_garbage_names_the_line() -> None:
    assert located(parse_gml, RING3_GML + "garbage\n") == (
        f"{SOURCE}: line 11: not a valid GML file: expected an int, float, string or '[', found EOF",
        "check the GML there, and that the file's extension matches its format",
    )


def test_node_link_trailing_garbage_names_line_and_column() -> None:
    assert located(parse_node_link, STAR_JSON + "]") == (
        f"{SOURCE}: line 4: not valid JSON: Extra data (column 1)",
        'fix the JSON there; a node-link file is {"nodes": [...], "links": [...]}',
    )


def test_node_link_string_id_for_a_number_says_ids_are_typed() -> None:
    text = '{"nodes": [{"id": 1}, {"id": 2}], "links": [{"source": "1", "target": 2}]}'
    assert located(parse_node_link, text) == (
        f'{SOURCE}: edge "1" -> 2: node "1" is not defined (known nodes: 1-2)',
        'node ids are typed: the string "1" is not the number 1; write them the same way',
    )


def test_edgelist_lone_node_names_the_line() -> None:
    assert located(parse_edgelist, LINE_EDGELIST + "lonely\n") == (
        f"{SOURCE}: line 4: expected an edge 'a b' or 'a b {{...}}', found 'lonely'",
        "an edge list cannot hold isolated nodes: use .adjlist, .gml, .graphml or .json",
    )


def test_graphml_mismatched_tag_names_line_and_column() -> None:
    data = PAIR_GRAPHML.replace(b'<node id="a"/>', b'<node id="a">')
    assert located(parse_graphml, data) == (
        f"{SOURCE}: line 8: not well-formed XML: mismatched tag (column 5)",
        "fix the XML there; GraphML is XML with <graphml>, <graph>, <node> and <edge> elements",
    )


def test_graphml_trailing_garbage_is_not_well_formed() -> None:
    message, _hint = located(parse_graphml, PAIR_GRAPHML + b"<graphml/>")
    assert message == f"{SOURCE}: line 10: not well-formed XML: junk after document element (column 1)"


# -- pure: no file system -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "content"),
    [
        (parse_gml, RING3_GML),
        (parse_node_link, STAR_JSON),
        (parse_edgelist, LINE_EDGELIST),
        (parse_adjlist, "a b\n"),
        (parse_graphml, PAIR_GRAPHML),
    ],
)
def test_parsers_open_no_file(
    parse: Callable[[Any, str], Any], content: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a parser opened a file: {args!r}")

    for module, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "stat")):
        monkeypatch.setattr(module, name, refuse)
    assert parse(content, SOURCE).graph.number_of_nodes() > 0
