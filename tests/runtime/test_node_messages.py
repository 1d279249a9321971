"""A node's message paths, a read or a flush at a time: order, Lamport clocks, records, bad bytes.

Each test drives one Node object by hand over a real AF_UNIX socketpair (no launcher, no other
process): bytes go in on one end, the node's channel reads them in one on_readable() call.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from netsim.clock import now_ns
from netsim.runtime import control
from netsim.runtime.app import App
from netsim.runtime.channels import DatagramListener, PacketChannel, StreamChannel
from netsim.runtime.context import NodeContext
from netsim.runtime.control import ControlSocket
from netsim.runtime.handshake import HELLO
from netsim.runtime.node import Node
from netsim.runtime.plan import LinkPlan, NodePlan
from netsim.runtime.states import RUNNING
from netsim.trace.merge import part_events
from netsim.transport import get_transport
from netsim.wire import Message, decode_datagram, decode_frames, encode_frame, encode_message, frame
from netsim.wire.auth import CONNECT, HelloScope, new_nonce


class Recorder(App):
    """Keeps every message; answers a 'ping' at once, so its reply shows the clock after the receive."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.drained: list[str] = []
        self.links_down: list[str] = []
        self.order: list[str] = []  # message ids and link events, as the app heard them

    def on_message(self, ctx, message):
        self.messages.append(message)
        self.order.append(message.id)
        if message.type == "ping":
            ctx.reply(message, "pong")

    def on_drained(self, ctx, peer):
        self.drained.append(peer)

    def on_link_down(self, ctx, peer, reason):
        self.links_down.append(peer)
        self.order.append(f"link down: {peer}")


def make_node(tmp_path: Path, transport: str, *, initiator: bool) -> Node:
    plan = NodePlan(
        name="b",
        index=1,
        app="echo",
        links=(LinkPlan("a", 0, transport, initiator),),
        node_names=("a", "b"),
        seed=1,
        socket_dir=str(tmp_path),
        trace_path=str(tmp_path / "b.jsonl"),
        log_path=str(tmp_path / "b.log"),
    )
    node = Node(plan, conn=None)  # type: ignore[arg-type] - these tests never reach the control pipe
    node.state = RUNNING
    node.app = Recorder()
    node.context = NodeContext(node, 1)
    return node


def records(node: Node) -> list[dict[str, Any]]:
    node.trace.flush()
    return list(part_events(node.plan.trace_path))


def from_a(index: int, lamport: int, **fields: Any) -> Message:
    return Message("a", "b", f"a:{index}", fields.pop("type", "data"), index, lamport=lamport, **fields)


def hello_from_a(node: Node, channel: StreamChannel | PacketChannel, lamport: int = 1) -> Message:
    """The hello 'a' opens its connection to 'b' with: proof under the run's key, for this connection."""
    scope = HelloScope(channel.transport.name, "a", "b", channel.peername, channel.sockname)
    body = node.run_key.hello_body(CONNECT, scope, new_nonce())
    return Message("a", "b", "a:0", HELLO, body, lamport=lamport)


def connected_pair(tmp_path: Path, transport: str, channel_class: type, peer: str | None):
    """(node b, its channel, the socket at the other end): the channel's peer is None until a hello."""
    kind = socket.SOCK_STREAM if channel_class is StreamChannel else socket.SOCK_SEQPACKET
    outside, inside = socket.socketpair(socket.AF_UNIX, kind)
    inside.setblocking(False)
    node = make_node(tmp_path, transport, initiator=False)
    channel = channel_class(node, inside, get_transport(transport), "", peer)
    if peer is not None:
        node.channels[peer] = channel
    else:
        node.handshakes.accepted(channel)
    yield node, channel, outside
    outside.close()
    node.trace.close()
    channel.close()


@pytest.fixture
def stream_pair(tmp_path: Path):
    yield from connected_pair(tmp_path, "unix", StreamChannel, None)


@pytest.fixture
def seqpacket_pair(tmp_path: Path):
    yield from connected_pair(tmp_path, "unix-seqpacket", PacketChannel, "a")


def test_one_read_of_a_stream_is_received_in_order_with_the_hello_first(stream_pair) -> None:
    node, channel, outside = stream_pair
    hello = hello_from_a(node, channel)
    sent = [from_a(1, 7), from_a(2, 3, in_reply_to="b:9"), from_a(3, 20, type="ping")]
    outside.sendall(b"".join(encode_frame(message) for message in [hello, *sent]))
    channel.on_readable()

    assert channel.peer == "a" and node.channels["a"] is channel
    assert node.app.messages == sent  # the hello is netsim's, not the app's
    received = [r for r in records(node) if r["event"] == "recv"]
    assert [r["msg_id"] for r in received] == ["a:0", "a:1", "a:2", "a:3"]
    # Lamport: max(own, message) + 1 at each receive, in order.
    assert [r["lamport"] for r in received] == [2, 8, 9, 21]
    assert [r.get("in_reply_to") for r in received] == [None, None, "b:9", None]
    assert all(r["peer"] == "a" and r["transport"] == "unix" for r in received)
    assert [r["nbytes"] for r in received] == [len(encode_frame(m)) for m in [hello, *sent]]
    # Field order is the same in every record, with in_reply_to last where there is one.
    assert list(received[2]) == [*received[1], "in_reply_to"]
    assert node.counters["received"] == 4
    assert node.counters["bytes_received"] == sum(r["nbytes"] for r in received)
    # The reply to the ping was sent from inside the loop: it carries the clock after its receive.
    node.flush_dirty()
    pong = next(r for r in records(node) if r["event"] == "send" and r["msg_type"] == "pong")
    assert pong["lamport"] == 22 and pong["in_reply_to"] == "a:3"


def test_bad_bytes_after_good_frames_in_one_read(stream_pair) -> None:
    node, channel, outside = stream_pair
    channel.set_peer("a")
    channel.proven = True  # as if its hello had come: these tests are about what follows
    node.channels["a"] = channel
    good = [from_a(1, 1), from_a(2, 2)]
    outside.sendall(b"".join(encode_frame(m) for m in good) + frame(b"{oops") + encode_frame(from_a(3, 3)))
    channel.on_readable()

    assert node.app.messages == good  # what came before the bad frame, and nothing after it
    trace = records(node)
    assert [r["event"] for r in trace] == ["recv", "recv", "error", "close"]
    assert "invalid JSON" in trace[2]["error"]
    assert trace[2]["nbytes"] == len(frame(b"{oops")) + len(encode_frame(from_a(3, 3)))
    assert trace[3]["reason"] == "bad bytes"
    assert channel.closed


def test_a_message_for_someone_else_closes_the_link_mid_read(stream_pair) -> None:
    node, channel, outside = stream_pair
    channel.set_peer("a")
    channel.proven = True  # as if its hello had come: these tests are about what follows
    node.channels["a"] = channel
    stray = Message("a", "c", "a:2", "data", None, lamport=2)
    outside.sendall(encode_frame(from_a(1, 1)) + encode_frame(stray) + encode_frame(from_a(3, 3)))
    channel.on_readable()

    # The message before the stray one reaches the app before the link's end does.
    assert node.app.order == ["a:1", "link down: a"]
    trace = records(node)
    assert [r["event"] for r in trace] == ["recv", "error", "close"]
    assert "'a' -> 'c'" in trace[1]["error"]
    assert node.lamport == 2  # the stray message did not move the clock


def test_seqpacket_read_delivers_the_packets_before_a_bad_one(seqpacket_pair) -> None:
    node, channel, outside = seqpacket_pair
    for packet in (encode_message(from_a(1, 1)), encode_message(from_a(2, 2)), b"[]"):
        outside.send(packet)
    outside.send(encode_message(from_a(4, 4)))
    channel.on_readable()
    assert node.app.messages == [from_a(1, 1), from_a(2, 2)]
    trace = records(node)
    assert [r["event"] for r in trace] == ["recv", "recv", "error", "close"]
    assert "must be a JSON object" in trace[2]["error"]
    assert trace[2]["nbytes"] == 2


def test_seqpacket_eof_after_packets_delivers_them_first(seqpacket_pair) -> None:
    node, channel, outside = seqpacket_pair
    outside.send(encode_message(from_a(1, 1)))
    outside.shutdown(socket.SHUT_WR)
    channel.on_readable()
    assert node.app.messages == [from_a(1, 1)]
    assert channel.eof_received and channel.closed
    assert [r["event"] for r in records(node)] == ["recv", "close"]


def test_datagrams_around_a_bad_one_are_all_received_in_order(tmp_path: Path) -> None:
    node = make_node(tmp_path, "unix-dgram", initiator=True)
    transport = get_transport("unix-dgram")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(tmp_path / "b.sock"))
    receiver.setblocking(False)
    listener = DatagramListener(node, receiver, transport)
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.bind(str(tmp_path / "a.sock"))
    stranger = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stranger.bind(str(tmp_path / "x.sock"))
    listener.add_peer("a", str(tmp_path / "a.sock"))
    try:
        target = str(tmp_path / "b.sock")
        sender.sendto(encode_message(from_a(1, 1)), target)
        sender.sendto(b"not json", target)
        stranger.sendto(encode_message(from_a(9, 9)), target)
        sender.sendto(encode_message(Message("a", "b", "a:h", HELLO, None)), target)
        sender.sendto(encode_message(from_a(2, 2, in_reply_to="b:1")), target)
        listener.on_readable()

        assert node.app.messages == [from_a(1, 1), from_a(2, 2, in_reply_to="b:1")]
        trace = records(node)
        assert [r["event"] for r in trace] == ["recvfrom", "error", "error", "error", "recvfrom"]
        assert "bad datagram" in trace[1]["error"]
        assert "not a neighbour" in trace[2]["error"]
        assert "hello on a datagram link" in trace[3]["error"]
        assert trace[4]["in_reply_to"] == "b:1" and trace[4]["peername"] == str(tmp_path / "a.sock")
        assert not listener.closed  # there is no connection to close: the receiver runs on
    finally:
        for sock in (sender, stranger):
            sock.close()
        node.trace.close()
        listener.close()


def test_sends_of_one_flush_are_traced_in_order_with_their_own_fields(stream_pair) -> None:
    node, channel, outside = stream_pair
    channel.set_peer("a")
    channel.proven = True  # as if its hello had come: these tests are about what follows
    node.channels["a"] = channel
    ids = [
        node.context.send("a", "one", 1),
        node.context.send("a", "two", 2, in_reply_to="a:7"),
        node.context.send("a", "three", 3),
    ]
    node.flush_dirty()
    sent = [r for r in records(node) if r["event"] == "send"]
    assert [r["msg_id"] for r in sent] == ids == ["b:1", "b:2", "b:3"]
    assert [r["lamport"] for r in sent] == [1, 2, 3]
    assert [r.get("in_reply_to") for r in sent] == [None, "a:7", None]
    assert list(sent[1]) == [*sent[0], "in_reply_to"]
    wire = outside.recv(65536)
    assert [r["nbytes"] for r in sent] == [len(encode_frame(m)) for m in decode_frames(wire)]
    assert node.counters["sent"] == 3 and node.counters["bytes_sent"] == len(wire)
    assert sent[0]["ts_ns"] <= sent[1]["ts_ns"] <= sent[2]["ts_ns"]


def test_a_backlog_larger_than_the_socket_buffer_is_sent_once_in_order(stream_pair) -> None:
    node, channel, outside = stream_pair
    channel.set_peer("a")
    channel.proven = True  # as if its hello had come: these tests are about what follows
    node.channels["a"] = channel
    node.register(channel)  # a flush the kernel cannot take whole asks the selector for writability
    channel.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    body = "x" * 900
    count = 2_000  # ~2 MB: many flushes, each taking what the kernel has room for
    for _ in range(count):
        node.context.send("a", "bulk", body)
    wire = bytearray()

    def drain() -> None:
        while True:
            try:
                wire.extend(outside.recv(1 << 20, socket.MSG_DONTWAIT))
            except BlockingIOError:
                return

    flushes = 0
    # A stream hands the kernel what a callback queued when it returns: no backlog before that.
    assert node.context.backlog("a") == 0
    node.flush_dirty()
    assert 0 < node.context.backlog("a") < count
    while channel.pending_output and flushes < 10_000:
        assert channel.wants_write
        assert node.app.drained == []
        drain()
        channel.on_writable()
        flushes += 1
    assert 10 < flushes < 10_000
    assert not channel.wants_write
    assert node.context.backlog("a") == 0 and node.app.drained == ["a"]
    drain()
    messages = decode_frames(bytes(wire))
    assert [m.id for m in messages] == [f"b:{n}" for n in range(1, count + 1)]
    sent = [r for r in records(node) if r["event"] == "send"]
    # One record per message, in order, each with its own frame's size, once the kernel took it.
    assert [r["msg_id"] for r in sent] == [m.id for m in messages]
    assert [r["nbytes"] for r in sent] == [len(encode_frame(m)) for m in messages]
    assert node.counters["sent"] == count and node.counters["bytes_sent"] == len(wire)
    assert channel._output_start == len(wire) and not channel._output


def test_a_packet_link_sends_each_message_as_the_app_does(seqpacket_pair) -> None:
    node, channel, outside = seqpacket_pair
    first = node.context.send("a", "one", 1)
    # On the wire and in the trace before the loop flushes anything.
    assert decode_datagram(outside.recv(65536)).id == first
    node.context.send("a", "two", 2)
    assert decode_datagram(outside.recv(65536)).body == 2
    assert not node._dirty and node.context.backlog("a") == 0
    sent = [r for r in records(node) if r["event"] == "send"]
    assert [r["msg_type"] for r in sent] == ["one", "two"] and node.counters["sent"] == 2


def test_a_full_packet_link_keeps_a_backlog_and_says_when_it_drained(seqpacket_pair) -> None:
    node, channel, outside = seqpacket_pair
    node.register(channel)
    channel.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ids = []
    while not node.context.backlog("a"):
        ids.append(node.context.send("a", "fill", "x" * 500))
        assert len(ids) < 1_000
    # The refused message is the first of the backlog; what follows waits behind it, in order.
    ids += [node.context.send("a", "more", n) for n in range(3)]
    assert node.context.backlog("a") == 4 and channel.wants_write
    taken = len(ids) - 4
    assert len([r for r in records(node) if r["event"] == "send"]) == taken
    received = []
    while len(received) < len(ids):
        try:
            received.append(decode_datagram(outside.recv(65536, socket.MSG_DONTWAIT)).id)
        except BlockingIOError:
            assert node.app.drained == []
            channel.on_writable()
    assert received == ids
    assert node.context.backlog("a") == 0 and not channel.wants_write
    assert node.app.drained == ["a"]  # once, when the last waiting message went out
    assert [r["msg_id"] for r in records(node) if r["event"] == "send"] == ids


def test_a_failed_send_inside_a_callback_is_reported_by_the_loop(seqpacket_pair) -> None:
    node, channel, outside = seqpacket_pair
    outside.close()
    message_id = node.context.send("a", "lost", None)
    # The app's callback is not interrupted by its own link going down.
    assert message_id is not None and node.app.links_down == [] and not channel.closed
    node.flush_dirty()
    trace = records(node)
    assert [r["event"] for r in trace] == ["error", "close"]
    assert "BrokenPipeError" in trace[0]["error"] or "ConnectionResetError" in trace[0]["error"]
    assert channel.closed and node.app.links_down == ["a"]


def test_a_send_is_activity_the_node_notices_at_its_next_status_check(seqpacket_pair) -> None:
    node, _, _ = seqpacket_pair
    idle_after_ns = 50_000_000
    before_send = now_ns()
    # Counters reported just now; last activity long ago: idle, were it not for the send.
    node._last_status_ns = before_send
    node._last_activity_ns = before_send - 10 * idle_after_ns
    node.context.send("a", "last words", None)
    launcher_sock, node_sock = socket.socketpair()
    launcher_end, node.conn = ControlSocket(launcher_sock), ControlSocket(node_sock)
    node._report_status(status_interval_ns=10**12, idle_after_ns=idle_after_ns)
    # Busy since the send: nothing to tell the launcher, which has not heard it was idle and has
    # fresh counters.
    assert node._last_activity_ns >= before_send and not node._reported_idle
    assert launcher_end.receive(0) is None
    # Once the send is idle_after_ns old, the node reports idle, with the send counted.
    node._last_activity_ns -= idle_after_ns
    node._report_status(status_interval_ns=10**12, idle_after_ns=idle_after_ns)
    status = launcher_end.receive(5)
    assert status is not None
    assert status["kind"] == control.STATUS and status["idle"] is True and node._reported_idle
    assert status["counters"]["sent"] == 1
    launcher_end.close()
    node.conn.close()


def test_backlog_of_a_node_that_is_not_a_neighbour_is_an_error(seqpacket_pair) -> None:
    node, _, _ = seqpacket_pair
    with pytest.raises(ValueError, match="not a neighbour"):
        node.context.backlog("zz")


def test_the_messages_of_one_read_are_traced_together_before_the_app_answers(stream_pair) -> None:
    node, channel, outside = stream_pair
    channel.set_peer("a")
    channel.proven = True  # as if its hello had come: these tests are about what follows
    node.channels["a"] = channel
    read = [from_a(1, 5, type="ping"), from_a(2, 1), from_a(3, 9)]
    outside.sendall(b"".join(encode_frame(m) for m in read))
    channel.on_readable()
    node.flush_dirty()
    trace = records(node)
    # What the kernel handed over at once shares one time; the app's answer to the first comes after.
    assert [(r["event"], r["msg_id"]) for r in trace] == [
        ("recv", "a:1"),
        ("recv", "a:2"),
        ("recv", "a:3"),
        ("send", "b:1"),
    ]
    assert len({r["ts_ns"] for r in trace[:3]}) == 1 and trace[3]["ts_ns"] >= trace[0]["ts_ns"]
    assert [r["lamport"] for r in trace] == [6, 7, 10, 11]
    assert trace[3]["in_reply_to"] == "a:1"
    assert node.app.messages == read


@pytest.mark.parametrize("delay", [-1.0, float("nan"), float("inf"), 1e10])
def test_a_timer_delay_that_is_no_time_from_now_is_refused_by_name(tmp_path: Path, delay: float) -> None:
    node = make_node(tmp_path, "unix", initiator=False)
    try:
        with pytest.raises(ValueError, match=r"timer delay must be >= 0 and at most 1e\+09 s"):
            node.set_timer(delay, "t", None)
        node.set_timer(0.0, "t", None)
    finally:
        node.trace.close()
