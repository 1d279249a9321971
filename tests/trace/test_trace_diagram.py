"""render_diagram on real runs (ring:6 echo, Abilene flood) and hand-made traces, and `trace diagram`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from netsim_testing import load_trace, trace_header, write_trace
from typer.testing import CliRunner

from netsim.cli.trace import app as trace_app
from netsim.errors import OptionError
from netsim.trace.diagram import render_diagram

SVG = "{http://www.w3.org/2000/svg}"
SEND = {"send", "sendto"}
RECEIVE = {"recv", "recvfrom"}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed, or this raises
    assert root.tag == f"{SVG}svg"
    for attribute in ("width", "height", "viewBox"):
        assert attribute in root.attrib
    return root


def groups(root: ET.Element, kind: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if kind in g.get("class", "").split()]


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def title_of(group: ET.Element) -> str:
    title = group.find(f"{SVG}title")
    assert title is not None and title.text
    return title.text


def sends(run_dir: Path, *, include_control: bool = False) -> list[dict[str, Any]]:
    _, events = load_trace(run_dir)
    return [
        e
        for e in events
        if e["event"] in SEND and (include_control or not e["msg_type"].startswith("netsim."))
    ]


# -- real runs ------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_one_arrow_per_message_and_every_node_named(ring_run: Path) -> None:
    diagram = render_diagram(ring_run)
    root = parse(diagram.svg)
    app_sends = sends(ring_run)
    assert len(groups(root, "msg")) == len(app_sends) == diagram.messages == 72
    assert diagram.lost == 0 and groups(root, "lost") == []
    # Each arrow's tooltip names its message, once.
    drawn_ids = sorted(re.search(r"msg_id (\S+)", title_of(g)).group(1) for g in groups(root, "msg"))
    assert drawn_ids == sorted(e["msg_id"] for e in app_sends)
    assert {"ping", "pong"} <= set(texts(root))
    names = set(texts(root))
    assert {f"n{i}" for i in range(6)} <= names
    assert diagram.nodes == tuple(f"n{i}" for i in range(6))
    # The hello handshake (a hello and its answer per link) is hidden by default, and said to be.
    assert diagram.left_out == {
        "control_messages": {"count": 12, "reason": "netsim's own messages (include_control=True)"}
    }
    assert "12 control messages" in diagram.note


@pytest.mark.timeout(60)
def test_include_control_draws_the_handshake(ring_run: Path) -> None:
    diagram = render_diagram(ring_run, include_control=True)
    assert len(groups(parse(diagram.svg), "msg")) == len(sends(ring_run, include_control=True)) == 84
    assert diagram.left_out == {}


@pytest.mark.timeout(60)
def test_latency_and_transport_in_the_tooltip(ring_run: Path) -> None:
    root = parse(render_diagram(ring_run).svg)
    tooltip = title_of(groups(root, "msg")[0])
    assert "transport tcp" in tooltip and "latency " in tooltip and "msg_id " in tooltip


@pytest.mark.timeout(60)
def test_long_names_are_rotated_and_present(abilene_run: Path) -> None:
    root = parse(render_diagram(abilene_run).svg)
    node_labels = [t for g in groups(root, "node") for t in g.iter(f"{SVG}text")]
    assert {"".join(t.itertext()) for t in node_labels} >= {"New York", "Washington DC", "Kansas City"}
    assert all("rotate(-45" in t.get("transform", "") for t in node_labels)


@pytest.mark.timeout(60)
def test_limits_are_reported_in_left_out_and_in_the_svg(abilene_run: Path) -> None:
    total = len(sends(abilene_run))
    diagram = render_diagram(abilene_run, max_messages=5)
    root = parse(diagram.svg)
    assert len(groups(root, "msg")) == 5
    assert diagram.left_out["messages"]["count"] == total - 5
    note = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == "note")
    assert f"{total - 5} messages over max_messages=5" in note

    few_nodes = render_diagram(abilene_run, max_nodes=3)
    assert len(few_nodes.nodes) == 3
    assert len(groups(parse(few_nodes.svg), "node")) == 3
    assert few_nodes.left_out["nodes"]["count"] == 8
    assert len(few_nodes.left_out["nodes"]["names"]) == 8
    # Arrows between the three drawn nodes, plus the ones that touch the others, make up every message.
    assert few_nodes.messages + few_nodes.left_out["messages_other_nodes"]["count"] == total
    assert "8 nodes over max_nodes=3 (the busiest drawn)" in few_nodes.note


@pytest.mark.timeout(60)
def test_busiest_nodes_are_chosen(abilene_run: Path) -> None:
    handled: dict[str, int] = {}
    _, events = load_trace(abilene_run)
    for event in events:
        if event["event"] in SEND | RECEIVE and not event["msg_type"].startswith("netsim."):
            handled[event["node"]] = handled.get(event["node"], 0) + 1
    diagram = render_diagram(abilene_run, max_nodes=2)
    least_drawn = min(handled.get(n, 0) for n in diagram.nodes)
    assert all(handled.get(n, 0) <= least_drawn for n in diagram.left_out["nodes"]["names"])


@pytest.mark.timeout(60)
def test_chosen_nodes_in_their_order(abilene_run: Path) -> None:
    diagram = render_diagram(abilene_run, nodes=["Seattle", "Denver", "Sunnyvale"])
    assert diagram.nodes == ("Seattle", "Denver", "Sunnyvale")
    assert diagram.left_out["unselected_nodes"]["count"] == 8
    for group in groups(parse(diagram.svg), "msg"):
        ends = re.search(r": (.+) \u2192 (.+)\n", title_of(group))
        assert ends is not None and {ends.group(1), ends.group(2)} <= set(diagram.nodes)
    with pytest.raises(OptionError, match="Atlantis"):
        render_diagram(abilene_run, nodes=["Atlantis"])


@pytest.mark.timeout(60)
def test_time_window_selects_messages_by_send(ring_run: Path) -> None:
    header, _ = load_trace(ring_run)
    app_sends = sends(ring_run)
    seconds = sorted((e["ts_ns"] - header["start_ts_ns"]) / 1e9 for e in app_sends)
    since, until = seconds[10], seconds[40]
    expected = [s for s in seconds if since <= s <= until]
    diagram = render_diagram(ring_run, since=since, until=until)
    assert diagram.messages == len(expected)
    assert diagram.left_out["messages_outside_window"]["count"] == len(seconds) - len(expected)
    for group in groups(parse(diagram.svg), "msg"):
        sent = float(re.search(r"sent ([0-9.]+) s", title_of(group)).group(1))
        assert since - 1e-6 <= sent <= until + 1e-6


def arrow_ends(group: ET.Element) -> tuple[float, float, float]:
    """(x, y) of an arrow's start (its line) and y of its tip (the head's first point)."""
    line = group.find(f"{SVG}line")
    head = group.find(f"{SVG}path")
    assert line is not None and head is not None
    tip = re.match(r"M(-?[\d.]+) (-?[\d.]+)", head.get("d", ""))
    assert tip is not None
    return float(line.get("x1")), float(line.get("y1")), float(tip.group(2))


@pytest.mark.timeout(60)
def test_lamport_axis_orders_and_spaces_events_evenly(ring_run: Path) -> None:
    _, events = load_trace(ring_run)
    lamport_of = {(e["msg_id"], e["event"] in SEND): e["lamport"] for e in events if "lamport" in e}
    root = parse(render_diagram(ring_run, axis="lamport").svg)
    rows: dict[int, set[float]] = {}
    for group in groups(root, "msg"):
        msg_id = re.search(r"msg_id (\S+)", title_of(group)).group(1)
        _, send_y, receive_y = arrow_ends(group)
        assert send_y < receive_y  # a receive is always below its send
        rows.setdefault(lamport_of[(msg_id, True)], set()).add(round(send_y, 1))
        rows.setdefault(lamport_of[(msg_id, False)], set()).add(round(receive_y, 1))
    # One row per Lamport value, rows in Lamport order, evenly spaced.
    assert all(len(ys) == 1 for ys in rows.values())
    ys = [next(iter(rows[value])) for value in sorted(rows)]
    gaps = {round(b - a, 1) for a, b in zip(ys, ys[1:], strict=False)}
    assert len(gaps) == 1 and gaps.pop() > 0


@pytest.mark.timeout(60)
def test_time_axis_follows_real_time(ring_run: Path) -> None:
    root = parse(render_diagram(ring_run).svg)
    points = []
    for group in groups(root, "msg"):
        sent = float(re.search(r"sent ([0-9.]+) s", title_of(group)).group(1))
        points.append((sent, arrow_ends(group)[1]))
    points.sort()
    assert [y for _, y in points] == sorted(y for _, y in points)


@pytest.mark.timeout(60)
def test_lost_message_is_a_short_arrow_with_a_cross(ring_run: Path, tmp_path: Path) -> None:
    # Drop one receive from a real trace, as udp would have.
    lines = (ring_run / "trace.jsonl").read_bytes().splitlines(keepends=True)
    victim = next(
        i
        for i, line in enumerate(lines)
        if i and orjson.loads(line)["event"] == "recv" and orjson.loads(line)["msg_type"] == "ping"
    )
    lost_id = orjson.loads(lines[victim])["msg_id"]
    trace = tmp_path / "lossy.jsonl"
    trace.write_bytes(b"".join(lines[:victim] + lines[victim + 1 :]))
    diagram = render_diagram(trace)
    root = parse(diagram.svg)
    assert diagram.lost == 1
    (lost,) = groups(root, "lost")
    assert f"msg_id {lost_id}" in title_of(lost) and "LOST" in title_of(lost)
    cross = [p for p in lost.iter(f"{SVG}path") if p.get("d", "").count("M") == 2]
    assert len(cross) == 1
    assert len(groups(root, "msg")) == 72  # still one arrow per message


@pytest.mark.timeout(60)
def test_a_bare_trace_file_works(abilene_run: Path, tmp_path: Path) -> None:
    trace = tmp_path / "copy.jsonl"
    shutil.copy(abilene_run / "trace.jsonl", trace)
    assert render_diagram(trace).messages == len(sends(abilene_run))


# -- hand-made traces -----------------------------------------------------------------------------------

START = 7_000_000_000
ODD_NAMES = ["a<b>&c", 'say "hi"', "ünïcödé ☃ 名前", "ctl\x01char", "x" * 60]


def header(nodes: list[str]) -> dict[str, Any]:
    return trace_header(nodes, [], name="odd", run_id="run <&> 1", transport="udp", start_ts_ns=START)


def message(i: int, source: str, destination: str, msg_type: str = "t<&>") -> list[dict[str, Any]]:
    common = {"transport": "udp", "msg_id": f"m{i}", "msg_type": msg_type, "nbytes": 10}
    return [
        {
            "ts_ns": START + 1000 * i,
            "node": source,
            "event": "sendto",
            "peer": destination,
            "lamport": i,
            **common,
        },
        {
            "ts_ns": START + 1000 * i + 400,
            "node": destination,
            "event": "recvfrom",
            "peer": source,
            "lamport": i + 1,
            **common,
        },
    ]


def test_any_node_name_is_escaped(tmp_path: Path) -> None:
    events = [
        e for i, (a, b) in enumerate(zip(ODD_NAMES, ODD_NAMES[1:], strict=False)) for e in message(i, a, b)
    ]
    events.append(
        {"ts_ns": START + 9000, "node": ODD_NAMES[0], "event": "error", "error": 'bad <frame> & "quote"'}
    )
    diagram = render_diagram(write_trace(tmp_path / "t.jsonl", header(ODD_NAMES), events))
    root = parse(diagram.svg)
    all_text = " ".join(texts(root)) + " ".join(t.text or "" for t in root.iter(f"{SVG}title"))
    for name in ODD_NAMES[:3]:
        assert name in all_text
    assert "ctl\ufffdchar" in all_text  # a control character XML cannot hold is replaced
    assert "run <&> 1" in all_text and "t<&>" in all_text
    (error,) = groups(root, "error")
    assert 'bad <frame> & "quote"' in title_of(error)
    assert diagram.errors == 1 and len(groups(root, "msg")) == 4


def test_a_receive_written_before_its_send_still_pairs(tmp_path: Path) -> None:
    send, receive = message(1, "n0", "n1")
    receive["ts_ns"] = send["ts_ns"]  # same ts_ns: the merge may put the receive first
    diagram = render_diagram(write_trace(tmp_path / "t.jsonl", header(["n0", "n1"]), [receive, send]))
    assert diagram.messages == 1 and diagram.lost == 0


def test_errors_past_the_message_limit_are_counted_not_drawn(tmp_path: Path) -> None:
    events = message(1, "n0", "n1") + message(2, "n1", "n0")
    events.append({"ts_ns": START + 5000, "node": "n0", "event": "error", "error": "late"})
    diagram = render_diagram(write_trace(tmp_path / "t.jsonl", header(["n0", "n1"]), events), max_messages=1)
    assert diagram.errors == 0
    assert diagram.left_out["errors"]["count"] == 1
    assert diagram.left_out["messages"]["count"] == 1


def test_bad_arguments_are_option_errors(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.jsonl", header(["n0", "n1"]), message(1, "n0", "n1"))
    for kwargs in ({"max_messages": 0}, {"max_nodes": 0}, {"since": 2.0, "until": 1.0}, {"axis": "sideways"}):
        with pytest.raises(OptionError):
            render_diagram(trace, **kwargs)
    with pytest.raises(OptionError):
        render_diagram(trace, nodes=[])


def test_an_empty_run_draws_an_empty_diagram(tmp_path: Path) -> None:
    diagram = render_diagram(write_trace(tmp_path / "t.jsonl", header(["n0", "n1"]), []))
    root = parse(diagram.svg)
    assert diagram.messages == 0 and len(groups(root, "node")) == 2


def test_to_dict_has_everything_but_the_svg(tmp_path: Path) -> None:
    diagram = render_diagram(write_trace(tmp_path / "t.jsonl", header(["n0", "n1"]), message(1, "n0", "n1")))
    data = diagram.to_dict()
    assert "svg" not in data
    assert data["nodes"] == ["n0", "n1"] and data["messages"] == 1 and data["left_out"] == {}
    orjson.dumps(data)


# -- the command ----------------------------------------------------------------------------------------


def cli() -> typer.Typer:
    return trace_app


@pytest.mark.timeout(60)
def test_diagram_command_writes_the_svg(abilene_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.svg"
    result = CliRunner().invoke(
        cli(),
        [
            "diagram",
            str(abilene_run),
            "-o",
            str(out),
            "--nodes",
            "Seattle,Denver",
            "--nodes",
            "Sunnyvale",
            "--axis",
            "lamport",
            "--max-messages",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    root = parse(out.read_text(encoding="utf-8"))
    assert len(groups(root, "msg")) == 3
    assert "wrote" in result.output and "lamport axis" in result.output and "max_messages=3" in result.output


def test_diagram_command_bad_input_exits_2(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.jsonl", header(["n0", "n1"]), message(1, "n0", "n1"))
    runner = CliRunner()
    for args in (
        ["diagram", str(tmp_path / "missing"), "-o", str(tmp_path / "d.svg")],
        ["diagram", str(trace), "-o", str(tmp_path / "d.svg"), "--nodes", "nobody"],
        ["diagram", str(trace), "-o", str(tmp_path / "no-such-dir" / "d.svg")],
        ["diagram", str(trace), "-o", str(tmp_path / "d.svg"), "--axis", "sideways"],
    ):
        result = runner.invoke(cli(), args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output


@pytest.mark.timeout(60)
def test_diagram_as_a_real_command(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.jsonl", header(["n0", "n1"]), message(1, "n0", "n1"))
    out = tmp_path / "d.svg"
    completed = subprocess.run(
        [sys.executable, "-m", "netsim", "trace", "diagram", str(trace), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""  # the note goes to stderr
    assert "wrote" in completed.stderr
    parse(out.read_text(encoding="utf-8"))
