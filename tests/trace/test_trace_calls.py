"""The trace tools over socket programs' ``call`` events: stats, summary, follow, diagram and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netsim_testing import payload_digest, program_events, trace_header, write_program_run, write_run
from typer.testing import CliRunner

from netsim.cli.trace import app as trace_app
from netsim.trace import summarize_trace
from netsim.trace.diagram import read_model, render_diagram
from netsim.trace.follow_bytes import BytesSpec, bytes_timeline, follow_bytes, parse_bytes_spec
from netsim.trace.report import write_report
from netsim.trace.stats import trace_stats


@pytest.fixture
def program_run(tmp_path: Path) -> Path:
    return write_program_run(tmp_path / "run")


def test_stats_pair_the_calls_and_measure_each_direction(program_run: Path) -> None:
    calls = trace_stats(program_run).to_dict()["calls"]
    assert (calls["calls"], calls["stream_pairs"], calls["datagram_pairs"]) == (17, 5, 1)
    assert (calls["datagrams_lost"], calls["datagrams_dropped"], calls["bytes_unreceived"]) == (1, 1, 0)
    by_direction = calls["latency"]["by_direction"]
    assert {key: (entry["pairs"], entry["bytes"]) for key, entry in by_direction.items()} == {
        "n0 -> n1": (4, 23),  # two sends read in three receives: four overlaps
        "n1 -> n0": (1, 24),
        "n2 -> n1": (1, 6),
    }
    # From each send's start to the receive that took its bytes: 30-19, 30-25, 40-25, 41-25 (µs).
    request = by_direction["n0 -> n1"]["latency"]
    assert (request["min_ns"], request["p50_ns"], request["max_ns"]) == (5_000, 11_000, 16_000)
    assert by_direction["n2 -> n1"]["latency"]["max_ns"] == 10_000


def test_stats_and_summary_count_call_bytes_but_no_messages(program_run: Path) -> None:
    stats = trace_stats(program_run)
    assert {name: (n.bytes_sent, n.bytes_received) for name, n in stats.nodes.items()} == {
        "n0": (23, 24),
        "n1": (24, 29),
        "n2": (18, 0),  # the dropped datagram was sent by the program all the same
    }
    assert all(n.messages_sent == n.messages_received == 0 for n in stats.nodes.values())
    summary = summarize_trace(program_run).to_dict()
    link = summary["links"]["n0 -- n1"]
    assert link["directions"][0]["bytes_sent"] + link["directions"][1]["bytes_sent"] == 47


def test_stats_without_call_events_have_no_calls_key(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "plain", trace_header(["a"], []), [{"ts_ns": 1, "node": "a", "event": "start"}]
    )
    assert "calls" not in trace_stats(run).to_dict()


def test_stats_command_prints_the_calls_table(program_run: Path) -> None:
    result = CliRunner().invoke(trace_app, ["stats", str(program_run)])
    assert result.exit_code == 0, result.output
    assert "Socket programs' calls: 17 calls, 6 send/receive pairs" in result.output
    assert "1 datagrams lost; 1 datagrams dropped by netsim" in result.output
    as_json = CliRunner().invoke(trace_app, ["stats", str(program_run), "--json"])
    assert json.loads(as_json.stdout)["calls"]["pairs"] == 6


# -- follow -----------------------------------------------------------------------------------------------


def test_follow_spec_syntax() -> None:
    assert parse_bytes_spec("n0/3@120") == BytesSpec("n0", 3, offset=120)
    assert parse_bytes_spec("n0/3#9F86D081884C7D65") == BytesSpec("n0", 3, digest="9f86d081884c7d65")
    assert parse_bytes_spec("New York/12@0") == BytesSpec("New York", 12, offset=0)
    assert parse_bytes_spec("a/b/2@7") == BytesSpec("a/b", 2, offset=7)  # a name with a slash
    for message_id in ("n0:4", "n2:r1:1", "n0/3", "n0/x@1", "n0/3@", "n0/3#xyz"):
        assert parse_bytes_spec(message_id) is None
    assert str(BytesSpec("n0", 3, offset=120)) == "n0/3@120"


def test_follow_a_stream_byte_to_the_receive_that_took_it(program_run: Path) -> None:
    life = follow_bytes(program_run, BytesSpec("n0", 1, offset=12))
    assert (life.send["offset"], life.send["nbytes"]) == (4, 19)
    assert [(t.start, t.end, t.receive["ts_ns"] - 1_000_000_000) for t in life.taken] == [
        (4, 10, 30_000),
        (10, 20, 40_000),
        (20, 23, 41_000),
    ]
    assert life.holder is life.taken[1] and life.fate == "received"
    assert life.to_dict()["latency_ns"] == 15_000
    lines = bytes_timeline(life)
    assert lines[0].startswith("0.000025s  n0 sendall on socket 1 (tcp 127.0.0.2:40001 -> 127.0.0.3:8000)")
    assert lines[2].endswith("took bytes [10, 20), 15 µs after the send began  <- byte 12")
    assert lines[-1] == "fate: received by n1, latency 15 µs"


def test_follow_datagrams_received_lost_and_dropped(program_run: Path) -> None:
    received = follow_bytes(program_run, BytesSpec("n2", 1, digest=payload_digest(b"ping 1")))
    assert received.fate == "received" and received.holder is not None
    assert received.holder.receive["node"] == "n1"
    lost = follow_bytes(program_run, BytesSpec("n2", 1, digest=payload_digest(b"ping 2")))
    assert lost.fate == "lost" and bytes_timeline(lost)[-1] == "fate: lost"
    dropped = follow_bytes(program_run, BytesSpec("n2", 1, digest=payload_digest(b"ping 3")))
    assert dropped.fate == "dropped"
    assert [(i["event"], i["reason"]) for i in dropped.incidents] == [("drop", "loss")]
    assert "netsim dropped 6 B at n2 (loss)" in "\n".join(bytes_timeline(dropped))


def test_follow_command_takes_bytes_and_message_ids(program_run: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(trace_app, ["follow", str(program_run), "n1/2@0"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "fate: received by n0, latency 11 µs"
    as_json = json.loads(runner.invoke(trace_app, ["follow", str(program_run), "n1/2@0", "--json"]).stdout)
    assert (as_json["follow"], as_json["fate"], as_json["received"][0]["end"]) == ("n1/2@0", "received", 24)
    missing = runner.invoke(trace_app, ["follow", str(program_run), "n0/1@999"])
    assert missing.exit_code == 2 and "no send call on socket 1 of node 'n0' wrote byte 999" in missing.output
    # A message id is still a message id.
    assert runner.invoke(trace_app, ["follow", str(program_run), "n0:1"]).exit_code == 2


# -- diagram ----------------------------------------------------------------------------------------------


def test_diagram_draws_an_arrow_per_send_and_receive_that_share_bytes(program_run: Path) -> None:
    model = read_model(program_run)
    arrows = [(a.source, a.destination, a.label, a.lost) for a in model.arrows]
    assert arrows == [
        ("n0", "n1", "[0, 4)", False),
        ("n0", "n1", "[4, 10)", False),
        ("n0", "n1", "[10, 20)", False),
        ("n0", "n1", "[20, 23)", False),
        ("n1", "n0", "[0, 24)", False),
        ("n2", "n1", "'ping 1'", False),
        ("n2", "n1", "'ping 3'", True),  # dropped by netsim
        ("n2", "n1", "'ping 2'", True),  # lost, known at the end
    ]
    first = model.arrows[1]
    # From the send's start to the receive's return, as trace stats measures it.
    assert first.receive_ts_ns is not None and first.receive_ts_ns - first.send_ts_ns == 5_000
    assert first.msg_id == "n0/1@4" and first.msg_type == "tcp bytes"
    # The Lamport axis orders each receive after its send.
    assert all(a.receive_key is None or a.receive_key > a.send_key for a in model.arrows)
    diagram = render_diagram(program_run, axis="lamport")
    assert "follow: netsim trace follow RUN n0/1@4" in diagram.svg
    assert "in the stream, or the datagram)" in diagram.svg  # the legend says what such an arrow is
    assert (diagram.messages, diagram.lost) == (8, 2)


def test_diagram_of_call_arrows_honours_the_window_and_the_limit(program_run: Path) -> None:
    model = read_model(program_run, until=0.000030, max_messages=2)
    assert [a.label for a in model.arrows] == ["[0, 4)", "[4, 10)"]
    assert model.left_out["messages"]["count"] == 2  # [10, 20) and [20, 23) of the same send
    assert model.left_out["messages_outside_window"]["count"] == 4
    only = read_model(program_run, nodes=["n0", "n1"])
    assert {a.source for a in only.arrows} == {"n0", "n1"}
    assert only.left_out["messages_other_nodes"]["count"] == 3


# -- report -----------------------------------------------------------------------------------------------


def test_report_shows_the_calls_figures_and_their_arrows(program_run: Path, tmp_path: Path) -> None:
    result = write_report(program_run, tmp_path / "report.html")
    html = result.path.read_text(encoding="utf-8")
    assert not result.failed and not result.unavailable
    assert "<h3>Socket programs' calls</h3>" in html
    assert '<div class="value">6</div><div class="label">send/receive pairs</div>' in html
    assert "datagrams dropped by netsim" in html
    assert "follow: netsim trace follow RUN n0/1@4" in html  # the diagram's arrows, in tooltips
    assert "Other figures" not in html


def test_follow_shows_netsim_holding_a_stream_send_back(tmp_path: Path) -> None:
    events = program_events()
    send_index = next(i for i, e in enumerate(events) if e.get("call") == "sendall" and e["node"] == "n0")
    send = events[send_index]
    delay = {
        "ts_ns": send["start_ns"] + 100,
        "node": "n0",
        "event": "delay",
        "sock": 1,
        "transport": "tcp",
        "peer": "n1",
        "nbytes": 4,
        "delay_ns": 700,
    }
    elsewhere = {**delay, "sock": 9, "delay_ns": 1}  # another socket of the node: not this send's
    events[send_index:send_index] = [delay, elsewhere]
    run = write_run(tmp_path / "run", trace_header(["n0", "n1", "n2"], []), events)
    life = follow_bytes(run, BytesSpec("n0", 1, offset=0))
    assert [(i["event"], i["delay_ns"]) for i in life.incidents] == [("delay", 700)]
    assert "0.000019s  netsim held 4 B back 700 ns at n0" in bytes_timeline(life)
