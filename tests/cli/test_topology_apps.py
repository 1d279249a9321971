"""A topology is data: code that a node's ``app`` attribute names runs only when the user says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import netsim
from netsim.cli.main import app
from netsim.errors import TopologyError

runner = CliRunner()

# Importing this module leaves a marker file next to it: the proof that its code ran.
EVIL_APP = """
import pathlib

pathlib.Path(__file__).with_name("marker").write_text("imported")

import netsim


class App(netsim.App):
    def on_start(self, ctx):
        ctx.record(kind="evil")
        ctx.stop()
"""


@pytest.fixture
def evil(tmp_path: Path) -> dict[str, Path | str]:
    module = tmp_path / "evil.py"
    module.write_text(EVIL_APP)
    spec = f"{module}:App"
    topology = tmp_path / "topology.json"
    nodes = [{"id": "a", "app": spec}, {"id": "b", "app": spec}, {"id": "c", "app": "echo"}]
    links = [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}]
    topology.write_text(json.dumps({"nodes": nodes, "links": links}))
    return {"spec": spec, "topology": topology, "marker": tmp_path / "marker", "out": tmp_path / "runs"}


def test_without_the_flag_the_code_is_not_imported(evil) -> None:
    result = runner.invoke(app, ["run", str(evil["topology"]), "--out", str(evil["out"])])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert f"{evil['topology']}: nodes a, b: app {evil['spec']!r}" in error
    assert "--allow-topology-apps" in result.stderr
    assert not evil["marker"].exists(), "the topology's code ran"
    assert not evil["out"].exists()


def test_another_app_on_the_command_line_does_not_allow_it(evil) -> None:
    result = runner.invoke(app, ["run", str(evil["topology"]), "--app", "echo", "--out", str(evil["out"])])
    assert result.exit_code == 2, result.output
    assert not evil["marker"].exists()


def test_the_python_api_refuses_it_too(evil) -> None:
    with pytest.raises(TopologyError, match="is Python code named by the topology file") as caught:
        netsim.run(evil["topology"], out=evil["out"])
    assert "allow_topology_apps=True" in (caught.value.hint or "")
    topology = netsim.load_topology(evil["topology"])
    with pytest.raises(TopologyError, match="nodes a, b"):
        netsim.run(topology, out=evil["out"])
    assert not evil["marker"].exists()


def _run(evil, *options: str):
    return runner.invoke(
        app, ["run", str(evil["topology"]), "--out", str(evil["out"]), "--seed", "1", "--json", *options]
    )


def _check_the_code_ran(evil, result) -> None:
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["exit_status"] == "ok"
    assert evil["marker"].read_text() == "imported"
    events = [json.loads(line) for line in Path(summary["trace"]).read_text().splitlines()[1:]]
    assert {e["node"] for e in events if e["event"] == "app" and e["data"].get("kind") == "evil"} == {
        "a",
        "b",
    }


@pytest.mark.timeout(60)
def test_with_the_flag_it_runs(evil, simulate) -> None:
    simulate.watch(evil["out"])
    _check_the_code_ran(evil, _run(evil, "--allow-topology-apps"))


@pytest.mark.timeout(60)
def test_the_same_app_on_the_command_line_allows_that_spec_only(evil, simulate) -> None:
    simulate.watch(evil["out"])
    other = evil["topology"].with_name("other.py")
    other.write_text("raise SystemExit('this module must not be imported')\n")
    document = json.loads(evil["topology"].read_text())
    document["nodes"][2]["app"] = f"{other}:App"
    two_specs = evil["topology"].with_name("two-specs.json")
    two_specs.write_text(json.dumps(document))
    refused = runner.invoke(
        app, ["run", str(two_specs), "--app", str(evil["spec"]), "--out", str(evil["out"])]
    )
    assert refused.exit_code == 2, refused.output
    [error] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert f"two-specs.json: node c: app '{other}:App'" in error
    assert not evil["marker"].exists()
    _check_the_code_ran(evil, _run(evil, "--app", str(evil["spec"])))


def test_topo_show_and_validate_say_which_nodes_name_code(evil) -> None:
    shown = runner.invoke(app, ["topo", "show", str(evil["topology"]), "--json"])
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.stdout)
    assert summary["code_apps"] == {evil["spec"]: ["a", "b"]}
    assert summary["needs_allow_topology_apps"] is True
    table = runner.invoke(app, ["topo", "show", str(evil["topology"])])
    validated = runner.invoke(app, ["topo", "validate", str(evil["topology"])])
    for result in (table, validated):
        assert result.exit_code == 0, result.output
        [note] = [line for line in result.stderr.splitlines() if line.startswith("note:")]
        assert f"nodes a, b name app {evil['spec']!r}" in note and "--allow-topology-apps" in note
    assert not evil["marker"].exists(), "describing a topology never imports its apps"


def test_built_in_apps_need_no_flag() -> None:
    summary = json.loads(runner.invoke(app, ["topo", "show", "topologies/star5.json", "--json"]).stdout)
    assert summary["code_apps"] == {} and summary["needs_allow_topology_apps"] is False
    validated = runner.invoke(app, ["topo", "validate", "topologies/star5.json"])
    assert "note:" not in validated.stderr
