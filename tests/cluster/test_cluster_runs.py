"""Runs over a real multi-host Ray cluster: two hosts, each a network namespace with its own addresses,
joined by veth links through a bridge (tests/cluster/netns_cluster.py). The launcher runs on h0."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from netns_cluster import NetnsCluster

pytest.importorskip("ray", reason='the ray extra is not installed (pip install -e ".[ray]")')
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
ABILENE = REPO / "topologies" / "abilene.gml"


@pytest.fixture(scope="module")
def cluster() -> Iterator[NetnsCluster]:
    why = NetnsCluster.unavailable()
    if why is not None:
        pytest.skip(f"no network namespaces here: {why}")
    made = NetnsCluster(hosts=2, cpus=1)
    made.start()
    try:
        yield made
    finally:
        made.close()


def _run(cluster: NetnsCluster, out: Path, *args: str) -> tuple[dict[str, Any], Path]:
    done = cluster.netsim("run", *args, "--cluster", cluster.head, "--out", str(out), "--json")
    assert done.stdout, done.stderr
    summary = json.loads(done.stdout)
    summary["_exit"] = done.returncode
    summary["_stderr"] = done.stderr
    return summary, Path(summary["run_dir"])


def _records(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = (run_dir / "trace.jsonl").read_bytes().splitlines()
    header, *events = (orjson.loads(line) for line in lines)
    return header, events


def _verify(cluster: NetnsCluster, run_dir: Path) -> None:
    verified = cluster.netsim("trace", "verify", str(run_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _netsim_processes(cluster: NetnsCluster) -> list[str]:
    """netsim's fork servers and nodes left in any host's namespace (Ray's own processes stay)."""
    return [
        command
        for host in range(len(cluster.names))
        for command in cluster.processes(host).values()
        if "netsim-fork-server" in command or "netsim.launch.forkserver" in command
    ]


def test_a_flood_on_a_zoo_network_crosses_hosts(cluster: NetnsCluster, tmp_path: Path) -> None:
    summary, run_dir = _run(cluster, tmp_path, str(ABILENE))
    assert summary["_exit"] == 0, summary["_stderr"]
    assert summary["exit_status"] == "ok"
    placement = summary["cluster"]
    assert [host["address"] for host in placement["hosts"]] == cluster.addresses
    assert all(host["nodes"] > 0 for host in placement["hosts"])
    assert 0 < placement["cross_host_links"] < placement["links"]
    header, events = _records(run_dir)
    node_host = header["cluster"]["node_host"]
    address_of = {host["name"]: host["address"] for host in header["cluster"]["hosts"]}
    # Every node bound its host's address, and the kernel said so.
    binds = [event for event in events if event["event"] == "bind"]
    assert binds
    for event in binds:
        assert event["sockname"][0] == address_of[node_host[event["node"]]]
    crossing = [
        event
        for event in events
        if event["event"] == "connect" and event["sockname"][0] != event["peername"][0]
    ]
    assert len(crossing) == placement["cross_host_links"]
    for event in crossing:
        assert {event["sockname"][0], event["peername"][0]} == set(cluster.addresses)
        assert node_host[event["node"]] != node_host[event["peer"]]
    # The flood reached every node, on both hosts.
    receivers = {event["node"] for event in events if event["event"] == "recv"}
    assert receivers == set(header["topology"]["nodes"])
    # Clocks were measured at both ends, with their error bounds.
    for host in header["cluster"]["hosts"]:
        assert host["clock_error_ns"] >= 0 and host["clock_offset_end_ns"] is not None
    _verify(cluster, run_dir)
    assert not _netsim_processes(cluster)


def test_ipv6_datagrams_cross_hosts_on_the_hosts_addresses(cluster: NetnsCluster, tmp_path: Path) -> None:
    summary, run_dir = _run(
        cluster, tmp_path, "ring:6", "--transport", "udp6", "--placement", "spread", "--latency", "3ms"
    )
    assert summary["_exit"] == 0, summary["_stderr"]
    # Spread over two hosts, every link of a ring of six crosses.
    assert summary["cluster"]["cross_host_links"] == 6
    _, events = _records(run_dir)
    sends = [event for event in events if event["event"] == "sendto"]
    receives = {event["msg_id"]: event for event in events if event["event"] == "recvfrom"}
    assert len(sends) == len(receives) >= 6
    assert {event["sockname"][0] for event in sends} == set(cluster.addresses6)
    assert all(event["sockname"][0] != event["peername"][0] for event in sends)
    # The link's latency holds each datagram (a delay event, then its sendto) before it crosses to the
    # other host; the two hosts' times are in one clock, within the offsets' error bounds (~0.1 ms).
    delays = {event["msg_id"]: event for event in events if event["event"] == "delay"}
    assert set(delays) == set(receives)
    gaps = []
    for send in sends:
        held = delays[send["msg_id"]]
        assert held["delay_ns"] == 3_000_000
        gaps.append(receives[send["msg_id"]]["ts_ns"] - held["ts_ns"])
    # A busy sender may write its delay event a little after it set the release time: the median.
    assert all(gap > 0 for gap in gaps)
    assert 2_900_000 <= statistics.median(gaps) < 1_000_000_000
    _verify(cluster, run_dir)


def test_unix_links_keep_their_nodes_on_one_host(cluster: NetnsCluster, tmp_path: Path) -> None:
    topology = tmp_path / "mixed.json"
    nodes = [{"id": f"n{k}"} for k in range(6)]
    links = [{"source": f"n{k}", "target": f"n{(k + 1) % 6}"} for k in range(6)]
    links[0]["transport"] = "unix"  # n0 - n1
    links[3]["transport"] = "unix-seqpacket"  # n3 - n4
    topology.write_text(json.dumps({"directed": False, "multigraph": False, "nodes": nodes, "links": links}))
    summary, run_dir = _run(cluster, tmp_path, str(topology), "--placement", "spread")
    assert summary["_exit"] == 0, summary["_stderr"]
    header, events = _records(run_dir)
    node_host = header["cluster"]["node_host"]
    assert node_host["n0"] == node_host["n1"]
    assert node_host["n3"] == node_host["n4"]
    assert len(set(node_host.values())) == 2
    unix_sends = [event for event in events if event["event"] == "send" and event["transport"] == "unix"]
    assert unix_sends and all(isinstance(event["sockname"], str) for event in unix_sends)
    _verify(cluster, run_dir)


def test_a_partition_and_a_kill_on_the_remote_host(cluster: NetnsCluster, tmp_path: Path) -> None:
    topology = tmp_path / "pinned.json"
    nodes = [{"id": f"n{k}", **({"host": "h1"} if k >= 3 else {})} for k in range(6)]
    links = [{"source": f"n{k}", "target": f"n{k + 1}"} for k in range(5)]
    topology.write_text(json.dumps({"directed": False, "multigraph": False, "nodes": nodes, "links": links}))
    summary, run_dir = _run(
        cluster,
        tmp_path,
        str(topology),
        "--app",
        "gossip",
        "--duration",
        "4",
        "--fault",
        "0.3s partition n0,n1,n2 | n3,n4,n5",
        "--fault",
        "1s heal",
        "--fault",
        "1.5s kill n4",
        "--fault",
        "1.6s stop n5",
        "--fault",
        "2s cont n5",
        "--fault",
        "2.2s restart n4",
    )
    assert summary["_exit"] == 0, summary["_stderr"]
    actions = [fault["action"] for fault in summary["faults"]]
    assert actions == ["partition", "heal", "kill", "stop", "cont", "restart"]
    header, events = _records(run_dir)
    assert {header["cluster"]["node_host"][f"n{k}"] for k in (3, 4, 5)} == {"h1"}
    # The partition cut the one link that crosses hosts (n2 - n3), both ways, until it healed.
    cut_at, healed_at = (
        next(event["ts_ns"] for event in events if event.get("fault") == fault)
        for fault in ("partition", "heal")
    )
    dropped = {
        (event["node"], event["peer"])
        for event in events
        if event["event"] == "drop" and cut_at <= event["ts_ns"] <= healed_at
    }
    assert dropped == {("n2", "n3"), ("n3", "n2")}
    # The killed node's trace up to its death survives.
    assert any(event["node"] == "n4" for event in events)
    killed_at, restarted_at = (
        next(event["ts_ns"] for event in events if event.get("fault") == fault)
        for fault in ("kill", "restart")
    )
    n4_sends = [event["ts_ns"] for event in events if event["node"] == "n4" and event["event"] == "send"]
    assert not [at for at in n4_sends if killed_at < at < restarted_at]
    # Restarted on its host, n4 started again.
    n4_starts = [event["ts_ns"] for event in events if event["node"] == "n4" and event["event"] == "start"]
    assert len(n4_starts) == 2 and n4_starts[1] > restarted_at
    _verify(cluster, run_dir)
    assert not _netsim_processes(cluster)


def test_losing_a_hosts_agent_ends_the_run_naming_the_host(cluster: NetnsCluster, tmp_path: Path) -> None:
    def kill_the_agent(running: subprocess.Popen[str], agent: int) -> None:
        # The nodes run at the launcher's niceness, not at the 15 Ray gives its workers.
        forked = [pid for pid, command in cluster.processes(1).items() if "netsim-fork-server" in command]
        assert forked and {_niceness(pid) for pid in forked} == {os.nice(0)}
        os.kill(agent, signal.SIGKILL)

    returncode, stdout, stderr, agent = _spread_ring_until(cluster, tmp_path, "ring:6", kill_the_agent)
    assert returncode == 1, stderr
    summary = json.loads(stdout)
    assert summary["ended_by"] == "failure"
    assert "host 'h1'" in summary["node_failures"][0]["error"]
    assert cluster.addresses[1] in summary["node_failures"][0]["error"]
    assert summary["cluster"]["hosts"][1]["lost"]
    _, events = _records(Path(summary["run_dir"]))
    # What h0's nodes traced is in the merged trace.
    h0_nodes = {f"n{k}" for k in (0, 2, 4)}
    assert h0_nodes <= {event["node"] for event in events}
    _no_netsim_process_left(cluster)
    # A lost host keeps the files its agent had (on a real cluster, on that machine): here the hosts
    # share this machine's /tmp, and the test removes the killed agent's work directory itself.
    leftovers = glob.glob(os.path.join(tempfile.gettempdir(), f"netsim-agent-{agent}-*"))
    assert len(leftovers) == 1
    shutil.rmtree(leftovers[0])


def test_losing_a_hosts_fork_server_ends_the_run_naming_the_host(
    cluster: NetnsCluster, tmp_path: Path
) -> None:
    killed_at: list[float] = []

    def kill_the_fork_server(running: subprocess.Popen[str], agent: int) -> None:
        (server,) = [
            pid
            for pid, command in cluster.processes(1).items()
            if "netsim-fork-server" in command and _parent(pid) == agent
        ]
        killed_at.append(time.monotonic())
        os.kill(server, signal.SIGKILL)

    returncode, stdout, stderr, _ = _spread_ring_until(cluster, tmp_path, "ring:6", kill_the_fork_server)
    took_s = time.monotonic() - killed_at[0]
    assert returncode == 1, stderr
    summary = json.loads(stdout)
    assert summary["ended_by"] == "failure"
    error = summary["node_failures"][0]["error"]
    assert "host 'h1'" in error and "its fork server died during the run" in error, error
    # Not blamed on the nodes, and not after the shutdown's timeouts: at once.
    assert all(failure["name"] is None for failure in summary["node_failures"]), summary["node_failures"]
    assert took_s < 15, took_s
    # The agent still sent what its nodes traced before they died.
    _, events = _records(Path(summary["run_dir"]))
    assert {f"n{k}" for k in (1, 3, 5)} <= {event["node"] for event in events}
    _no_netsim_process_left(cluster)


def test_recovering_a_run_over_hosts_whose_launcher_died_says_what_is_missing(
    cluster: NetnsCluster, tmp_path: Path
) -> None:
    def kill_the_launcher(running: subprocess.Popen[str], agent: int) -> None:
        running.kill()  # `ip netns exec` execs: this is the launcher

    _spread_ring_until(cluster, tmp_path, "ring:4", kill_the_launcher)
    _no_netsim_process_left(cluster)
    [run_dir] = [path for path in tmp_path.iterdir() if path.is_dir()]
    recovered = cluster.netsim("runs", "recover", str(run_dir))
    assert recovered.returncode == 0, recovered.stderr
    assert "warning: a run over many hosts: its nodes' trace parts were on their hosts" in recovered.stderr


def _spread_ring_until(
    cluster: NetnsCluster, out: Path, ring: str, act: Callable[[subprocess.Popen[str], int], None]
) -> tuple[int, str, str, int]:
    """Run ``ring`` spread over both hosts (a fault still to come keeps it going), and ``act`` on it once
    host h1's nodes run (given the launcher's process and h1's agent pid); returns the launcher's exit
    code, stdout (its --json summary), stderr, and the agent's pid."""
    running = cluster.popen_netsim(
        "run", ring, "--duration", "120", "--fault", "100s heal",
        "--cluster", cluster.head, "--out", str(out), "--json", "--placement", "spread",
    )  # fmt: skip
    try:
        agent = _wait_for_agent_with_nodes(cluster, host=1)
        act(running, agent)
        stdout, stderr = running.communicate(timeout=90)
    finally:
        if running.poll() is None:
            running.kill()
            running.communicate()
    return running.returncode, stdout, stderr, agent


def _no_netsim_process_left(cluster: NetnsCluster) -> None:
    deadline = time.monotonic() + 15
    while _netsim_processes(cluster) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _netsim_processes(cluster)


def _wait_for_agent_with_nodes(cluster: NetnsCluster, host: int, timeout_s: float = 60.0) -> int:
    """The pid of the host agent's actor process on ``host``, once its nodes run."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        processes = cluster.processes(host)
        forked = [pid for pid, command in processes.items() if "netsim-fork-server" in command]
        parents = {pid: _parent(pid) for pid in forked}
        # The agent is the fork server's parent; the nodes are the fork server's children.
        agents = [
            parent for parent in parents.values() if processes.get(parent, "").startswith("ray::_AgentActor")
        ]
        if agents and any(parent in forked for parent in parents.values()):
            time.sleep(1.0)  # the run has started
            return agents[0]
        time.sleep(0.2)
    raise AssertionError(f"no host agent with nodes on {cluster.names[host]} within {timeout_s} s")


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rpartition(")")[2].split()[1])


def test_cluster_ray_finds_the_cluster_this_host_belongs_to(cluster: NetnsCluster, tmp_path: Path) -> None:
    """--cluster ray is ray.init("auto"): the cluster that `ray start` made on this host."""
    done = cluster.netsim("run", "ring:4", "--cluster", "ray", "--out", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["cluster"]["address"] == "ray"
    assert [host["address"] for host in summary["cluster"]["hosts"]] == cluster.addresses


def test_a_ray_client_address_runs_the_same(cluster: NetnsCluster, tmp_path: Path) -> None:
    """--cluster ray://HEAD:10001: the launcher is a Ray client, not a node of the cluster."""
    done = cluster.netsim(
        "run", "ring:6", "--cluster", f"ray://{cluster.addresses[0]}:10001", "--out", str(tmp_path), "--json"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert [host["address"] for host in summary["cluster"]["hosts"]] == cluster.addresses
    assert summary["cluster"]["cross_host_links"] == 2
    _verify(cluster, Path(summary["run_dir"]))


def test_topo_show_prints_the_placement(cluster: NetnsCluster) -> None:
    shown = cluster.netsim("topo", "show", "grid:4x4", "--cluster", cluster.head, "--json")
    assert shown.returncode == 0, shown.stderr
    placement = json.loads(shown.stdout)["placement"]
    assert [host["nodes"] for host in placement["hosts"]] == [8, 8]
    assert placement["cross_host_links"] == 4  # a 4x4 grid cut in two halves
    text = cluster.netsim("topo", "show", "ring:8", "--cluster", cluster.head, "--placement", "pack")
    assert text.returncode == 0, text.stderr
    assert "0 of 8 links cross hosts" in text.stderr


_LOCAL_CLUSTER_RUN = """
import json, sys
import ray
from ray.cluster_utils import Cluster
import netsim

address, out = sys.argv[1], sys.argv[2]
local = Cluster(
    initialize_head=True,
    head_node_args={"num_cpus": 1, "node_ip_address": address, "include_dashboard": False},
)
local.add_node(num_cpus=2, node_ip_address=address)
local.wait_for_nodes()
try:
    run = netsim.run("grid:3x4", cluster=local.address, out=out)
    print(json.dumps(run.summary.to_dict()))
finally:
    ray.shutdown()
    local.shutdown()
"""


def test_rays_local_cluster_utilities_make_two_hosts_on_one_address(tmp_path: Path) -> None:
    """Ray's own test cluster (ray.cluster_utils): two Ray nodes, one address, in a namespace of its own."""
    why = NetnsCluster.unavailable()
    if why is not None:
        pytest.skip(f"no network namespaces here: {why}")
    space = NetnsCluster(hosts=1)
    try:
        space.make_network()
        done = subprocess.run(
            [*space.exec_in(0), sys.executable, "-c", _LOCAL_CLUSTER_RUN, space.addresses[0], str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
            env=space.env(0),
            check=False,
        )
    finally:
        space.close()
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["exit_status"] == "ok"
    hosts = summary["cluster"]["hosts"]
    # Balanced by CPUs: the host with two gets twice the nodes of the host with one.
    assert sorted(host["nodes"] for host in hosts) == [4, 8]
    assert {host["address"] for host in hosts} == {space.addresses[0]}
    assert summary["cluster"]["cross_host_links"] > 0
    verified = subprocess.run(
        [sys.executable, "-m", "netsim", "trace", "verify", summary["run_dir"]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout


def test_the_cluster_bench_runs_at_a_tiny_size() -> None:
    """bench/cluster.py end to end (its own namespaces and Ray clusters), so it cannot rot unseen."""
    if NetnsCluster.unavailable() is not None:
        pytest.skip(f"no network namespaces here: {NetnsCluster.unavailable()}")
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "cluster.py"), "--sizes", "24", "--hosts", "1,2"]
        + ["--actors", "2"],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=REPO / "bench",
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "random graph of 24 nodes" in done.stdout
    for how in ("plain", "ray x1", "ray x2"):
        assert f"│ {how}" in done.stdout
    assert "One Ray actor: 2 asked for at once" in done.stdout
