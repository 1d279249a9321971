"""Nodes that run programs (``--cmd``, a node's ``cmd``): real programs in Python and JavaScript,
speaking Maelstrom's protocol on stdin and stdout, their messages crossing real sockets.

Every run goes through the ``simulate`` fixture: its trace must pass ``trace verify`` and the run must
leave no process (the programs included), socket or socket file behind.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from netsim_testing import A_NODE_FAILS, load_trace

import netsim
from netsim.errors import OptionError, TopologyError
from netsim.topology.model import LinkSpec, NodeSpec, Topology

PROGRAMS = Path(__file__).resolve().parent.parent / "programs"
PYTHON_ECHO = f"{sys.executable} {PROGRAMS / 'echo_node.py'}"
NODE_JS = shutil.which("node")
requires_node = pytest.mark.skipif(NODE_JS is None, reason="no `node` (JavaScript) on this machine")

ECHO_PROGRAMS = [
    pytest.param(PYTHON_ECHO, id="python"),
    pytest.param(f"{NODE_JS} {PROGRAMS / 'echo_node.js'}", id="javascript", marks=requires_node),
]


def events_of(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    return [event for event in load_trace(run_dir)[1] if event["event"] == kind]


def log_of(run_dir: Path, node: str) -> str:
    [path] = (run_dir / "nodes").glob(f"*-{node}.log")
    return path.read_text()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("program", ECHO_PROGRAMS)
def test_a_program_on_every_node_exchanges_messages_over_the_links(simulate, program: str) -> None:
    # n0 greets n1 and n3 (its neighbours on the ring), n2 (not one) and a node that does not exist.
    result = simulate("ring:4", cmd=f"{program} n1 n3 n2 nosuch", seed=1, duration=20, routing="none")
    assert result.summary.exit_status == "ok", result.summary
    run_dir = result.run_dir
    sent = {event["msg_id"]: event for event in events_of(run_dir, "send")}
    echoes = {event["peer"]: event for event in sent.values() if event["msg_type"] == "echo"}
    assert sorted(echoes) == ["n1", "n3"]
    replies = [event for event in sent.values() if event["msg_type"] == "echo_ok"]
    # Each reply names the netsim message it answers, so the trace pairs them.
    assert sorted(event["in_reply_to"] for event in replies) == sorted(e["msg_id"] for e in echoes.values())
    assert {event["node"] for event in replies} == {"n1", "n3"}
    errors = [event["error"] for event in events_of(run_dir, "error")]
    assert errors == [
        "program message to n2 dropped: n2 is not a neighbour of n0",
        "program message to nosuch dropped: nosuch is not a node of this run",
    ]
    # What the program wrote on its stderr is in the node's log: the replies, and the error replies
    # netsim sent it for the two messages it could not deliver (code 1, node-not-found).
    log = log_of(run_dir, "n0")
    assert "n0 got echo_ok from n1: hello n1" in log and "n0 got echo_ok from n3: hello n3" in log
    assert "n0 got error 1: n2 is not a neighbour of n0" in log
    assert "n0 got error 1: nosuch is not a node of this run" in log
    header = load_trace(run_dir)[0]
    assert set(header["node_cmds"]) == {"n0", "n1", "n2", "n3"} and header["node_apps"] == {}
    # init went before the start barrier: every node's init_ok is traced before any node started.
    events = load_trace(run_dir)[1]
    last_init = max(e["ts_ns"] for e in events if e["event"] == "app" and e["data"]["kind"] == "init_ok")
    first_start = min(e["ts_ns"] for e in events if e["event"] == "start")
    assert last_init < first_start


@pytest.mark.timeout(60)
def test_lines_that_are_not_messages_are_traced_and_the_node_runs_on(simulate) -> None:
    program = f"{sys.executable} {PROGRAMS / 'misbehaving_node.py'}"
    result = simulate("line:3", cmd=program, seed=1, duration=20)
    assert result.summary.exit_status == "ok", result.summary
    error_events = events_of(result.run_dir, "error")
    errors = [event["error"] for event in error_events if event["node"] == "n0"]
    assert errors == [
        "program wrote a line that is not a message: not JSON: "
        "'starting up (a log line on stdout, not a message)'",
        "program wrote a line that is not a message: not a JSON object: '[1, 2, 3]'",
        "program wrote a line that is not a message: no dest (a node id string): "
        + repr('{"src": "n0", "body": {"type": "x"}}'),
        "program wrote a line that is not a message: the body has no type (a string): "
        + repr('{"src": "n0", "dest": "n1", "body": {"msg_id": 1}}'),
    ]
    # The other nodes' programs wrote the same first line; after the bad ones, n0's ping still went out.
    assert sorted(event["node"] for event in error_events if event["node"] != "n0") == ["n1", "n2"]
    assert "n1 got ping from n0" in log_of(result.run_dir, "n1")
    # And each program was given a directory of its own that exists.
    for node in ("n0", "n1", "n2"):
        assert f"state/{node[1:]}-{node} exists: True" in log_of(result.run_dir, node)


@pytest.mark.timeout(60)
def test_a_program_that_exits_fails_its_node_with_its_exit_code_and_stderr(simulate, tmp_path: Path) -> None:
    script = tmp_path / "exits.py"
    script.write_text("import sys\nprint('cannot go on: no config', file=sys.stderr)\nsys.exit(3)\n")
    result = simulate(
        "line:3", cmd=f"{sys.executable} {script}", seed=1, duration=20, verify_rejects=A_NODE_FAILS
    )
    summary = result.summary.to_dict()
    assert summary["exit_status"] == "failed" and summary["ended_by"] == "failure"
    failures = {failure["name"]: failure for failure in summary["node_failures"]}
    assert failures, summary
    for failure in failures.values():
        assert failure["error"].endswith(
            f"program '{sys.executable} {script}' exited with code 3: cannot go on: no config"
        )
        # Its stderr, in the node's log, and the failure's last lines.
        assert "cannot go on: no config" in Path(failure["log"]).read_text()


@pytest.mark.timeout(60)
def test_a_program_killed_by_a_signal_is_named_with_the_signal(simulate, tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    result = simulate(
        "line:3", cmd=f"{sys.executable} {script}", seed=1, duration=20, verify_rejects=A_NODE_FAILS
    )
    failures = result.summary.to_dict()["node_failures"]
    assert failures and all("was killed by signal 9 (SIGKILL)" in failure["error"] for failure in failures)


@pytest.mark.timeout(60)
def test_a_program_that_never_answers_init_fails_its_node_in_time(simulate, tmp_path: Path) -> None:
    script = tmp_path / "silent.py"
    script.write_text("import sys, time\nsys.stdin.readline()\ntime.sleep(60)\n")
    result = simulate(
        "line:3", cmd=f"{sys.executable} {script}", seed=1, init_timeout=1, verify_rejects=A_NODE_FAILS
    )
    failures = result.summary.to_dict()["node_failures"]
    assert failures and all("did not answer init with init_ok within 1 s" in f["error"] for f in failures)
    assert result.summary.timing.startup_s < 20


@pytest.mark.timeout(60)
def test_programs_and_python_apps_mix_in_one_run(simulate) -> None:
    # n0 and n2 run the echo program from their cmd attribute; n1 runs the Python echo app between them.
    topology = Topology(
        name="mixed",
        source="mixed",
        nodes=(
            NodeSpec("n0", 0, cmd=f"{PYTHON_ECHO} n1"),
            NodeSpec("n1", 1, app="echo"),
            NodeSpec("n2", 2, cmd=PYTHON_ECHO),
        ),
        links=(LinkSpec("n0", "n1"), LinkSpec("n1", "n2")),
    )
    with pytest.raises(TopologyError, match="is a program named by the topology file"):
        simulate(topology, seed=1)
    result = simulate(topology, seed=1, duration=20, allow_topology_apps=True)
    assert result.summary.exit_status == "ok", result.summary
    header = load_trace(result.run_dir)[0]
    assert header["node_apps"] == {"n1": "echo"} and sorted(header["node_cmds"]) == ["n0", "n2"]
    # The Python app answered the program's echo; what the program got back is in its log.
    assert any(e["node"] == "n1" for e in events_of(result.run_dir, "send"))


def test_a_missing_program_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="'no-such-program-here', which is not on PATH"):
        netsim.run("ring:3", cmd="no-such-program-here --flag", out=tmp_path)
    with pytest.raises(OptionError, match="which is not a file"):
        netsim.run("ring:3", cmd="./nowhere/node.py", out=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)
def test_a_restarted_node_starts_its_program_again_and_keeps_its_state_directory(
    simulate, tmp_path: Path
) -> None:
    script = tmp_path / "counts_inits.py"
    script.write_text(
        "import json, os, sys\n"
        "path = os.path.join(os.environ['NETSIM_STATE_DIR'], 'inits')\n"
        "for line in sys.stdin:\n"
        "    message = json.loads(line)\n"
        "    body = message['body']\n"
        "    if body['type'] == 'init':\n"
        "        count = int(open(path).read()) + 1 if os.path.exists(path) else 1\n"
        "        open(path, 'w').write(str(count))\n"
        "        print(f'init number {count}', file=sys.stderr, flush=True)\n"
        "        reply = {'type': 'init_ok', 'in_reply_to': body['msg_id']}\n"
        "        out = {'src': body['node_id'], 'dest': message['src'], 'body': reply}\n"
        "        print(json.dumps(out), flush=True)\n"
    )
    result = simulate(
        "line:3", cmd=f"{sys.executable} {script}", seed=1, duration=3, faults=["0.5s restart n1"]
    )
    assert result.summary.exit_status == "ok", result.summary
    log = log_of(result.run_dir, "n1")
    assert "init number 1" in log and "init number 2" in log
    assert (result.run_dir / "state" / "1-n1" / "inits").read_text() == "2"
    assert "init number 2" not in log_of(result.run_dir, "n0")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("program", ECHO_PROGRAMS)
def test_a_message_to_a_node_further_away_is_forwarded_hop_by_hop(simulate, program: str) -> None:
    # On line:5, n0's neighbour is n1 alone: its echo to n3 goes n0 -> n1 -> n2 -> n3, the reply back.
    result = simulate("line:5", cmd=f"{program} n3", seed=1, duration=20)
    assert result.summary.exit_status == "ok", result.summary
    run_dir = result.run_dir
    assert "n0 got echo_ok from n3: hello n3" in log_of(run_dir, "n0")
    forwards = [(event["node"], event["peer"], event["msg_type"]) for event in events_of(run_dir, "forward")]
    assert forwards == [
        ("n1", "n2", "echo"),
        ("n2", "n3", "echo"),
        ("n2", "n1", "echo_ok"),
        ("n1", "n0", "echo_ok"),
    ]
    hops = [
        (event["node"], event["peer"])
        for event in events_of(run_dir, "send")
        if event["msg_type"] in ("echo", "echo_ok")
    ]
    assert hops == [("n0", "n1"), ("n1", "n2"), ("n2", "n3"), ("n3", "n2"), ("n2", "n1"), ("n1", "n0")]
    assert events_of(run_dir, "error") == []


@pytest.mark.timeout(60)
def test_a_message_over_the_transports_limit_is_traced_with_its_first_bytes(simulate, tmp_path: Path) -> None:
    script = tmp_path / "big.py"
    script.write_text(
        "import json, sys\n"
        "for line in sys.stdin:\n"
        "    body = json.loads(line)['body']\n"
        "    if body['type'] == 'init':\n"
        "        me = body['node_id']\n"
        "        out = {'src': me, 'dest': 'n0', 'body': {'type': 'init_ok', 'in_reply_to': 1}}\n"
        "        print(json.dumps(out), flush=True)\n"
        "        if me == 'n0':\n"
        "            big = {'src': me, 'dest': 'n1', 'body': {'type': 'big', 'blob': 'x' * 70000}}\n"
        "            print(json.dumps(big), flush=True)\n"
    )
    result = simulate("line:3", cmd=f"{sys.executable} {script}", seed=1, transport="udp", duration=20)
    assert result.summary.exit_status == "ok", result.summary
    [error] = [event["error"] for event in events_of(result.run_dir, "error")]
    assert error.startswith("program message to n1 dropped: udp: a message of ")
    assert error.endswith('\'{"type":"big","blob":"' + "x" * 58 + "'")
