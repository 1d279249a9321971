from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from netsim_testing import Simulations

# tests/testing runs pytest sessions of its own, to test netsim's pytest plugin.
pytest_plugins = ["pytester"]


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def simulate(runs_dir: Path) -> Iterator[Simulations]:
    """Runs simulations (``simulate(topology, **options)`` is ``netsim.run`` writing to ``runs_dir``) and,
    after the test, passed or failed, fails it unless every run's trace passes ``trace verify`` and the
    runs left nothing behind; ``simulate.watch(out)`` holds runs made through the CLI to the same."""
    simulations = Simulations(runs_dir)
    yield simulations
    problems = simulations.check()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def simulate_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulations]:
    """``simulate`` for runs a whole module shares, checked once its tests are done."""
    simulations = Simulations(tmp_path_factory.mktemp("runs"))
    yield simulations
    problems = simulations.check()
    assert not problems, "\n".join(problems)
