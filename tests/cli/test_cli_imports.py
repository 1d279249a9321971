"""What the CLI imports: each command loads what it needs and nothing more, so that a small command
answers at once (bench/cli.py times them; no test here measures time).

`import netsim.cli.main` loads none of the command modules (the root group imports one when a command
line or a help page first needs it), `netsim --help` no networkx and no launcher, `netsim run` and
`netsim topo validate` no matplotlib, no trace analysis and no other command's module. Each check runs
in a fresh interpreter: this test process has long since imported everything."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest
from netsim_testing import ROOT, Simulations

from netsim import __version__

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
# Loaded by the commands that read or build a topology; the help only names formats and generators.
NETWORKX = ("networkx",)
# Loaded by `netsim run` (and `runs recover`) alone.
LAUNCHER = ("netsim.launch", "netsim.runtime", "multiprocess")
# One module per top-level command; `netsim.cli.trace` stands for the trace commands' modules too.
COMMAND_MODULES = ("netsim.cli.run", "netsim.cli.topo", "netsim.cli.trace", "netsim.cli.runs")
TRACE_TOOLS = ("netsim.trace.reader", "netsim.trace.summary", "netsim.trace.events", "netsim.trace.follow")

# Prints the watched modules (each a package with its submodules) loaded by the code before it.
REPORT = """
import sys
for name in sorted(sys.modules):
    if any(name == watched or name.startswith(watched + ".") for watched in {watched!r}):
        print("loaded:", name)
"""


def modules_after(code: str, watched: Iterable[str]) -> list[str]:
    """The modules among ``watched`` (or inside one of those packages) that ``code`` loads."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + REPORT.format(watched=tuple(watched))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return [line.split()[1] for line in completed.stdout.splitlines() if line.startswith("loaded: ")]


def command(argv: list[str], exit_code: int = 0) -> str:
    """Code that runs ``netsim ARGV`` in-process, its output swallowed, and checks its exit code."""
    return f"""
    import contextlib, io
    from netsim.cli.main import app
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            app({argv!r}, prog_name="netsim")
        except SystemExit as exit:
            assert exit.code == {exit_code}, exit.code
    """


@pytest.mark.timeout(60)
def test_the_cli_module_loads_no_command() -> None:
    watched = (*HEAVY_MODULES, *NETWORKX, *LAUNCHER, *COMMAND_MODULES, *TRACE_TOOLS)
    assert modules_after("import netsim.cli.main", watched) == []


@pytest.mark.timeout(60)
def test_version_loads_no_command() -> None:
    watched = (*NETWORKX, *LAUNCHER, *COMMAND_MODULES, *TRACE_TOOLS)
    assert modules_after(command(["--version"]), watched) == []


@pytest.mark.timeout(60)
def test_help_loads_no_networkx_launcher_or_trace_tool() -> None:
    watched = (*HEAVY_MODULES, *NETWORKX, *LAUNCHER, *TRACE_TOOLS)
    assert modules_after(command(["--help"]), watched) == []


@pytest.mark.timeout(60)
def test_help_lists_every_command() -> None:
    code = """
    import contextlib, io
    from netsim.cli.main import COMMAND_MODULES, app
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            app(["--help"], prog_name="netsim")
        except SystemExit as exit:
            assert exit.code == 0, exit.code
    page = out.getvalue()
    for name in COMMAND_MODULES:
        assert f" {name} " in page, name
    # The root page is netsim's own (cli/root_help.py): typer's usage line, help, options, commands.
    assert "Usage: netsim [OPTIONS] COMMAND [ARGS]..." in page, page
    assert "Run distributed systems for real" in page, page
    assert "--version" in page and "Print the version and exit." in page, page
    assert "Options" in page and "Commands" in page, page
    assert "Generate, inspect and validate topologies" in page, page
    """
    assert modules_after(code, ()) == []


@pytest.mark.timeout(60)
def test_validate_loads_no_launcher_or_other_command() -> None:
    others = ("netsim.cli.run", "netsim.cli.trace", "netsim.cli.runs")
    watched = (*HEAVY_MODULES, *LAUNCHER, *TRACE_TOOLS, *others)
    code = command(["topo", "validate", str(ROOT / "topologies" / "ring8.gml")])
    assert modules_after(code, watched) == []


@pytest.mark.timeout(60)
def test_validating_graphml_loads_no_numpy() -> None:
    """networkx's GraphML reader would import numpy (its write-side type table) when it is installed."""
    code = command(["topo", "validate", str(ROOT / "topologies" / "mixed-transports.graphml")])
    assert modules_after(code, ("numpy",)) == []


@pytest.mark.timeout(60)
def test_run_loads_no_heavy_module_or_other_command(tmp_path: Path, simulate: Simulations) -> None:
    simulate.watch(tmp_path)
    code = command(["run", "ring:3", "--seed", "1", "--duration", "5", "--out", str(tmp_path)])
    watched = (*HEAVY_MODULES, "netsim.cli.topo", "netsim.cli.trace", "netsim.cli.runs")
    assert modules_after(code, watched) == []


def test_the_check_sees_an_import() -> None:
    """The check itself works: a command that draws does load matplotlib."""
    assert "netsim.trace.plot" in modules_after("import netsim.trace.plot", HEAVY_MODULES)
    assert "networkx" in modules_after(command(["topo", "validate", "ring:4"]), NETWORKX)


@pytest.mark.timeout(60)
def test_the_root_help_page_draws_without_typer_s_rich_pages() -> None:
    """typer.rich_utils brings Markdown and syntax highlighting: ~55 ms the root page does not need."""
    assert modules_after(command(["--help"]), ("typer.rich_utils", "markdown_it")) == []


@pytest.mark.timeout(60)
def test_a_command_s_parameters_are_parsed_without_pydantic() -> None:
    """typer 0.29 runs every parameter through pydantic (pyproject.toml keeps typer below it): its
    import and adapters cost `topo validate` ~130 ms and `run ring:4` ~190 ms (bench/README.md)."""
    code = command(["topo", "validate", str(ROOT / "topologies" / "ring8.gml"), "--seed", "1"])
    assert modules_after(code, ("pydantic", "pydantic_core")) == []


# A Ctrl-C while the CLI is still loading, made exact: the import of typer (the first thing the CLI
# loads) raises KeyboardInterrupt, as Python does when SIGINT arrives during an import.
INTERRUPTED_IMPORT = """
import sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            raise KeyboardInterrupt

sys.meta_path.insert(0, Interrupt())
sys.argv = ["netsim", "--version"]
from netsim.cli.entry import main
main()
"""


def test_a_ctrl_c_while_the_cli_loads_ends_it_quietly_with_the_interrupt_code() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 130, completed.stderr
    assert "Traceback" not in completed.stderr
    # The entry point imports nothing the CLI needs before it is ready for the interrupt.
    assert modules_after("import netsim.cli.entry", ("typer", "click", "netsim.cli.main")) == []


def test_python_dash_m_netsim_is_the_command() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "netsim", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["netsim", __version__]
