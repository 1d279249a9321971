"""The socket tutorial's loops (examples/tutorial_tcp.py, examples/tutorial_udp.py) on every transport
they apply to: each run ends as the example says, and every call in the trace, with its addresses, is
what the programs themselves saw and printed."""

from __future__ import annotations

import ast
import re

import pytest
from socket_testing import CLIENT_SERVER, RunCalls, as_json, example, require

CLIENTS = ("client1", "client2")
STREAM_ENTRIES = {"tcp": "main", "tcp6": "main_tcp6", "unix": "main_unix", "unix-seqpacket": "main_seqpacket"}
DATAGRAM_ENTRIES = {"udp": "main", "udp6": "main_udp6", "unix-dgram": "main_unix_dgram"}


def printed(run: RunCalls, node: str, pattern: str) -> list[tuple]:
    """Every line of ``node``'s log that matches ``pattern``, its groups read back as Python values."""
    found = []
    for line in run.log(node):
        match = re.fullmatch(pattern, line)
        if match:
            found.append(tuple(ast.literal_eval(group) for group in match.groups()))
    return found


@pytest.mark.parametrize("transport", STREAM_ENTRIES)
def test_stream_echo(simulate, transport):
    require(transport)
    result = simulate(
        CLIENT_SERVER,
        app=example("tutorial_tcp.py", STREAM_ENTRIES[transport]),
        seed=1,
        quiet=0.3,
    )
    assert result.summary.ended_by == "done" and result.summary.exit_status == "ok", result.summary
    run = RunCalls(result.run_dir)
    assert {call["transport"] for call in run.calls} == {transport}

    accepted = printed(run, "server", r"connected by (.+) on (.+)")
    assert len(accepted) == len(CLIENTS)
    accepts = run.of("server", "accept")
    assert [as_json(address) for address, _ in accepted] == [a["result"]["address"] for a in accepts]
    for client in CLIENTS:
        ((own, peer),) = printed(run, client, r"connected from (.+) to (.+)")
        assert printed(run, client, r"received (.+)") == [(f"hello from {client}\n".encode(),)]
        connect = run.one(client, "connect", errno=None) if transport != "tcp" else run.one(client, "connect")
        assert (connect["sockname"], connect["peername"]) == (as_json(own), as_json(peer))
        assert run.one(client, "getsockname", connect["sock"])["result"] == as_json(own)
        assert run.one(client, "getpeername", connect["sock"])["result"] == as_json(peer)
        if transport == "tcp":
            assert own[0] == run.host(client) and peer == (run.host("server"), 65432)
            assert connect["peer"] == "server"
        if transport in ("unix", "unix-seqpacket"):
            assert connect["peer"] == "server"  # a path in the server's own directory

        # The server's end of this client's connection: the one that read this client's line.
        (recv,) = [
            call for call in run.of("server", "recv") if call.get("preview") == f"hello from {client}\n"
        ]
        server_calls = run.by_socket[("server", recv["sock"])]
        accept = next(a for a in accepts if a["result"]["sock"] == recv["sock"])
        assert accept["result"]["address"] == as_json(own)
        for call in server_calls:
            if call["call"] != "close" or "peername" in call:
                # Guarantee 3 of docs/trace-format.md: the two ends' addresses mirror.
                assert (call["sockname"], call["peername"]) == (connect["peername"], connect["sockname"])
        if transport == "tcp":
            assert {call.get("peer") for call in server_calls} == {client}

        # Every byte the client sent reached the server, and came back.
        client_calls = run.by_socket[(client, connect["sock"])]
        sent = [c for c in client_calls if c["call"] == "sendall"]
        echoed = [c for c in server_calls if c["call"] == "sendall"]
        received = [c for c in client_calls if c["call"] == "recv" and c["nbytes"]]
        assert sum(c["nbytes"] for c in sent) == recv["nbytes"] == sum(c["nbytes"] for c in echoed)
        assert sum(c["nbytes"] for c in received) == recv["nbytes"]
        if transport != "unix-seqpacket":
            assert [c["offset"] for c in sent] == [0] and recv["offset"] == 0
            assert run.of("server", "recv", recv["sock"])[-1]["nbytes"] == 0  # the client's close
        else:
            # Packets are paired by digest: the same on both ends.
            assert "offset" not in recv and recv["digest"] == sent[0]["digest"] == echoed[0]["digest"]


@pytest.mark.parametrize("transport", DATAGRAM_ENTRIES)
def test_datagram_echo(simulate, transport):
    require(transport)
    result = simulate(
        CLIENT_SERVER, app=example("tutorial_udp.py", DATAGRAM_ENTRIES[transport]), seed=1, quiet=0.3
    )
    # The server serves forever: the run ends once the clients have their answers and all is quiet.
    assert result.summary.ended_by == "quiet" and result.summary.exit_status == "ok", result.summary
    run = RunCalls(result.run_dir)
    assert {call["transport"] for call in run.calls} == {transport}

    questions = printed(run, "server", r"(b'.*') from (.+)")
    server_receives = [c for c in run.of("server", "recvfrom") if "errno" not in c]
    assert [(c["preview"].encode(), c["peername"]) for c in server_receives] == [
        (data, as_json(address)) for data, address in questions
    ]
    for client in CLIENTS:
        ((answer, server_address, own),) = printed(run, client, r"(b'.*') from (.+) on (.+)")
        assert answer == f"hello from {client}".encode()
        (receive,) = [c for c in run.of(client, "recvfrom") if "errno" not in c]
        assert (receive["sockname"], receive["peername"]) == (as_json(own), as_json(server_address))
        # Each question the server got came from this client's own address, and has its digest.
        asked = [c for c in server_receives if c["preview"] == f"hello from {client}"]
        assert asked and all(c["peername"] == as_json(own) for c in asked)
        sends = [c for c in run.of(client, "sendto") if "errno" not in c]
        assert {c["digest"] for c in sends} == {c["digest"] for c in asked}
        # unix-dgram: a datagram to a path nobody has bound yet fails at once, and is asked again.
        failed = {c["errno"] for c in run.of(client, "sendto") if "errno" in c}
        assert failed <= ({"ENOENT", "ECONNREFUSED"} if transport == "unix-dgram" else set())
        answers = [c for c in run.of("server", "sendto") if c["digest"] == receive["digest"]]
        assert answers and all(c["args"]["address"] == receive["sockname"] for c in answers)
        if transport == "udp":
            assert own[0] == run.host(client) and server_address == (run.host("server"), 65433)
            assert {c["peer"] for c in asked} == {client} and receive["peer"] == "server"
        if transport == "unix-dgram":
            assert receive["peer"] == "server" and {c["peer"] for c in asked} == {client}
