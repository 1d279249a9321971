"""bench/socket_calls.py runs (tiny sizes): a bench that no longer runs measures nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "socket_calls.py"


def test_the_socket_calls_bench_runs_and_prints_its_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--count", "200", "--repeat", "1", "--nodes", "4", "--lines", "3"]
        + ["--ring-repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "traced" in done.stdout and "ring:4" in done.stdout, done.stdout
