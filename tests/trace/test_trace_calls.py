"""The trace tools over socket programs' ``call`` events: stats, summary, follow, diagram and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netsim_testing import write_program_run
from typer.testing import CliRunner

from netsim.cli.trace import app as trace_app
from netsim.trace import summarize_trace
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
    from netsim_testing import trace_header, write_run

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
