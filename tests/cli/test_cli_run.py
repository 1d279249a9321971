"""`netsim run` as users call it: a real subprocess, CliRunner, and every bad input exits 2 in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from netsim_testing import ROOT
from typer.testing import CliRunner

from netsim.cli.main import app

runner = CliRunner()
BAD_TOPOLOGIES = sorted((ROOT / "topologies" / "bad").iterdir())


@pytest.mark.timeout(60)
def test_run_as_a_real_command_prints_summary_json(tmp_path, simulate):
    simulate.watch(tmp_path)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsim",
            "run",
            "topologies/abilene.gml",
            "--app",
            "echo",
            "--seed",
            "4",
            "--out",
            str(tmp_path),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    for key in (
        "run_id",
        "run_dir",
        "trace",
        "topology",
        "app",
        "nodes",
        "links",
        "messages_sent",
        "messages_received",
        "bytes_sent",
        "bytes_received",
        "errors",
        "duration_s",
        "exit_status",
        "node_failures",
    ):
        assert key in summary
    assert (summary["nodes"], summary["links"], summary["app"]) == (11, 14, "echo")
    assert summary["exit_status"] == "ok" and summary["errors"] == 0
    assert summary["messages_sent"] == summary["messages_received"] > 0
    on_disk = json.loads((tmp_path / summary["run_id"] / "summary.json").read_text())
    assert on_disk == summary


@pytest.mark.timeout(60)
def test_run_prints_a_summary_table_for_people(tmp_path, simulate):
    simulate.watch(tmp_path)
    result = runner.invoke(app, ["run", "star:4", "--app", "flood", "--out", str(tmp_path), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "ended by done" in result.stderr
    assert "messages sent / received" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("bad_file", BAD_TOPOLOGIES, ids=lambda path: path.name)
def test_every_bad_topology_is_one_line_and_exit_2(bad_file, tmp_path):
    result = runner.invoke(app, ["run", str(bad_file.relative_to(ROOT)), "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and bad_file.name in errors[0]
    assert "Traceback" not in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir()), "no run directory for input that cannot run"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--app", "nosuchapp"], "unknown app 'nosuchapp'"),
        (["--app", "nosuchmodule_xyz:App"], "no module named 'nosuchmodule_xyz'"),
        (["--app", "json:JSONDecoder"], "is neither a subclass of netsim.App nor a function main(net)"),
        (["--transport", "sctp"], "unknown transport 'sctp'"),
        (["--duration", "0"], "--duration must be positive"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(arguments, expected, tmp_path):
    result = runner.invoke(app, ["run", "ring:4", "--out", str(tmp_path), *arguments])
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_missing_topology_file_names_it(tmp_path):
    result = runner.invoke(app, ["run", "no/such/file.gml", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no/such/file.gml" in result.stderr


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("netsim ")


@pytest.mark.timeout(60)
def test_no_room_for_the_merged_trace_is_one_line_and_the_run_can_be_recovered(tmp_path):
    import resource

    def small_files() -> None:
        # 40 KiB per file: each node's part fits, the merged trace of them all does not.
        resource.setrlimit(resource.RLIMIT_FSIZE, (40 * 1024, resource.RLIM_INFINITY))

    out = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "netsim",
        "run",
        "ring:8",
        "--app",
        "gossip",
        "--seed",
        "1",
        "--out",
        str(out),
    ]
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=60, preexec_fn=small_files
    )
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "its trace could not be merged: File too large" in completed.stderr
    [run_dir] = list(out.iterdir())
    recovered = runner.invoke(app, ["runs", "recover", str(run_dir)])
    assert recovered.exit_code == 0, recovered.output
    assert (run_dir / "summary.json").exists()
