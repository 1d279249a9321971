"""Real runs that several trace test modules read: made once per module that asks for them."""

from __future__ import annotations

from pathlib import Path

import pytest
from netsim_testing import ROOT

import netsim


def _finished_run(out: Path, topology: str, app: str) -> Path:
    result = netsim.run(topology, app=app, seed=1, out=out)
    assert result.summary.exit_status == "ok", result.summary
    return result.run_dir


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ring:6 running echo, seed 1."""
    return _finished_run(tmp_path_factory.mktemp("runs"), "ring:6", "echo")


@pytest.fixture(scope="module")
def abilene_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """topologies/abilene.gml (11 nodes with coordinates) running flood, seed 1."""
    return _finished_run(tmp_path_factory.mktemp("runs"), str(ROOT / "topologies" / "abilene.gml"), "flood")
