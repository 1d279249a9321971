"""Workloads end to end: real programs (Python and JavaScript) on real sockets, driven by netsim's
clients, judged by the checkers. Every run goes through the ``simulate`` fixture (trace verify passes,
nothing left behind).

Each workload runs with a program written as people write them for Maelstrom, and is judged valid;
each checker also meets a deliberately wrong program it must judge invalid (a checker that only ever
says valid fails here).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from netsim_testing import A_NODE_FAILS, load_trace
from typer.testing import CliRunner

from netsim.cli.main import app as cli_app
from netsim.workloads.setup import WorkloadOptions

PROGRAMS = Path(__file__).resolve().parent.parent / "programs"
NODE_JS = shutil.which("node")
APPS = Path(__file__).with_name("workload_apps.py")

WORKLOAD_PROGRAMS = {
    "echo": "echo",
    "unique-ids": "unique_ids",
    "broadcast": "broadcast",
    "g-set": "g_set",
    "g-counter": "g_counter",
    "pn-counter": "pn_counter",
    "lin-kv": "lin_kv",
    "kafka": "kafka",
}


def python_program(name: str) -> str:
    return f"{sys.executable} {PROGRAMS / (name + '.py')}"


def js_program(name: str) -> str:
    return f"{NODE_JS} {PROGRAMS / 'js' / (name + '.js')}"


def quick(name: str, **options: Any) -> WorkloadOptions:
    """A short workload: enough operations to judge, over in a few seconds."""
    settings = {"time_limit_s": 2.0, "rate": 40.0, "concurrency": 2, "final_wait_s": 1.0, "timeout_s": 2.0}
    settings.update(options)
    return WorkloadOptions(name=name, **settings)


def workload_of(result: Any) -> dict[str, Any]:
    return result.summary.to_dict()["workload"]


LANGUAGES = [
    pytest.param(python_program, id="python"),
    pytest.param(
        js_program,
        id="javascript",
        marks=pytest.mark.skipif(NODE_JS is None, reason="no `node` (JavaScript) on this machine"),
    ),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("workload", sorted(WORKLOAD_PROGRAMS))
def test_every_workload_with_a_correct_program_is_valid(simulate, workload: str, language: Any) -> None:
    result = simulate("ring:4", cmd=language(WORKLOAD_PROGRAMS[workload]), seed=3, workload=quick(workload))
    verdict = workload_of(result)
    assert verdict["valid"] is True, verdict
    assert result.exit_code == 0
    assert verdict["ops"] >= 20, verdict
    run_dir = result.run_dir
    results = json.loads((run_dir / "results.json").read_text())
    assert results["valid"] is True and results["ops"] == verdict["ops"]
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    invocations = [entry for entry in history if entry["type"] == "invoke"]
    assert len(invocations) >= verdict["ops"]
    assert {entry["process"] for entry in invocations} == {"c1", "c2"}
    # The clients' requests and the programs' replies are netsim messages in the trace.
    header, events = load_trace(run_dir)
    assert header["workload"]["clients"] == ["c1", "c2"]
    client_sends = [e for e in events if e["event"] == "send" and e["node"] in ("c1", "c2")]
    assert len([e for e in client_sends if not e["msg_type"].startswith("netsim.")]) >= verdict["ops"]


MUTANTS = [
    pytest.param("echo", python_program("echo_altered"), {}, id="echo-that-alters-the-text"),
    pytest.param("g-counter", python_program("g_counter_double"), {}, id="counter-that-double-counts"),
    pytest.param("lin-kv", python_program("lin_kv_stale"), {"rate": 60.0}, id="kv-that-serves-stale-reads"),
    pytest.param(
        "kafka",
        python_program("kafka_dup_offsets"),
        {"rate": 200.0, "concurrency": 4},
        id="kafka-with-duplicate-offsets",
    ),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("workload", "program", "options"), MUTANTS)
def test_a_wrong_program_is_judged_invalid(simulate, workload: str, program: str, options: dict) -> None:
    result = simulate("ring:4", cmd=program, seed=3, workload=quick(workload, **options))
    verdict = workload_of(result)
    assert verdict["valid"] is False, verdict
    assert verdict["explanation"]
    assert result.exit_code == 3


@pytest.mark.timeout(120)
def test_ids_that_repeat_after_a_restart_are_judged_invalid(simulate) -> None:
    program = python_program("unique_ids_unpersisted")
    result = simulate(
        "ring:3", cmd=program, seed=3, workload=quick("unique-ids", concurrency=3), faults=["1s restart n0"]
    )
    verdict = workload_of(result)
    assert verdict["valid"] is False, verdict
    # The same fault with the program that keeps its counter in NETSIM_STATE_DIR: valid.
    result = simulate(
        "ring:3",
        cmd=python_program("unique_ids"),
        seed=3,
        workload=quick("unique-ids", concurrency=3),
        faults=["1s restart n0"],
    )
    assert workload_of(result)["valid"] is True, workload_of(result)


@pytest.mark.timeout(120)
def test_broadcast_that_retries_survives_a_partition_and_one_that_does_not_loses_values(simulate) -> None:
    faults = ["0.3s partition n0,n1 | n2,n3", "1.8s heal"]
    options = quick("broadcast", time_limit_s=2.0, final_wait_s=2.0)
    retrying = simulate("ring:4", cmd=python_program("broadcast"), seed=5, workload=options, faults=faults)
    assert workload_of(retrying)["valid"] is True, workload_of(retrying)
    # The partition cut server links only: every client still reached its servers.
    assert workload_of(retrying)["stats"]["availability"] == 1.0
    forgetful = simulate(
        "ring:4", cmd=python_program("broadcast_no_retry"), seed=5, workload=options, faults=faults
    )
    verdict = workload_of(forgetful)
    assert verdict["valid"] is False, verdict
    assert "lost" in verdict["explanation"]


@pytest.mark.timeout(120)
def test_a_python_app_is_driven_and_judged_the_same_way(simulate) -> None:
    good = simulate("ring:3", app=f"{APPS}:EchoApp", seed=1, workload=quick("echo"))
    assert workload_of(good)["valid"] is True, workload_of(good)
    wrong = simulate("ring:3", app=f"{APPS}:ShoutingEchoApp", seed=1, workload=quick("echo"))
    assert workload_of(wrong)["valid"] is False and wrong.exit_code == 3


@pytest.mark.timeout(120)
def test_the_report_has_a_workload_section_with_the_verdict_and_the_operations(simulate) -> None:
    import re
    import xml.etree.ElementTree as ET

    from netsim.trace.report import write_report

    wrong = simulate("ring:3", app=f"{APPS}:ShoutingEchoApp", seed=1, workload=quick("echo"))
    page = write_report(wrong.run_dir, wrong.run_dir).path.read_text()
    [workload] = re.findall(r'<section id="workload">.*?</section>', page, re.S)
    assert "invalid" in workload and "PLEASE ECHO" in workload  # the verdict and its explanation
    svgs = re.findall(r"<svg.*?</svg>", workload, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        ET.fromstring(svg)
    history = (wrong.run_dir / "history.jsonl").read_text().splitlines()
    operations = sum(1 for line in history if '"type":"invoke"' in line)
    # A point per operation in the latency plot, a bar per operation in the timeline.
    assert svgs[0].count("<circle") == operations and svgs[1].count("<rect") == operations
    plain = simulate("ring:3", app="flood", seed=1)
    assert 'id="workload"' not in write_report(plain.run_dir, plain.run_dir).path.read_text()


def always_unknown(ops: list, trace: Path) -> dict:
    """A user's checker (``--checker tests.workloads...:always_unknown`` style): sees ops and the trace."""
    assert trace.name == "trace.jsonl" and trace.exists()
    return {"valid": "unknown", "explanation": f"looked at {len(ops)} ops and gave up"}


@pytest.mark.timeout(120)
def test_the_cli_prints_a_verdict_and_a_users_checker_joins_in(tmp_path: Path, simulate, monkeypatch) -> None:
    simulate.watch(tmp_path)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    arguments = [
        "run",
        "ring:3",
        "--cmd",
        python_program("echo"),
        "--workload",
        "echo",
        "--time-limit",
        "1",
        "--rate",
        "20",
        "--concurrency",
        "2",
        "--final-wait",
        "0.5",
        "--seed",
        "1",
        "--out",
        str(tmp_path),
    ]
    result = CliRunner().invoke(cli_app, arguments)
    assert result.exit_code == 0, result.output
    assert "workload echo" in result.output and "valid" in result.output
    result = CliRunner().invoke(cli_app, [*arguments, "--checker", "test_workload_runs:always_unknown"])
    assert result.exit_code == 4, result.output
    assert "looked at" in result.output


def test_workload_options_are_checked_before_anything_starts(tmp_path: Path) -> None:
    import netsim
    from netsim.errors import OptionError

    for options, message in (
        (WorkloadOptions(name="nope"), "unknown workload 'nope'"),
        (WorkloadOptions(name="echo", rate=0), "--rate must be a positive number"),
        (WorkloadOptions(name="echo", concurrency=0), "--concurrency must be a whole number"),
        (WorkloadOptions(name="broadcast", topology_hint="star"), "unknown --topology-hint 'star'"),
        (WorkloadOptions(name="echo", services=("kv",)), "unknown service 'kv'"),
        (
            WorkloadOptions(name="echo", final_wait_s=-1),
            "--final-wait must be a number of seconds, 0 or more",
        ),
        (WorkloadOptions(name="echo", final_wait_s=float("nan")), "--final-wait must be a number"),
        (WorkloadOptions(name="echo", final_wait_s=1e12), "--final-wait must be at most"),
    ):
        with pytest.raises(OptionError, match=message):
            netsim.run("ring:3", cmd=python_program("echo"), workload=options, out=tmp_path / "runs")
    named_like_a_client = tmp_path / "clash.edgelist"
    named_like_a_client.write_text("c1 n1\nn1 n2\n")
    out = tmp_path / "runs"
    with pytest.raises(OptionError, match="has a node named 'c1'"):
        netsim.run(
            named_like_a_client, cmd=python_program("echo"), workload=WorkloadOptions(name="echo"), out=out
        )
    assert not out.exists() or list(out.iterdir()) == []
    # A checker is loaded before the run, not after it has taken its time.
    for checker, message in (
        ("no_such_module:check", "cannot be loaded"),
        ("test_workload_runs:no_such_function", "cannot be loaded"),
        (42, "neither a function nor a module:function"),
    ):
        with pytest.raises(OptionError, match=message):
            netsim.run(
                "ring:3", cmd=python_program("echo"), workload=quick("echo"), checkers=[checker], out=out
            )
    with pytest.raises(OptionError, match="there is none without --workload"):
        netsim.run("ring:3", checkers=[always_unknown], out=out)
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.timeout(120)
def test_a_checker_given_as_a_function_joins_in(simulate) -> None:
    result = simulate(
        "ring:3",
        cmd=python_program("echo"),
        workload=quick("echo", time_limit_s=1.0),
        checkers=[always_unknown],
    )
    checks = workload_of(result)
    assert checks["valid"] == "unknown" and "looked at" in checks["explanation"], checks


# An echo node that answers five echoes, then fails.
ECHO_THEN_CRASH = """\
import json, sys
answered = 0
for line in sys.stdin:
    message = json.loads(line)
    body = message["body"]
    reply = {"type": body["type"] + "_ok", "in_reply_to": body["msg_id"]}
    if body["type"] == "echo":
        if answered == 5:
            raise SystemExit("five is enough")
        answered += 1
        reply["echo"] = body["echo"]
    print(json.dumps({"src": message["dest"], "dest": message["src"], "body": reply}), flush=True)
"""


@pytest.mark.timeout(120)
def test_the_history_holds_every_operation_when_the_run_ends_early(simulate, tmp_path: Path) -> None:
    """A server fails and the run stops with the clients cut short: what they did is in the history."""
    script = tmp_path / "echo_then_crash.py"
    script.write_text(ECHO_THEN_CRASH)
    result = simulate(
        "line:2",
        cmd=f"{sys.executable} {script}",
        workload=quick("echo", time_limit_s=30.0, rate=50.0),
        verify_rejects=A_NODE_FAILS,
    )
    assert result.summary.ended_by == "failure"
    replies = [
        event
        for event in load_trace(result.run_dir)[1]
        if event["event"] == "recv" and event.get("msg_type") == "echo_ok" and event["node"].startswith("c")
    ]
    history = [json.loads(line) for line in (result.run_dir / "history.jsonl").read_text().splitlines()]
    assert len(replies) >= 5
    assert len([op for op in history if op["type"] == "ok"]) == len(replies)
