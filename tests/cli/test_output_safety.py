"""User text on a terminal: control characters show escaped, rich markup shows literally, JSON is untouched.

One topology whose node names, graph name and directory are hostile (an OSC sequence that retitles the
window, a C1 control, a bidi override, a newline, rich markup, an emoji code), run for real, then every
command that prints it: through CliRunner, and as a real ``python -m netsim`` subprocess.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from netsim_testing import ROOT, Simulations, load_trace, trace_header, write_run
from typer.testing import CliRunner

from netsim.cli.main import app
from netsim.cli.terminal import visible

runner = CliRunner()
WIDE = {"COLUMNS": "250"}

TITLE = "\x1b]0;pwned\x07"  # sets the terminal window's title
C1 = "c\x9bd"  # CSI in one byte, for terminals that read C1 controls
NODES = [TITLE, "[bold red]x", C1, "a\u202eb", ":warning:", "n\nl"]
ESCAPED = {TITLE: "\\x1b]0;pwned\\x07", C1: "c\\x9bd", "a\u202eb": "a\\u202eb", "n\nl": "n\\nl"}
# A path that holds "[/]", which rich would read as a closing tag, then the title sequence.
DIRECTORY = "d[/]" + TITLE
# What must never reach a terminal raw; a newline only ends lines.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shown(path: Path) -> str:
    """``path`` as the CLI should print it."""
    return str(path).replace(TITLE, ESCAPED[TITLE])


def assert_safe(output: str) -> None:
    raw = RAW_CONTROL.findall(output)
    assert not raw, f"raw control characters {raw!r} in:\n{output}"


def write_topology(path: Path) -> Path:
    """A ring of NODES in node-link JSON, its graph named "[/]"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ring = [{"source": a, "target": NODES[(i + 1) % len(NODES)]} for i, a in enumerate(NODES)]
    graph = {"name": "[/]"}
    document = {"directed": False, "multigraph": False, "graph": graph, "nodes": [{"id": n} for n in NODES]}
    path.write_text(json.dumps({**document, "links": ring}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("output") / DIRECTORY


@pytest.fixture(scope="module")
def topology(hostile_dir: Path) -> Path:
    return write_topology(hostile_dir / "hostile.json")


@pytest.fixture(scope="module")
def run_dir(hostile_dir: Path, topology: Path, simulate_module: Simulations) -> Path:
    result = simulate_module(str(topology), app="flood", seed=1, out=hostile_dir / "runs")
    assert result.summary.exit_status == "ok", result.summary
    return result.run_dir


# -- the helper ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\x00", "\\x00"),
        ("\x07", "\\x07"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\x1b", "\\x1b"),
        ("\x1f", "\\x1f"),
        ("\x7f", "\\x7f"),
        ("\x80", "\\x80"),
        ("\x9b", "\\x9b"),
        ("\x9f", "\\x9f"),
        ("\u202a", "\\u202a"),
        ("\u202e", "\\u202e"),
        ("\u2066", "\\u2066"),
        ("\u2069", "\\u2069"),
    ],
)
def test_visible_writes_each_control_character_out(char: str, shown: str) -> None:
    assert visible(f"a{char}b") == f"a{shown}b"


def test_visible_leaves_ordinary_text_alone() -> None:
    text = "n0 -> [::1]:4000 é ü 東京 🚀 \\x1b [bold] :warning: \u00a0 \u202f \u2070"
    assert visible(text) == text
    assert visible(None) == "None"


# -- commands -----------------------------------------------------------------------------------------------


def assert_names_shown(output: str) -> None:
    for escaped in ESCAPED.values():
        assert escaped in output, (escaped, output)
    assert "[bold red]x" in output
    assert ":warning:" in output


def test_topo_show_escapes_names_and_shows_markup_literally(topology: Path) -> None:
    result = runner.invoke(app, ["topo", "show", str(topology), "--nodes", "--links"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert "topology [/]" in result.stderr
    assert_names_shown(result.stderr)


def test_topo_warnings_are_escaped(tmp_path: Path) -> None:
    # A self-loop is dropped with a warning that names its node.
    path = tmp_path / "loop.json"
    nodes = [{"id": TITLE}, {"id": "[bold red]x"}]
    links = [{"source": TITLE, "target": "[bold red]x"}, {"source": TITLE, "target": TITLE}]
    path.write_text(json.dumps({"graph": {"name": "[/]"}, "nodes": nodes, "links": links}), encoding="utf-8")
    for command in ("show", "validate"):
        result = runner.invoke(app, ["topo", command, str(path)], env=WIDE)
        assert result.exit_code == 0, result.output
        assert_safe(result.output)
        loop = f"{ESCAPED[TITLE]} -> {ESCAPED[TITLE]}"
        assert f"self-loop(s) (a node linked to itself): {loop}" in result.stderr


@pytest.mark.timeout(60)
def test_run_summary_escapes_the_topology_and_its_paths(tmp_path: Path, simulate: Simulations) -> None:
    topology = write_topology(tmp_path / DIRECTORY / "hostile.json")
    out = simulate.watch(tmp_path / DIRECTORY / "runs")
    command = ["run", str(topology), "--app", "flood", "--seed", "1", "--out", str(out)]
    result = runner.invoke(app, command, env=WIDE)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert_safe(result.stderr)
    assert "[/]  (" in result.stderr  # the topology's name, then its source
    assert f"({shown(topology)})" in result.stderr
    assert f"trace: {shown(out)}/" in result.stderr
    assert "ended by done" in result.stderr


def test_trace_summary(run_dir: Path) -> None:
    result = runner.invoke(app, ["trace", "summary", str(run_dir)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert_names_shown(result.stderr)
    assert f"{ESCAPED[TITLE]} -> [bold red]x" in result.stderr
    assert f"{shown(run_dir)}/trace.jsonl" in result.stderr


def test_trace_stats(run_dir: Path) -> None:
    result = runner.invoke(app, ["trace", "stats", str(run_dir)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert_names_shown(result.stderr)


def test_trace_verify(run_dir: Path) -> None:
    result = runner.invoke(app, ["trace", "verify", str(run_dir)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert f"Verify {shown(run_dir)}/trace.jsonl" in result.stderr


def test_trace_events_text_is_escaped_and_json_is_untouched(run_dir: Path) -> None:
    result = runner.invoke(app, ["trace", "events", str(run_dir)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert_names_shown(result.stdout)
    assert f"[{ESCAPED[C1]}]" in result.stdout  # a peer column

    as_json = runner.invoke(app, ["trace", "events", str(run_dir), "--json"])
    assert as_json.exit_code == 0, as_json.output
    _header, events = load_trace(run_dir)
    assert as_json.stdout == "".join(orjson.dumps(event).decode() + "\n" for event in events)
    assert "\u202e" in as_json.stdout  # JSON escapes what it must; the rest is the trace's own text


def test_trace_follow(run_dir: Path) -> None:
    result = runner.invoke(app, ["trace", "follow", str(run_dir), f"{TITLE}:1"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert f"{ESCAPED[TITLE]} sent netsim.hello {ESCAPED[TITLE]}:1 to " in result.stdout
    assert "fate: delivered" in result.stdout


def test_trace_export_and_diagram_lines(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / DIRECTORY
    export = runner.invoke(app, ["trace", "export", str(run_dir), "--csv", str(out / "csv")], env=WIDE)
    assert export.exit_code == 0, export.output
    assert_safe(export.output)
    assert f"{shown(out)}/csv/events.csv" in export.stderr
    diagram = runner.invoke(app, ["trace", "diagram", str(run_dir), "--out", str(out / "d.svg")], env=WIDE)
    assert diagram.exit_code == 0, diagram.output
    assert_safe(diagram.output)
    assert f"wrote {shown(out)}/d.svg: " in diagram.stderr


def test_runs_list(run_dir: Path) -> None:
    result = runner.invoke(app, ["runs", "list", str(run_dir.parent)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert f"Runs in {shown(run_dir.parent)}" in result.stderr
    assert "[/]" in result.stderr.split("\n", 1)[1]  # the topology column


def test_error_lines_escape_names_and_paths(tmp_path: Path, run_dir: Path) -> None:
    path = tmp_path / "undefined.json"
    nodes = [{"id": TITLE}]
    links = [{"source": TITLE, "target": "[/]" + TITLE}]
    path.write_text(json.dumps({"nodes": nodes, "links": links}), encoding="utf-8")
    result = runner.invoke(app, ["topo", "show", str(path)], env=WIDE)
    assert result.exit_code == 2, result.output
    assert_safe(result.output)
    assert result.stderr.startswith("error: ")
    assert f"node [/]{ESCAPED[TITLE]} is not defined" in result.stderr

    missing = runner.invoke(app, ["trace", "follow", str(run_dir), f"{TITLE}:999"], env=WIDE)
    assert missing.exit_code == 2, missing.output
    assert_safe(missing.output)
    assert f"error: {shown(run_dir)}/trace.jsonl: no event names message" in missing.stderr


@pytest.mark.timeout(60)
def test_real_subprocess_prints_no_raw_control_characters(run_dir: Path, topology: Path) -> None:
    for command in (["trace", "summary", str(run_dir)], ["trace", "events", str(run_dir)]):
        completed = subprocess.run(
            [sys.executable, "-m", "netsim", *command],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
            env={**os.environ, **WIDE},
        )
        assert completed.returncode == 0, completed.stderr
        for stream in (completed.stdout, completed.stderr):
            text = stream.decode("utf-8")
            assert_safe(text)
        assert ESCAPED[TITLE].encode() in completed.stdout + completed.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "netsim", "trace", "follow", str(run_dir), f"[/]{TITLE}:1"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert_safe(bad.stderr.decode("utf-8"))
    assert f"'[/]{ESCAPED[TITLE]}:1'".encode() in bad.stderr


def test_failed_checks_and_error_texts_of_a_hand_made_trace(tmp_path: Path) -> None:
    # A receive that no send explains fails verify, which prints the event; the error text is the node's.
    header = trace_header([TITLE, C1], [[TITLE, C1, "tcp"]])
    receive = {"transport": "tcp", "peer": TITLE, "nbytes": 10, "msg_id": f"{TITLE}:1", "msg_type": C1}
    events = [
        {"ts_ns": 1_000_000_100, "node": C1, "event": "recv", **receive},
        {"ts_ns": 1_000_000_200, "node": TITLE, "event": "error", "error": f"[/]boom{TITLE}\u202e"},
    ]
    run_dir = write_run(tmp_path / "run", header, events)

    verify = runner.invoke(app, ["trace", "verify", str(run_dir)], env=WIDE)
    assert verify.exit_code == 1, verify.output
    assert_safe(verify.output)
    assert f"[{ESCAPED[TITLE]}]  10B  {ESCAPED[TITLE]}:1 {ESCAPED[C1]}" in verify.stderr

    summary = runner.invoke(app, ["trace", "summary", str(run_dir)], env=WIDE)
    assert summary.exit_code == 0, summary.output
    assert_safe(summary.output)
    assert f"[/]boom{ESCAPED[TITLE]}\\u202e" in summary.stderr
