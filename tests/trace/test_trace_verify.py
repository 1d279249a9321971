"""verify_trace on a real run (every check passes) and on copies broken one way each (that check fails),
plus ``netsim trace verify`` and its exit codes."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from netsim_testing import Simulations, write_trace
from typer.testing import CliRunner

from netsim.cli.trace import app as trace_app
from netsim.errors import InputError, TraceFormatError
from netsim.topology.model import LinkSpec, NodeSpec, Topology
from netsim.trace import SCHEMA
from netsim.trace.verify import CHECK_NAMES, VerifyReport, verify_trace
from netsim.trace.verify.message_ids import MessageIds

Trace = tuple[dict[str, Any], list[dict[str, Any]]]

runner = CliRunner()


@pytest.fixture(scope="module")
def real_run(simulate_module: Simulations) -> Path:
    """A real four-node echo run over tcp: messages both ways on every link, replies, clean shutdown."""
    result = simulate_module("ring:4", app="echo", seed=1)
    assert result.summary.exit_status == "ok"
    return result.run_dir


@pytest.fixture
def real_trace(real_run: Path) -> Trace:
    lines = (real_run / "trace.jsonl").read_bytes().splitlines()
    return orjson.loads(lines[0]), [orjson.loads(line) for line in lines[1:]]


def first_index(events: list[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]) -> int:
    return next(index for index, event in enumerate(events) if predicate(event))


def is_app_message(event: dict[str, Any]) -> bool:
    return event["event"] in ("recv", "recvfrom") and event.get("msg_type") == "ping"


def failed_checks(report: VerifyReport) -> set[str]:
    return {check.name for check in report.checks if not check.passed}


def broken(tmp_path: Path, trace: Trace, edit: Callable[[list[dict[str, Any]]], None]) -> VerifyReport:
    header, events = trace
    edit(events)
    return verify_trace(write_trace(tmp_path / "broken" / "trace.jsonl", header, events))


# -- a good trace ----------------------------------------------------------------------------------------


def test_a_real_run_passes_every_check(real_run: Path) -> None:
    report = verify_trace(real_run)
    assert [check.name for check in report.checks] == list(CHECK_NAMES)
    assert report.ok, [(check.name, check.problems) for check in report.checks]
    assert report.events > 0 and report.skipped_lines == 0
    by_name = {check.name: check for check in report.checks}
    # An App's run has no socket program, so program_bytes has nothing to check (see
    # test_verify_program_bytes.py for runs that have).
    assert all(check.checked > 0 for check in report.checks if check.name != "program_bytes")
    assert by_name["exactly_once"].counts["lost_unreliable"] == 0
    assert by_name["exactly_once"].counts["messages_sent"] == by_name["receive_has_send"].checked
    data = report.to_dict()
    assert data["ok"] is True
    json.dumps(data)  # plain JSON types only


def test_a_trace_file_works_like_its_run_directory(real_run: Path) -> None:
    assert verify_trace(real_run / "trace.jsonl").to_dict() == verify_trace(real_run).to_dict()


# -- each check, broken on purpose -----------------------------------------------------------------------


def test_swapped_peername_fails_mirror(tmp_path: Path, real_trace: Trace) -> None:
    def edit(events: list[dict[str, Any]]) -> None:
        receive = events[first_index(events, is_app_message)]
        receive["peername"] = ["127.0.0.1", 1]

    report = broken(tmp_path, real_trace, edit)
    assert failed_checks(report) == {"mirror"}
    mirror = report.check("mirror")
    assert mirror.failures == 1
    assert mirror.examples[0]["peername"] == ["127.0.0.1", 1]
    assert "from 127.0.0.1:1, but was sent (line " in mirror.problems[0]


def test_an_accept_that_does_not_mirror_its_connect_fails_mirror(tmp_path: Path, real_trace: Trace) -> None:
    def edit(events: list[dict[str, Any]]) -> None:
        accept = events[first_index(events, lambda event: event["event"] == "accept")]
        accept["peername"] = ["127.0.0.1", 2]

    report = broken(tmp_path, real_trace, edit)
    assert "mirror" in failed_checks(report)
    problems = report.check("mirror").problems
    assert any("has no accept" in problem for problem in problems)
    assert any("has no connect" in problem for problem in problems)


def test_a_deleted_receive_fails_exactly_once(tmp_path: Path, real_trace: Trace) -> None:
    deleted: dict[str, Any] = {}

    def edit(events: list[dict[str, Any]]) -> None:
        deleted.update(events.pop(first_index(events, is_app_message)))

    report = broken(tmp_path, real_trace, edit)
    assert failed_checks(report) == {"exactly_once"}
    exactly_once = report.check("exactly_once")
    assert exactly_once.failures == 1
    # The example is the send that was never received, as recorded.
    assert exactly_once.examples[0]["msg_id"] == deleted["msg_id"]
    assert exactly_once.examples[0]["event"] == "send"
    assert "never received" in exactly_once.problems[0]


def test_a_duplicated_receive_fails_exactly_once(tmp_path: Path, real_trace: Trace) -> None:
    def edit(events: list[dict[str, Any]]) -> None:
        index = first_index(events, is_app_message)
        events.insert(index + 1, dict(events[index], lamport=events[index]["lamport"] + 1))

    report = broken(tmp_path, real_trace, edit)
    assert "exactly_once" in failed_checks(report)
    assert "received again" in report.check("exactly_once").problems[0]
    assert report.check("receive_has_send").passed


def test_receives_out_of_order_on_one_connection_fail_fifo(tmp_path: Path, real_trace: Trace) -> None:
    def edit(events: list[dict[str, Any]]) -> None:
        # Two successive receives on one connection (same node, socket and sender) whose sends both come
        # before the first: swap them, keeping each line's ts_ns and lamport so only the order changes.
        sent_at = {event["msg_id"]: index for index, event in enumerate(events) if event["event"] == "send"}
        last: dict[tuple[Any, ...], int] = {}
        for index, event in enumerate(events):
            if event["event"] != "recv":
                continue
            key = (event["node"], orjson.dumps(event["sockname"]), event["peer"])
            previous = last.get(key)
            last[key] = index
            if previous is not None and sent_at[event["msg_id"]] < previous:
                first, second = events[previous], event
                events[previous] = {**second, "ts_ns": first["ts_ns"], "lamport": first["lamport"]}
                events[index] = {**first, "ts_ns": second["ts_ns"], "lamport": second["lamport"]}
                return
        raise AssertionError("no connection carried two messages in flight at once")

    report = broken(tmp_path, real_trace, edit)
    assert "fifo" in failed_checks(report)
    assert "is received after message" in report.check("fifo").problems[0]
    assert report.check("exactly_once").passed
    assert report.check("receive_has_send").passed


def test_a_lowered_lamport_fails_lamport(tmp_path: Path, real_trace: Trace) -> None:
    def edit(events: list[dict[str, Any]]) -> None:
        events[first_index(events, is_app_message)]["lamport"] = 0

    report = broken(tmp_path, real_trace, edit)
    assert failed_checks(report) == {"lamport"}
    problems = report.check("lamport").problems
    assert any("received at lamport 0" in problem for problem in problems)


def test_a_receive_of_an_unknown_message_fails_receive_has_send(tmp_path: Path, real_trace: Trace) -> None:
    def edit(events: list[dict[str, Any]]) -> None:
        receive = events[first_index(events, is_app_message)]
        # Just before the receiving node stops, with clocks above all it recorded: only the id is wrong.
        index = first_index(
            events, lambda event: event["event"] == "stop" and event["node"] == receive["node"]
        )
        stray = dict(receive, msg_id="n0:999999", lamport=10_000)
        # A receive without any msg_id cannot crash the verifier either.
        no_id = {key: value for key, value in stray.items() if key != "msg_id"}
        events[index:index] = [stray, dict(no_id, lamport=10_001)]

    report = broken(tmp_path, real_trace, edit)
    assert failed_checks(report) == {"receive_has_send"}
    has_send = report.check("receive_has_send")
    assert has_send.failures == 2
    assert "n0:999999 is received but was not sent before" in has_send.problems[0]
    assert "without a msg_id" in has_send.problems[1]


def test_a_deleted_close_fails_sockets_closed(tmp_path: Path, real_trace: Trace) -> None:
    removed: dict[str, Any] = {}

    def edit(events: list[dict[str, Any]]) -> None:
        removed.update(events.pop(first_index(events, lambda event: event["event"] == "close")))

    report = broken(tmp_path, real_trace, edit)
    assert failed_checks(report) == {"sockets_closed"}
    closed = report.check("sockets_closed")
    assert closed.failures == 1
    assert closed.counts["unclosed_by_node"] == {removed["node"]: 1}
    assert "is not closed before its stop" in closed.problems[0]


def test_a_crashed_node_that_did_not_close_is_named(tmp_path: Path, real_trace: Trace) -> None:
    def edit(events: list[dict[str, Any]]) -> None:
        stop = events[first_index(events, lambda event: event["event"] == "stop")]
        stop["reason"] = "crash"
        events[:] = [
            event for event in events if not (event["event"] == "close" and event["node"] == stop["node"])
        ]

    report = broken(tmp_path, real_trace, edit)
    closed = report.check("sockets_closed")
    assert not closed.passed
    assert closed.counts["crashed_nodes"] == closed.counts["crashed_nodes_not_closed"]
    assert len(closed.counts["crashed_nodes"]) == 1


# -- hand-made traces: udp loss, netsim's own drops and duplicates ------------------------------------


HEADER: dict[str, Any] = {
    "type": "header",
    "schema": SCHEMA,
    "run_id": "hand-made",
    "topology": {"name": "pair", "nodes": ["a", "b-1"], "links": [["a", "b-1", "udp"]]},
    "start_ts_ns": 1_000,
}
A = ["127.0.0.1", 4000]
B = ["127.0.0.1", 5000]


def message(kind: str, msg_id: str, lamport: int, transport: str = "udp", **fields: Any) -> dict[str, Any]:
    sending = kind in ("send", "sendto")
    return {
        "node": "a" if sending else "b-1",
        "event": kind,
        "transport": transport,
        "sockname": A if sending else B,
        "peername": B if sending else A,
        "peer": "b-1" if sending else "a",
        "nbytes": 80,
        "msg_id": msg_id,
        "msg_type": "data",
        "lamport": lamport,
        **fields,
    }


def hand_trace(tmp_path: Path, middle: list[dict[str, Any]], *, stop: bool = True) -> Path:
    events = [{"node": "a", "event": "start"}, {"node": "b-1", "event": "start"}, *middle]
    if stop:
        events += [{"node": "a", "event": "stop", "reason": "shutdown"}]
        events += [{"node": "b-1", "event": "stop", "reason": "shutdown"}]
    timed = [{"ts_ns": 2_000 + 100 * index, **event} for index, event in enumerate(events)]
    return write_trace(tmp_path / "hand" / "trace.jsonl", HEADER, timed)


def test_udp_loss_is_counted_not_failed(tmp_path: Path) -> None:
    path = hand_trace(
        tmp_path,
        [message("sendto", "a:1", 1), message("sendto", "a:2", 2), message("recvfrom", "a:2", 3)],
    )
    report = verify_trace(path)
    assert report.ok
    assert report.check("exactly_once").counts["lost_unreliable"] == 1
    assert report.check("exactly_once").to_dict()["lost_unreliable"] == 1


def test_reliable_loss_fails_only_once_the_receiver_stopped(tmp_path: Path) -> None:
    sent = [message("sendto", "a:1", 1, transport="unix-dgram")]
    assert not verify_trace(hand_trace(tmp_path, sent)).check("exactly_once").passed
    unfinished = verify_trace(hand_trace(tmp_path, sent, stop=False)).check("exactly_once")
    assert unfinished.passed
    assert unfinished.counts["in_flight_at_end"] == 1


def test_netsim_drops_and_duplicates_are_not_failures(tmp_path: Path) -> None:
    path = hand_trace(
        tmp_path,
        [
            message("send", "a:1", 1, transport="tcp"),
            {"node": "a", "event": "drop", "msg_id": "a:1", "reason": "partition"},
            {"node": "a", "event": "drop", "msg_id": "a:2", "reason": "loss"},  # before its send
            message("send", "a:2", 2, transport="tcp"),
            message("send", "a:3", 3, transport="tcp"),
            {"node": "a", "event": "duplicate", "msg_id": "a:3"},
            message("recv", "a:3", 4, transport="tcp"),
            message("recv", "a:3", 5, transport="tcp"),
            message("send", "a:4", 4, transport="tcp"),
            message("recv", "a:4", 6, transport="tcp"),
            message("recv", "a:4", 7, transport="tcp"),
            {"node": "a", "event": "duplicate", "msg_id": "a:4"},  # recorded after the extra receive
        ],
    )
    report = verify_trace(path)
    assert report.check("exactly_once").passed, report.check("exactly_once").problems
    counts = report.check("exactly_once").counts
    assert counts["dropped_by_netsim"] == 2
    assert counts["dropped_by_reason"] == {"partition": 1, "loss": 1}
    assert counts["deliberate_duplicates"] == 2


def test_netsim_duplicates_send_a_second_copy_with_the_same_id_and_clock(tmp_path: Path) -> None:
    path = hand_trace(
        tmp_path,
        [
            {"node": "a", "event": "duplicate", "msg_id": "a:1", "transport": "tcp", "peer": "b-1"},
            message("send", "a:1", 1, transport="tcp"),
            message("send", "a:1", 1, transport="tcp"),
            message("recv", "a:1", 2, transport="tcp"),
            message("recv", "a:1", 3, transport="tcp"),
            message("send", "a:2", 2, transport="tcp"),
            message("send", "a:2", 2, transport="tcp"),  # no duplicate event: a failure
            message("recv", "a:2", 4, transport="tcp"),
        ],
    )
    report = verify_trace(path)
    assert failed_checks(report) == {"exactly_once"}
    assert report.check("exactly_once").problems == [
        "line 10: a:2 is sent again (a msg_id is unique in a run)"
    ]


def test_datagrams_may_leave_out_of_stamp_order_but_stream_messages_may_not(tmp_path: Path) -> None:
    # Link conditions reorder datagrams on purpose; a stream connection keeps its order.
    for transport, passes in (("udp", True), ("tcp", False)):
        kind = "sendto" if transport == "udp" else "send"
        received = "recvfrom" if transport == "udp" else "recv"
        path = hand_trace(
            tmp_path,
            [
                message(kind, "a:2", 2, transport=transport),
                message(kind, "a:1", 1, transport=transport),
                message(received, "a:2", 3, transport=transport),
                message(received, "a:1", 4, transport=transport),
            ],
        )
        assert verify_trace(path).check("lamport").passed is passes


def test_a_killed_node_is_not_expected_to_close_or_deliver(tmp_path: Path) -> None:
    listener = {"node": "b-1", "event": "bind", "transport": "tcp", "sockname": B, "role": "listener"}
    accept = {"node": "b-1", "event": "accept", "transport": "tcp", "sockname": B, "peername": A}
    connect = {
        "node": "a",
        "event": "connect",
        "transport": "tcp",
        "sockname": A,
        "peername": B,
        "peer": "b-1",
    }
    kill = {"node": "b-1", "event": "fault", "fault": "kill", "data": {"action": "kill"}}
    path = hand_trace(
        tmp_path,
        [
            listener,
            connect,
            accept,
            message("send", "a:1", 1, transport="tcp"),  # in b-1's socket buffer when it is killed
            kill,
            message("send", "a:2", 2, transport="tcp"),  # a has not noticed yet
            dict(connect, event="close", reason="peer closed"),
        ],
    )
    report = verify_trace(path)
    assert report.ok, [check.problems for check in report.checks]
    assert report.check("sockets_closed").counts["killed_nodes"] == ["b-1"]
    assert report.check("exactly_once").counts["lost_to_faults"] == 2


def test_a_restarted_node_numbers_its_messages_again(tmp_path: Path) -> None:
    restart = {"node": "a", "event": "fault", "fault": "restart", "data": {"action": "restart"}}
    path = hand_trace(
        tmp_path,
        [
            message("sendto", "a:1", 1, transport="unix-dgram"),
            message("recvfrom", "a:1", 2, transport="unix-dgram"),
            message("sendto", "a:2", 2, transport="unix-dgram"),  # lost with the old process
            restart,
            {"node": "a", "event": "start"},
            message("sendto", "a:1", 1, transport="unix-dgram"),
            message("recvfrom", "a:1", 3, transport="unix-dgram"),
            message("sendto", "a:2", 2, transport="unix-dgram"),
            message("recvfrom", "a:2", 4, transport="unix-dgram"),
        ],
    )
    report = verify_trace(path)
    assert report.ok, [check.problems for check in report.checks]
    assert report.check("exactly_once").counts["lost_to_faults"] == 1


@pytest.mark.timeout(60)
def test_a_real_run_with_link_conditions_passes(simulate: Simulations) -> None:
    topology = Topology(
        "pair",
        "pair",
        (NodeSpec("a", 0), NodeSpec("b", 1)),
        (LinkSpec("a", "b", "tcp", {"duplicate": 0.5, "loss": 0.2, "jitter_ms": 1, "latency_ms": 1}),),
    )
    result = simulate(topology, app="echo", seed=3)
    report = verify_trace(result.run_dir)
    assert report.ok, [(check.name, check.problems) for check in report.checks]
    counts = report.check("exactly_once").counts
    assert counts["deliberate_duplicates"] + counts["dropped_by_netsim"] > 0


def test_a_node_never_closing_its_listener(tmp_path: Path) -> None:
    listener = {"node": "a", "event": "bind", "transport": "udp", "sockname": A, "role": "listener"}
    report = verify_trace(hand_trace(tmp_path, [listener]))
    assert not report.check("sockets_closed").passed
    closed = dict(listener, event="close", reason="shutdown")
    assert verify_trace(hand_trace(tmp_path, [listener, closed])).check("sockets_closed").passed


def test_an_unclosed_socket_is_shown_with_the_record_that_opened_it(tmp_path: Path) -> None:
    # The verifier keeps an open socket's record as JSON until its close: what it shows is the record.
    odd = {"note": "nœud — 東京", "ratio": 0.1, "big": 2**63 + 5, "nested": [{"a": None}, [True]]}
    listener = {"node": "a", "event": "bind", "transport": "udp", "sockname": A, "role": "listener", **odd}
    closed = verify_trace(hand_trace(tmp_path, [listener])).check("sockets_closed")
    assert closed.examples == [{"ts_ns": 2_200, **listener}]
    assert closed.problems == [
        "line 4: a's udp listener 127.0.0.1:4000 is not closed before its stop (line 5, reason shutdown)"
    ]


def test_a_restart_forgets_the_clocks_of_its_own_connections_only(tmp_path: Path) -> None:
    restart = {"node": "a", "event": "fault", "fault": "restart", "data": {"action": "restart"}}
    b_sends = {"node": "b-1", "sockname": B, "peername": A, "peer": "a"}
    path = hand_trace(
        tmp_path,
        [
            message("send", "a:1", 5, transport="tcp"),
            dict(message("send", "b-1:1", 5, transport="tcp"), **b_sends),
            restart,
            {"node": "a", "event": "start"},
            message("send", "a:1", 1, transport="tcp"),  # a new process, its clock from the start
            dict(message("send", "b-1:2", 5, transport="tcp"), **b_sends),  # b-1's clock did not move
        ],
    )
    lamport = verify_trace(path).check("lamport")
    assert lamport.problems == ["line 9: lamport 5 is not above 5, the previous send on this connection"]


def test_examples_are_the_first_offending_events_and_capped(tmp_path: Path) -> None:
    # a:1 is never received (found at the end of the pass) but comes first in the file.
    middle = [message("sendto", "a:1", 1, transport="unix-dgram")]
    middle += [message("recvfrom", f"x:{n}", 10 + n, transport="unix-dgram") for n in range(8)]
    report = verify_trace(hand_trace(tmp_path, middle), max_examples=3)
    has_send = report.check("receive_has_send")
    assert has_send.failures == 8
    assert [example["msg_id"] for example in has_send.examples] == ["x:0", "x:1", "x:2"]
    assert report.check("exactly_once").examples[0]["msg_id"] == "a:1"


def test_a_send_never_received_is_shown_as_recorded_whether_kept_or_read_again(tmp_path: Path) -> None:
    from netsim.trace.reader import TraceReader
    from netsim.trace.verify import Verifier

    # Six reliable sends never received, behind a malformed line: the three earliest are the examples.
    middle = [message("sendto", f"a:{n}", n, transport="unix-dgram") for n in range(1, 7)]
    path = hand_trace(tmp_path, middle)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:3]) + b"not json\n" + b"".join(lines[3:]))
    sends = [orjson.loads(line) for line in lines[3:6]]
    read_again = verify_trace(path, strict=False, max_examples=3)
    with TraceReader(path, strict=False) as reader:
        kept = Verifier(3)  # no records_at: each send keeps its record
        for batch, skipped_before in reader.batches():
            kept.add_all(batch, skipped_before)
        kept_report = kept.report(str(path), reader.header, reader.skipped_count)
    assert read_again.to_dict() == kept_report.to_dict()
    exactly_once = read_again.check("exactly_once")
    assert exactly_once.failures == 6
    assert exactly_once.examples == sends
    assert [problem.split(":")[0] for problem in exactly_once.problems] == ["line 5", "line 6", "line 7"]

    def gone(lines: object) -> dict[int, Any]:
        raise FileNotFoundError(path)

    # A trace gone by the end: the examples name their message only, and verify still reports.
    with TraceReader(path, strict=False) as reader:
        without_file = Verifier(3, gone)
        for batch, skipped_before in reader.batches():
            without_file.add_all(batch, skipped_before)
    examples = without_file.report(str(path), reader.header, 1).check("exactly_once").examples
    assert examples == [{"msg_id": f"a:{n}"} for n in (1, 2, 3)]


def test_odd_records_do_not_crash_the_verifier(tmp_path: Path) -> None:
    middle = [
        {"node": "a", "event": "sendto", "transport": ["not", "a", "name"], "sockname": {"x": 1}},
        {"node": "a", "event": "send", "msg_id": 7, "lamport": True},
        {"node": "b-1", "event": "recv", "peername": [[1], [2]], "msg_id": "weird"},
        {"node": "a", "event": "connect", "transport": "tcp", "sockname": [[1]], "peername": None},
        {"node": "a", "event": "close", "transport": 5},
        {"node": "a", "event": "drop"},
        {"node": "a", "event": "something-new", "msg_id": "a:1"},
    ]
    report = verify_trace(hand_trace(tmp_path, middle))
    assert not report.ok


def test_message_id_bitmap() -> None:
    ids = MessageIds()
    assert ids.add("n-0:1") and not ids.add("n-0:1")
    assert "n-0:1" in ids and "n-0:2" not in ids and "n-1:1" not in ids
    assert ids.add("a:b:3") and "a:b:3" in ids  # node names may contain ":"
    for odd in ("plain", "n0:", "n0:x", "n0:-1", "n0:٣", f"n0:{1 << 40}"):
        assert ids.add(odd) and not ids.add(odd) and odd in ids
    assert ids.add("n0:100000") and "n0:99999" not in ids


# -- netsim trace verify ------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    return trace_app


def test_cli_passes_a_real_run(cli: typer.Typer, real_run: Path) -> None:
    result = runner.invoke(cli, ["verify", str(real_run)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the table is for people: stderr
    assert "PASS" in result.stderr and "FAIL" not in result.stderr
    for name in CHECK_NAMES:
        assert name in result.stderr


def test_cli_fails_a_broken_trace_and_shows_the_offending_events(
    cli: typer.Typer, tmp_path: Path, real_trace: Trace
) -> None:
    header, events = real_trace
    index = first_index(events, is_app_message)
    msg_id = events.pop(index)["msg_id"]
    path = write_trace(tmp_path / "b" / "trace.jsonl", header, events)
    result = runner.invoke(cli, ["verify", str(path)])
    assert result.exit_code == 1
    assert "FAIL" in result.stderr
    assert "exactly_once failed" in result.stderr
    assert msg_id in result.stderr

    as_json = runner.invoke(cli, ["verify", str(path), "--json"])
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["ok"] is False
    checks = {check["name"]: check for check in data["checks"]}
    assert checks["exactly_once"]["failures"] == 1
    assert checks["exactly_once"]["examples"][0]["msg_id"] == msg_id


def test_cli_exits_2_on_unreadable_input(cli: typer.Typer, tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["verify", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: ")
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    result = runner.invoke(cli, ["verify", str(garbage)])
    assert result.exit_code == 2
    assert "not a netsim trace" in result.stderr
    with pytest.raises(InputError):
        verify_trace(tmp_path / "nope")


def test_cli_lenient_skips_malformed_lines(cli: typer.Typer, tmp_path: Path, real_run: Path) -> None:
    lines = (real_run / "trace.jsonl").read_bytes().splitlines(keepends=True)
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join(lines[:3]) + b"{oops\n" + b"".join(lines[3:]))
    with pytest.raises(TraceFormatError):
        verify_trace(path)
    assert runner.invoke(cli, ["verify", str(path)]).exit_code == 2
    result = runner.invoke(cli, ["verify", str(path), "--lenient"])
    assert result.exit_code == 0, result.stderr
    assert "skipped 1 malformed line" in result.stderr
    report = verify_trace(path, strict=False)
    assert report.skipped_lines == 1


def test_line_numbers_count_skipped_lines(tmp_path: Path) -> None:
    path = hand_trace(tmp_path, [message("recvfrom", "x:1", 1)])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b"garbage\n" + b"".join(lines[1:]))
    problem = verify_trace(path, strict=False).check("receive_has_send").problems[0]
    assert problem.startswith("line 5: ")  # header, garbage, two starts, then the receive


def test_memory_does_not_grow_with_the_number_of_events(tmp_path: Path) -> None:
    """100,000 events of delivered messages: the pass keeps counters, not records."""
    path = tmp_path / "big.jsonl"
    with path.open("wb") as trace:
        trace.write(orjson.dumps(HEADER) + b"\n")
        for node in ("a", "b-1"):
            trace.write(orjson.dumps({"ts_ns": 1_500, "node": node, "event": "start"}) + b"\n")
        for n in range(1, 50_001):
            send = dict(message("send", f"a:{n}", 2 * n - 1, transport="tcp"), ts_ns=2_000 + 2 * n)
            receive = dict(message("recv", f"a:{n}", 2 * n, transport="tcp"), ts_ns=2_001 + 2 * n)
            trace.write(orjson.dumps(send) + b"\n" + orjson.dumps(receive) + b"\n")
    tracemalloc.start()
    try:
        report = verify_trace(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.ok and report.events == 100_002
    assert peak < 4_000_000, f"peak {peak} bytes"
