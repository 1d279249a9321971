"""A run's open files and processes, counted before it starts: the pure counts and decisions, the counts
held to what real node processes and a real launcher hold, and the CLI's one line when a limit is too
low (no run directory, no process left behind) or its soft raise when the hard limit allows."""

from __future__ import annotations

import gc
import heapq
import os
import re
import resource
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from netsim_testing import ROOT, load_trace

import netsim
from netsim.errors import InputError, LimitError
from netsim.launch.launcher import ReadyNode
from netsim.launch.limits import (
    FD_MARGIN,
    FORK_SERVER_FDS,
    MERGE_OUTPUT_FDS,
    PROCESS_MARGIN,
    Limit,
    RunNeeds,
    SoftLimits,
    launcher_fds,
    node_fds,
    open_fds,
    run_needs,
    settle_limits,
    user_processes,
)
from netsim.topology import load_topology
from netsim.topology.model import LinkSpec, NodeSpec, Topology
from netsim.trace import merge as trace_merge
from netsim.trace.merge import MERGE_FAN_IN
from netsim.transport import TRANSPORTS

APPS = Path(__file__).with_name("launch_apps.py")
COUNTS_DESCRIPTORS = f"{APPS}:CountsDescriptors"


def topology(links: list[tuple[str, str, str | None]], nodes: list[str] | None = None) -> Topology:
    names = nodes or list(dict.fromkeys(name for a, b, _ in links for name in (a, b)))
    return Topology(
        name="t",
        source="test",
        nodes=tuple(NodeSpec(name, index) for index, name in enumerate(names)),
        links=tuple(LinkSpec(a, b, transport) for a, b, transport in links),
    )


# ---- the counts, by hand ------------------------------------------------------------------------------


def test_a_ring_node_holds_its_own_nine_a_listener_and_two_links() -> None:
    ring = load_topology("ring:8")
    counts = node_fds(ring, "tcp")
    assert counts == {f"n{i}": 9 + 1 + 2 for i in range(8)}
    # The launcher: every node up (2 fixed, 1 a node) beats merging 8 parts into one file.
    assert launcher_fds(8, inherited_fds=0) == 2 + 8
    needs = run_needs(ring, "tcp", inherited_fds=0)
    assert needs == RunNeeds(
        source="ring:8",
        nodes=8,
        launcher_fds=10 + FD_MARGIN,
        fork_server_fds=9 + 2 + FD_MARGIN,
        busiest_node="n0",
        busiest_node_fds=12 + FD_MARGIN,
        processes=8,
    )
    # So small a run: its nodes hold more than the launcher or the fork server.
    assert needs.open_files == 12 + FD_MARGIN


def test_what_the_launchers_process_held_before_the_run_counts_in_the_launcher_only() -> None:
    ring = load_topology("ring:8")
    plain, busy = run_needs(ring, "tcp", inherited_fds=0), run_needs(ring, "tcp", inherited_fds=100)
    assert busy.launcher_fds == plain.launcher_fds + 100
    assert (busy.fork_server_fds, busy.busiest_node_fds) == (plain.fork_server_fds, plain.busiest_node_fds)
    assert busy.open_files == busy.launcher_fds


@pytest.mark.parametrize("transport", ["tcp", "udp", "unix", "unix-dgram", "unix-seqpacket"])
def test_stream_and_datagram_links_cost_one_socket_an_end(transport: str) -> None:
    """A connected socket, or a bound link socket beside a listener that receives: one either way."""
    counts = node_fds(load_topology("star:40"), transport)
    assert counts["n0"] == 9 + 1 + 39
    assert counts["n39"] == 9 + 1 + 1


def test_a_node_has_a_listener_per_transport_its_links_use() -> None:
    mixed = topology([("a", "b", "tcp"), ("a", "c", "udp"), ("a", "d", None), ("b", "c", None)])
    counts = node_fds(mixed, "unix")
    assert counts["a"] == 9 + 3 + 3  # tcp, udp and unix listeners, three links
    assert counts["b"] == 9 + 2 + 2  # tcp and unix
    assert counts["d"] == 9 + 1 + 1


def test_a_node_without_links_holds_no_socket() -> None:
    assert node_fds(topology([], nodes=["alone"]), "tcp") == {"alone": 9}
    empty = run_needs(topology([], nodes=[]), "tcp", inherited_fds=0)
    assert empty.busiest_node is None and empty.processes == 0
    # Nothing to run but the launcher's own and its fork server's, the busiest of the two.
    assert empty.open_files == empty.fork_server_fds == 9 + 2 + FD_MARGIN


def test_faults_and_restarts_cost_the_launcher_only() -> None:
    ring = load_topology("ring:8")
    plain = run_needs(ring, "tcp", inherited_fds=0)
    restarted = run_needs(ring, "tcp", inherited_fds=0, restarted=["n0", "n0"], faults=True)
    # A restarted node's process is its first one's figure less the start gate: the first decides.
    assert (restarted.busiest_node, restarted.busiest_node_fds) == (
        plain.busiest_node,
        plain.busiest_node_fds,
    )
    assert restarted.fork_server_fds == plain.fork_server_fds
    # Every node up, the fault runner's part open: 2 + 1 + 8. Merging: 8 first processes' parts, 2
    # restarts', the fault runner's and the merged file: 12, more.
    assert launcher_fds(8, inherited_fds=0, faults=True) == 2 + 1 + 8
    assert launcher_fds(8, inherited_fds=0, restarts=2, faults=True) == 8 + 2 + 1 + 1
    assert restarted.launcher_fds == 12 + FD_MARGIN
    # 201 parts: the merge holds MERGE_FAN_IN of them open at once, and the file it writes.
    assert launcher_fds(100, inherited_fds=0, restarts=100, faults=True) == MERGE_FAN_IN + 1


def test_the_readmes_figures_are_what_the_count_gives() -> None:
    """The README's table of large runs (the launcher's descriptor a node decides the large ones), the
    fork server's figure, and its example of the line a run too large for the hard limit prints."""
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| ([\d,]+) \| ([\d,]+) \|$", readme, re.MULTILINE)
    assert [spec for spec, _, _ in rows] == ["ring:8", "random:1000:0.01", "random:5000:0.002"]
    for spec, launcher, busiest in rows:
        needs = run_needs(load_topology(spec, seed=1), "tcp", inherited_fds=0)
        assert (f"{needs.launcher_fds:,}", f"{needs.busiest_node_fds:,}") == (launcher, busiest), spec
        assert needs.open_files == max(needs.launcher_fds, needs.busiest_node_fds), spec
    fork_server = needs.fork_server_fds
    assert f"the fork server holds {fork_server - FD_MARGIN} ({fork_server} with the margin)" in " ".join(
        readme.split()
    )
    # Run from a shell that passes on descriptors 0, 1 and 2 only.
    from_a_shell = run_needs(load_topology("random:5000:0.002", seed=1), "tcp", inherited_fds=3)
    with pytest.raises(LimitError) as raised:
        settle_limits(
            from_a_shell,
            open_files=Limit(1024, 4096),
            processes=None,
            user_processes=None,
            user="alice",
            root=False,
        )
    assert f"\nerror: {raised.value}\n" in readme


# ---- deciding -----------------------------------------------------------------------------------------

NEEDS = RunNeeds(
    source="ring:8",
    nodes=8,
    launcher_fds=94,
    fork_server_fds=75,
    busiest_node="n7",
    busiest_node_fds=90,
    processes=8,
)


def settle(open_files: Limit, processes: Limit | None = None, **options: object) -> SoftLimits:
    arguments: dict[str, object] = {"user_processes": 10, "user": "alice", "root": False}
    arguments.update(options)
    return settle_limits(NEEDS, open_files=open_files, processes=processes, **arguments)  # type: ignore[arg-type]


def test_limits_that_suffice_are_left_alone() -> None:
    assert settle(Limit(94, 94), Limit(10 + 8 + PROCESS_MARGIN, None)) == SoftLimits()
    assert settle(Limit(None, None), Limit(None, None)) == SoftLimits()


def test_a_low_soft_limit_is_raised_to_what_the_run_needs_never_to_the_hard_one() -> None:
    assert settle(Limit(50, 100_000)) == SoftLimits(open_files=94)
    assert settle(Limit(50, None)) == SoftLimits(open_files=94)
    needed = 10 + 8 + PROCESS_MARGIN
    assert settle(Limit(94, 94), Limit(5, needed)) == SoftLimits(processes=needed)


def test_a_hard_limit_too_low_for_open_files_is_one_line_that_says_how_to_raise_it() -> None:
    with pytest.raises(LimitError) as raised:
        settle(Limit(64, 93))
    error = raised.value
    assert isinstance(error, InputError) and error.exit_code == 2
    assert error.needed == 94 and error.hint is None
    text = str(error)
    assert "\n" not in text
    assert text.startswith("ring:8: 8 nodes need 94 open files in one process")
    assert "(the launcher 94, 1 a node; node 'n7' 90)" in text and "hard limit (ulimit -Hn) is 93" in text
    assert "sudo prlimit --pid $$ --nofile=:94" in text
    assert "'alice hard nofile 94' in /etc/security/limits.conf" in text


def test_the_fork_server_is_named_only_when_it_is_what_the_run_needs_most() -> None:
    tiny = RunNeeds(
        source="t",
        nodes=1,
        launcher_fds=70,
        fork_server_fds=75,
        busiest_node="a",
        busiest_node_fds=73,
        processes=1,
    )
    with pytest.raises(LimitError) as raised:
        settle_limits(
            tiny, open_files=Limit(64, 64), processes=None, user_processes=None, user="u", root=False
        )
    assert (
        "need 75 open files in one process (the launcher 70, 1 a node; node 'a' 73; the fork server 75)"
        in str(raised.value)
    )
    with pytest.raises(LimitError) as raised:
        settle(Limit(64, 93))
    assert "fork server" not in str(raised.value)


def test_a_hard_process_limit_too_low_counts_what_the_user_runs_already() -> None:
    needed = 300 + 8 + PROCESS_MARGIN
    with pytest.raises(LimitError) as raised:
        settle(Limit(None, None), Limit(200, needed - 1), user_processes=300)
    text = str(raised.value)
    assert "\n" not in text and raised.value.needed == needed
    assert "user alice runs 300 processes and threads already" in text
    assert f"process limit of {needed}" in text and f"hard limit (ulimit -Hu) is {needed - 1}" in text
    assert f"--nproc=:{needed}" in text and f"'alice hard nproc {needed}'" in text


def test_root_and_systems_without_a_process_limit_are_not_held_to_one() -> None:
    assert settle(Limit(None, None), Limit(1, 1), root=True) == SoftLimits()
    assert settle(Limit(None, None), None) == SoftLimits()
    # Not knowing what the user runs, the launcher and its fork server alone are counted.
    assert settle(Limit(None, None), Limit(1, None), user_processes=None) == SoftLimits(
        processes=2 + 8 + PROCESS_MARGIN
    )


# ---- reading this process -------------------------------------------------------------------------------


def test_open_fds_counts_this_processes_descriptors(tmp_path: Path) -> None:
    before = open_fds()
    with open(tmp_path / "f", "w"):
        assert open_fds() == before + 1
    assert open_fds() == before


def test_user_processes_counts_this_processes_threads() -> None:
    started = threading.Event()
    stop = threading.Event()

    def wait() -> None:
        started.set()
        stop.wait(10)

    thread = threading.Thread(target=wait)
    thread.start()
    try:
        started.wait(10)
        counted = user_processes(os.getuid())
        assert counted is not None and counted >= threading.active_count() >= 2
    finally:
        stop.set()
        thread.join()


# ---- held to what real runs hold ----------------------------------------------------------------------


# A hub with a link and so a listener over each of the seven transports, and links of the default one.
EVERY_TRANSPORT = topology(
    [("hub", f"leaf{index}", name) for index, name in enumerate(TRANSPORTS)]
    + [("leaf0", "leaf1", None), ("leaf2", "leaf3", None), ("leaf4", "hub2", None), ("hub2", "hub", None)]
)


def recorded(run_dir: Path) -> dict[str, list[int]]:
    """The most each node process recorded (at its start, and as its links came up), by node, a
    restarted node's processes in the order they ran."""
    by_process: dict[tuple[str, int], int] = {}
    for event in load_trace(run_dir)[1]:
        if event["event"] == "app" and event["data"].get("kind") == "descriptors":
            process = (event["node"], event["data"]["pid"])
            by_process[process] = max(by_process.get(process, 0), event["data"]["count"])
    counts: dict[str, list[int]] = {}
    for (name, _), count in by_process.items():
        counts.setdefault(name, []).append(count)
    return counts


def descriptors_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def parent_of(pid: int) -> int:
    # The command name, in parentheses, may hold spaces: the fields that follow it are plain.
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("spec", "transport", "faults"),
    [
        ("star:40", "tcp", []),
        ("star:40", "udp", []),
        ("every-transport", "unix", []),
        ("ring:12", "tcp", ["0.2s kill n3", "0.6s restart n3"]),
        ("ring:12", "udp", ["0.2s kill n3", "0.6s restart n3"]),
    ],
)
def test_every_process_holds_what_its_count_says(simulate, monkeypatch, spec, transport, faults):
    """A count too low fails a large run; one too high refuses a run that would have fitted. When every
    node is up (the moment each holds the most, a star's hub 40 sockets), each node process, the fork
    server and the launcher hold what their count says; each node, once its app starts, holds the
    same but the start gate it has closed (a restarted node's process never had one); the launcher,
    merging the trace, holds what its count of the merge says."""
    topo = EVERY_TRANSPORT if spec == "every-transport" else load_topology(spec, seed=1)
    for name in {link.transport or transport for link in topo.links}:
        reason = TRANSPORTS[name].available()
        if reason is not None:
            pytest.skip(f"{name}: {reason}")
    restarts = sum(" restart " in line for line in faults)
    at_ready: dict[str, int] = {}

    def on_ready(nodes: list[ReadyNode]) -> None:
        at_ready["launcher"] = open_fds()
        at_ready["fork server"] = descriptors_of(parent_of(nodes[0].pid))
        for node in nodes:
            at_ready[node.name] = descriptors_of(node.pid)

    merging: list[int] = []

    def merge(*streams):  # every part and the merged file are open by now
        merging.append(open_fds())
        return heapq.merge(*streams)

    monkeypatch.setattr(trace_merge, "heapq", SimpleNamespace(merge=merge))
    # Garbage of earlier tests that holds a descriptor would be counted here, and could be collected
    # during the run.
    gc.collect()
    inherited = open_fds()
    result = simulate(
        topo, app=COUNTS_DESCRIPTORS, transport=transport, seed=1, faults=faults or None, on_ready=on_ready
    )
    assert result.ok, result.summary
    expected = node_fds(topo, transport)
    assert {name: at_ready[name] for name in expected} == expected
    assert at_ready["fork server"] == FORK_SERVER_FDS  # forking no node now
    after_start = recorded(result.run_dir)
    assert after_start == {name: [count - 1] * len(after_start[name]) for name, count in expected.items()}
    assert sum(len(counts) for counts in after_start.values()) == len(topo.nodes) + restarts
    launcher = launcher_fds(len(topo.nodes), inherited_fds=inherited, restarts=restarts, faults=bool(faults))
    # Every node up and none restarted yet: without restarts, the launcher holds the most then.
    assert at_ready["launcher"] == launcher_fds(len(topo.nodes), inherited_fds=inherited, faults=bool(faults))
    parts = len(topo.nodes) + restarts + (1 if faults else 0)
    # When the merge starts, every part is open (these runs have fewer than MERGE_FAN_IN); the file it
    # writes opens next.
    assert merging == [inherited + parts]
    assert merging[0] + MERGE_OUTPUT_FDS <= launcher


# ---- the CLI, with limits lowered -----------------------------------------------------------------------


def run_cli(
    out: Path, spec: str, *, nofile: tuple[int, int] | None = None, nproc: tuple[int, int] | None = None
) -> subprocess.CompletedProcess[str]:
    def lower_limits() -> None:  # in the child, before it runs netsim
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, nproc)

    return subprocess.run(
        [sys.executable, "-m", "netsim", "run", spec, "--seed", "1", "--out", str(out), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lower_limits,
    )


def refused_in_one_line(completed: subprocess.CompletedProcess[str], out: Path) -> str:
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    assert not out.exists(), "a run directory was made for a run that could not start"
    return lines[0]


@pytest.mark.timeout(60)
def test_a_hard_open_files_limit_too_low_refuses_the_run_before_anything_starts(tmp_path, simulate):
    out = simulate.watch(tmp_path / "runs")
    completed = run_cli(out, "ring:200", nofile=(200, 200))
    line = refused_in_one_line(completed, out)
    assert line.startswith("error: ring:200: 200 nodes need ")
    assert "open files in one process" in line and "the hard limit (ulimit -Hn) is 200" in line
    assert "sudo prlimit --pid $$ --nofile=:" in line and "/etc/security/limits.conf" in line


@pytest.mark.timeout(60)
def test_a_low_soft_open_files_limit_is_raised_when_the_hard_one_allows(tmp_path, simulate):
    out = simulate.watch(tmp_path / "runs")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # ring:40 holds 45 descriptors in its launcher: with 32 it could take neither the control socket of
    # every node nor every trace part to merge.
    completed = run_cli(out, "ring:40", nofile=(32, hard))
    assert completed.returncode == 0, completed.stderr + completed.stdout
    summary = orjson.loads(completed.stdout)
    assert summary["exit_status"] == "ok" and summary["nodes"] == 40


@pytest.mark.timeout(60)
@pytest.mark.skipif(os.getuid() != 0, reason="root only: the kernel applies RLIMIT_NPROC to others")
def test_root_runs_whatever_its_process_limit(tmp_path, simulate):
    out = simulate.watch(tmp_path / "runs")
    completed = run_cli(out, "ring:8", nproc=(1, 1))
    assert completed.returncode == 0, completed.stderr


@pytest.mark.timeout(60)
@pytest.mark.skipif(os.getuid() == 0, reason="the kernel does not apply RLIMIT_NPROC to root")
def test_a_hard_process_limit_too_low_refuses_the_run_before_anything_starts(tmp_path, simulate):
    out = simulate.watch(tmp_path / "runs")
    running = user_processes(os.getuid())
    assert running is not None
    # Room for this test's own processes, not for 40 nodes.
    completed = run_cli(out, "ring:40", nproc=(running + 10, running + 10))
    line = refused_in_one_line(completed, out)
    assert "40 nodes need 40 processes" in line and "--nproc=:" in line


def test_limit_error_is_public() -> None:
    assert netsim.LimitError is LimitError
