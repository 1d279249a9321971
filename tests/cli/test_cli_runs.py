"""list_runs and ``netsim runs list``: complete, incomplete and unreadable runs, newest first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from netsim_testing import Simulations
from typer.testing import CliRunner

from netsim.cli.runs import app
from netsim.errors import InputError
from netsim.runs.listing import list_runs
from netsim.trace import SCHEMA

runner = CliRunner()


def summary(run_id: str, started_at: str, **fields: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "topology": {"name": "ring:4", "source": "ring:4"},
        "app": "echo",
        "nodes": 4,
        "messages_sent": 52,
        "exit_status": "ok",
        "ended_by": "done",
        "started_at": started_at,
        **fields,
    }


def make_runs(root: Path) -> Path:
    """Three finished runs, one without summary.json, one with only topology.json (its run id, local time,
    is days after the others so that the order does not depend on the time zone), one broken, and a stray
    directory."""
    runs = root / "runs"
    for run_id, started_at, extra in (
        ("20261125-101500-ring_4-echo-aaaa", "2026-11-25T10:15:00+00:00", {}),
        ("20261125-121500-ring_4-flood-bbbb", "2026-11-25T12:15:00+00:00", {"app": "flood"}),
        ("20261124-090000-ring_4-echo-cccc", "2026-11-24T09:00:00+00:00", {"exit_status": "failed"}),
    ):
        (runs / run_id).mkdir(parents=True)
        (runs / run_id / "summary.json").write_bytes(orjson.dumps(summary(run_id, started_at, **extra)))
    incomplete = runs / "20261125-110000-grid_2x2-gossip-dddd"
    incomplete.mkdir()
    header = {
        "type": "header",
        "schema": SCHEMA,
        "run_id": incomplete.name,
        "topology": {"name": "grid:2x2", "nodes": ["0,0", "0,1", "1,0", "1,1"], "links": []},
        "app": "gossip",
        "started_at": "2026-11-25T11:00:00+00:00",
    }
    (incomplete / "trace.jsonl").write_bytes(orjson.dumps(header) + b"\n" + b'{"ts_ns": 1, "node"')
    unmerged = runs / "20261130-113000-pair-echo-eeee"
    (unmerged / "nodes").mkdir(parents=True)
    (unmerged / "topology.json").write_bytes(
        orjson.dumps({"name": "pair", "nodes": [{"id": "a"}, {"id": "b"}]})
    )
    broken = runs / "20261123-080000-ring_4-echo-ffff"
    broken.mkdir()
    (broken / "summary.json").write_text("{not json")
    (runs / "notes").mkdir()  # not a run
    (runs / "README.txt").write_text("not a directory")
    return runs


def test_list_runs_newest_first(tmp_path: Path) -> None:
    runs = list_runs(make_runs(tmp_path))
    assert [info.run_id[-4:] for info in runs] == ["eeee", "bbbb", "dddd", "aaaa", "cccc", "ffff"]
    by_id = {info.run_id[-4:]: info for info in runs}
    assert by_id["bbbb"].to_dict() == {
        "run_id": "20261125-121500-ring_4-flood-bbbb",
        "run_dir": str(tmp_path / "runs" / "20261125-121500-ring_4-flood-bbbb"),
        "started_at": "2026-11-25T12:15:00+00:00",
        "topology": "ring:4",
        "app": "flood",
        "nodes": 4,
        "messages": 52,
        "status": "ok",
        "ended_by": "done",
        "problem": None,
    }
    assert by_id["cccc"].status == "failed"
    incomplete = by_id["dddd"]
    assert (
        incomplete.status,
        incomplete.topology,
        incomplete.app,
        incomplete.nodes,
        incomplete.messages,
    ) == (
        "incomplete",
        "grid:2x2",
        "gossip",
        4,
        None,
    )
    unmerged = by_id["eeee"]
    assert (unmerged.status, unmerged.topology, unmerged.nodes, unmerged.started_at) == (
        "incomplete",
        "pair",
        2,
        None,
    )
    assert unmerged.started is not None  # from the run id
    assert by_id["ffff"].status == "unreadable" and "summary.json" in (by_id["ffff"].problem or "")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such directory") as caught:
        list_runs(tmp_path / "runs")
    assert caught.value.hint and "--out" in caught.value.hint
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="not a directory"):
        list_runs(tmp_path / "file")


def test_a_real_run_is_listed(simulate: Simulations) -> None:
    result = simulate("ring:3", app="flood", seed=1)
    [info] = list_runs(simulate.out)
    assert info.run_id == result.summary.run_id
    assert info.run_dir == result.run_dir
    assert (info.topology, info.app, info.nodes, info.status) == ("ring:3", "flood", 3, "ok")
    assert info.messages == result.summary.messages_sent


def test_runs_list_command(tmp_path: Path) -> None:
    runs = make_runs(tmp_path)
    result = runner.invoke(app, ["list", str(runs)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the table is for people: stderr
    table = result.stderr
    assert "20261125-121500-ring_4-flood-bbbb" in table
    assert table.index("bbbb") < table.index("aaaa") < table.index("cccc")
    for word in ("incomplete", "unreadable", "failed", "grid:2x2"):
        assert word in table
    assert "warning:" in table and "summary.json" in table

    as_json = runner.invoke(app, ["list", str(runs), "--json"])
    assert as_json.exit_code == 0
    listed = json.loads(as_json.stdout)
    assert [entry["run_id"][-4:] for entry in listed] == ["eeee", "bbbb", "dddd", "aaaa", "cccc", "ffff"]


def test_runs_list_command_errors_and_empty(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["list", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: ") and "hint:" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(app, ["list", str(tmp_path / "empty")])
    assert empty.exit_code == 0 and "no runs in" in empty.stderr
    assert json.loads(runner.invoke(app, ["list", str(tmp_path / "empty"), "--json"]).stdout) == []


def test_runs_list_defaults_to_runs_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_runs(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 6
