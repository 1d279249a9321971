"""``trace verify``'s program_bytes check: a socket program's receives took bytes some node sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from netsim_testing import Simulations, write_trace

from netsim.trace.verify import verify_trace

PROGRAMS = Path(__file__).parent.parent / "runtime" / "socket_program_apps.py"

Trace = tuple[dict[str, Any], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def program_run(simulate_module: Simulations) -> Path:
    result = simulate_module("line:2", app=f"{PROGRAMS}:stream_and_datagrams", seed=1, duration=20)
    assert result.ok, result.summary
    return result.run_dir


@pytest.fixture
def program_trace(program_run: Path) -> Trace:
    lines = (program_run / "trace.jsonl").read_bytes().splitlines()
    return orjson.loads(lines[0]), [orjson.loads(line) for line in lines[1:]]


def receives(events: list[dict[str, Any]], call: str) -> list[dict[str, Any]]:
    return [event for event in events if event.get("call") == call and event.get("nbytes", 0) > 0]


def verify(tmp_path: Path, trace: Trace) -> Any:
    header, events = trace
    return verify_trace(write_trace(tmp_path / "t" / "trace.jsonl", header, events)).check("program_bytes")


def test_a_real_socket_program_run_passes(program_run: Path, program_trace: Trace) -> None:
    report = verify_trace(program_run)
    assert report.ok, [(check.name, check.problems) for check in report.checks]
    stream_receives = len(receives(program_trace[1], "recv"))
    assert report.check("program_bytes").checked == stream_receives + 5


def test_a_stream_receive_nobody_sent_fails(tmp_path: Path, program_trace: Trace) -> None:
    header, events = program_trace
    last = receives(events, "recv")[-1]
    last["offset"] += 10_000  # bytes past the end of anything sent
    result = verify(tmp_path, (header, events))
    assert not result.passed
    assert "was received but no node sent it" in result.problems[0]


def test_a_receive_before_its_send_began_fails(tmp_path: Path, program_trace: Trace) -> None:
    header, events = program_trace
    first = receives(events, "recv")[0]
    sends = [event for event in events if event.get("call") == "sendall" and event["node"] == "n1"]
    last_byte = first["offset"] + first["nbytes"] - 1
    writer = next(send for send in sends if send["offset"] <= last_byte < send["offset"] + send["nbytes"])
    writer["start_ns"] = first["ts_ns"] + 1
    result = verify(tmp_path, (header, events))
    assert not result.passed
    assert "before the send that wrote it had begun" in result.problems[0]


def test_a_datagram_nobody_sent_fails_and_a_duplicated_one_passes(
    tmp_path: Path, program_trace: Trace
) -> None:
    header, events = program_trace
    datagram = receives(events, "recvfrom")[0]
    events.append({**datagram, "ts_ns": events[-1]["ts_ns"] + 1})  # received twice, sent once
    result = verify(tmp_path, (header, events))
    assert not result.passed and "datagram" in result.problems[0]
    events.insert(
        len(events) - 1,
        {
            "ts_ns": events[-1]["ts_ns"],
            "node": datagram["peer"],
            "event": "duplicate",
            "digest": datagram["digest"],
            "sockname": datagram["peername"],
            "peername": datagram["sockname"],
        },
    )
    assert verify(tmp_path / "again", (header, events)).passed


def test_a_receive_written_before_its_send_in_the_trace_passes(tmp_path: Path, program_trace: Trace) -> None:
    """Records are written when calls return: the receiver's may precede the sender's."""
    header, events = program_trace
    first = receives(events, "recv")[0]
    sends = [event for event in events if event.get("call") == "sendall" and event["node"] == "n1"]
    events.remove(sends[0])
    events.insert(events.index(first) + 1, sends[0])
    assert verify(tmp_path, (header, events)).passed


def test_bytes_from_a_socket_the_trace_never_shows_are_not_judged(
    tmp_path: Path, program_trace: Trace
) -> None:
    """A node's untraced socket (socket.socket(), a library's server) sends what a traced one receives:
    nothing in the trace can explain those bytes, and nothing says they are wrong."""
    header, events = program_trace
    first = receives(events, "recv")[0]
    sender_end = (first["peername"], first["sockname"])
    without_sends = [
        event
        for event in events
        if not (
            event.get("call", "").startswith("send")
            and (event.get("sockname"), event.get("peername")) == sender_end
        )
    ]
    result = verify(tmp_path / "sends", (header, without_sends))
    assert not result.passed, "the sender's socket is in the trace: its missing sends are a failure"
    untraced = [event for event in events if (event.get("sockname"), event.get("peername")) != sender_end]
    assert verify(tmp_path / "socket", (header, untraced)).passed
