"""filter_events, parse_link, format_event and follow_message, on a real run and on hand-made traces,
and the ``netsim trace events`` / ``netsim trace follow`` commands over them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from netsim_testing import Simulations, write_run, write_trace
from typer.testing import CliRunner

from netsim.cli.trace import app as trace_app
from netsim.errors import InputError, OptionError
from netsim.trace import SCHEMA, iter_events, read_header
from netsim.trace import events as events_module
from netsim.trace.events import check_nodes, filter_events, format_event, parse_link
from netsim.trace.follow import follow_message, format_duration, message_timeline
from netsim.trace.records import format_address
from netsim.trace.schema import header_node_names, header_start_ts_ns

runner = CliRunner()
START = 1_000_000_000


@pytest.fixture(scope="module")
def real_run(simulate_module: Simulations) -> Path:
    result = simulate_module("ring:4", app="echo", seed=1)
    assert result.summary.exit_status == "ok"
    return result.run_dir


HEADER: dict[str, Any] = {
    "type": "header",
    "schema": SCHEMA,
    "run_id": "hand-made",
    "topology": {
        "name": "hand",
        "nodes": ["a", "b-1", "b", "1-c"],
        "links": [["a", "b-1", "udp6"], ["b", "1-c", "unix"]],
    },
    "start_ts_ns": START,
}
A6 = ["::1", 4000, 0, 0]
B6 = ["::1", 5000, 0, 0]


def hand_run(tmp_path: Path) -> Path:
    """a and b-1 over udp6 (a:2 lost, a:3 dropped by netsim, a:4 never received, b-1 not stopped),
    b and 1-c over unix (a connect, an accept that names no peer, one message)."""
    rows: list[dict[str, Any]] = [
        {"node": "a", "event": "start"},
        {"node": "b", "event": "connect", "transport": "unix", "sockname": "", "peername": "/s/c"},
        {"node": "1-c", "event": "accept", "transport": "unix", "sockname": "/s/c", "peername": ""},
        {"node": "b", "event": "connect", "transport": "unix", "sockname": "/s/b", "peername": "/s/c",
         "peer": "1-c"},
        {"node": "1-c", "event": "accept", "transport": "unix", "sockname": "/s/c", "peername": "/s/b"},
        {"node": "a", "event": "sendto", "transport": "udp6", "sockname": A6, "peername": B6, "peer": "b-1",
         "nbytes": 80, "msg_id": "a:1", "msg_type": "ping", "lamport": 1},
        {"node": "b-1", "event": "recvfrom", "transport": "udp6", "sockname": B6, "peername": A6, "peer": "a",
         "nbytes": 80, "msg_id": "a:1", "msg_type": "ping", "lamport": 2},
        {"node": "b-1", "event": "sendto", "transport": "udp6", "sockname": B6, "peername": A6, "peer": "a",
         "nbytes": 90, "msg_id": "b-1:1", "msg_type": "pong", "in_reply_to": "a:1", "lamport": 3},
        {"node": "b-1", "event": "sendto", "transport": "udp6", "sockname": B6, "peername": A6, "peer": "a",
         "nbytes": 80, "msg_id": "b-1:2", "msg_type": "ping", "lamport": 4},
        {"node": "a", "event": "recvfrom", "transport": "udp6", "sockname": A6, "peername": B6, "peer": "b-1",
         "nbytes": 90, "msg_id": "b-1:1", "msg_type": "pong", "in_reply_to": "a:1", "lamport": 4},
        {"node": "a", "event": "sendto", "transport": "udp6", "sockname": A6, "peername": B6, "peer": "b-1",
         "nbytes": 80, "msg_id": "a:2", "msg_type": "ping", "lamport": 5},
        {"node": "a", "event": "sendto", "transport": "udp6", "sockname": A6, "peername": B6, "peer": "b-1",
         "nbytes": 80, "msg_id": "a:3", "msg_type": "ping", "lamport": 6},
        {"node": "a", "event": "drop", "msg_id": "a:3", "reason": "loss"},
        {"node": "a", "event": "error", "error": "cannot resend a:2: link down"},
        {"node": "a", "event": "error", "error": "cannot resend a:22: link down"},
        {"node": "b", "event": "send", "transport": "unix", "sockname": "/s/b", "peername": "/s/c",
         "peer": "1-c", "nbytes": 70, "msg_id": "b:1", "msg_type": "hi", "lamport": 1},
        {"node": "1-c", "event": "recv", "transport": "unix", "sockname": "/s/c", "peername": "/s/b",
         "peer": "b", "nbytes": 70, "msg_id": "b:1", "msg_type": "hi", "lamport": 2},
        {"node": "a", "event": "sendto", "transport": "udp6", "sockname": A6, "peername": B6, "peer": "b-1",
         "nbytes": 80, "msg_id": "a:4", "msg_type": "ping", "lamport": 7},
        {"node": "a", "event": "app", "data": {"rtt_ns": 1234}},
        {"node": "a", "event": "stop", "reason": "shutdown"},
    ]  # fmt: skip
    events = [{"ts_ns": START + 1_000_000 * (index + 1), **row} for index, row in enumerate(rows)]
    return write_run(tmp_path / "hand", HEADER, events)


def ids(events: Iterator[dict[str, Any]]) -> list[Any]:
    return [event.get("msg_id", event["event"]) for event in events]


# -- parse_link ------------------------------------------------------------------------------------------


def test_parse_link_with_dashes_in_names() -> None:
    names = ["a", "b-1", "b", "1-c"]
    assert parse_link("a-b-1", names) == ("a", "b-1")
    with pytest.raises(OptionError, match="ambiguous"):
        parse_link("b-1-c", [*names, "c"])  # "b" + "1-c" or "b-1" + "c"
    assert parse_link("b-1-c", names) == ("b", "1-c")
    with pytest.raises(OptionError, match=r"known nodes: a, b-1, b, 1-c"):
        parse_link("a-zed", names)
    with pytest.raises(OptionError, match="two different nodes"):
        parse_link("a-a", names)
    with pytest.raises(OptionError):
        parse_link("ab", names)


def test_check_nodes_names_the_known_ones() -> None:
    names = ["a", "b-1", "b"]
    check_nodes({"a", "b-1"}, names)
    check_nodes({"zed"}, [])  # a header without names checks nothing
    with pytest.raises(OptionError, match=r"no node named 'x', 'zed' in this run \(known nodes: a, b-1, b\)"):
        check_nodes({"zed", "a", "x"}, names)


def test_header_names_and_start() -> None:
    header = {"topology": {"nodes": ["a", 7, "b", "a"]}, "start_ts_ns": 5}
    assert (header_node_names(header), header_start_ts_ns(header)) == (["a", "b"], 5)
    for start in (None, True, 1.5, "5"):
        assert header_start_ts_ns({"start_ts_ns": start}) is None
    assert (header_node_names({"topology": "x"}), header_start_ts_ns({})) == ([], None)


# -- filter_events ---------------------------------------------------------------------------------------


def test_filters(tmp_path: Path) -> None:
    run_dir = hand_run(tmp_path)
    assert len(list(filter_events(run_dir))) == 20
    assert ids(filter_events(run_dir, nodes={"b-1"})) == ["a:1", "b-1:1", "b-1:2"]
    assert ids(filter_events(run_dir, events={"recv", "recvfrom"})) == ["a:1", "b-1:1", "b:1"]
    assert ids(filter_events(run_dir, types={"pong"})) == ["b-1:1", "b-1:1"]
    assert ids(filter_events(run_dir, nodes={"a"}, events={"sendto"}, limit=2)) == ["a:1", "a:2"]
    assert list(filter_events(run_dir, limit=0)) == []


def test_time_window_is_seconds_into_the_run(tmp_path: Path) -> None:
    run_dir = hand_run(tmp_path)
    # Event k (from 1) is k ms into the run; both ends are inclusive.
    window = list(filter_events(run_dir, since=0.006, until=0.008))
    assert [event["ts_ns"] - START for event in window] == [6_000_000, 7_000_000, 8_000_000]
    assert len(list(filter_events(run_dir, since=0.0195))) == 1


def test_link_filter_takes_both_directions_and_peerless_accepts(tmp_path: Path) -> None:
    run_dir = hand_run(tmp_path)
    on_link = list(filter_events(run_dir, link=("1-c", "b")))
    # 1-c's accepts name no peer: the one b's connect mirrors (and names) is on the link; the other, whose
    # connect named no peer either, cannot be tied to b and is left out.
    assert [(event["node"], event["event"]) for event in on_link] == [
        ("b", "connect"),
        ("1-c", "accept"),
        ("b", "send"),
        ("1-c", "recv"),
    ]
    assert ids(filter_events(run_dir, link=("a", "b-1"), events={"recvfrom"})) == ["a:1", "b-1:1"]


def test_bad_input_is_reported_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        filter_events(tmp_path / "nope")  # not at the first next()
    with pytest.raises(OptionError):
        filter_events(tmp_path, limit=-1)
    with pytest.raises(OptionError):
        filter_events(tmp_path, since=2.0, until=1.0)


def test_filters_on_a_real_run(real_run: Path) -> None:
    header = read_header(real_run)
    everything = list(iter_events(real_run))
    n1 = list(filter_events(real_run, nodes={"n1"}))
    assert n1 == [event for event in everything if event["node"] == "n1"]
    link = list(filter_events(real_run, link=parse_link("n0-n1", header["topology"]["nodes"])))
    assert {event["node"] for event in link} == {"n0", "n1"}
    assert {event["event"] for event in link} >= {"connect", "accept", "send", "recv", "close"}
    messages = [event for event in link if "msg_id" in event]
    assert all({event["node"], event["peer"]} == {"n0", "n1"} for event in messages)


# -- format_event ----------------------------------------------------------------------------------------


def test_format_event_lines(tmp_path: Path) -> None:
    events = list(filter_events(hand_run(tmp_path)))
    send, receive = events[5], events[6]
    line = format_event(receive, START, node_width=4)
    assert line.startswith("    0.007000s  b-1   recvfrom  udp6")
    assert "[::1]:5000 <- [::1]:4000  [a]  80B  a:1 ping  L=2" in line
    assert "[::1]:4000 -> [::1]:5000  [b-1]" in format_event(send, START)
    reply = format_event(events[7], START)
    assert "b-1:1 pong  re a:1  L=3" in reply
    assert '"" -> /s/c' in format_event(events[1], START)
    assert format_event(events[0], START) == "    0.001000s  a  start"
    assert 'data={"rtt_ns":1234}' in format_event(events[18], START)
    assert "reason=loss" in format_event(events[12], START)
    assert all(line == line.rstrip() for line in map(lambda e: format_event(e, START), events))


def test_format_address_and_duration() -> None:
    assert format_address(["127.0.0.1", 80]) == "127.0.0.1:80"
    assert format_address(["::1", 80, 0, 0]) == "[::1]:80"
    assert format_address("/tmp/x.sock") == "/tmp/x.sock"
    assert format_address("") == '""'
    assert format_duration(850) == "850 ns"
    assert format_duration(67_000) == "67 µs"
    assert format_duration(1_234_000) == "1.234 ms"
    assert format_duration(2_500_000_000) == "2.500 s"


# -- follow_message --------------------------------------------------------------------------------------


def test_follow_a_delivered_message_with_its_reply(tmp_path: Path) -> None:
    life = follow_message(hand_run(tmp_path), "a:1")
    assert (life.sender, life.destination, life.msg_type, life.transport) == ("a", "b-1", "ping", "udp6")
    assert life.fate == "delivered"
    assert life.latency_ns == 1_000_000
    assert [reply.msg_id for reply in life.replies] == ["b-1:1"]
    assert len(life.replies[0].sends) == len(life.replies[0].receives) == 1
    # b-1 sent another ping 2 ms after receiving: outside the 1 ms "forwarded" window.
    assert life.possibly_forwarded == []
    timeline = message_timeline(life)
    assert timeline[0] == "0.006000s  a sent ping a:1 to b-1 over udp6 [::1]:4000 -> [::1]:5000 (80 B)"
    assert timeline[1] == "0.007000s  b-1 received it (1.000 ms later)"
    assert timeline[2].startswith("0.008000s  b-1 replied pong b-1:1 to a (1.000 ms after receiving it)")
    assert timeline[3] == "0.010000s  a received the reply b-1:1 (2.000 ms later)"
    assert timeline[-1] == "fate: delivered, latency 1.000 ms"
    data = life.to_dict()
    assert data["fate"] == "delivered" and data["replies"][0]["msg_id"] == "b-1:1"
    json.dumps(data)


def test_fates(tmp_path: Path) -> None:
    run_dir = hand_run(tmp_path)
    lost = follow_message(run_dir, "b-1:2")  # a stopped without receiving it
    assert lost.fate == "lost"
    assert message_timeline(lost)[-1] == "fate: lost (udp6 does not retransmit)"
    dropped = follow_message(run_dir, "a:3")
    assert dropped.fate == "dropped"
    assert any("netsim dropped it at a (loss)" in line for line in message_timeline(dropped))
    in_flight = follow_message(run_dir, "a:4")  # b-1 never stopped
    assert in_flight.fate == "in flight at end"
    mentioned = follow_message(run_dir, "a:2")
    assert [incident["error"] for incident in mentioned.incidents] == ["cannot resend a:2: link down"]


def test_follow_an_unknown_message(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no event names message 'zz:1'"):
        follow_message(hand_run(tmp_path), "zz:1")


def test_follow_on_a_real_run_finds_forwards_and_replies(real_run: Path) -> None:
    pings = [
        event for event in iter_events(real_run) if event["event"] == "send" and event["msg_type"] == "ping"
    ]
    life = follow_message(real_run, pings[0]["msg_id"])
    assert life.fate == "delivered"
    assert life.sends == [pings[0]]
    assert len(life.receives) == 1
    assert all(reply.msg_type == "pong" for reply in life.replies) and life.replies


# -- the commands ----------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    return trace_app


def test_events_command(cli: typer.Typer, tmp_path: Path) -> None:
    run_dir = str(hand_run(tmp_path))
    result = runner.invoke(cli, ["events", run_dir, "--node", "a,b-1", "--node", "b", "--event", "recvfrom"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "a:1 ping" in lines[0] and "b-1:1 pong" in lines[1]
    assert result.stderr == ""

    as_json = runner.invoke(cli, ["events", run_dir, "--link", "b-1-c", "--json", "--limit", "3"])
    assert as_json.exit_code == 0, as_json.output
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [record["event"] for record in records] == ["connect", "accept", "send"]

    window = runner.invoke(
        cli, ["events", run_dir, "--since", "0.0065", "--until", "0.0075", "--type", "ping"]
    )
    assert window.stdout.count("\n") == 1 and "b-1  recvfrom" in window.stdout


def test_events_command_errors(cli: typer.Typer, tmp_path: Path) -> None:
    run_dir = str(hand_run(tmp_path))
    unknown = runner.invoke(cli, ["events", run_dir, "--node", "zed"])
    assert unknown.exit_code == 2
    assert "no node named 'zed'" in unknown.stderr and "known nodes: a, b-1, b, 1-c" in unknown.stderr
    assert runner.invoke(cli, ["events", run_dir, "--link", "a-zed"]).exit_code == 2
    assert runner.invoke(cli, ["events", str(tmp_path / "nope")]).exit_code == 2
    odd = runner.invoke(cli, ["events", run_dir, "--event", "sent"])
    assert odd.exit_code == 0 and odd.stdout == ""
    assert "'sent' is not an event kind" in odd.stderr


def test_follow_command(cli: typer.Typer, tmp_path: Path) -> None:
    run_dir = str(hand_run(tmp_path))
    result = runner.invoke(cli, ["follow", run_dir, "a:1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "0.007000s  b-1 received it (1.000 ms later)"
    as_json = runner.invoke(cli, ["follow", run_dir, "a:1", "--json"])
    assert json.loads(as_json.stdout)["fate"] == "delivered"
    missing = runner.invoke(cli, ["follow", run_dir, "zz:1"])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: ") and "zz:1" in missing.stderr


def test_follow_a_message_netsim_held_back_then_dropped_unsent(tmp_path: Path) -> None:
    shaped = {
        "transport": "tcp",
        "peer": "b-1",
        "nbytes": 80,
        "msg_id": "a:7",
        "msg_type": "ping",
        "lamport": 3,
    }
    rows = [
        {"ts_ns": START + 1_000, "node": "a", "event": "delay", "delay_ns": 5_000_000, **shaped},
        {"ts_ns": START + 5_001_000, "node": "a", "event": "drop", "reason": "link-down", **shaped},
    ]
    path = write_trace(tmp_path / "trace.jsonl", HEADER, rows)
    life = follow_message(path, "a:7")
    assert (life.sender, life.destination, life.msg_type, life.transport, life.fate) == (
        "a",
        "b-1",
        "ping",
        "tcp",
        "dropped",
    )
    assert message_timeline(life) == [
        "0.000001s  netsim held it back 5.000 ms at a",
        "0.005001s  netsim dropped it at a (link-down)",
        "fate: dropped",
    ]


# -- the link filter and accepts traced before the connect that names them ------------------------------


def link_run(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    events = [{"ts_ns": START + 1_000 * (index + 1), **row} for index, row in enumerate(rows)]
    return write_run(tmp_path / "link", HEADER, events)


ACCEPT = {"node": "1-c", "event": "accept", "transport": "unix", "sockname": "/s/c", "peername": "/s/b"}
CONNECT = {
    "node": "b",
    "event": "connect",
    "transport": "unix",
    "sockname": "/s/b",
    "peername": "/s/c",
    "peer": "1-c",
}


def test_an_accept_before_its_connect_is_on_the_link_in_trace_order(tmp_path: Path) -> None:
    run = link_run(
        tmp_path,
        [
            ACCEPT,  # the listening side completes the connection first
            {"node": "b", "event": "bind", "transport": "unix", "sockname": "/s/b", "peer": "1-c"},
            {"node": "a", "event": "start"},
            CONNECT,
            {"node": "1-c", "event": "close", "sockname": "/s/c", "peername": "/s/b", "peer": "b"},
        ],
    )
    on_link = [(e["node"], e["event"]) for e in filter_events(run, link=("b", "1-c"))]
    assert on_link == [("1-c", "accept"), ("b", "bind"), ("b", "connect"), ("1-c", "close")]
    # The connect teaches the filter even when only accepts are asked for.
    assert [e["event"] for e in filter_events(run, link=("b", "1-c"), events={"accept"})] == ["accept"]


def test_an_accept_is_decided_by_its_own_socket_naming_a_peer(tmp_path: Path) -> None:
    hello = {"node": "1-c", "event": "recv", "transport": "unix", "sockname": "/s/c", "peername": "/s/b"}
    named_b = link_run(tmp_path / "b", [ACCEPT, {**hello, "peer": "b"}])
    assert [e["event"] for e in filter_events(named_b, link=("b", "1-c"))] == ["accept", "recv"]
    named_a = link_run(tmp_path / "a", [ACCEPT, {**hello, "peer": "a"}])
    assert list(filter_events(named_a, link=("b", "1-c"))) == []
    # Undecided at the end of the trace: left out, and what waited behind it still comes out.
    never = link_run(tmp_path / "never", [ACCEPT, {**CONNECT, "peername": "/s/other"}])
    assert [e["event"] for e in filter_events(never, link=("b", "1-c"))] == ["connect"]


def test_an_undecided_accept_is_given_up_past_the_waiting_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "MAX_WAITING_EVENTS", 3)
    # b's sends on another socket: on the link (they name 1-c), but they do not mirror the accept.
    send = {**CONNECT, "event": "send", "msg_type": "hi", "peername": "/s/other"}
    run = link_run(tmp_path, [ACCEPT] + [{**send, "msg_id": f"b:{n}"} for n in range(6)] + [CONNECT])
    got = filter_events(run, link=("b", "1-c"))
    # The first event comes out as soon as the bound is passed, without the accept.
    assert next(got)["msg_id"] == "b:0"
    assert ids(got) == ["b:1", "b:2", "b:3", "b:4", "b:5", "connect"]
