"""Programs (``--cmd``) at the edges: one that dies while a child of its own holds its stdout, one that
answers for another node (``src`` as written), an ``init_ok`` that answers the wrong message, and a
stderr whose characters fall across reads. Each is a real program in its own process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from netsim_testing import A_NODE_FAILS, load_trace

# A Maelstrom node in plain Python: answers init, and runs ``ACT`` once after it.
NODE = """\
import json, os, subprocess, sys
def send(dest, body, src=None):
    sys.stdout.write(json.dumps({{"src": src or me, "dest": dest, "body": body}}) + "\\n")
    sys.stdout.flush()
init = json.loads(sys.stdin.readline())
me = init["body"]["node_id"]
send(init["src"], {{"type": "init_ok", "in_reply_to": {init_reply}}})
{act}
for line in sys.stdin:
    message = json.loads(line)
    print(me, "got", json.dumps(message), file=sys.stderr, flush=True)
"""


def program(tmp_path: Path, act: str, init_reply: str = 'init["body"]["msg_id"]') -> str:
    script = tmp_path / "node.py"
    script.write_text(NODE.format(act=act, init_reply=init_reply))
    return f"{sys.executable} {script}"


def log_of(run_dir: Path, node: str) -> str:
    [path] = (run_dir / "nodes").glob(f"*-{node}.log")
    return path.read_text()


def failures(result: Any) -> dict[str, str]:
    return {failure["name"]: failure["error"] for failure in result.summary.to_dict()["node_failures"]}


@pytest.mark.timeout(60)
def test_a_program_that_dies_while_its_child_holds_its_stdout_fails(simulate, tmp_path: Path) -> None:
    # n1's program starts a child that inherits its stdout and outlives it, then fails.
    act = (
        'if me == "n1":\n'
        '    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])\n'
        "    import time; time.sleep(1)  # the run has started: every link is up\n"
        '    raise KeyError("missing")'
    )
    result = simulate(
        "line:3", cmd=program(tmp_path, act), seed=1, quiet=10, duration=20, verify_rejects=A_NODE_FAILS
    )
    assert result.summary.ended_by == "failure"
    assert result.summary.timing.running_s < 10
    assert failures(result)["n1"].endswith("exited with code 1: KeyError: 'missing'")


@pytest.mark.timeout(60)
def test_src_as_written_reaches_a_neighbour_a_far_node_and_itself(simulate, tmp_path: Path) -> None:
    act = (
        'if me == "n0":\n    for dest in ("n1", "n2", "n0"):\n        send(dest, {"type": "hello"}, src="c9")'
    )
    result = simulate("line:3", cmd=program(tmp_path, act), seed=1, quiet=0.5, duration=20)
    assert result.ok, result.summary
    for node in ("n1", "n2", "n0"):
        assert f'{node} got {{"src": "c9", "dest": "{node}"' in log_of(result.run_dir, node)
    # The trace still says which node sent each message: n0, over its link to n1.
    sends = [event for event in load_trace(result.run_dir)[1] if event["event"] == "send"]
    assert {event["node"] for event in sends if event.get("msg_type") == "hello"} <= {"n0", "n1"}


@pytest.mark.timeout(60)
def test_an_init_ok_that_answers_another_message_is_named_as_such(simulate, tmp_path: Path) -> None:
    result = simulate(
        "line:2",
        cmd=program(tmp_path, "", init_reply="7"),
        seed=1,
        init_timeout=5,
        verify_rejects=A_NODE_FAILS,
    )
    errors = failures(result)
    assert errors and all("init_ok whose in_reply_to is 7, not 1" in error for error in errors.values())
    assert result.summary.timing.startup_s < 4, "known at once, not at the init timeout"


@pytest.mark.timeout(60)
def test_stderr_characters_cut_between_reads_are_logged_whole(simulate, tmp_path: Path) -> None:
    act = 'sys.stderr.write("a" + "é" * 40000 + "\\n"); sys.stderr.flush()'
    result = simulate("line:2", cmd=program(tmp_path, act), seed=1, quiet=0.3, duration=20)
    assert result.ok, result.summary
    log = log_of(result.run_dir, "n0")
    assert "é" * 40000 in log and "\ufffd" not in log
