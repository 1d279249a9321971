"""Link conditions and faults act on socket programs' own sockets (netsim.runtime.program_links): a
link's latency delays what crosses it, its loss drops datagrams, a partition refuses connects and holds
stream bytes until the heal. Each decision is in the trace."""

from __future__ import annotations

import pytest
from socket_programs import DATAGRAMS, HEAL_AT_S, PARTITION_AT_S
from socket_testing import CLIENT_SERVER, RunCalls, example, program, require

from netsim.trace.byte_ranges import BytePair, Unreceived, pair_calls

LATENCY_NS = 50_000_000


def test_latency_delays_each_send_by_at_least_the_link_latency(simulate):
    result = simulate("line:2", app=program("one_way"), seed=1, quiet=0.3, conditions={"latency": "50ms"})
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["line"] == [b"over a slow link\n"]
    # A connect over the link takes its round trip.
    (connect,) = run.of("n0", "connect")
    assert connect["ts_ns"] - connect["start_ns"] >= 2 * LATENCY_NS
    (sent,) = run.of("n0", "sendall")
    (delay,) = [event for event in run.kinds("delay", "n0") if event["sock"] == sent["sock"]]
    assert delay["peer"] == "n1" and delay["nbytes"] == sent["nbytes"] == 17
    assert delay["delay_ns"] >= LATENCY_NS * 0.9
    (received,) = [call for call in run.of("n1", "recv") if call["nbytes"]]
    assert received["ts_ns"] - sent["start_ns"] >= LATENCY_NS, "one way takes the link's latency"
    assert received["offset"] == sent["offset"] == 0


def test_loss_drops_datagrams_each_with_a_drop_event(simulate):
    result = simulate(
        "line:2", app=program("datagrams"), seed=3, quiet=0.3, transport="udp", conditions={"loss": 0.3}
    )
    assert result.summary.exit_status == "ok", result.summary
    run = RunCalls(result.run_dir)
    sent = run.of("n0", "sendto")
    assert len(sent) == DATAGRAMS
    drops = run.kinds("drop", "n0")
    assert drops and all(event["reason"] == "loss" and event["peer"] == "n1" for event in drops)
    (got,) = run.shown("n1")["got"]
    received = [call for call in run.of("n1", "recvfrom") if "errno" not in call]
    assert len(got) == len(received) == DATAGRAMS - len(drops) > 0
    assert [call["preview"] for call in received] == got
    by_digest = {call["digest"]: call["preview"] for call in sent}
    assert len(by_digest) == DATAGRAMS
    dropped = {by_digest[event["digest"]] for event in drops}
    assert dropped.isdisjoint(got) and dropped | set(got) == set(by_digest.values())
    # byte_ranges pairs each datagram received with its send, and names the others dropped.
    outcomes = list(pair_calls(run.events))
    pairs = [o for o in outcomes if isinstance(o, BytePair)]
    assert sorted(pair.receive["preview"] for pair in pairs) == sorted(got)
    assert all(pair.datagram and pair.send["digest"] == pair.receive["digest"] for pair in pairs)
    unreceived = [o for o in outcomes if isinstance(o, Unreceived)]
    assert {o.send["preview"] for o in unreceived} == dropped
    assert {o.fate for o in unreceived} == {"dropped"} and len(unreceived) == len(drops)


def test_a_full_queue_drops_datagrams_until_the_link_sends_what_waits(simulate):
    # 40 datagrams sent at once onto a link that holds 5 for 50 ms: the queue takes the first 5.
    result = simulate(
        "line:2",
        app=program("datagrams"),
        seed=1,
        quiet=0.3,
        transport="udp",
        conditions={"latency": "50ms", "queue": 5},
    )
    assert result.summary.exit_status == "ok", result.summary
    run = RunCalls(result.run_dir)
    drops = run.kinds("drop", "n0")
    assert {event["reason"] for event in drops} == {"queue"}
    (got,) = run.shown("n1")["got"]
    assert len(got) + len(drops) == DATAGRAMS
    # The program sends faster than 50 ms, so the queue held no more than 5 at a time.
    assert 5 <= len(got) < 10, got
    assert got[:5] == [f"datagram {number}" for number in range(5)]


def test_loss_on_a_stream_loses_nothing(simulate):
    result = simulate("line:2", app=program("one_way"), seed=1, quiet=0.3, conditions={"loss": 0.99})
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["line"] == [b"over a slow link\n"]
    (delay,) = run.kinds("delay", "n0")
    assert delay["reason"] == "loss" and delay["delay_ns"] >= 200_000_000, "a retransmission timeout"


def test_a_partition_refuses_connects_and_holds_stream_bytes_until_the_heal(simulate):
    result = simulate(
        "line:2",
        app=program("across_partition"),
        seed=1,
        quiet=0.3,
        faults=[f"{PARTITION_AT_S}s partition n0 | n1", f"{HEAL_AT_S}s heal"],
    )
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    start_ns = run.header["start_ts_ns"]
    assert run.shown("n1")["unreachable"] == [101]  # ENETUNREACH
    (refused,) = [call for call in run.of("n1", "connect") if "errno" in call]
    assert refused["errno"] == "ENETUNREACH" and refused["peer"] == "n0"
    heal = next(event for event in run.kinds("fault") if event["fault"] == "heal")
    (sent,) = run.of("n1", "sendall")
    assert run.shown("n1")["sent_at"][0] < HEAL_AT_S, "the send returned at once, as into a buffer"
    (delay,) = [event for event in run.kinds("delay", "n1") if event["sock"] == sent["sock"]]
    assert delay["reason"] == "partition"
    (received,) = [call for call in run.of("n0", "recv") if call["nbytes"]]
    assert received["preview"] == "sent during the partition"
    assert received["ts_ns"] >= heal["ts_ns"] > sent["ts_ns"] > start_ns


@pytest.mark.parametrize(
    "transport",
    [
        "tcp",
        "unix",
        "tcp6",
    ],
)
def test_latency_delays_both_directions_of_a_connection(simulate, transport):
    require(transport)
    entry = {"tcp": "main", "unix": "main_unix", "tcp6": "main_tcp6"}[transport]
    result = simulate(
        CLIENT_SERVER,
        app=example("tutorial_tcp.py", entry),
        seed=1,
        quiet=0.3,
        conditions={"latency": "50ms"},
    )
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    delays = run.kinds("delay")
    for client in ("client1", "client2"):
        (question,) = run.of(client, "sendall")
        (answer,) = [call for call in run.of("server", "sendall") if call["preview"] == question["preview"]]
        echo = next(call for call in run.of(client, "recv") if call["nbytes"])
        assert echo["ts_ns"] - question["start_ns"] >= 2 * LATENCY_NS, "there and back"
        assert [d for d in delays if d["node"] == client and d["sock"] == question["sock"]]
        assert [d for d in delays if d["node"] == "server" and d["sock"] == answer["sock"]]
        assert echo["ts_ns"] - answer["start_ns"] >= LATENCY_NS
