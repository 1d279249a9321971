"""summarize_trace on a hand-made trace, and the ``netsim trace summary`` command over it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from netsim_testing import Simulations, trace_header, write_run
from typer.testing import CliRunner

from netsim.cli.trace import app
from netsim.errors import TraceFormatError
from netsim.trace import SCHEMA, iter_events, summarize_trace

START = 5_000_000_000

HEADER = trace_header(
    ["n0", "n1", "n[2]", "idle"],
    [["n0", "n1", "tcp"], ["n[2]", "n1", "udp"]],
    name="line3",
    source="topologies/line3.gml",
    app="flood",
    run_id="20261125-101500-flood-3f2a",
    started_at="2026-11-25T10:15:00.123456+00:00",
    start_ts_ns=START,
)

TCP = {"transport": "tcp"}
UDP = {"transport": "udp"}


def trace_events() -> list[dict[str, Any]]:
    """n0 <-> n1 over tcp (all delivered), n[2] <-> n1 over udp (one of n[2]'s two datagrams lost),
    one message between n0 and n[2], which have no link, one send with no peer, three errors."""
    rows = [
        ("n0", "start", {}),
        ("n1", "start", {}),
        ("n[2]", "start", {}),
        ("n0", "send", {**TCP, "peer": "n1", "nbytes": 83, "msg_id": "n0:1", "lamport": 1}),
        ("n1", "recv", {**TCP, "peer": "n0", "nbytes": 83, "msg_id": "n0:1", "lamport": 2}),
        ("n0", "send", {**TCP, "peer": "n1", "nbytes": 90, "msg_id": "n0:2", "lamport": 2}),
        ("n1", "send", {**TCP, "peer": "n0", "nbytes": 50, "msg_id": "n1:1", "lamport": 3}),
        ("n1", "recv", {**TCP, "peer": "n0", "nbytes": 90, "msg_id": "n0:2", "lamport": 4}),
        ("n0", "recv", {**TCP, "peer": "n1", "nbytes": 50, "msg_id": "n1:1", "lamport": 4}),
        ("n[2]", "sendto", {**UDP, "peer": "n1", "nbytes": 79, "msg_id": "n[2]:1", "lamport": 1}),
        ("n[2]", "sendto", {**UDP, "peer": "n1", "nbytes": 79, "msg_id": "n[2]:2", "lamport": 2}),
        ("n1", "recvfrom", {**UDP, "peer": "n[2]", "nbytes": 79, "msg_id": "n[2]:2", "lamport": 5}),
        ("n1", "sendto", {**UDP, "peer": "n[2]", "nbytes": 60, "msg_id": "n1:2", "lamport": 6}),
        ("n[2]", "recvfrom", {**UDP, "peer": "n1", "nbytes": 60, "msg_id": "n1:2", "lamport": 7}),
        ("n0", "send", {**TCP, "peer": "n[2]", "nbytes": 10, "msg_id": "n0:3", "lamport": 5}),
        ("n[2]", "recv", {**TCP, "peer": "n0", "nbytes": 10, "msg_id": "n0:3", "lamport": 8}),
        ("n0", "send", {**TCP, "nbytes": 7, "msg_id": "n0:4", "lamport": 6}),
        ("n1", "error", {**TCP, "error": "bad frame: invalid JSON at byte 0", "nbytes": 17}),
        ("n1", "error", {**TCP, "error": "bad frame: invalid JSON at byte 0", "nbytes": 17}),
        ("n[2]", "error", {**UDP, "error": "x" * 100}),
        ("n0", "app", {"data": {"rtt_ns": 81234, "peer": "n1"}}),
        ("n0", "close", {**TCP, "peer": "n1", "reason": "shutdown"}),
        ("n0", "stop", {"reason": "done"}),
    ]
    # First event 1 ms into the run, one every 100 us.
    return [
        {"ts_ns": START + 1_000_000 + 100_000 * i, "node": node, "event": kind, **fields}
        for i, (node, kind, fields) in enumerate(rows)
    ]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "runs" / "r1", HEADER, trace_events())


# -- summarize_trace -------------------------------------------------------------------------------------


def test_overview(run_dir: Path) -> None:
    summary = summarize_trace(run_dir)
    assert summary.path == str(run_dir / "trace.jsonl")
    assert (summary.run_id, summary.schema, summary.app, summary.topology) == (
        "20261125-101500-flood-3f2a",
        SCHEMA,
        "flood",
        "line3",
    )
    assert summary.events == 23
    assert summary.event_counts["send"] == 5
    assert summary.first_ts_ns == START + 1_000_000
    assert summary.last_ts_ns == START + 1_000_000 + 22 * 100_000
    assert summary.first_s == pytest.approx(0.001)
    assert summary.last_s == pytest.approx(0.0032)
    assert summary.duration_s == pytest.approx(0.0022)
    assert summary.skipped_lines == 0


def test_per_node_counts_and_bytes(run_dir: Path) -> None:
    nodes = {name: stats.to_dict() for name, stats in summarize_trace(run_dir).nodes.items()}
    assert list(nodes) == ["n0", "n1", "n[2]", "idle"]  # header order, idle nodes included
    assert nodes["n0"] == {
        "node": "n0",
        "events": 9,
        "messages_sent": 4,
        "messages_received": 1,
        "bytes_sent": 83 + 90 + 10 + 7,
        "bytes_received": 50,
        "errors": 0,
    }
    n1 = nodes["n1"]
    assert (n1["messages_sent"], n1["messages_received"]) == (2, 3)
    assert (n1["bytes_sent"], n1["bytes_received"]) == (50 + 60, 83 + 90 + 79)
    assert n1["errors"] == 2
    n2 = nodes["n[2]"]
    assert (n2["messages_sent"], n2["messages_received"], n2["bytes_sent"], n2["bytes_received"]) == (
        2,
        2,
        158,
        70,
    )
    assert nodes["idle"]["events"] == 0


def test_per_link_directions_and_loss(run_dir: Path) -> None:
    links = summarize_trace(run_dir).links
    assert list(links) == ["n0 -- n1", "n1 -- n[2]", "n0 -- n[2]"]

    tcp = links["n0 -- n1"]
    assert (tcp.a, tcp.b, tcp.transport, tcp.in_topology) == ("n0", "n1", "tcp", True)
    assert tcp.a_to_b.to_dict() == {
        "from": "n0",
        "to": "n1",
        "messages_sent": 2,
        "bytes_sent": 173,
        "messages_received": 2,
        "bytes_received": 173,
        "lost": 0,
        "dropped": 0,
    }
    assert (tcp.b_to_a.messages_sent, tcp.b_to_a.messages_received, tcp.b_to_a.lost) == (1, 1, 0)

    udp = links["n1 -- n[2]"]
    assert udp.transport == "udp"
    from_n2, to_n2 = udp.direction("n[2]"), udp.direction("n1")
    assert (from_n2.source, from_n2.destination) == ("n[2]", "n1")
    assert (from_n2.messages_sent, from_n2.messages_received, from_n2.lost) == (2, 1, 1)
    assert (from_n2.bytes_sent, from_n2.bytes_received) == (158, 79)
    assert (to_n2.messages_sent, to_n2.messages_received, to_n2.lost) == (1, 1, 0)

    stray = links["n0 -- n[2]"]
    assert (stray.in_topology, stray.transport) == (False, "tcp")
    assert (stray.a_to_b.messages_sent, stray.a_to_b.messages_received) == (1, 1)


def test_what_netsim_dropped_on_purpose_is_counted_apart_from_the_lost(simulate: Simulations) -> None:
    run = simulate("ring:4", app="gossip", transport="udp", seed=3, duration=20, conditions={"loss": 0.3})
    summary = summarize_trace(run.run_dir)
    drops = [e for e in iter_events(run.run_dir) if e["event"] == "drop"]
    assert drops and summary.totals()["dropped"] == len(drops)
    for link in summary.links.values():
        for direction in link.directions:
            expected = sum(
                1 for e in drops if (e["node"], e["peer"]) == (direction.source, direction.destination)
            )
            assert direction.dropped == expected
    # Dropped messages were never sent: they are not among the lost.
    assert summary.totals()["lost"] == sum(d.lost for link in summary.links.values() for d in link.directions)


def test_loss_is_never_negative(tmp_path: Path) -> None:
    # n1 records two receipts from n0, whose sends are not in the trace: nothing was lost.
    events = [
        {"ts_ns": START + i, "node": "n1", "event": "recv", "peer": "n0", "nbytes": 5, "msg_id": f"n0:{i}"}
        for i in (1, 2)
    ]
    summary = summarize_trace(write_run(tmp_path, HEADER, events))
    assert summary.links["n0 -- n1"].a_to_b.lost == 0
    assert summary.totals()["lost"] == 0


def test_totals_and_errors(run_dir: Path) -> None:
    summary = summarize_trace(run_dir)
    assert summary.totals() == {
        "nodes": 4,
        "links": 3,
        "messages_sent": 8,
        "messages_received": 6,
        "bytes_sent": 190 + 110 + 158,
        "bytes_received": 50 + 252 + 70,
        "lost": 1,
        "dropped": 0,
        "errors": 3,
        "messages_without_peer": 1,
    }
    assert summary.error_counts == {"bad frame: invalid JSON at byte 0": 2, "x" * 60: 1}
    assert [e["node"] for e in summary.first_errors] == ["n1", "n1", "n[2]"]


def test_only_the_first_five_error_events_are_kept(tmp_path: Path) -> None:
    events = [{"ts_ns": START + i, "node": "n0", "event": "error", "error": f"e{i % 2}"} for i in range(9)]
    summary = summarize_trace(write_run(tmp_path, HEADER, events))
    assert summary.errors == 9
    assert [e["ts_ns"] - START for e in summary.first_errors] == [0, 1, 2, 3, 4]
    assert summary.error_counts == {"e0": 5, "e1": 4}


def test_to_dict_is_json(run_dir: Path) -> None:
    data = summarize_trace(run_dir).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["links"]["n1 -- n[2]"]["directions"][1] == {
        "from": "n[2]",
        "to": "n1",
        "messages_sent": 2,
        "bytes_sent": 158,
        "messages_received": 1,
        "bytes_received": 79,
        "lost": 1,
        "dropped": 0,
    }
    assert data["errors"]["by_text"][0] == {"text": "bad frame: invalid JSON at byte 0", "count": 2}
    assert len(data["errors"]["first"]) == 3
    assert data["totals"]["lost"] == 1


def test_malformed_lines_strict_and_lenient(tmp_path: Path) -> None:
    events = trace_events()
    run = write_run(tmp_path, HEADER, events[:2], tail=b"garbage\n" + orjson.dumps(events[2]) + b"\n{truncat")
    with pytest.raises(TraceFormatError) as raised:
        summarize_trace(run)
    assert raised.value.line == 4
    summary = summarize_trace(run, strict=False)
    assert (summary.events, summary.skipped_lines) == (3, 2)


def test_truncated_last_line_is_counted_in_strict_mode(tmp_path: Path) -> None:
    run = write_run(tmp_path, HEADER, trace_events(), tail=b'{"ts_ns": 1')
    summary = summarize_trace(run)
    assert (summary.events, summary.skipped_lines) == (23, 1)


# -- netsim trace summary --------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_summary_prints_tables(run_dir: Path) -> None:
    result = runner.invoke(app, ["summary", str(run_dir)])
    assert result.exit_code == 0, result.output
    out = result.stderr
    for expected in ("20261125-101500-flood-3f2a", "Nodes", "Links", "n[2] -> n1", "idle", "bad frame"):
        assert expected in out
    # the lost datagram's row: sent 2, received 1, lost 1
    row = next(row for row in out.splitlines() if "n[2] -> n1" in row)
    assert [c.strip() for c in row.split("│")[3:6]] == ["2", "1", "1"]
    # Tables are for people (stderr); stdout stays empty for pipes.
    assert result.stdout == ""


def test_cli_summary_json(run_dir: Path) -> None:
    result = runner.invoke(app, ["summary", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == summarize_trace(run_dir).to_dict()


def test_cli_missing_path_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["summary", "runs/nope"])
    assert result.exit_code == 2
    assert result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error_lines == ["error: runs/nope: no such file or directory"]
    assert "Traceback" not in result.output
    assert "hint: pass a run directory like runs/<run-id>" in result.stderr


def test_cli_malformed_trace_and_lenient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_run(Path("r"), HEADER, trace_events()[:3], tail=b"oops\n")
    result = runner.invoke(app, ["summary", "r"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: r/trace.jsonl:5: invalid JSON")
    assert "Traceback" not in result.output

    result = runner.invoke(app, ["summary", "r", "--lenient", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["skipped_lines"] == 1
    assert "skipped 1 malformed line" in result.stderr


def test_cli_as_a_real_process(run_dir: Path) -> None:
    code = "from netsim.cli.trace import app; app(prog_name='netsim trace')"
    ok = subprocess.run(
        [sys.executable, "-c", code, "summary", str(run_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["totals"]["lost"] == 1

    missing = subprocess.run(
        [sys.executable, "-c", code, "summary", str(run_dir / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert "Traceback" not in missing.stderr
    assert missing.stderr.startswith("error: ")
