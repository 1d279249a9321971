"""However a run ends, nothing is left behind: signals to the launcher, its death, hung and exiting apps,
and the processes an app starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from netsim_testing import A_NODE_FAILS, ROOT, address_in_use, load_trace, processes_mentioning
from typer.testing import CliRunner

from netsim.cli.main import app as cli_app

APPS = Path(__file__).with_name("runtime_apps.py")


def app(name: str) -> str:
    return f"{APPS}:{name}"


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie, dead but not reaped, does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def start_run(
    out: Path, topology: str = "ring:6", transport: str = "tcp", *, own_group: bool = False
) -> subprocess.Popen[str]:
    """``netsim run`` as a real command whose nodes run until stopped from outside, once all are up;
    ``own_group``: in a process group of its own, as a shell's job or ``timeout``'s child is."""
    command = [
        sys.executable, "-m", "netsim", "run", topology, "--app", app("Forever"), "--transport", transport,
        "--out", str(out), "--duration", "120",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=own_group
    )
    nodes = int(topology.split(":")[1])
    # The launcher, its fork server, and the nodes the server forked.
    assert wait_until(lambda: len(processes_mentioning(str(out))) == nodes + 2, 30), "the run did not start"
    # Every node binds and connects, then ticks: wait for the trace parts to show traffic.
    assert wait_until(lambda: any(out.glob("*/nodes/*.trace.jsonl")), 30)
    time.sleep(0.7)
    return process


def signal_and_wait(process: subprocess.Popen[str], send: Callable[[], None]) -> str:
    """Signal the run (``send``) and wait for it to end; its stderr. Killed if the test fails first."""
    try:
        send()
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return stderr


def socket_dir_of(pid: int) -> list[str]:
    return [name for name in os.listdir("/tmp") if name.startswith(f"netsim-{pid}-")]


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_sigterm_and_sighup_stop_the_run_with_a_trace_and_a_summary(
    tmp_path, simulate, signum, exit_code, transport
):
    out = simulate.watch(tmp_path / "runs")
    process = start_run(out, transport=transport)
    stderr = signal_and_wait(process, lambda: process.send_signal(signum))
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    assert processes_mentioning(str(out)) == []
    assert socket_dir_of(process.pid) == []
    [run_dir] = list(out.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ended_by"] == "interrupted" and summary["signal"] == signal.Signals(signum).name
    assert summary["node_failures"] == [] and summary["messages_received"] > 0
    _, events = load_trace(run_dir)
    assert sum(e["event"] == "stop" and e["reason"] == "shutdown" for e in events) == 6
    assert not list((run_dir / "nodes").glob("*.trace.jsonl"))


@pytest.mark.timeout(90)
def test_sigterm_to_the_whole_process_group_stops_the_run_as_to_the_launcher(tmp_path, simulate):
    """`timeout 10 netsim run ...` and `kill -TERM -PGID` signal the launcher and its fork server at
    once: the server leaves the stop to the launcher, which ends the run as for its own SIGTERM."""
    out = simulate.watch(tmp_path / "runs")
    process = start_run(out, own_group=True)
    stderr = signal_and_wait(process, lambda: os.killpg(process.pid, signal.SIGTERM))
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert processes_mentioning(str(out)) == []
    [run_dir] = list(out.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ended_by"] == "interrupted" and summary["signal"] == "SIGTERM"
    assert summary["node_failures"] == [] and summary["messages_received"] > 0
    _, events = load_trace(run_dir)
    assert sum(e["event"] == "stop" and e["reason"] == "shutdown" for e in events) == 6


@pytest.mark.timeout(90)
@pytest.mark.parametrize("transport", ["tcp", "unix-seqpacket", "udp"])
def test_a_launcher_killed_with_sigkill_leaves_nothing_and_its_trace_can_be_recovered(
    tmp_path, simulate, transport
):
    out = simulate.watch(
        tmp_path / "runs",
        verify_rejects={
            "exactly_once": "each node stops on its own once the launcher is gone: what one sends as "
            "another stops is never received"
        },
    )
    process = start_run(out, transport=transport)
    process.kill()
    process.wait(timeout=10)
    # Each node notices by itself (the kernel's parent-death signal, its control channel's EOF).
    assert wait_until(lambda: processes_mentioning(str(out)) == [], 10), "nodes outlived their launcher"
    assert socket_dir_of(process.pid) == []
    [run_dir] = list(out.iterdir())
    assert not (run_dir / "summary.json").exists()

    listed = CliRunner().invoke(cli_app, ["runs", "list", str(out), "--json"])
    [info] = json.loads(listed.stdout)
    assert info["status"] == "incomplete" and "runs recover" in info["problem"]

    recovered = CliRunner().invoke(cli_app, ["runs", "recover", str(run_dir), "--json"])
    assert recovered.exit_code == 0, recovered.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary == json.loads(recovered.stdout)
    assert summary["ended_by"] == "launcher-died" and summary["exit_status"] == "failed"
    _, events = load_trace(run_dir)
    stops = [e for e in events if e["event"] == "stop"]
    assert len(stops) == 6 and {e["reason"] for e in stops} == {"launcher-gone"}
    assert summary["messages_received"] > 0

    again = CliRunner().invoke(cli_app, ["runs", "recover", str(run_dir)])
    assert again.exit_code == 2 and "nothing to recover" in again.stderr


@pytest.mark.timeout(60)
def test_a_node_whose_app_hangs_is_ended_and_fails_the_run_by_name(simulate):
    result = simulate("line:3", app=app("HangsInCallback"), seed=1, duration=1, verify_rejects=A_NODE_FAILS)
    summary = result.summary.to_dict()
    assert summary["exit_status"] == "failed" and result.exit_code == 1
    assert summary["ended_by"] == "duration"
    [failure] = summary["node_failures"]
    assert failure["name"] == "n1"
    assert "did not stop" in failure["error"] and "SIGTERM" in failure["error"]
    # Its log says where the app was when it was ended: the callback that never returned.
    log = Path(failure["log"]).read_text()
    assert "ended by signal 15 while in the app's code:" in log and "runtime_apps.py" in log, log
    _, events = load_trace(result.run_dir)
    assert {e["node"]: e["reason"] for e in events if e["event"] == "stop"} == {
        "n0": "shutdown",
        "n1": "terminated",
        "n2": "shutdown",
    }


@pytest.mark.timeout(60)
def test_sys_exit_in_an_app_is_a_failure_of_that_node(simulate):
    result = simulate("line:3", app=app("CallsSysExit"), seed=1, duration=5, verify_rejects=A_NODE_FAILS)
    summary = result.summary.to_dict()
    assert summary["exit_status"] == "failed" and summary["ended_by"] == "failure"
    [failure] = summary["node_failures"]
    assert failure["name"] == "n1"
    assert "sys.exit(3)" in failure["error"]
    assert "sys.exit(3)" in Path(failure["log"]).read_text()


@pytest.mark.timeout(60)
def test_processes_an_app_starts_end_with_its_node(simulate):
    result = simulate("line:3", app=app("StartsChildren"), seed=1, duration=10)
    assert result.summary.exit_status == "ok", result.summary
    _, events = load_trace(result.run_dir)
    started = [e for e in events if e["event"] == "app" and e["data"]["kind"] in ("child", "daemon")]
    assert len(started) == 6
    for record in started:
        assert not alive(record["data"]["pid"]), record
    for record in started:
        if record["data"]["kind"] == "child":
            assert not address_in_use(["127.0.0.1", record["data"]["port"]], "tcp")
    # The daemon held copies of its node's sockets: they are closed with it (the simulate fixture checks
    # that every address the trace shows is free).


@pytest.mark.timeout(60)
def test_an_error_inside_the_launcher_still_finishes_the_run_directory(simulate):
    def broken_progress(progress):
        if progress.phase == "running":
            raise RuntimeError("a bug in a progress display")

    with pytest.raises(RuntimeError, match="a bug in a progress display"):
        simulate("ring:4", app=app("Forever"), seed=1, on_progress=broken_progress)
    [run_dir] = list(simulate.out.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ended_by"] == "launcher-error" and summary["exit_status"] == "failed"
    assert "a bug in a progress display" in summary["node_failures"][0]["error"]
    _, events = load_trace(run_dir)
    assert sum(e["event"] == "stop" for e in events) == 4
