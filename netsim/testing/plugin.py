"""netsim's pytest plugin, registered as the ``pytest11`` entry point ``netsim``: installing netsim turns
it on (``-p no:netsim`` turns it off).

* The fixture ``netsim_run``: ``netsim_run(topology, **options)`` is ``netsim.run`` writing into the
  test's ``tmp_path``, and returns the same ``Run``.
* When a test that made runs fails, its report gets a "netsim runs" section: how each run ended, the
  failed nodes and the end of their logs, the seed, the run directory and its HTML report (written
  then, and only then).
* Run directories: those of a test that passed are removed at its teardown, unless ``--netsim-keep``;
  those of a test that failed or was interrupted are kept, and listed at the end of the session. They
  live in pytest's temporary directories, which pytest keeps for its last three sessions
  (``--basetemp`` chooses the place).

pytest imports this module at start-up in every session of a project that has netsim installed, so it
imports nothing of netsim's until a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from netsim.testing.runner import NetsimRunner

SECTION = "netsim runs"
# The end of the session lists at most this many kept run directories, then where the rest are.
KEPT_SHOWN = 20

_RUNNER = pytest.StashKey["NetsimRunner"]()
_KEPT = pytest.StashKey["list[tuple[str, str, Path]]"]()
# Runners whose test has not been judged yet, by test id: decided at the teardown's report (a fixture
# that fails in its teardown after netsim_run's fails the test), or at the end of an interrupted session.
_UNDECIDED = pytest.StashKey["dict[str, NetsimRunner]"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("netsim").addoption(
        "--netsim-keep",
        action="store_true",
        default=False,
        dest="netsim_keep",
        help="keep the run directories of passing tests too (a failed or interrupted test's are always "
        "kept); the end of the session lists where they are",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEPT] = []
    config.stash[_UNDECIDED] = {}


@pytest.fixture
def netsim_run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NetsimRunner]:
    """Run a topology for real: ``netsim_run("ring:4", app="mymodule:MyApp", seed=1)`` takes what
    ``netsim.run`` takes, writes in the test's ``tmp_path`` unless ``out`` says otherwise, and returns
    the ``Run`` (``run.ok``, ``run.summary``, ``run.run_dir``, ``run.events(...)``, ``run.verify()``).

    Every process and socket of a run is gone when it returns or raises. A failed test's report shows
    each run's outcome, directory and HTML report; a passing test's run directories are removed unless
    ``--netsim-keep``. ``netsim_run.runs`` lists the test's runs.
    """
    from netsim.testing.runner import NetsimRunner

    runner = NetsimRunner(tmp_path, keep=bool(request.config.getoption("netsim_keep")))
    request.node.stash[_RUNNER] = runner
    yield runner
    # Not judged here: a fixture torn down after this one may still fail the test.
    request.config.stash[_UNDECIDED][request.node.nodeid] = runner


def _decide(config: pytest.Config, nodeid: str) -> None:
    """Remove a passed test's run directories, or list them as kept."""
    runner = config.stash[_UNDECIDED].pop(nodeid, None)
    if runner is not None:
        why, kept = runner.finish()
        config.stash[_KEPT] += [(why, nodeid, path) for path in kept]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    runner = item.stash.get(_RUNNER, None)
    if runner is None:
        return
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        runner.reported_call = True
    if report.failed:
        runner.failed = True
        section = runner.failure_section()
        if section:
            report.sections.append((SECTION, section))
    if report.when == "teardown":
        _decide(item.config, item.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    # Tests an interruption ended had their fixtures torn down, but no teardown report.
    for nodeid in list(config.stash.get(_UNDECIDED, {})):
        _decide(config, nodeid)
    kept = config.stash.get(_KEPT, [])
    if not kept:
        return
    terminalreporter.section("netsim run directories kept")
    for why, nodeid, path in kept[:KEPT_SHOWN]:
        terminalreporter.write_line(f"{why}: {path}  ({nodeid})")
    if len(kept) > KEPT_SHOWN:
        parents = sorted({str(path.parent.parent) for _why, _nodeid, path in kept[KEPT_SHOWN:]})
        terminalreporter.write_line(f"... and {len(kept) - KEPT_SHOWN} more under {', '.join(parents)}")
