"""netsim.testing's assertions and ``describe_run``, called directly: on real runs, and on a hand-made
trace in which a message sent over tcp is never received (the plugin's tests run them inside pytest
sessions of their own)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from netsim_testing import A_NODE_FAILS, Simulations, trace_header, write_run

import netsim
import netsim.testing
from netsim.errors import OptionError
from netsim.runs.summary import RunSummary, TopologyRef
from netsim.testing import (
    assert_every_node_received,
    assert_no_loss,
    assert_ok,
    assert_verified,
    describe_run,
)
from netsim.trace.verify import CHECK_NAMES

CRASHES = f"{Path(__file__).parents[1] / 'runtime' / 'runtime_apps.py'}:CrashOnSecondMessage"
PROGRAMS = Path(__file__).parents[1] / "runtime" / "socket_program_apps.py"


@pytest.fixture(scope="module")
def flood(simulate_module: Simulations) -> netsim.Run:
    return simulate_module("line:4", app="flood", seed=1)


@pytest.fixture
def lossy(tmp_path: Path) -> netsim.Run:
    """a sends b two messages over tcp; b receives the first only."""
    a, b, tcp = ["127.0.0.1", 4000], ["127.0.0.1", 5000], {"transport": "tcp"}
    a_to_b: dict[str, Any] = {**tcp, "sockname": a, "peername": b, "peer": "b"}
    b_from_a: dict[str, Any] = {**tcp, "sockname": b, "peername": a, "peer": "a"}
    message = {"nbytes": 80, "msg_type": "value"}
    rows = [
        {"node": "a", "event": "start"},
        {"node": "b", "event": "start"},
        {"node": "a", "event": "connect", **a_to_b},
        {"node": "b", "event": "accept", **b_from_a},
        {"node": "a", "event": "send", **a_to_b, **message, "msg_id": "a:1", "lamport": 1},
        {"node": "a", "event": "send", **a_to_b, **message, "msg_id": "a:2", "lamport": 2},
        {"node": "b", "event": "recv", **b_from_a, **message, "msg_id": "a:1", "lamport": 2},
        {"node": "a", "event": "close", **a_to_b, "reason": "shutdown"},
        {"node": "b", "event": "close", **b_from_a, "reason": "shutdown"},
        {"node": "a", "event": "stop", "reason": "shutdown"},
        {"node": "b", "event": "stop", "reason": "shutdown"},
    ]
    events = [{"ts_ns": 1_000_000_000 + 100 * (index + 1), **row} for index, row in enumerate(rows)]
    run_dir = write_run(tmp_path / "hand-made", trace_header(["a", "b"], [["a", "b", "tcp"]]), events)
    summary = RunSummary(
        run_id="hand-made",
        run_dir=str(run_dir),
        trace=str(run_dir / "trace.jsonl"),
        topology=TopologyRef(name="hand", source="hand"),
        app="flood",
        transport="tcp",
        seed=1,
        nodes=2,
        links=1,
        messages_sent=2,
        messages_received=1,
        bytes_sent=160,
        bytes_received=80,
        errors=0,
        events=len(events),
        exit_status="ok",
        ended_by="done",
        node_failures=[],
        faults=[],
        started_at=None,
        netsim_version=netsim.__version__,
        warnings=[],
    )
    return netsim.Run(run_dir=run_dir, summary=summary)


@pytest.fixture(scope="module")
def crash(simulate_module: Simulations) -> netsim.Run:
    return simulate_module("ring:4", app=CRASHES, seed=1, verify_rejects=A_NODE_FAILS)


def test_a_good_run_passes_them_all(flood: netsim.Run) -> None:
    assert_ok(flood)
    assert assert_verified(flood).ok
    assert_no_loss(flood, unreliable=True)
    assert assert_every_node_received(flood, "flood", exclude=["n0"]) == {"n1": 1, "n2": 1, "n3": 1}
    assert assert_every_node_received(flood, "flood", nodes=["n2"]) == {"n2": 1}


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


def test_verify_failures_name_the_check_and_its_events(lossy: netsim.Run) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_verified(lossy)
    lines = str(caught.value).splitlines()
    assert lines[:4] == [
        f"trace verify: 1 of {len(CHECK_NAMES)} checks failed on 11 events",
        "  exactly_once: reliable transports deliver every message once; nothing arrives twice; "
        "1 failure(s), the first:",
        "    line 7: a:2 is sent on a reliable transport and never received (the receiver b stopped)",
        "      0.000001s  a  send      tcp             127.0.0.1:4000 -> 127.0.0.1:5000  [b]  80B  "
        "a:2 value  L=2",
    ]
    assert lines[4] == "run hand-made: ok, ended by done; seed 1, 2 nodes, 2 messages sent, 1 received"
    assert not assert_verified(lossy, allow=["exactly_once"]).ok


def test_loss_is_told_by_link_direction(lossy: netsim.Run) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_no_loss(lossy)
    assert str(caught.value).splitlines()[:3] == [
        "1 message(s) lost on reliable links:",
        "  a -> b (tcp): 2 sent, 1 received, 1 lost",
        "  see them: run.events(link=('a', 'b'))",
    ]


def test_a_socket_programs_unreceived_bytes_and_datagrams_are_loss(simulate: Simulations) -> None:
    run = simulate("line:2", app=f"{PROGRAMS}:reads_part_of_what_it_gets", seed=1, duration=20)
    assert_ok(run)
    with pytest.raises(AssertionError) as caught:
        assert_no_loss(run)  # udp is not judged: only the stream's 700 bytes
    assert str(caught.value).splitlines()[:3] == [
        "socket programs' sends not received on reliable links:",
        "  n1 -> n0 (tcp): 700 bytes never received",
        "  see them: run.events(link=('n1', 'n0'))",
    ]
    with pytest.raises(AssertionError) as caught:
        assert_no_loss(run, unreliable=True)
    assert str(caught.value).splitlines()[1:3] == [
        "  n1 -> n0 (tcp): 700 bytes never received",
        "  n1 -> n0 (udp): 3 datagram(s), 30 bytes never received",
    ]
    # A socket program's run is described by the bytes it moved: it has no messages.
    assert describe_run(run).splitlines()[0].endswith(", 2 nodes, 1050 bytes sent, 320 received")


def test_a_socket_program_that_reads_everything_loses_nothing(simulate: Simulations) -> None:
    run = simulate("line:2", app=f"{PROGRAMS}:stream_and_datagrams", seed=1, duration=20)
    assert_ok(run)
    assert_no_loss(run, unreliable=True)


def test_a_run_where_every_node_fails_is_told_in_a_screenful(simulate: Simulations) -> None:
    run = simulate(
        "ring:5", app=f"{PROGRAMS}:every_node_gives_up", seed=1, duration=20, verify_rejects=A_NODE_FAILS
    )
    text = describe_run(run)
    assert [line.split(":")[0] for line in text.splitlines() if line.startswith("  node ")] == [
        "  node 'n0' failed (exit code 1)",
        "  node 'n1' failed (exit code 1)",
        "  node 'n2' failed (exit code 1)",
    ]
    assert "  and 2 more failed: n3, n4 (run.summary.node_failures lists all)" in text
    # The log's 5,000-character line is cut, and says by how much.
    assert max(len(line) for line in text.splitlines()) < 700
    assert "more characters]" in text


def test_allowing_a_check_that_does_not_exist_is_an_error(flood: netsim.Run) -> None:
    with pytest.raises(OptionError, match="no verify check is named 'exactly-once'"):
        assert_verified(flood, allow=["exactly-once"])


def test_netsim_testing_names_resolve_and_are_documented() -> None:
    assert netsim.testing.__all__ == sorted(netsim.testing._HOMES)
    for name in netsim.testing.__all__:
        assert inspect.getdoc(getattr(netsim.testing, name)), f"netsim.testing.{name} has no docstring"
