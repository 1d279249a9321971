"""Who may use a node's links, one connection at a time: the hello's proof, its answer, and the bounds on
connections that have not proved themselves. Each test drives one Node over real socket pairs."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from test_node_messages import from_a, hello_from_a, make_node, records

from netsim.runtime import handshake
from netsim.runtime.channels import DatagramListener, PacketChannel, StreamChannel
from netsim.runtime.handshake import HELLO
from netsim.runtime.node import Node
from netsim.transport import get_transport
from netsim.wire import Message, decode_frames, decode_message, encode_frame, encode_message
from netsim.wire.auth import ACCEPT, CONNECT, HelloScope, RunKey, new_nonce
from netsim.wire.framing import LENGTH_PREFIX


class Outside:
    """Connections from the outside world to one node: socket pairs whose inner end the node accepted."""

    def __init__(self, node: Node, transport: str = "unix") -> None:
        self.node = node
        self.transport = get_transport(transport)
        self.pairs: list[tuple[socket.socket, StreamChannel | PacketChannel]] = []

    def connect(self) -> tuple[socket.socket, StreamChannel | PacketChannel]:
        kind = socket.SOCK_STREAM if self.transport.framing == "stream" else socket.SOCK_SEQPACKET
        outside, inside = socket.socketpair(socket.AF_UNIX, kind)
        inside.setblocking(False)
        channel_class = StreamChannel if self.transport.framing == "stream" else PacketChannel
        channel = channel_class(self.node, inside, self.transport, "", None)
        self.node.handshakes.accepted(channel)
        self.pairs.append((outside, channel))
        return outside, channel

    def close(self) -> None:
        for outside, channel in self.pairs:
            outside.close()
            channel.close()
        self.node.trace.close()


@pytest.fixture
def outside(tmp_path: Path):
    world = Outside(make_node(tmp_path, "unix", initiator=False))
    yield world
    world.close()


def errors(node: Node) -> list[str]:
    return [r["error"] for r in records(node) if r["event"] == "error"]


def test_a_good_hello_brings_the_link_up_and_is_answered_with_proof(outside: Outside) -> None:
    node = outside.node
    sock, channel = outside.connect()
    hello = hello_from_a(node, channel)
    sock.sendall(encode_frame(hello) + encode_frame(from_a(1, 2)))
    channel.on_readable()
    node.flush_dirty()
    assert node.channels["a"] is channel and channel.proven and node.app.messages == [from_a(1, 2)]
    # The answer: a hello from b, in reply to a's, whose proof a can check for this connection.
    sock.settimeout(1)
    data = sock.recv(65536)
    (size,) = LENGTH_PREFIX.unpack_from(data)
    answer = decode_message(data[4 : 4 + size])
    assert (answer.src, answer.dst, answer.type, answer.in_reply_to) == ("b", "a", HELLO, "a:0")
    scope = HelloScope("unix", "a", "b", channel.peername, channel.sockname)
    assert answer.body["nonce"] == hello.body["nonce"]
    assert node.run_key.hello_problem(ACCEPT, scope, answer.body) is None
    assert node.run_key.hello_problem(CONNECT, scope, answer.body) is not None  # not a reflected hello


def test_the_answer_to_a_hello_comes_after_it_in_lamport_time(outside: Outside) -> None:
    node = outside.node
    sock, channel = outside.connect()
    sock.sendall(encode_frame(hello_from_a(node, channel, lamport=41)))
    channel.on_readable()
    node.flush_dirty()
    sock.settimeout(1)
    data = sock.recv(65536)
    answer = decode_message(
        data[LENGTH_PREFIX.size : LENGTH_PREFIX.size + LENGTH_PREFIX.unpack_from(data)[0]]
    )
    (received,) = [r for r in records(node) if r["event"] == "recv" and r["msg_id"] == "a:0"]
    (sent,) = [r for r in records(node) if r["event"] == "send" and r["msg_id"] == answer.id]
    assert received["lamport"] == 42
    assert answer.lamport == sent["lamport"] == 43


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (None, "without the run's proof"),
        ({"nonce": "00" * 16, "proof": "ab" * 32}, "proof is not the run's"),
        ({"nonce": "00" * 16}, "without the run's proof"),
        ("the key", "without the run's proof"),
    ],
)
def test_a_hello_without_the_run_s_proof_is_refused_and_the_real_one_still_comes_up(
    outside: Outside, body: object, problem: str
) -> None:
    node = outside.node
    impostor, forged_channel = outside.connect()
    forged = Message("a", "b", "a:9", HELLO, body, lamport=1)
    impostor.sendall(encode_frame(forged) + encode_frame(from_a(2, 3)))
    forged_channel.on_readable()
    assert forged_channel.closed and "a" not in node.channels
    assert node.app.messages == []  # nothing the impostor sent reached the app
    [error] = errors(node)
    assert problem in error and "'a'" in error
    impostor.settimeout(1)
    assert impostor.recv(100) == b""  # closed without an answer: it learns nothing

    real, channel = outside.connect()
    real.sendall(encode_frame(hello_from_a(node, channel)))
    channel.on_readable()
    assert node.channels["a"] is channel and channel.proven


def test_a_proof_made_with_another_run_s_key_is_refused(outside: Outside) -> None:
    node = outside.node
    sock, channel = outside.connect()
    scope = HelloScope("unix", "a", "b", channel.peername, channel.sockname)
    body = RunKey.new().hello_body(CONNECT, scope, new_nonce())
    sock.sendall(encode_frame(Message("a", "b", "a:0", HELLO, body, lamport=1)))
    channel.on_readable()
    assert channel.closed and "proof is not the run's" in errors(node)[0]


def test_a_hello_is_good_for_one_connection_only(outside: Outside) -> None:
    node = outside.node
    first, first_channel = outside.connect()
    hello = hello_from_a(node, first_channel)
    first.sendall(encode_frame(hello))
    first_channel.on_readable()
    assert node.channels["a"] is first_channel
    replay, replay_channel = outside.connect()
    replay.sendall(encode_frame(hello))
    replay_channel.on_readable()
    assert replay_channel.closed and node.channels["a"] is first_channel
    assert "already used" in errors(node)[0]


def test_a_hello_for_another_transport_or_node_is_refused(outside: Outside) -> None:
    node = outside.node
    sock, channel = outside.connect()
    scope = HelloScope("tcp", "a", "b", channel.peername, channel.sockname)  # proof for another transport
    body = node.run_key.hello_body(CONNECT, scope, new_nonce())
    sock.sendall(encode_frame(Message("a", "b", "a:0", HELLO, body)))
    channel.on_readable()
    assert channel.closed
    sock2, channel2 = outside.connect()
    sock2.sendall(encode_frame(Message("c", "b", "c:0", HELLO, None)))
    channel2.on_readable()
    assert channel2.closed
    assert ["proof is not the run's" in errors(node)[0], "no unix link" in errors(node)[1]] == [True, True]


def test_a_large_frame_before_the_hello_is_refused_before_it_is_buffered(outside: Outside) -> None:
    node = outside.node
    sock, channel = outside.connect()
    sock.sendall(LENGTH_PREFIX.pack(16 * 1024 * 1024) + b"x" * 60_000)
    channel.on_readable()
    assert channel.closed
    [error] = errors(node)
    assert "announces 16777216 payload bytes" in error and f"limit of {node.handshakes.hello_limit}" in error


def test_a_forged_lamport_clock_is_bad_bytes_not_a_crash(outside: Outside) -> None:
    node = outside.node
    sock, channel = outside.connect()
    sock.sendall(encode_frame(hello_from_a(node, channel)))
    channel.on_readable()
    payload = b'{"src":"a","dst":"b","id":"a:5","type":"data","lamport":%d}' % (2**64 - 1)
    sock.sendall(LENGTH_PREFIX.pack(len(payload)) + payload)
    channel.on_readable()
    assert channel.closed and node.lamport < 2**62
    assert "lamport" in errors(node)[0]
    assert [r["event"] for r in records(node)][-1] == "close"


def test_connections_waiting_for_a_hello_are_capped_oldest_first(outside: Outside) -> None:
    node = outside.node
    cap = node.handshakes.max_pending
    first, first_channel = outside.connect()
    for _ in range(cap):
        outside.connect()
    assert first_channel.closed and len(node.handshakes.pending) == cap
    assert f"more than {cap} connections waiting for a hello" in errors(node)[0]


def test_a_connection_that_sends_no_hello_is_closed_at_its_deadline(
    outside: Outside, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handshake, "HELLO_TIMEOUT_S", 0.05)
    node = outside.node
    _, channel = outside.connect()
    time.sleep(0.1)
    node._run_due_timers()
    assert channel.closed and "no hello within 0.05 s" in errors(node)[0]


def test_a_listener_that_answers_without_proof_gets_no_traffic_and_is_dialled_again(tmp_path: Path) -> None:
    node = make_node(tmp_path, "unix", initiator=True)
    outside_end, inside = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    inside.setblocking(False)
    try:
        channel = StreamChannel(node, inside, get_transport("unix"), "", "a")
        node.handshakes.connected(channel)
        node.flush_dirty()
        assert "a" not in node.channels  # not up before the answer
        assert node.send_message("a", "data", {"secret": 1}) is None  # a drop, not a send
        nonce, hello_id = node.handshakes._sent[channel]
        forged = Message("a", "b", "a:1", HELLO, {"nonce": nonce, "proof": "0" * 64}, hello_id)
        outside_end.sendall(encode_frame(forged))
        channel.on_readable()
        assert channel.closed and "a" not in node.channels
        assert "the listener at this address is not 'a'" in errors(node)[0]
        assert len(node.timers) > 0  # a new dial is scheduled
        outside_end.settimeout(1)
        received = b""
        while chunk := outside_end.recv(65536):
            received += chunk
        assert [m.type for m in decode_frames(received)] == [HELLO]  # the hello, and no traffic
    finally:
        outside_end.close()
        node.trace.close()


def test_udp_datagrams_without_the_run_s_proof_are_refused(tmp_path: Path) -> None:
    node = make_node(tmp_path, "udp", initiator=True)
    transport = get_transport("udp")
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    listener = DatagramListener(node, receiver, transport)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    listener.add_peer("a", sender.getsockname())
    try:
        target = receiver.getsockname()
        good = encode_message(from_a(1, 1))
        sender.sendto(good, target)  # the right address, no proof
        sender.sendto(RunKey.new().seal(good), target)  # another run's proof
        tampered = node.run_key.seal(good).replace(b'"data"', b'"dat4"')
        sender.sendto(tampered, target)  # the tag no longer fits
        sender.sendto(b"0123456789", target)  # 10 bytes of junk
        sender.sendto(node.run_key.seal(encode_message(from_a(2, 2))), target)
        listener.on_readable()
        assert node.app.messages == [from_a(2, 2)]
        problems = errors(node)
        assert len(problems) == 4 and all("proof" in problem for problem in problems)
        received = [r for r in records(node) if r["event"] == "recvfrom"]
        assert [r["nbytes"] for r in received] == [len(encode_message(from_a(2, 2))) + 16]
    finally:
        sender.close()
        node.trace.close()
        listener.close()


def test_error_events_are_bounded_and_what_is_left_out_is_counted(tmp_path: Path) -> None:
    node = make_node(tmp_path, "udp", initiator=True)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    listener = DatagramListener(node, receiver, get_transport("udp"))
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _ in range(5):
            for _ in range(400):
                stranger.sendto(b"0123456789", receiver.getsockname())
            while True:
                before = node.counters["errors"]
                listener.on_readable()
                if node.counters["errors"] == before:
                    break
        junk = node.counters["errors"]
        assert junk >= 1000
        node.trace_stop("shutdown")
        trace = records(node)
        written = [r for r in trace if r["event"] == "error"]
        # A burst of 200, then 100 a second: this took well under a second.
        assert len(written) <= 300
        left_out = sum(r.get("suppressed", 0) for r in trace if r["event"] in ("error", "stop"))
        assert len(written) + left_out == junk
        assert left_out > 0 and trace[-1]["event"] == "stop"
        # The stop event counts the errors left out since the last error event written; on a slow
        # machine the budget may have refilled for the very last one, so it may have none to count.
        assert trace[-1].get("suppressed", 1) > 0
    finally:
        stranger.close()
        node.trace.close()
        listener.close()
