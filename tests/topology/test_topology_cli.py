"""``netsim topo``: gen, show and validate through typer's CliRunner, and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netsim.cli.topo import app
from netsim.shaping.links import link_condition_rows, topology_conditions
from netsim.topology import load_topology

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = REPO / "topologies"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    ("args", "extension", "nodes", "links"),
    [
        (["ring", "8"], "gml", 8, 8),
        (["grid", "4x4"], "graphml", 16, 24),
        (["random", "50", "0.1", "--seed", "4"], "json", 50, None),
        (["line", "5"], "edgelist", 5, 4),
        (["star", "6"], "adjlist", 6, 5),
        (["tree", "2", "3"], "gml", 15, 14),
    ],
)
def test_gen_writes_by_extension(
    args: list[str], extension: str, nodes: int, links: int | None, tmp_path: Path
) -> None:
    output = tmp_path / f"out.{extension}"
    result = invoke("gen", *args, "-o", str(output))
    assert result.exit_code == 0, result.output
    topology = load_topology(output)
    assert len(topology.nodes) == nodes
    if links is not None:
        assert len(topology.links) == links


def test_gen_random_is_reproducible(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            invoke(
                "gen", "random", "30", "0.2", "--seed", "9", "-o", str(tmp_path / f"{name}.json")
            ).exit_code
            == 0
        )
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()


def test_gen_bad_arguments_exit_2(tmp_path: Path) -> None:
    result = invoke("gen", "ring", "2", "-o", str(tmp_path / "r.gml"))
    assert result.exit_code == 2
    assert "at least 3" in result.output
    result = invoke("gen", "donut", "5", "-o", str(tmp_path / "r.gml"))
    assert result.exit_code == 2 and "unknown generator kind" in result.output
    result = invoke("gen", "ring", "5", "-o", str(tmp_path / "r.txt"))
    assert result.exit_code == 2 and "unknown output extension" in result.output
    assert not (tmp_path / "r.gml").exists()


def test_show_tables() -> None:
    result = invoke("show", str(TOPOLOGIES / "mixed-transports.graphml"), "--nodes", "--links")
    assert result.exit_code == 0, result.output
    for text in ("mixed-transports", "unix-seqpacket", "connected", "hub", "epsilon", "echo", "mean"):
        assert text in result.output


def test_show_json() -> None:
    result = invoke("show", "grid:3x3", "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert (summary["nodes"], summary["links"], summary["connected"]) == (9, 12, True)


ASYMMETRIC_LINKS = """graph [
  node [ id 0 label "a" ]
  node [ id 1 label "b" ]
  node [ id 2 label "c" ]
  edge [ source 0 target 1 latency_ms "10/20.5" loss "0.1/0" bandwidth "1Mbit/2Mbit" queue "100/64KB" ]
  edge [ source 1 target 2 transport "udp" reorder "0.2" queue "10" ]
]
"""


def test_show_link_conditions(tmp_path: Path) -> None:
    path = tmp_path / "asymmetric.gml"
    path.write_text(ASYMMETRIC_LINKS)
    rows = link_condition_rows(topology_conditions(load_topology(str(path)), {}, "tcp"))
    assert [(row["a"], row["b"]) for row in rows] == [("a", "b"), ("b", "c")]
    assert (rows[0]["a_to_b"]["latency_ms"], rows[0]["b_to_a"]["queue_bytes"]) == (10.0, 64_000)
    shown = runner.invoke(app, ["show", str(path), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["link_conditions"] == rows

    table = runner.invoke(app, ["show", str(path)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    cells = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in table.stderr.splitlines()
        if " -- " in line
    }
    # One value where both directions agree ("-" for none), "a->b / b->a" where they differ.
    assert cells == {
        "a -- b": [
            "10.000 / 20.500",
            "-",
            "0.1 / 0.0",
            "1,000,000 bit/s / 2,000,000 bit/s",
            "100 / 64000",
            "-",
            "-",
        ],
        "b -- c": ["-", "-", "-", "-", "10", "-", "0.2"],
    }


def test_show_warnings(tmp_path: Path) -> None:
    multi = tmp_path / "multi.edgelist"
    multi.write_text("a b\nb a\nb c\n")
    result = invoke("show", str(multi))
    assert result.exit_code == 0
    assert "warning: merged 1 parallel edge(s)" in " ".join(result.stderr.split())


def test_validate_ok_and_warnings(tmp_path: Path) -> None:
    result = invoke("validate", str(TOPOLOGIES / "abilene.gml"))
    assert result.exit_code == 0
    assert result.stderr.strip() == "ok: 11 nodes, 14 links"
    looped = tmp_path / "loop.edgelist"
    looped.write_text("a a\na b\n")
    result = invoke("validate", str(looped))
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "ok: 2 nodes, 1 links",
        "warning: dropped 1 self-loop(s) (a node linked to itself): a -> a",
    ]


@pytest.mark.parametrize(
    "name", ["undefined-node.gml", "malformed.json", "garbage.gml", "unknown-extension.topo"]
)
def test_validate_bad_file_exits_2(name: str) -> None:
    result = invoke("validate", str(TOPOLOGIES / "bad" / name))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ")
    assert name in " ".join(result.output.split())


def test_validate_random_spec_with_seed() -> None:
    first = invoke("validate", "random:40:0.1", "--seed", "5")
    second = invoke("validate", "random:40:0.1", "--seed", "5")
    assert first.exit_code == 0 and first.stdout == second.stdout


def run_topo_cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", "from netsim.cli.topo import app; app()", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def test_subprocess_show_and_bad_file() -> None:
    shown = run_topo_cli("show", "topologies/ring8.gml", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["links"] == 8

    failed = run_topo_cli("show", "topologies/bad/undefined-node.gml")
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert "Traceback" not in failed.stderr
    lines = failed.stderr.splitlines()
    assert lines[0] == (
        "error: topologies/bad/undefined-node.gml: edge 0 -> 9: node 9 is not defined (known nodes: 0-1)"
    )
    assert len(lines) == 2 and lines[1].startswith("hint: ")


def _gml_with_commands(tmp_path: Path, n0: str, n1: str = "") -> Path:
    path = tmp_path / "programs.gml"
    path.write_text(
        "graph [\n"
        f'  node [ id 0 label "n0" {n0} ]\n'
        f'  node [ id 1 label "n1" {n1} ]\n'
        '  node [ id 2 label "n2" app "echo" ]\n'
        "  edge [ source 0 target 1 ]\n  edge [ source 1 target 2 ]\n"
        "]\n"
    )
    return path


def test_validate_checks_each_nodes_program_is_there(tmp_path: Path) -> None:
    ok = _gml_with_commands(tmp_path, f'cmd "{sys.executable} node.py"', f'cmd "{sys.executable} node.py"')
    result = invoke("validate", str(ok))
    assert result.exit_code == 0, result.output
    assert "nodes n0, n1 run cmd" in " ".join(result.output.split())
    missing = _gml_with_commands(tmp_path, 'cmd "no-such-program-anywhere --x"')
    result = invoke("validate", str(missing))
    assert result.exit_code == 2
    expected = f"{missing}: node n0: cmd 'no-such-program-anywhere --x' names 'no-such-program-anywhere'"
    assert f"{expected}, which is not on PATH" in " ".join(result.output.split())


def test_a_node_with_an_app_and_a_cmd_or_a_cmd_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    both = _gml_with_commands(tmp_path, 'app "echo" cmd "python3 x.py"')
    result = invoke("validate", str(both))
    assert result.exit_code == 2 and "node n0: has both an app and a cmd" in result.output
    number = _gml_with_commands(tmp_path, "cmd 3")
    result = invoke("validate", str(number))
    assert result.exit_code == 2 and "node n0: cmd 3 is not a command line" in result.output
    unclosed = _gml_with_commands(tmp_path, 'cmd "python3 \'x.py"')
    result = invoke("validate", str(unclosed))
    assert result.exit_code == 2 and "cannot be split into arguments" in result.output


def test_validate_refuses_the_link_conditions_run_refuses(tmp_path: Path) -> None:
    bad = tmp_path / "loss.gml"
    bad.write_text(
        'graph [ node [ id 0 label "a" ] node [ id 1 label "b" ] edge [ source 0 target 1 loss 1.5 ] ]\n'
    )
    result = invoke("validate", str(bad))
    assert result.exit_code == 2, result.output
    assert "edge a -> b: loss=1.5: expected a probability from 0 to 1" in " ".join(result.output.split())
