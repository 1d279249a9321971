"""What the CLI imports: `netsim --help` and `netsim run` never load matplotlib or the trace analyses
(each is imported by the command that draws or analyses), and nothing below the CLI imports it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from netsim_testing import ROOT, Simulations

# Loaded only by the commands that use them: `trace plot` (matplotlib), `trace diagram`, `trace report`...
HEAVY_MODULES = (
    "matplotlib",
    "netsim.trace.plot",
    "netsim.trace.diagram",
    "netsim.trace.report",
    "netsim.trace.stats",
    "netsim.trace.export",
    "netsim.trace.verify",
)

# Prints the heavy modules loaded by the code before it, each on a line "heavy: NAME".
REPORT_HEAVY = f"""
import sys
for name in sorted(sys.modules):
    if name in {HEAVY_MODULES!r} or name.startswith("matplotlib."):
        print("heavy:", name)
"""


def heavy_modules_after(code: str) -> list[str]:
    # A fresh interpreter: this test process has long since imported everything.
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + REPORT_HEAVY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return [line.split()[1] for line in completed.stdout.splitlines() if line.startswith("heavy: ")]


@pytest.mark.timeout(60)
def test_the_cli_loads_no_heavy_module() -> None:
    assert heavy_modules_after("import netsim.cli.main") == []


@pytest.mark.timeout(60)
def test_help_loads_no_heavy_module() -> None:
    code = """
    import contextlib, io
    from netsim.cli.main import app
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            app(["--help"], prog_name="netsim")
        except SystemExit as exit:
            assert exit.code == 0, exit.code
    assert "Usage" in out.getvalue()
    """
    assert heavy_modules_after(code) == []


@pytest.mark.timeout(60)
def test_run_loads_no_heavy_module(tmp_path: Path, simulate: Simulations) -> None:
    simulate.watch(tmp_path)
    code = f"""
    from netsim.cli.main import app
    try:
        app(["run", "ring:3", "--seed", "1", "--duration", "5", "--out", {str(tmp_path)!r}])
    except SystemExit as exit:
        assert exit.code == 0, exit.code
    """
    assert heavy_modules_after(code) == []


def test_the_heavy_check_sees_a_heavy_import() -> None:
    """The check itself works: a command that draws does load matplotlib."""
    assert "netsim.trace.plot" in heavy_modules_after("import netsim.trace.plot")
