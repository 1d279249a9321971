"""The pytest plugin, run by pytest itself (``pytester``): a passing test, a failing one and what its
report says, ``--netsim-keep``, and that nothing of a run is left behind when a test fails in the
middle of a run, times out, or is interrupted with Ctrl-C.

Every inner session is a subprocess: a run, a timeout or a Ctrl-C in it cannot touch this session's
own processes and signal handlers, and what it leaves behind is told apart by its pid and its paths.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netsim_testing import PLUGIN, PLUGIN_ARGS, PLUGIN_REGISTERED, processes_mentioning, run_problems

APPS = '''
import netsim

class Crash(netsim.App):
    def on_start(self, ctx):
        if ctx.name == "n2":
            1 / 0
        ctx.stop()

class Forever(netsim.App):
    """Never stops: every node pings its neighbours every 10 ms."""

    def on_start(self, ctx):
        ctx.set_timer(0.01, "tick")

    def on_timer(self, ctx, name, data):
        ctx.broadcast("tick", {})
        ctx.set_timer(0.01, "tick")
'''

# The inner tests write their pid here: what their runs leave behind is looked for by it.
PID_FILE = "inner.pid"


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(protocol_apps=APPS)
    return pytester


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider", *args, timeout=90)


def leftovers(pytester: pytest.Pytester) -> list[str]:
    """The processes of the inner session still alive (nodes are named "netsim <node>"; every process
    of a run carries its launcher's command line, which names the pytester directory), and the socket
    directories of its runs."""
    pid = int((pytester.path / PID_FILE).read_text())
    deadline = time.monotonic() + 3
    while True:
        alive = processes_mentioning(str(pytester.path))
        sockets = glob.glob(f"/tmp/netsim-{pid}-*")
        if not (alive or sockets) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return [f"process {p} ({_name(p)}) left behind" for p in alive] + [
        f"{path} left behind" for path in sockets
    ]


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "gone"


def run_dirs(pytester: pytest.Pytester) -> list[Path]:
    return sorted(path.parent for path in pytester.path.rglob("trace.jsonl"))


# -- registration and start-up ----------------------------------------------------------------------------


def test_the_entry_point_names_the_plugin() -> None:
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["pytest11"] == {"netsim": PLUGIN}


@pytest.mark.skipif(
    not PLUGIN_REGISTERED, reason="netsim is not installed with its entry points (pip install -e .)"
)
def test_installed_netsim_gives_every_pytest_session_the_fixture(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*netsim_run*", "*Run a topology for real*"])
    assert "--netsim-keep" in pytester.runpytest_subprocess("--help").stdout.str()


def test_loading_the_plugin_imports_nothing_of_a_run() -> None:
    """pytest imports the plugin in every session of a project that has netsim installed."""
    code = (
        "import sys, pytest\n"
        "before = set(sys.modules)\n"
        f"import {PLUGIN}\n"
        "heavy = ('netsim.launch', 'netsim.runtime', 'netsim.trace', 'netsim.topology', 'networkx', "
        "'matplotlib', 'typer', 'msgspec')\n"
        "print(','.join(sorted(m for m in set(sys.modules) - before if m.startswith(heavy))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


# -- passing and failing tests ----------------------------------------------------------------------------


def test_a_passing_test_leaves_no_run_directory(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        f"""
        import os
        from pathlib import Path
        from netsim.testing import assert_every_node_received, assert_no_loss, assert_ok, assert_verified

        def test_flood(netsim_run, tmp_path):
            Path({str(inner.path / PID_FILE)!r}).write_text(str(os.getpid()))
            run = netsim_run("line:4", app="flood", seed=1)
            assert run.ok and run.run_dir.parent == tmp_path and netsim_run.runs == [run]
            assert run.summary.messages_received == run.summary.messages_sent
            assert_ok(run)
            assert_verified(run)
            assert_no_loss(run)
            assert assert_every_node_received(run, "flood", exclude=["n0"]) == {{"n1": 1, "n2": 1, "n3": 1}}
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(passed=1)
    assert "netsim run directories kept" not in result.stdout.str()
    assert run_dirs(inner) == []
    assert leftovers(inner) == []


def test_a_failing_test_shows_the_failed_node_and_the_run(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        f"""
        import os
        from pathlib import Path
        from netsim.testing import assert_ok

        def test_crash(netsim_run):
            Path({str(inner.path / PID_FILE)!r}).write_text(str(os.getpid()))
            assert_ok(netsim_run("ring:4", app="protocol_apps:Crash", seed=7))
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(failed=1)
    [run_dir] = run_dirs(inner)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: the run did not end ok",
            f"E       run {run_dir.name}: failed (exit code 1), ended by failure; seed 7, 4 nodes, *",
            "E         node 'n2' failed (exit code 1): ZeroDivisionError: division by zero",
            "E             Traceback (most recent call last):",
            '*File "*protocol_apps.py", line 6, in on_start',
            "E             ZeroDivisionError: division by zero",
            f"E         run directory: {run_dir}",
            "*- netsim runs -*",
            f"run {run_dir.name}: failed *",
            f"  report: {run_dir / 'report.html'}",
            "*= netsim run directories kept =*",
            f"failed: {run_dir}  (test_a_failing_test_shows_the_failed_node_and_the_run.py::test_crash)",
        ]
    )
    # netsim's own frames (the event loop that called the app) are left out of the traceback.
    assert "netsim/runtime" not in result.stdout.str()
    assert (run_dir / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert leftovers(inner) == []


def test_check_true_shows_the_tests_line_and_the_failure_not_netsims_source(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        f"""
        import os
        from pathlib import Path

        def test_crash(netsim_run):
            Path({str(inner.path / PID_FILE)!r}).write_text(str(os.getpid()))
            netsim_run("ring:4", app="protocol_apps:Crash", seed=7, check=True)
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       netsim_run("ring:4", app="protocol_apps:Crash", seed=7, check=True)',
            "E       netsim.errors.NodeCrashed: node 'n2' failed (exit code 1): ZeroDivisionError: *",
        ]
    )
    # Neither netsim.run's body nor the fixture's is printed: only the test's line and the error.
    output = result.stdout.str()
    assert "def run(" not in output and "def __call__(" not in output
    assert "netsim/launch/run.py" not in output
    assert leftovers(inner) == []


def test_a_refused_option_shows_the_tests_line_and_the_error_not_where_netsim_found_it(
    inner: pytest.Pytester,
) -> None:
    inner.makepyfile(
        """
        def test_bad_fault(netsim_run):
            netsim_run("ring:3", app="flood", faults=["0.1s link-down n0 n1"])
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       netsim_run("ring:3", app="flood", faults=["0.1s link-down n0 n1"])',
            "E       netsim.errors.OptionError: fault schedule: link-down takes a link as 'a,b' *",
        ]
    )
    assert "netsim/launch/" not in result.stdout.str() and "netsim/shaping/" not in result.stdout.str()


def test_assertions_say_what_did_not_hold(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        f"""
        import os
        from pathlib import Path
        from netsim.testing import assert_every_node_received

        def test_everyone(netsim_run):
            Path({str(inner.path / PID_FILE)!r}).write_text(str(os.getpid()))
            assert_every_node_received(netsim_run("line:4", app="flood", seed=1), "flood")

        def test_a_typo(netsim_run):
            assert_every_node_received(netsim_run("line:4", app="flood", seed=1), "flod")
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: 1 of 4 nodes did not receive a 'flood' message: n0",
            "E         received: n1 1, n2 1, n3 1",
            "E         see them: run.messages('flood'), or run.events(node='n0')",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: 4 of 4 nodes did not receive a 'flod' message: n0, n1, n2, n3",
            "E         no node received any 'flod'; the message types they received: 'flood' (3)",
        ]
    )
    assert leftovers(inner) == []


def test_netsim_keep_keeps_a_passing_tests_runs_and_says_where(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        f"""
        import os
        from pathlib import Path

        def test_flood(netsim_run):
            Path({str(inner.path / PID_FILE)!r}).write_text(str(os.getpid()))
            assert netsim_run("ring:4", app="flood", seed=1).ok
        """
    )
    result = run_inner(inner, "--netsim-keep")
    result.assert_outcomes(passed=1)
    [run_dir] = run_dirs(inner)
    result.stdout.fnmatch_lines(["*= netsim run directories kept =*", f"kept: {run_dir}  (*::test_flood)"])
    assert (run_dir / "summary.json").is_file() and not (run_dir / "report.html").exists()
    assert leftovers(inner) == []


# -- nothing left behind ----------------------------------------------------------------------------------


def test_a_test_that_fails_in_the_middle_of_a_run_leaves_nothing(inner: pytest.Pytester) -> None:
    """A callback that fails an assertion, and pytest-timeout's signal, both stop the test while the
    run's nodes are up."""
    inner.makepyfile(
        f"""
        import os
        from pathlib import Path
        import pytest

        def test_a_callback_fails(netsim_run):
            Path({str(inner.path / PID_FILE)!r}).write_text(str(os.getpid()))

            def on_ready(nodes):
                assert len(nodes) == 3, "the callback's own assertion"

            netsim_run("ring:4", app="protocol_apps:Forever", duration=60, on_ready=on_ready)

        @pytest.mark.timeout(1.5, method="signal")
        def test_a_timeout(netsim_run):
            netsim_run("ring:4", app="protocol_apps:Forever", transport="unix", duration=60)
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*AssertionError: the callback's own assertion*"])
    result.stdout.fnmatch_lines(["*Failed: Timeout (>1.5s) from pytest-timeout*"])
    assert leftovers(inner) == []
    # The run whose callback failed is finished all the same, and its trace holds.
    [failed_run_dir] = [path for path in run_dirs(inner) if path.parent.name == "test_a_callback_fails0"]
    assert '"ended_by": "launcher-error"' in (failed_run_dir / "summary.json").read_text()
    assert run_problems(failed_run_dir) == []
    # So is the run the timeout stopped, and the report describes it as a run, not a bare directory.
    [timed_out] = [path for path in run_dirs(inner) if path.parent.name == "test_a_timeout0"]
    assert "Failed: Timeout" in (timed_out / "summary.json").read_text()
    assert run_problems(timed_out) == []
    result.stdout.fnmatch_lines([f"  run directory: {timed_out}"])
    assert "raised before it finished" not in result.stdout.str()


def test_a_fixture_that_fails_in_its_teardown_keeps_the_runs(inner: pytest.Pytester) -> None:
    """netsim_run is torn down before the test's outcome is known when another fixture uses it."""
    inner.makepyfile(
        f"""
        import os
        from pathlib import Path
        import pytest

        @pytest.fixture
        def checked_run(netsim_run):
            Path({str(inner.path / PID_FILE)!r}).write_text(str(os.getpid()))
            run = netsim_run("ring:3", app="flood", seed=1)
            yield run
            assert False, "the fixture's teardown check"

        def test_uses_the_fixture(checked_run):
            assert checked_run.ok
        """
    )
    result = run_inner(inner)
    result.assert_outcomes(passed=1, errors=1)
    [run_dir] = run_dirs(inner)
    assert (run_dir / "report.html").is_file()
    result.stdout.fnmatch_lines(
        [f"  run directory: {run_dir}", "*= netsim run directories kept =*", f"failed: {run_dir}  (*)"]
    )
    assert leftovers(inner) == []


def test_ctrl_c_stops_the_run_cleanly_then_the_session(inner: pytest.Pytester) -> None:
    """Ctrl-C in a terminal signals the foreground process group: pytest and the run's fork server (its
    nodes have groups of their own). The run stops as on any Ctrl-C, then the session does."""
    ready = inner.path / "ready"
    inner.makepyfile(
        f"""
        import os
        from pathlib import Path

        def test_forever(netsim_run):
            Path({str(inner.path / PID_FILE)!r}).write_text(str(os.getpid()))
            netsim_run(
                "ring:4",
                app="protocol_apps:Forever",
                transport="unix",
                duration=60,
                on_ready=lambda nodes: Path({str(ready)!r}).write_text("up"),
            )
            Path("after-the-run").write_text("the test went on")
        """
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        *PLUGIN_ARGS,
        "-p",
        "no:cacheprovider",
        f"--basetemp={inner.path / 'tmp'}",
    ]
    with subprocess.Popen(
        command,
        cwd=inner.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as session:
        try:
            deadline = time.monotonic() + 60
            while not ready.exists() and session.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert ready.exists(), "the run never came up"
            time.sleep(0.2)
            os.killpg(session.pid, signal.SIGINT)
            output, _ = session.communicate(timeout=60)
        finally:
            if session.poll() is None:
                os.killpg(session.pid, signal.SIGKILL)
    assert session.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output and not (inner.path / "after-the-run").exists()
    [run_dir] = run_dirs(inner)
    assert f"interrupted: {run_dir}" in output
    summary = (run_dir / "summary.json").read_text()
    assert '"ended_by": "interrupted"' in summary and '"signal": "SIGINT"' in summary
    assert leftovers(inner) == []
    assert run_problems(run_dir) == []
