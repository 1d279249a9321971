"""``netsim run`` on a terminal shows how far a run has got: nodes up while it starts, nodes exited
while it stops, and the merge; piped, it shows nothing of the kind."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netsim_testing import ROOT


def run_on_a_terminal(args: list[str], timeout_s: float = 60) -> tuple[int, str]:
    """Run ``netsim ARGS`` with its stdout and stderr on a pseudo-terminal; its exit code and output."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "netsim", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            output += chunk
        return process.wait(timeout=max(1.0, deadline - time.monotonic())), output.decode(errors="replace")
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.timeout(120)
def test_a_run_on_a_terminal_shows_its_start_its_stop_and_the_merge(tmp_path: Path, simulate) -> None:
    out = simulate.watch(tmp_path / "runs")
    code, output = run_on_a_terminal(["run", "ring:60", "--app", "flood", "--seed", "1", "--out", str(out)])
    assert code == 0, output
    assert "starting" in output and "/60" in output and "bound" in output
    assert "stopping" in output or "finishing" in output
    assert "merging the nodes' trace parts" in output
    assert "status" in output  # the summary table follows


def test_a_piped_run_shows_no_progress(tmp_path: Path, simulate) -> None:
    out = simulate.watch(tmp_path / "runs")
    result = subprocess.run(
        [sys.executable, "-m", "netsim", "run", "ring:6", "--app", "flood", "--seed", "1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "merging the nodes' trace parts" not in result.stdout + result.stderr
