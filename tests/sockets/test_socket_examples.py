"""The realistic socket-program examples run as their docstrings say: the chat relayed round a ring
(makefile() line by line) and the HTTP/1.1 exchange through http.client and http.server."""

from __future__ import annotations

import ast
import shlex
import subprocess
import sys

import pytest
from netsim_testing import ROOT
from socket_testing import CLIENT_SERVER, EXAMPLES, RunCalls, example


def test_chat_ring_relays_every_line_round_the_ring(simulate):
    result = simulate("ring:5", app=example("chat_ring.py"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    ring = run.header["topology"]["nodes"]
    for index, node in enumerate(ring):
        # Lines come from the predecessor, nearest speaker first.
        speakers = [ring[(index - back) % len(ring)] for back in range(1, len(ring))]
        assert run.log(node) == [f"{speaker} says 'hello from {speaker}'" for speaker in speakers]
        # makefile()'s reads and writes are the socket's recv_into and send, bytes in order.
        writes = [call for call in run.of(node) if call["call"] in ("send", "sendall")]
        assert [call["offset"] for call in writes] == [sum(c["nbytes"] for c in writes[:i]) for i in range(5)]
        assert {call["peer"] for call in writes} == {ring[(index + 1) % len(ring)]}
        reads = run.of(node, "recv_into")
        assert sum(call["nbytes"] for call in reads) == sum(
            call["nbytes"]
            for call in run.calls
            if call["node"] == ring[(index - 1) % len(ring)] and call["call"] in ("send", "sendall")
        )


def test_http_exchange_through_the_standard_library(simulate):
    result = simulate(CLIENT_SERVER, app=example("http_exchange.py"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    for client in ("client1", "client2"):
        host = run.host(client)
        assert run.log(client) == [
            f"200 OK hello, {host}, you asked for /",
            f"200 OK hello, {host}, you asked for /{client}",
        ]
        (connect,) = run.of(client, "connect")
        assert connect["peer"] == "server" and connect["peername"] == [run.host("server"), 8080]
        requests = [call["preview"] for call in run.of(client, "sendall")]
        assert [line.split("\r\n")[0] for line in requests] == ["GET / HTTP/1.1", f"GET /{client} HTTP/1.1"]
        served = [call for call in run.of("server", "recv_into") if call.get("peer") == client]
        assert [call["preview"].split("\r\n")[0] for call in served if call["nbytes"]] == [
            "GET / HTTP/1.1",
            f"GET /{client} HTTP/1.1",
        ]
    assert len(run.log("server")) == 4  # its access log, on stderr


def docstring_commands() -> list[str]:
    """Every ``netsim run`` line of the socket-program examples' docstrings, its comment cut off."""
    commands = []
    for path in sorted(EXAMPLES.glob("*.py")):
        module = ast.parse(path.read_text())
        for line in (ast.get_docstring(module) or "").splitlines():
            line = line.partition("#")[0].strip()
            if line.startswith("netsim run") and ".py:main" in line:
                commands.append(line)
    return commands


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", docstring_commands())
def test_each_command_of_the_examples_docstrings_runs_as_written(simulate, tmp_path, command):
    out = simulate.watch(tmp_path / "runs")
    arguments = shlex.split(command)[2:] + ["--out", str(out), "--quiet", "0.3", "--seed", "1"]
    finished = subprocess.run(
        [sys.executable, "-m", "netsim", "run", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert finished.returncode == 0, finished.stderr
