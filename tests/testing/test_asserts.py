"""netsim.testing's assertions and ``describe_run``, called directly on real runs (the plugin's tests run
them inside pytest sessions of their own)."""

from __future__ import annotations

from pathlib import Path

import pytest
from netsim_testing import A_NODE_FAILS, Simulations

import netsim
from netsim.errors import OptionError
from netsim.testing import (
    assert_every_node_received,
    assert_no_loss,
    assert_ok,
    assert_verified,
    describe_run,
)

CRASHES = f"{Path(__file__).parents[1] / 'runtime' / 'runtime_apps.py'}:CrashOnSecondMessage"


@pytest.fixture(scope="module")
def flood(simulate_module: Simulations) -> netsim.Run:
    return simulate_module("ring:4", app="flood", seed=1)


@pytest.fixture(scope="module")
def crash(simulate_module: Simulations) -> netsim.Run:
    return simulate_module("ring:4", app=CRASHES, seed=1, verify_rejects=A_NODE_FAILS)


def test_a_good_run_passes_them_all(flood: netsim.Run) -> None:
    assert_ok(flood)
    assert assert_verified(flood).ok
    assert_no_loss(flood, unreliable=True)
    received = assert_every_node_received(flood, "flood", exclude=["n0"])
    assert set(received) == {"n1", "n2", "n3"} and sum(received.values()) == 5
    assert assert_every_node_received(flood, "flood", nodes=["n2"], at_least=2) == {"n2": 2}


def test_at_least_counts(flood: netsim.Run) -> None:
    with pytest.raises(
        AssertionError, match=r"^1 of 1 nodes did not receive 3 or more 'flood' messages: n2\n"
    ):
        assert_every_node_received(flood, "flood", nodes=["n2"], at_least=3)


def test_a_crashed_run_is_described_with_its_node(crash: netsim.Run) -> None:
    text = describe_run(crash)
    assert text.startswith(f"run {crash.summary.run_id}: failed (exit code 1), ended by failure; seed 1, ")
    assert "  node 'n2' failed (exit code 1): " in text
    assert "Traceback (most recent call last):" in text and "in on_message" in text
    assert "netsim/runtime/" not in text  # the event loop's frames say nothing to the app's author
    assert text.endswith(f"  run directory: {crash.run_dir}")
    with pytest.raises(AssertionError) as caught:
        assert_ok(crash)
    assert str(caught.value) == f"the run did not end ok\n{text}"


def test_verify_failures_name_the_check_and_its_events(crash: netsim.Run) -> None:
    report = crash.verify()
    if report.ok:
        pytest.skip("the crash came before any message to n2 was left unreceived")
    with pytest.raises(AssertionError) as caught:
        assert_verified(crash)
    message = str(caught.value)
    assert message.startswith("trace verify: 1 of 6 checks failed on ")
    assert "  exactly_once: reliable transports deliver every message once" in message
    assert "    line " in message and " n2 " in message
    assert assert_verified(crash, allow=["exactly_once"]) == report


def test_allowing_a_check_that_does_not_exist_is_an_error(flood: netsim.Run) -> None:
    with pytest.raises(OptionError, match="no verify check is named 'exactly-once'"):
        assert_verified(flood, allow=["exactly-once"])
