"""``netsim.Run``, what ``netsim.run`` returns: its files, its repr, and its trace filtered, checked and
reported through the trace tools, on one real flood down a line of four nodes (on a line, who hears
what from whom does not depend on timing)."""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import pytest
from netsim_testing import Simulations, load_trace

import netsim
from netsim.errors import OptionError
from netsim.trace.events import filter_events

NODES = ["n0", "n1", "n2", "n3"]


@pytest.fixture(scope="module")
def flood(simulate_module: Simulations) -> netsim.Run:
    run = simulate_module("line:4", app="flood", seed=1)
    assert run.ok and run.summary.ended_by == "done"
    return run


@pytest.fixture(scope="module")
def everything(flood: netsim.Run) -> list[dict]:
    return load_trace(flood.run_dir)[1]


def test_the_run_names_its_files_and_reads_its_header(flood: netsim.Run) -> None:
    assert netsim.RunResult is netsim.Run
    assert flood.trace_path == flood.run_dir / "trace.jsonl" and flood.trace_path.is_file()
    assert flood.summary_path.is_file() and flood.topology_path.is_file()
    assert flood.header["run_id"] == flood.summary.run_id and flood.nodes == NODES
    assert flood.exit_code == 0


def test_its_repr_says_how_it_ended(flood: netsim.Run) -> None:
    text = repr(flood)
    assert text.startswith(f"<Run {flood.summary.run_id} ok, ended by done: 4 nodes, ")
    assert f"{flood.summary.messages_sent} messages sent" in text and str(flood.run_dir) in text


def test_events_without_filters_are_the_whole_trace(flood: netsim.Run, everything: list[dict]) -> None:
    assert list(flood.events()) == everything


def test_events_by_kind_node_and_type(flood: netsim.Run, everything: list[dict]) -> None:
    assert list(flood.events("recv")) == [e for e in everything if e["event"] == "recv"]
    kinds = {"send", "recv"}
    assert list(flood.events(kinds)) == [e for e in everything if e["event"] in kinds]
    assert list(flood.events(node="n1")) == [e for e in everything if e["node"] == "n1"]
    pair = ["n1", "n2"]
    assert list(flood.events(node=pair)) == [e for e in everything if e["node"] in pair]
    floods = list(flood.events(msg_type="flood"))
    assert floods and floods == [e for e in everything if e.get("msg_type") == "flood"]


def test_events_by_peer_link_window_predicate_and_limit(flood: netsim.Run, everything: list[dict]) -> None:
    from_n0 = list(flood.events("recv", peer="n0"))
    assert from_n0 and from_n0 == [e for e in everything if e["event"] == "recv" and e.get("peer") == "n0"]
    on_link = list(filter_events(flood.run_dir, link=("n0", "n1")))
    assert list(flood.events(link="n0-n1")) == on_link == list(flood.events(link=("n1", "n0")))
    start = flood.header["start_ts_ns"]
    middle = (everything[len(everything) // 2]["ts_ns"] - start) / 1e9
    assert list(flood.events(since=middle)) == [e for e in everything if e["ts_ns"] >= start + middle * 1e9]
    assert list(flood.events(until=middle)) == [e for e in everything if e["ts_ns"] <= start + middle * 1e9]
    big = list(flood.events(where=lambda e: e.get("nbytes", 0) > 150))
    assert big == [e for e in everything if e.get("nbytes", 0) > 150]
    assert list(flood.events(limit=3)) == everything[:3]
    assert list(flood.events("recv", peer="n0", limit=1)) == from_n0[:1]
    assert list(flood.events(where=lambda e: True, limit=0)) == []


def test_messages_are_the_apps_receives_or_sends(flood: netsim.Run, everything: list[dict]) -> None:
    received = list(flood.messages())
    assert received == [e for e in everything if e["event"] == "recv" and e["msg_type"] == "flood"]
    assert [(e["node"], e["peer"]) for e in received] == [("n1", "n0"), ("n2", "n1"), ("n3", "n2")]
    sent = list(flood.messages(sent=True))
    assert sent == [e for e in everything if e["event"] == "send" and e["msg_type"] == "flood"]
    assert [e["node"] for e in flood.messages(peer="n0")] == [
        e["node"] for e in received if e["peer"] == "n0"
    ]
    with_control = list(flood.messages(control=True))
    assert {e["msg_type"] for e in with_control} == {"flood", "netsim.hello"}
    assert list(flood.messages("netsim.hello")) == [
        e for e in with_control if e["msg_type"] == "netsim.hello"
    ]


def test_records_are_the_apps_own(flood: netsim.Run) -> None:
    hops = {e["node"]: e["data"]["hops"] for e in flood.records("flood")}
    assert hops == {"n0": 0, "n1": 1, "n2": 2, "n3": 3}
    assert list(flood.records("nonesuch")) == []
    assert [e["node"] for e in flood.records(node="n2")] == ["n2"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"node": "n9"}, "no node named 'n9'"),
        ({"peer": ["n0", "x"]}, "no node named 'x'"),
        ({"event": "recieve"}, "no event kind 'recieve'"),
        ({"link": "n0-n9"}, "not two known node names"),
        ({"link": ("n0", "n9")}, "no node named 'n9'"),
        ({"limit": -1}, "--limit must be 0 or more"),
    ],
)
def test_a_filter_the_run_cannot_match_is_an_error_at_the_call(flood: netsim.Run, filters, message) -> None:
    with pytest.raises(OptionError, match=message):
        flood.events(**filters)


def test_a_stream_left_early_closes_the_trace(flood: netsim.Run) -> None:
    def trace_open() -> bool:
        return any(
            os.readlink(f"/proc/self/fd/{fd}") == str(flood.trace_path.resolve())
            for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")
        )

    stream = flood.events("recv", peer="n0")
    next(stream)
    assert trace_open()
    stream.close()
    assert not trace_open()


def test_verify_stats_and_summary_are_the_trace_tools(flood: netsim.Run) -> None:
    report = flood.verify()
    assert report.ok and report.run_id == flood.summary.run_id
    assert flood.trace_summary().totals()["messages_sent"] == flood.summary.messages_sent
    assert flood.stats().events == flood.summary.events


def test_the_report_is_written_on_demand(flood: netsim.Run, tmp_path: Path) -> None:
    assert not (flood.run_dir / "report.html").exists()
    path = flood.report_path
    assert path == flood.run_dir / "report.html" and path.read_text().startswith("<!DOCTYPE html>")
    elsewhere = flood.report(tmp_path / "mine.html", max_events=5)
    assert elsewhere == tmp_path / "mine.html" and elsewhere.is_file()


def test_a_networkx_graph_runs(simulate: Simulations) -> None:
    graph = nx.path_graph(["west", "middle", "east"])
    run = simulate(graph, app="flood", seed=1)
    assert run.ok and run.nodes == ["west", "middle", "east"]
    assert run.summary.topology.source == "networkx.Graph"
    assert [e["node"] for e in run.messages("flood")] == ["middle", "east"]
