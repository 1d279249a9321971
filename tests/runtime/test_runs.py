"""Whole simulations over real sockets: apps, bad bytes from outside, crashes, kills and Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netsim_testing import A_NODE_FAILS, ROOT, load_trace, processes_mentioning

from netsim.topology.model import LinkSpec, NodeSpec, Topology

APPS = Path(__file__).with_name("runtime_apps.py")


def app(name: str) -> str:
    return f"{APPS}:{name}"


@pytest.mark.timeout(60)
def test_flood_reaches_every_node_of_a_ring_exactly_once(simulate):
    result = simulate("ring:8", app="flood", seed=3)
    summary = result.summary.to_dict()
    assert summary["exit_status"] == "ok" and summary["ended_by"] == "done"
    header, events = load_trace(result.run_dir)
    reached = {e["node"] for e in events if e["event"] == "app" and e["data"]["kind"] == "flood"}
    assert reached == set(header["topology"]["nodes"])
    # Lamport clocks: a receive is always later than its send.
    sent_lamport = {e["msg_id"]: e["lamport"] for e in events if e["event"] == "send"}
    assert all(e["lamport"] > sent_lamport[e["msg_id"]] for e in events if e["event"] == "recv")
    # The merged trace is sorted and its counts match the summary.
    assert [e["ts_ns"] for e in events] == sorted(e["ts_ns"] for e in events)
    assert summary["messages_sent"] == sum(e["event"] == "send" for e in events)
    assert summary["messages_received"] == summary["messages_sent"]
    assert (result.run_dir / "summary.json").exists() and (result.run_dir / "topology.json").exists()
    assert not list((result.run_dir / "nodes").glob("*.trace.jsonl")), "per-node parts are merged away"


@pytest.mark.timeout(60)
def test_gossip_spreads_every_rumour(simulate):
    result = simulate("grid:3x3", app="gossip", transport="unix", seed=5)
    assert result.summary.ended_by == "done", result.summary
    _, events = load_trace(result.run_dir)
    complete = {e["node"] for e in events if e["event"] == "app" and e["data"]["kind"] == "gossip-complete"}
    assert len(complete) == 9


@pytest.mark.timeout(60)
def test_flood_on_a_disconnected_graph_ends_when_quiet(simulate):
    nodes = tuple(NodeSpec(f"n{i}", i) for i in range(4))
    topo = Topology("split", "split", nodes, (LinkSpec("n0", "n1"), LinkSpec("n2", "n3")))
    result = simulate(topo, app="flood", seed=1, quiet=0.3)
    assert result.summary.exit_status == "ok"
    assert result.summary.ended_by == "quiet"


def _send_garbage_to(listeners: dict) -> None:
    """Four kinds of bad bytes to the node's TCP listener, one connection each, plus a stray datagram."""
    host, port = listeners["tcp"]
    payloads = [
        b"\x00\x00\x00\x05hello",  # a frame whose payload is not JSON
        b"\xff\xff\xff\xff",  # a length far beyond the limit
        struct.pack("!I", 8) + b'{"a": 1}',  # JSON, but not a message
        struct.pack("!I", 100) + b"0123456789",  # truncated at EOF
    ]
    for payload in payloads:
        with socket.create_connection((host, port), timeout=5) as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(5)
            # The node closes the connection after tracing the error: we read EOF (or a reset).
            with contextlib.suppress(ConnectionResetError):
                assert conn.recv(1) == b""
    udp_host, udp_port = listeners["udp"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
        stray.sendto(b"not a message", (udp_host, udp_port))


@pytest.mark.timeout(60)
def test_bad_bytes_from_outside_are_traced_and_the_node_runs_on(simulate):
    nodes = (NodeSpec("n0", 0), NodeSpec("n1", 1), NodeSpec("n2", 2))
    links = (LinkSpec("n0", "n1", "tcp"), LinkSpec("n1", "n2", "udp"))
    topo = Topology("garbage", "garbage", nodes, links)
    target = {}

    def on_ready(ready):
        target.update({node.name: node for node in ready})
        _send_garbage_to(target["n1"].listeners)

    result = simulate(
        topo,
        app=app("Ticker"),
        seed=1,
        on_ready=on_ready,
    )
    assert result.summary.exit_status == "ok", result.summary
    assert result.summary.ended_by == "done"
    _, events = load_trace(result.run_dir)
    errors = [e for e in events if e["event"] == "error" and e["node"] == "n1"]
    texts = " | ".join(e["error"] for e in errors)
    assert len(errors) == 5, texts
    assert "invalid JSON" in texts
    assert "more than the limit" in texts
    assert "announces 100 payload bytes and 10 arrived" in texts
    assert "not a neighbour" in texts
    # Each bad TCP connection was closed by the node, naming the outsider's address.
    outsider_ports = {tuple(e["peername"]) for e in errors if e["transport"] == "tcp"}
    closed = {
        tuple(e["peername"]) for e in events if e["event"] == "close" and e.get("reason") == "bad bytes"
    }
    assert outsider_ports == closed and len(closed) == 4
    # ...and the node kept working: it finished its app after the garbage.
    assert any(e["node"] == "n1" and e["event"] == "app" for e in events)


@pytest.mark.timeout(60)
def test_a_crashing_node_is_reported_by_name_and_the_trace_survives(simulate):
    result = simulate("ring:5", app=app("CrashOnSecondMessage"), seed=1, verify_rejects=A_NODE_FAILS)
    summary = result.summary.to_dict()
    assert result.exit_code == 1
    assert summary["exit_status"] == "failed" and summary["ended_by"] == "failure"
    [failure] = summary["node_failures"]
    assert failure["name"] == "n2"
    assert failure["error"] == "RuntimeError: boom on purpose"
    log = Path(failure["log"]).read_text()
    assert "Traceback" in log and "boom on purpose" in log and "on_message" in log
    _, events = load_trace(result.run_dir)
    crash_node = [e for e in events if e["node"] == "n2"]
    assert [e for e in crash_node if e["event"] == "recv" and e["msg_type"] == "count"], (
        "trace before the crash kept"
    )
    assert any(e["event"] == "error" and "boom on purpose" in e["error"] for e in crash_node)
    # The others were shut down cleanly.
    stops = {e["node"]: e.get("reason") for e in events if e["event"] == "stop"}
    assert stops["n2"] == "crash"
    assert all(reason == "shutdown" for node, reason in stops.items() if node != "n2")


@pytest.mark.timeout(60)
def test_a_killed_node_is_a_failure_and_its_flushed_trace_is_kept(simulate):
    result = simulate(
        "line:3",
        app=app("KilledBySignal"),
        seed=1,
        duration=5,
        verify_rejects={
            "sockets_closed": "n1 SIGKILLs itself: it closes nothing and writes no stop",
            "receive_has_send": "what n1 sent after its last flush is not in its trace, but was received",
        },
    )
    summary = result.summary.to_dict()
    assert summary["exit_status"] == "failed"
    [failure] = summary["node_failures"]
    assert failure["name"] == "n1" and "SIGKILL" in failure["error"]
    _, events = load_trace(result.run_dir)
    assert any(e["node"] == "n1" and e["event"] == "start" for e in events)


@pytest.mark.timeout(90)
def test_ctrl_c_stops_the_run_cleanly(tmp_path, simulate):
    out = simulate.watch(tmp_path / "ctrl-c-runs")
    command = [sys.executable, "-m", "netsim", "run", "ring:6", "--app", app("Forever"), "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(processes_mentioning(str(out))) < 8:
            time.sleep(0.1)
        time.sleep(0.5)
        # A terminal sends SIGINT to the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    [run_dir] = list(out.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ended_by"] == "interrupted"
    assert summary["node_failures"] == []
    _, events = load_trace(run_dir)
    assert sum(e["event"] == "stop" for e in events) == 6


@pytest.mark.timeout(60)
def test_node_app_and_edge_transport_attributes_override_the_run_defaults(simulate):
    topology = ROOT / "topologies" / "mixed-transports.graphml"
    result = simulate(topology, app="flood", transport="unix-seqpacket", seed=2)
    assert result.summary.exit_status == "ok", result.summary
    header, events = load_trace(result.run_dir)
    assert header["node_apps"]["hub"] == "echo"
    assert {app for node, app in header["node_apps"].items() if node != "hub"} == {"flood"}
    expected = {frozenset((a, b)): transport for a, b, transport in header["topology"]["links"]}
    assert expected[frozenset(("delta", "epsilon"))] == "unix-seqpacket", (
        "the edge without one takes --transport"
    )
    assert len(set(expected.values())) == 7
    for event in events:
        if event["event"] in ("send", "sendto", "recv", "recvfrom"):
            assert event["transport"] == expected[frozenset((event["node"], event["peer"]))], event
    assert any(e["node"] == "hub" and e.get("msg_type") == "ping" for e in events), "the hub ran echo"
