"""One suite every transport must pass: bind, name mirror, send/receive, close, dead peer, limits."""

from __future__ import annotations

import os
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from netsim_testing import load_trace

from netsim.errors import TransportError
from netsim.topology.model import LinkSpec, NodeSpec, Topology
from netsim.transport import TRANSPORT_NAMES, LinkEnd, get_transport
from netsim.wire.framing import FrameDecoder, decode_datagram, encode_frame
from netsim.wire.message import Message

APPS_FILE = Path(__file__).with_name("conformance_apps.py")


def transport_or_skip(name: str):
    transport = get_transport(name)
    reason = transport.available()
    if reason is not None:
        pytest.skip(f"{name} is not available here: {reason}")
    return transport


@pytest.fixture
def socket_dir():
    path = tempfile.mkdtemp(prefix="netsim-test-")
    yield path
    for entry in os.listdir(path):
        os.unlink(os.path.join(path, entry))
    os.rmdir(path)


def pair(name: str, socket_dir: str):
    """A listener at node 0 and a link socket at node 1, connected (accepted where the transport connects)."""
    transport = transport_or_skip(name)
    listener = transport.listener(LinkEnd(0, socket_dir), backlog=8)
    client = transport.link_socket(LinkEnd(1, socket_dir), peer_index=0)
    transport.connect(client, listener.getsockname(), timeout_s=5)
    server = None
    if transport.connected:
        listener.setblocking(True)
        server, _ = listener.accept()
    return transport, listener, client, server


@pytest.mark.parametrize("name", TRANSPORT_NAMES)
def test_listener_address_comes_from_the_kernel(name, socket_dir):
    transport = transport_or_skip(name)
    listener = transport.listener(LinkEnd(3, socket_dir), backlog=8)
    try:
        address = listener.getsockname()
        if transport.family == socket.AF_UNIX:
            assert address.startswith(socket_dir)
            assert stat.S_ISSOCK(os.stat(address).st_mode)
            assert stat.S_IMODE(os.stat(socket_dir).st_mode) == 0o700
        else:
            host, port = address[0], address[1]
            assert host in ("127.0.0.1", "::1")
            assert port != 0
    finally:
        listener.close()


@pytest.mark.parametrize("name", TRANSPORT_NAMES)
def test_both_ends_are_named_and_mirror(name, socket_dir):
    transport, listener, client, server = pair(name, socket_dir)
    try:
        if transport.connected:
            assert client.getsockname() == server.getpeername()
            assert client.getpeername() == server.getsockname()
        else:
            client.send(b"x")
            listener.setblocking(True)
            _, source = listener.recvfrom(16)
            assert source == client.getsockname()
            assert client.getpeername() == listener.getsockname()
        assert client.getsockname() not in (None, "", b"")
    finally:
        for sock in (listener, client, server):
            if sock is not None:
                sock.close()


@pytest.mark.parametrize("name", TRANSPORT_NAMES)
def test_a_message_crosses_the_socket_byte_for_byte(name, socket_dir):
    transport, listener, client, server = pair(name, socket_dir)
    message = Message("n1", "n0", "n1:1", "ping", {"text": "héllo", "n": [1, 2.5, None]}, lamport=4)
    try:
        receiver = server if transport.connected else listener
        receiver.settimeout(5)
        if transport.framing == "stream":
            client.sendall(encode_frame(message))
            decoder = FrameDecoder()
            decoded = None
            while decoded is None:
                decoder.feed(receiver.recv(65536))
                decoded = decoder.next_frame()
            assert decoded[0] == message
        else:
            client.send(encode_frame(message)[4:])
            assert decode_datagram(receiver.recv(65536)) == message
    finally:
        for sock in (listener, client, server):
            if sock is not None:
                sock.close()


@pytest.mark.parametrize("name", TRANSPORT_NAMES)
def test_a_dead_peer_is_an_error(name, socket_dir):
    transport = transport_or_skip(name)
    listener = transport.listener(LinkEnd(0, socket_dir), backlog=8)
    address = listener.getsockname()
    listener.close()
    if isinstance(address, str):
        os.unlink(address)
    client = transport.link_socket(LinkEnd(1, socket_dir), peer_index=0)
    try:
        if transport.connected or transport.family == socket.AF_UNIX:
            with pytest.raises(TransportError):
                transport.connect(client, address, timeout_s=2)
        else:
            # UDP connect succeeds without a peer; the kernel reports the ICMP error on the next call.
            transport.connect(client, address, timeout_s=2)
            client.send(b"x")
            client.settimeout(2)
            with pytest.raises(ConnectionRefusedError):
                client.recv(16)
    finally:
        client.close()


def two_nodes(transport: str) -> Topology:
    nodes = (NodeSpec("a", 0), NodeSpec("b", 1))
    return Topology("pair", f"pair/{transport}", nodes, (LinkSpec("a", "b", transport),))


def three_node_line(transport: str) -> Topology:
    nodes = (NodeSpec("left", 0), NodeSpec("middle", 1), NodeSpec("right node", 2))
    links = (LinkSpec("left", "middle", transport), LinkSpec("middle", "right node", transport))
    return Topology("line", f"line/{transport}", nodes, links)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", TRANSPORT_NAMES)
def test_a_run_over_the_transport_keeps_the_trace_trustworthy(name, simulate):
    transport = transport_or_skip(name)
    result = simulate(three_node_line(name), app="echo", seed=7, duration=20)
    assert result.summary.exit_status == "ok", result.summary
    assert result.summary.ended_by == "done"
    header, events = load_trace(result.run_dir)
    assert header["schema"] == "netsim-trace/1"
    # Mirrored names, exactly-once delivery where the transport is reliable, and nothing left
    # listening: the simulate fixture holds the run to trace verify and checks every traced address.
    pings = [e for e in events if e.get("msg_type") == "ping" and e["event"] in ("send", "sendto")]
    # echo: 3 rounds, each node pings each neighbour: 2 + 2 + 2 link ends... (left 1, middle 2, right 1) x 3
    assert len(pings) == 12
    expected_event = "sendto" if not transport.connected else "send"
    assert {e["event"] for e in pings} == {expected_event}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", [n for n in TRANSPORT_NAMES if get_transport(n).framing == "packet"])
def test_a_message_too_large_for_the_transport_is_refused(name, simulate):
    transport = transport_or_skip(name)
    result = simulate(two_nodes(name), app=f"{APPS_FILE}:OversizeApp", seed=1, duration=20)
    assert result.summary.exit_status == "ok", result.summary
    header, events = load_trace(result.run_dir)
    refusals = [e["data"] for e in events if e["event"] == "app" and e["data"].get("kind") == "refused"]
    assert len(refusals) == 2
    assert all(str(transport.max_message_bytes) in refusal["error"] for refusal in refusals)
    # The message that fits went through.
    fits = [
        e
        for e in events
        if e["event"] == "recvfrom" or (e["event"] == "recv" and e.get("msg_type") == "fits")
    ]
    assert {e["msg_type"] for e in fits} >= {"fits"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", TRANSPORT_NAMES)
def test_a_sender_paced_by_its_backlog_delivers_everything_in_order(name, simulate):
    transport = transport_or_skip(name)
    result = simulate(two_nodes(name), app=f"{APPS_FILE}:PacedSender", seed=1, duration=30)
    assert result.summary.exit_status == "ok", result.summary
    _, events = load_trace(result.run_dir)
    records = {e["data"]["kind"]: e["data"] for e in events if e["event"] == "app"}
    assert records["receiver"]["in_order"]
    count = sum(1 for e in events if e.get("msg_type") == "n" and e["event"] in ("recv", "recvfrom"))
    if transport.reliable:
        assert count == 3_000
    else:
        assert 0 < count <= 3_000
    if transport.framing == "packet":
        # A packet link hands each message to the kernel as it is sent, so the sender, which stops at
        # the first refusal, never has more than that one message waiting.
        assert records["sender"]["largest_backlog"] <= 1
