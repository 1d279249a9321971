"""plot_run / render_plot_png on real runs and bare traces; traffic counting and node positions."""

from __future__ import annotations

import shutil
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from netsim_testing import load_trace, write_trace
from typer.testing import CliRunner

from netsim.cli.trace import app as trace_app
from netsim.errors import OptionError
from netsim.trace import SCHEMA
from netsim.trace.layout import node_positions, run_graph
from netsim.trace.plot import (
    DPI,
    FIGURE_SIZE,
    bucket_size_ns,
    count_traffic,
    last_ts_ns,
    place_aside,
    plot_run,
    render_plot_png,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEND = {"send", "sendto"}
RECEIVE = {"recv", "recvfrom"}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- pictures -------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_png_bytes_are_a_sane_png(abilene_run: Path) -> None:
    data = render_plot_png(abilene_run)
    assert png_size(data) == (int(FIGURE_SIZE[0] * DPI), int(FIGURE_SIZE[1] * DPI))
    assert 10_000 < len(data) < 3_000_000


@pytest.mark.timeout(60)
def test_plot_run_writes_png_svg_and_pdf(ring_run: Path, tmp_path: Path) -> None:
    png = plot_run(ring_run, tmp_path / "p.png")
    assert png.format == "png" and png_size((tmp_path / "p.png").read_bytes())[0] > 0
    assert (png.nodes, png.links, png.messages) == (6, 6, 72)
    assert png.positions == "spring layout"
    assert png.topology_source.endswith("topology.json")
    plot_run(ring_run, tmp_path / "p.svg")
    assert b"<svg" in (tmp_path / "p.svg").read_bytes()[:1000]
    plot_run(ring_run, tmp_path / "p.pdf")
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(OptionError, match="extension"):
        plot_run(ring_run, tmp_path / "p.gif")


@pytest.mark.timeout(60)
def test_a_bare_trace_builds_the_graph_from_its_header(abilene_run: Path, tmp_path: Path) -> None:
    trace = tmp_path / "bare" / "trace.jsonl"
    trace.parent.mkdir()
    shutil.copy(abilene_run / "trace.jsonl", trace)
    graph, source, notes = run_graph(trace)
    assert source == "trace header" and notes == []
    assert graph.number_of_nodes() == 11 and graph.number_of_edges() == 14
    assert "Latitude" not in graph.nodes["New York"]
    result = plot_run(trace, tmp_path / "bare.png")
    assert result.positions == "spring layout"
    assert png_size((tmp_path / "bare.png").read_bytes())[0] > 0


@pytest.mark.timeout(60)
def test_a_topology_json_that_does_not_match_is_not_used(
    ring_run: Path, abilene_run: Path, tmp_path: Path
) -> None:
    shutil.copy(ring_run / "trace.jsonl", tmp_path / "trace.jsonl")
    shutil.copy(abilene_run / "topology.json", tmp_path / "topology.json")
    graph, source, notes = run_graph(tmp_path)
    assert source == "trace header" and "nodes differ" in notes[0]
    assert list(graph.nodes) == [f"n{i}" for i in range(6)]


# -- positions ------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_abilene_is_placed_by_its_coordinates(abilene_run: Path) -> None:
    graph, source, _ = run_graph(abilene_run)
    assert source.endswith("topology.json")
    positions, method = node_positions(graph)
    assert method == "Longitude/Latitude"
    assert positions["New York"] == pytest.approx((-74.00597, 40.71427))
    assert positions["Seattle"][0] < positions["Denver"][0] < positions["Chicago"][0]


def test_x_y_when_every_node_has_them() -> None:
    graph = nx.Graph()
    graph.add_node("a", x=0, y=0)
    graph.add_node("b", x="3.5", y=1)  # GraphML may give numbers as text
    graph.add_edge("a", "b")
    positions, method = node_positions(graph)
    assert method == "x/y" and positions == {"a": (0.0, 0.0), "b": (3.5, 1.0)}


def test_some_coordinates_are_held_fixed_in_a_spring_layout() -> None:
    graph = nx.path_graph(["a", "b", "c", "d"])
    nx.set_node_attributes(
        graph, {"a": {"Longitude": 10, "Latitude": 50}, "d": {"Longitude": 20, "Latitude": 45}}
    )
    positions, method = node_positions(graph, seed=3)
    assert method == "spring layout, 2 nodes fixed by coordinates"
    # The known nodes keep their places (scaled into the unit square), the others move around them.
    assert positions["a"] == pytest.approx((0.0, 0.5))
    assert positions["d"] == pytest.approx((1.0, 0.0))
    assert node_positions(graph, seed=3) == (positions, method)


def test_spring_layout_is_seeded() -> None:
    graph = nx.cycle_graph([f"n{i}" for i in range(5)])
    first, method = node_positions(graph, seed=7)
    assert method == "spring layout"
    assert node_positions(graph, seed=7)[0] == first
    assert node_positions(graph, seed=8)[0] != first


# -- counting -------------------------------------------------------------------------------------------


def naive_counts(run_dir: Path, include_control: bool) -> dict[str, Any]:
    header, events = load_trace(run_dir)
    messages = [
        e
        for e in events
        if e["event"] in SEND | RECEIVE and (include_control or not e["msg_type"].startswith("netsim."))
    ]
    sent = [e for e in messages if e["event"] in SEND]
    return {
        "header": header,
        "sent": sent,
        "links": Counter(tuple(sorted((e["node"], e["peer"]))) for e in sent),
        "bytes": sum(e["nbytes"] for e in sent),
        "node_sent": Counter(e["node"] for e in sent),
        "node_received": Counter(e["node"] for e in messages if e["event"] in RECEIVE),
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize("include_control", [False, True])
def test_traffic_counts_per_link_node_and_bucket(ring_run: Path, include_control: bool) -> None:
    expected = naive_counts(ring_run, include_control)
    traffic = count_traffic(ring_run, include_control=include_control)
    assert traffic.link_messages == dict(expected["links"])
    assert set(traffic.link_messages) == {tuple(sorted((f"n{i}", f"n{(i + 1) % 6}"))) for i in range(6)}
    assert sum(traffic.link_bytes.values()) == expected["bytes"]
    assert traffic.node_sent == dict(expected["node_sent"])
    assert traffic.node_received == dict(expected["node_received"])
    assert traffic.messages == len(expected["sent"]) == (84 if include_control else 72)
    assert traffic.control_messages == (0 if include_control else 12)  # a hello and its answer per link
    assert traffic.handled("n0") == expected["node_sent"]["n0"] + expected["node_received"]["n0"]
    # Buckets: each send in the bucket its ts_ns falls in, counted from the header's start.
    start = expected["header"]["start_ts_ns"]
    assert traffic.start_ts_ns == start
    buckets = Counter((e["ts_ns"] - start) // traffic.bucket_ns for e in expected["sent"])
    assert {i: n for i, n in enumerate(traffic.sent_per_bucket) if n} == dict(buckets)
    assert traffic.node_sent_per_bucket is not None  # 6 nodes: one series each
    assert sum(sum(counts) for counts in traffic.node_sent_per_bucket.values()) == traffic.messages


@pytest.mark.timeout(60)
def test_bucket_size_comes_from_the_start_and_the_last_line(ring_run: Path) -> None:
    header, events = load_trace(ring_run)
    assert last_ts_ns(ring_run / "trace.jsonl") == events[-1]["ts_ns"]
    size = bucket_size_ns(header["start_ts_ns"], events[-1]["ts_ns"])
    span = events[-1]["ts_ns"] - header["start_ts_ns"]
    assert 800 <= span // size <= 2000  # a 1-2-5 size at least span / 2000
    assert str(size).lstrip("125").strip("0") == ""  # 1, 2 or 5 times a power of ten
    assert count_traffic(ring_run).bucket_ns == size


def bare_header(nodes: list[str]) -> dict[str, Any]:
    """Only the fields plot reads: no node_apps, seed or clock."""
    return {
        "type": "header",
        "schema": SCHEMA,
        "run_id": "hand-made",
        "topology": {"name": "t", "source": "hand", "nodes": nodes, "links": []},
        "app": "flood",
        "transport": "udp",
        "start_ts_ns": 1_000_000_000,
    }


def test_many_nodes_keep_only_the_total_series(tmp_path: Path) -> None:
    nodes = [f"n{i}" for i in range(12)]
    events = [
        {
            "ts_ns": 1_000_000_000 + 1000 * i,
            "node": n,
            "event": "sendto",
            "peer": "n0",
            "msg_type": "x",
            "nbytes": 5,
        }
        for i, n in enumerate(nodes)
    ]
    traffic = count_traffic(write_trace(tmp_path / "t.jsonl", bare_header(nodes), events))
    assert traffic.node_sent_per_bucket is None
    assert sum(traffic.sent_per_bucket) == 12
    # Links not in the topology are counted too, and drawn (dashed) without failing.
    assert traffic.link_messages[("n0", "n5")] == 1
    assert png_size(render_plot_png(tmp_path / "t.jsonl"))[0] > 0


def test_odd_node_names_and_no_messages_still_plot(tmp_path: Path) -> None:
    nodes = ["price $5 $", "a<b>&c", "名前"]
    trace = write_trace(tmp_path / "t.jsonl", bare_header(nodes), [])
    assert png_size(render_plot_png(trace))[0] > 0
    events = [
        {"ts_ns": 1_000_000_100, "node": nodes[0], "event": "sendto", "peer": nodes[1], "msg_type": "x"},
        {"ts_ns": 1_000_000_200, "node": nodes[1], "event": "recvfrom", "peer": nodes[0], "msg_type": "x"},
    ]
    trace = write_trace(tmp_path / "t2.jsonl", bare_header(nodes), events)
    assert png_size(render_plot_png(trace))[0] > 0


# -- the command ----------------------------------------------------------------------------------------


def cli() -> typer.Typer:
    return trace_app


@pytest.mark.timeout(60)
def test_plot_command(abilene_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli(), ["plot", str(abilene_run), "-o", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "Longitude/Latitude" in result.output
    assert png_size((tmp_path / "p.png").read_bytes())[0] > 0
    bad = runner.invoke(cli(), ["plot", str(abilene_run), "-o", str(tmp_path / "p.bmp")])
    assert bad.exit_code == 2 and "extension" in bad.output
    missing = runner.invoke(cli(), ["plot", str(tmp_path / "nothing"), "-o", str(tmp_path / "p.png")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output


@settings(max_examples=200, deadline=None)
@given(
    placed=st.dictionaries(
        st.text(max_size=3),
        st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)),
        max_size=6,
    ),
    extra=st.lists(st.text(min_size=4, max_size=5), max_size=6, unique=True),
)
def test_nodes_only_the_trace_knows_are_put_aside_one_after_another(
    placed: dict[str, tuple[float, float]], extra: list[str]
) -> None:
    # As the plot placed them before it kept the extent: measured again for every node.
    expected = dict(placed)
    for node in extra:
        xs = [p[0] for p in expected.values()] or [0.0]
        ys = [p[1] for p in expected.values()] or [0.0]
        expected[node] = (max(xs) + 0.1 * (max(xs) - min(xs) or 1), min(ys))
    positions = dict(placed)
    place_aside(positions, extra)
    assert positions == expected
