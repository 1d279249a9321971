"""Socket programs as nodes: how their runs start, end, fail, restart and refuse what cannot work."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from netsim_testing import Simulations

import netsim
from netsim.trace import iter_events, read_header

HERE = Path(__file__).parent
PROGRAMS = HERE / "socket_program_apps.py"


def test_a_server_that_serves_forever_ends_the_run_quiet_once_its_clients_are_done(
    simulate: Simulations,
) -> None:
    result = simulate("star:4", app=f"{PROGRAMS}:echo_forever", seed=3, duration=20)
    assert result.ok, result.summary
    assert result.summary.ended_by == "quiet"
    answers = sorted(
        event["data"]["answer"] for event in iter_events(result.run_dir) if event["event"] == "app"
    )
    assert answers == ["N1", "N2", "N3"]
    header = read_header(result.run_dir)
    hosts = header["node_hosts"]
    assert len(set(hosts.values())) == 4
    # Each node's sockets are bound to its own address, and the trace names the node at the other end.
    for event in iter_events(result.run_dir):
        if event["event"] == "call" and event["call"] in ("connect", "accept", "send", "sendall", "recv"):
            assert event["sockname"][0] == hosts[event["node"]]
            if "peername" in event:
                assert event["peername"][0] == hosts[event["peer"]]


def test_a_program_that_sleeps_between_sends_is_busy_not_quiet(simulate: Simulations) -> None:
    result = simulate("line:2", app=f"{PROGRAMS}:sleeps_then_sends", seed=1, quiet=0.3, duration=20)
    assert result.ok, result.summary
    assert result.summary.ended_by == "done"
    got = [event["data"]["got"] for event in iter_events(result.run_dir) if event["event"] == "app"]
    assert got == ["late but here"]


def test_a_restart_calls_main_again_in_a_fresh_process(
    simulate: Simulations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETSIM_TEST_DIR", str(tmp_path))
    result = simulate(
        "line:2", app=f"{PROGRAMS}:restarted_counter", seed=2, faults=["0.4s restart n1"], duration=20
    )
    assert result.ok, result.summary
    assert (tmp_path / "starts-n1").read_text().count("start") == 2
    assert (tmp_path / "starts-n0").read_text().count("start") == 1
    echoes = [
        event
        for event in iter_events(result.run_dir)
        if event["event"] == "call" and event["call"] == "recvfrom" and event["node"] == "n0"
    ]
    assert echoes, "n0 heard no echo from n1"


def test_a_function_object_runs_like_its_spec(runs_dir: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("socket_program_apps", PROGRAMS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = netsim.run("star:3", app=module.echo_forever, out=runs_dir, seed=1, duration=20)
    assert result.ok, result.summary
    assert result.summary.ended_by == "quiet"


def test_a_link_between_a_socket_program_and_an_app_is_refused_before_anything_starts(
    runs_dir: Path, tmp_path: Path
) -> None:
    topology = tmp_path / "mixed.json"
    topology.write_text(
        json.dumps(
            {
                "directed": False,
                "multigraph": False,
                "graph": {},
                "nodes": [{"id": "a", "app": f"{PROGRAMS}:echo_forever"}, {"id": "b"}],
                "links": [{"source": "a", "target": "b"}],
            }
        )
    )
    with pytest.raises(netsim.OptionError, match="joins node 'a', which runs a socket program"):
        netsim.run(topology, app="flood", out=runs_dir, allow_topology_apps=True)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_waiting_programs_cost_no_cpu(simulate: Simulations) -> None:
    """Nodes blocked in recvfrom sleep in the kernel; their node loops wake ten times a second."""
    cpu: dict[str, float] = {}

    def measure(nodes: list) -> None:
        import time

        time.sleep(0.3)
        start = {node.name: _cpu_seconds(node.pid) for node in nodes}
        time.sleep(1.5)
        for node in nodes:
            cpu[node.name] = _cpu_seconds(node.pid) - start[node.name]

    # quiet is long enough for the measurement; the run then ends quiet.
    result = simulate(
        "ring:4", app=f"{PROGRAMS}:waits_forever", seed=1, quiet=2.5, duration=20, on_ready=measure
    )
    assert result.summary.ended_by == "quiet"
    assert cpu and max(cpu.values()) < 0.15, cpu


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_forking_server_s_children_trace_their_calls_once_each(simulate: Simulations) -> None:
    result = simulate("star:4", app=f"{PROGRAMS}:forking_server", seed=5, duration=20)
    assert result.ok, result.summary
    events = list(iter_events(result.run_dir))
    answers = sorted(event["data"]["answer"] for event in events if event["event"] == "app")
    assert answers == ["N1", "N2", "N3"]
    server_sends = [event for event in events if event["node"] == "n0" and event.get("call") == "sendall"]
    # One record per child's send: none lost to os._exit, none copied from the parent's buffer.
    assert sorted(event["preview"] for event in server_sends) == ["N1", "N2", "N3"]
    accepts = [event for event in events if event["node"] == "n0" and event.get("call") == "accept"]
    assert len(accepts) == 3
