"""Each node's addresses are its own (the header's ``node_hosts``), two nodes bind the same port, a
client's ``net.connect`` waits for a late server, and both ends of a connection name each other."""

from __future__ import annotations

import pytest
from socket_programs import LATE_SERVER_S, PORT
from socket_testing import (
    CLIENT_SERVER,
    RunCalls,
    as_json,
    example,
    program,
    require,
)

from netsim.trace.verify import verify_trace


def test_every_node_binds_the_same_port_on_its_own_address(simulate):
    result = simulate("ring:4", app=program("same_port"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    hosts = run.header["node_hosts"]
    assert sorted(hosts) == ["n0", "n1", "n2", "n3"] and len(set(hosts.values())) == 4
    for node, host in hosts.items():
        shown = run.shown(node)
        for transport, wildcard in (("tcp", ""), ("udp", "0.0.0.0")):
            (bind,) = [call for call in run.of(node, "bind") if call["transport"] == transport]
            assert bind["args"] == {"address": [wildcard, PORT]}
            assert bind["sockname"] == as_json(shown[transport][0]) == [host, PORT]


def test_net_connect_retries_until_a_late_server_listens(simulate):
    result = simulate("line:2", app=program("late_server"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    attempts = run.of("n1", "connect")
    assert len(attempts) >= 3, "backoff from 10 ms: several tries in the server's 0.3 s"
    assert {call.get("errno") for call in attempts[:-1]} == {"ECONNREFUSED"}
    assert "errno" not in attempts[-1] and attempts[-1]["peer"] == "n0"
    assert len({call["sock"] for call in attempts}) == len(attempts), "a fresh socket for each try"
    (listen,) = run.of("n0", "listen")
    assert attempts[-2]["ts_ns"] < listen["ts_ns"] < attempts[-1]["ts_ns"]
    assert run.shown("n1")["connected_after"][0] >= LATE_SERVER_S * 0.9
    assert run.shown("n0")["got"] == [b"finally"]


def test_an_unbound_unix_stream_socket_is_named_when_it_connects(simulate):
    """The kernel's abstract autobind: each client's end has a name, which the server's accept gives."""
    result = simulate(
        CLIENT_SERVER,
        app=example("tutorial_tcp.py", "main_unix"),
        seed=1,
        quiet=0.3,
    )
    run = RunCalls(result.run_dir)
    names = set()
    for client in ("client1", "client2"):
        connect = run.one(client, "connect", errno=None)
        assert connect["sockname"].startswith("@") and connect["args"] == {"address": connect["peername"]}
        names.add(connect["sockname"])
    assert {accept["result"]["address"] for accept in run.of("server", "accept")} == names


def test_an_unbound_seqpacket_socket_is_named_when_it_connects(simulate):
    """As a unix stream socket is: so that two clients of one server are told apart by address."""
    result = simulate("line:2", app=program("seqpacket_client"), seed=1, quiet=0.3)
    run = RunCalls(result.run_dir)
    connect = run.one("n1", "connect")
    assert connect["sockname"].startswith("@")
    assert run.one("n0", "accept")["result"]["address"] == connect["sockname"]


def test_the_two_ends_of_a_udp6_datagram_mirror(simulate):
    """An unbound udp6 sender is bound to ::1 (not the wildcard ::), and its destination is written as
    the kernel names it (four fields): what the receiver records, mirrored."""
    require("udp6")
    result = simulate("line:2", app=program("udp6_unbound"), seed=1, quiet=0.3)
    run = RunCalls(result.run_dir)
    sent, received = run.one("n0", "sendto"), run.one("n0", "recvfrom")
    assert sent["digest"] == received["digest"]
    assert (sent["sockname"], sent["peername"]) == (received["peername"], received["sockname"])
    assert sent["sockname"][0] == "::1" and len(sent["peername"]) == 4


@pytest.mark.parametrize("transport", ["unix", "unix-seqpacket"])
def test_trace_verify_counts_the_answers_of_a_unix_server(simulate, transport):
    entry = {"unix": "main_unix", "unix-seqpacket": "main_seqpacket"}[transport]
    result = simulate(
        CLIENT_SERVER,
        app=example("tutorial_tcp.py", entry),
        seed=1,
        quiet=0.3,
    )
    (check,) = [check for check in verify_trace(result.run_dir).checks if check.name == "program_bytes"]
    assert check.passed, check.problems
