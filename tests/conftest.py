from __future__ import annotations

from pathlib import Path

import pytest
from netsim_testing import child_pids, socket_dirs


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def no_leftovers():
    """Fails the test if it leaves a child process or a socket directory behind."""
    dirs_before = socket_dirs()
    yield
    assert child_pids() == set(), "child processes left behind"
    assert socket_dirs() - dirs_before == set(), "socket directories left behind"
