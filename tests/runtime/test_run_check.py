"""``netsim.run(check=True)``: a run that did not end ok raises the error of the tree that says why,
after its run directory is finished; without ``check`` the same run is reported in its result."""

from __future__ import annotations

from pathlib import Path

import pytest
from netsim_testing import A_NODE_FAILS

import netsim
from netsim.runs.summary import read_summary

APPS = Path(__file__).with_name("runtime_apps.py")
CRASHES = f"{APPS}:CrashOnSecondMessage"


@pytest.mark.timeout(60)
def test_a_crashed_node_raises_node_crashed_naming_it(simulate):
    with pytest.raises(netsim.NodeCrashed) as caught:
        simulate("ring:4", app=CRASHES, seed=1, check=True, verify_rejects=A_NODE_FAILS)
    error = caught.value
    assert isinstance(error, netsim.RunError) and not isinstance(error, netsim.StartupError)
    assert error.node == "n2" and str(error).startswith("node 'n2' failed")
    assert "Traceback" in error.traceback_text
    result = error.result
    assert result.exit_code == 1 and not result.ok
    # The directory is finished before the error is raised.
    assert read_summary(result.run_dir) == result.summary
    assert (result.run_dir / "trace.jsonl").is_file()
    assert [failure.name for failure in result.summary.node_failures][0] == error.node


@pytest.mark.timeout(60)
def test_a_node_that_fails_before_the_start_raises_a_startup_error_naming_it(simulate):
    with pytest.raises(netsim.StartupError) as caught:
        simulate("line:2", app=f"{APPS}:FailsToConstruct", seed=1, check=True, verify_rejects=A_NODE_FAILS)
    error = caught.value
    # Both: the nodes did not come up, and the error names the node with its traceback.
    assert isinstance(error, netsim.NodeFailedToStart) and isinstance(error, netsim.NodeCrashed)
    assert error.node == "n0"
    assert str(error) == "node 'n0' failed during start-up (exit code 1): RuntimeError: no configuration"
    assert "in __init__" in error.traceback_text
    assert error.result.summary.ended_by == "failure"


@pytest.mark.timeout(60)
def test_without_check_the_same_run_is_a_failed_result(simulate):
    result = simulate("ring:4", app=CRASHES, seed=1, verify_rejects=A_NODE_FAILS)
    assert result.summary.exit_status == "failed" and result.exit_code == 1


@pytest.mark.timeout(60)
def test_a_run_that_ends_ok_returns_its_result(simulate):
    result = simulate("ring:4", app="flood", seed=1, check=True)
    assert result.ok and result.summary.ended_by == "done"
    assert result.summary.to_dict() == read_summary(result.run_dir).to_dict()
