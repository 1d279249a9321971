"""Every call of the socket tutorial's table, made once by a program, is in the trace with the
arguments it was given and what it returned, as the program itself saw it; errors carry their errno."""

from __future__ import annotations

import errno
import socket

from socket_programs import PORT, UDP_PORT
from socket_testing import RunCalls, as_json, program

TABLE = [
    "bind",
    "listen",
    "accept",
    "connect",
    "connect_ex",
    "recv",
    "send",
    "sendall",
    "recvfrom",
    "sendto",
    "close",
    "getpeername",
    "getsockname",
    "setsockopt",
    "getsockopt",
    "settimeout",
    "gettimeout",
    "fileno",
    "setblocking",
    "makefile",
    "shutdown",
]


def test_every_call_of_the_table(simulate):
    result = simulate("line:2", app=program("every_call"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    server, client = run.shown("n0"), run.shown("n1")
    assert set(TABLE) <= {call["call"] for call in run.calls}
    assert not [call for call in run.calls if "errno" in call and call["call"] != "connect_ex"]

    # The server's listener: options, the wildcard bound as the node's own address, its descriptor.
    (listener,) = {call["sock"] for call in run.of("n0", "listen")}
    option = run.one("n0", "setsockopt", listener)
    assert option["args"] == {"level": "SOL_SOCKET", "option": "SO_REUSEADDR", "value": 1}
    assert run.one("n0", "getsockopt", listener)["result"] == server["reuse"][0] != 0
    bind = run.one("n0", "bind", listener)
    assert bind["args"] == {"address": ["", PORT]}
    assert bind["sockname"] == as_json(server["listener"][0]) == [run.host("n0"), PORT]
    assert run.one("n0", "listen", listener)["args"] == {"backlog": 4}
    assert run.one("n0", "fileno", listener)["result"] == server["fileno"][0]

    # The client's connection: its timeout, each connect_ex's answer, the names both ends gave.
    attempts = run.of("n1", "connect_ex")
    conn = attempts[-1]["sock"]
    assert len({call["sock"] for call in attempts}) == len(attempts)
    assert [call["args"] for call in run.of("n1", "settimeout")] == [{"timeout": 5.0}] * len(attempts)
    assert [call["result"] for call in run.of("n1", "gettimeout")] == client["timeout"]
    assert set(client["timeout"]) == {5.0}
    codes = [call["result"] for call in attempts]
    assert codes == [0 if code == 0 else errno.errorcode[code] for code in client["connect_ex"]]
    assert set(codes[:-1]) <= {"ECONNREFUSED"} and codes[-1] == 0
    own, peer = as_json(client["sockname"][0]), as_json(client["peername"][0])
    assert own[0] == run.host("n1") and peer == [run.host("n0"), PORT]
    assert run.one("n1", "getsockname", conn)["result"] == own
    assert run.one("n1", "getpeername", conn)["result"] == peer
    accept = run.one("n0", "accept", listener)
    assert accept["result"]["address"] == as_json(server["accepted"][0]) == own
    accepted = accept["result"]["sock"]
    for call in run.by_socket[("n0", accepted)]:
        if "peername" in call:
            assert (call["sockname"], call["peername"], call["peer"]) == (peer, own, "n1")

    # Bytes both ways, with their offsets in each direction of the connection.
    send = run.one("n1", "send", conn)
    assert (send["nbytes"], send["offset"], send["preview"]) == (client["sent"][0], 0, "ping")
    ping = run.one("n0", "recv", accepted, preview="ping")
    assert (ping["nbytes"], ping["offset"], ping["args"]) == (4, 0, {"bufsize": 1024})
    pong = run.one("n0", "sendall", accepted)
    assert (pong["nbytes"], pong["offset"], pong["preview"]) == (4, 0, "pong")
    assert run.one("n1", "recv", conn)["preview"] == client["pong"][0].decode() == "pong"
    line = run.one("n1", "sendall", conn)
    assert (line["nbytes"], line["offset"]) == (7, 4)
    assert run.one("n0", "makefile", accepted)["args"] == {"mode": "rb"}
    (read,) = run.of("n0", "recv_into", accepted)  # the file's read, on the socket
    assert (read["offset"], read["nbytes"], read["preview"]) == (4, 7, server["line"][0].decode())
    assert run.one("n0", "setblocking", accepted)["args"] == {"flag": True}
    assert run.one("n1", "shutdown", conn)["args"] == {"how": "SHUT_WR"}
    end = run.of("n0", "recv", accepted)[-1]
    assert (end["nbytes"], end["offset"], server["end"]) == (0, 11, [b""])
    assert "preview" not in end
    for node, sock in (("n1", conn), ("n0", accepted), ("n0", listener)):
        assert run.by_socket[(node, sock)][-1]["call"] == "close"

    # Datagrams: sendto / recvfrom both ways, paired by digest, each end's address as the other saw it.
    sent_to, connected_send = run.of("n1", "sendto"), run.of("n1", "send")
    assert len(sent_to) == 1 and sent_to[0]["nbytes"] == client["sentto"][0] == 5
    assert sent_to[0]["args"] == {"address": [run.host("n0"), UDP_PORT]}
    udp_connect = run.one("n1", "connect", sent_to[0]["sock"])
    assert udp_connect["args"] == {"address": [run.host("n0"), UDP_PORT]}
    assert udp_connect["peername"] == [run.host("n0"), UDP_PORT]
    got = [call for call in run.of("n0", "recvfrom")]
    assert [(call["preview"].encode(), call["peername"]) for call in got] == [
        (data, as_json(address)) for data, address in server["datagram"]
    ]
    assert got[0]["digest"] == sent_to[0]["digest"]
    assert got[1]["digest"] == [c for c in connected_send if c["sock"] == sent_to[0]["sock"]][0]["digest"]
    udp_own = sent_to[0]["sockname"]
    assert udp_own[0] == run.host("n1") and all(call["peername"] == udp_own for call in got)
    answers = run.of("n1", "recvfrom")
    assert [(call["preview"].encode(), call["peername"]) for call in answers] == [
        (data, as_json(address)) for data, address in client["answer"]
    ]
    assert [call["digest"] for call in answers] == [call["digest"] for call in run.of("n0", "sendto")]


def test_refused_connect(simulate):
    result = simulate("line:2", app=program("refused"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    for node in ("n0", "n1"):
        assert run.shown(node)["refused"] == [errno.ECONNREFUSED]
        (connect,) = run.of(node, "connect")
        assert connect["errno"] == "ECONNREFUSED"
        assert connect["error"].startswith("ConnectionRefusedError: [Errno 111]")
        assert connect["peer"] == "n1" and connect["peername"] == [run.host("n1"), 6009]
        assert connect["start_ns"] <= connect["ts_ns"]


def test_timeout_is_etimedout(simulate):
    result = simulate("line:2", app=program("times_out"), seed=1, quiet=0.3)
    run = RunCalls(result.run_dir)
    for node in ("n0", "n1"):
        assert run.shown(node)["timed_out"] == ["timed out"]
        (receive,) = run.of(node, "recvfrom")
        assert receive["errno"] == "ETIMEDOUT" and receive["error"] == "TimeoutError: timed out"
        assert receive["ts_ns"] - receive["start_ns"] >= 50_000_000
        assert "nbytes" not in receive


def test_a_program_that_raises_fails_its_node(simulate):
    result = simulate("line:3", app=program("fails"), seed=1, quiet=0.3)
    summary = result.summary
    assert summary.exit_status == "failed" and summary.ended_by == "failure", summary
    (failure,) = summary.node_failures
    assert failure.name == "n1" and "RuntimeError: n1 gives up" in failure.error
    log = (result.run_dir / "nodes" / "1-n1.log").read_text()
    assert 'raise RuntimeError(f"{net.name} gives up")' in log and "Traceback" in log
    assert "netsim/runtime" not in log.partition("Traceback")[2], "the traceback starts at main"


def test_a_peek_takes_no_bytes_from_the_stream(simulate):
    result = simulate("line:2", app=program("peeks"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n0")["peeked"] == run.shown("n0")["read"] == [b"look first"]
    peek, read = [call for call in run.of("n0", "recv") if call["nbytes"]]
    # A peek takes nothing from the stream: it shows what it saw, and no offset or digest to pair.
    assert peek["args"] == {"bufsize": 100, "flags": socket.MSG_PEEK} and "offset" not in peek
    assert peek["preview"] == "look first" and "digest" not in peek
    assert read["offset"] == 0 and read["nbytes"] == 10


def test_a_datagram_taken_by_recv_names_its_sender_in_the_trace(simulate):
    result = simulate("line:2", app=program("datagrams_by_recv"), seed=1, transport="udp")
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["got"] == [[b"first", b"second"]]
    (sent, *_) = run.of("n0", "sendto")
    received = run.of("n1", "recv") + run.of("n1", "recv_into")
    assert [call["nbytes"] for call in received] == [5, 6]
    # The kernel said who sent each one (netsim asks with recvfrom): the node and its socket's address.
    assert all(call["peer"] == "n0" and call["peername"] == sent["sockname"] for call in received)
    # So the summary counts the bytes in on the link that carried them.
    (direction,) = [
        d for link in result.trace_summary().links.values() for d in link.directions if d.key == "n0 -> n1"
    ]
    assert direction.bytes_received == 11
