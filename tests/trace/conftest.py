"""Real runs that several trace test modules read: made once per module that asks for them."""

from __future__ import annotations

from pathlib import Path

import pytest
from netsim_testing import ROOT, Simulations


def _finished_run(simulate: Simulations, topology: str, app: str) -> Path:
    result = simulate(topology, app=app, seed=1)
    assert result.summary.exit_status == "ok", result.summary
    return result.run_dir


@pytest.fixture(scope="module")
def ring_run(simulate_module: Simulations) -> Path:
    """ring:6 running echo, seed 1."""
    return _finished_run(simulate_module, "ring:6", "echo")


@pytest.fixture(scope="module")
def abilene_run(simulate_module: Simulations) -> Path:
    """topologies/abilene.gml (11 nodes with coordinates) running flood, seed 1."""
    return _finished_run(simulate_module, str(ROOT / "topologies" / "abilene.gml"), "flood")
