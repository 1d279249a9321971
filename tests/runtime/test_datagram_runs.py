"""udp and udp6 send a callback's datagrams in runs (UDP_SEGMENT) and read a run whole (UDP_GRO).

Each test drives one Node object by hand over real loopback sockets, as test_node_messages does: the
kernel cuts and joins the runs, and what arrives is compared with what the app sent, datagram by
datagram, in the trace and on the wire.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from netsim_testing import load_trace
from test_node_messages import make_node

from netsim.runtime.channels import RUNS_AT_ONCE, DatagramListener, PacketChannel
from netsim.runtime.node import Node
from netsim.trace.merge import part_events
from netsim.transport import get_transport
from netsim.transport.base import LinkEnd
from netsim.transport.inet import (
    BATCH_ANCILLARY_BYTES,
    BATCH_READ_BYTES,
    SOL_UDP,
    UDP_GRO,
    segment_size_of,
    segment_size_option,
)
from netsim.wire import Message, decode_datagram, encode_message
from netsim.wire.datagram_batches import MAX_SEGMENTS, split_segments

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="UDP_SEGMENT and UDP_GRO are Linux's"
)

TRANSPORTS = ["udp", "udp6"]
RUN_APPS = str(Path(__file__).with_name("runtime_apps.py"))
# SO_NO_CHECK (IPv4) and UDP_NO_CHECK6_TX (IPv6): no UDP checksum on send, which the kernel needs to
# cut a run: it refuses runs with EINVAL, and sends single datagrams as ever.
SO_NO_CHECK = 11
UDP_NO_CHECK6_TX = 101
UDP_NO_CHECK6_RX = 102


def records(node: Node, event: str) -> list[dict[str, Any]]:
    node.trace.flush()
    return [r for r in part_events(node.plan.trace_path) if r["event"] == event]


def listener_socket(transport_name: str) -> socket.socket:
    """A node's listener as the transport makes it: bound on loopback, non-blocking, UDP_GRO on."""
    return get_transport(transport_name).listener(LinkEnd(0, ""), 16)


@pytest.fixture(params=TRANSPORTS)
def link(request, tmp_path: Path):
    """(node b, its channel to 'a', a's listener): what b's link sends, a reads as a node would."""
    name = request.param
    transport = get_transport(name)
    if transport.available() is not None:
        pytest.skip(transport.available())
    receiver = listener_socket(name)
    node = make_node(tmp_path, name, initiator=True)
    sock = transport.link_socket(LinkEnd(1, ""), 0)
    sock.connect(receiver.getsockname())
    sock.setblocking(False)
    channel = PacketChannel(node, sock, transport, receiver.getsockname(), "a")
    node.channels["a"] = channel
    node.register(channel)
    yield node, channel, receiver
    receiver.close()
    node.trace.close()
    channel.close()


def read_runs(receiver: socket.socket) -> list[list[bytes]]:
    """Every read the receiver has waiting, each split into the datagrams it carried."""
    reads = []
    while True:
        try:
            data, ancillary, _, _ = receiver.recvmsg(
                BATCH_READ_BYTES, BATCH_ANCILLARY_BYTES, socket.MSG_DONTWAIT
            )
        except BlockingIOError:
            return reads
        reads.append(split_segments(data, segment_size_of(ancillary)))


def opened(node: Node, datagrams: list[bytes]) -> list[Message]:
    return [decode_datagram(node.run_key.open(datagram)) for datagram in datagrams]


def test_the_listener_takes_runs_whole(tmp_path: Path) -> None:
    sock = listener_socket("udp")
    try:
        assert sock.getsockopt(SOL_UDP, UDP_GRO) == 1
    finally:
        sock.close()


def test_a_callbacks_datagrams_go_as_runs_and_arrive_as_the_same_datagrams(link) -> None:
    node, channel, receiver = link
    count = RUNS_AT_ONCE + 22
    # Bodies of one size, and ids and clocks of four digits: every message encodes to one size.
    node._message_seq = node.lamport = 999
    ids = [node.context.send("a", "data", "x" * 40) for _ in range(RUNS_AT_ONCE - 1)]
    # Nothing went yet, and nothing waits behind a refusal: the app sees no backlog.
    assert read_runs(receiver) == []
    assert node.context.backlog("a") == 0 and channel in node._dirty
    # Once RUNS_AT_ONCE wait, they go inside the callback; the rest when it returns.
    ids += [node.context.send("a", "data", "x" * 40) for _ in range(count - len(ids))]
    reads = read_runs(receiver)
    runs = RUNS_AT_ONCE // MAX_SEGMENTS
    assert [len(datagrams) for datagrams in reads] == [MAX_SEGMENTS] * runs
    assert node.context.backlog("a") == 0
    node.flush_dirty()
    reads += read_runs(receiver)
    assert [len(datagrams) for datagrams in reads] == [MAX_SEGMENTS] * runs + [22]
    datagrams = [datagram for datagrams in reads for datagram in datagrams]
    assert [message.id for message in opened(node, datagrams)] == ids
    sent = records(node, "sendto")
    assert [r["msg_id"] for r in sent] == ids
    # Each datagram is traced as itself: its own size, stamped at the send that carried its run.
    assert [r["nbytes"] for r in sent] == [len(datagram) for datagram in datagrams]
    assert len({r["ts_ns"] for r in sent}) == runs + 1
    assert node.counters["sent"] == count and node.counters["bytes_sent"] == sum(map(len, datagrams))
    assert not channel.pending_output and node.context.backlog("a") == 0


def test_runs_follow_the_sizes_and_a_receiver_without_gro_gets_each_datagram(link, tmp_path: Path) -> None:
    node, channel, receiver = link
    plain = socket.socket(receiver.family, socket.SOCK_DGRAM)
    plain.bind((receiver.getsockname()[0], 0))
    plain.setblocking(False)
    channel.sock.connect(plain.getsockname())
    node._message_seq = node.lamport = 999
    bodies = ["x" * 40] * 5 + ["x" * 10] + ["x" * 40] * 3 + ["x" * 90] * 2
    ids = [node.context.send("a", "data", body) for body in bodies]
    node.flush_dirty()
    try:
        datagrams = []
        while True:
            try:
                datagrams.append(plain.recv(65536))
            except BlockingIOError:
                break
    finally:
        plain.close()
    # Cut by the kernel into the datagrams they were, in order.
    assert [message.id for message in opened(node, datagrams)] == ids
    sent = records(node, "sendto")
    assert [r["nbytes"] for r in sent] == [len(d) for d in datagrams]
    # Runs: five of one size and the shorter sixth; three of the first size; the two longer ones.
    stamps = [r["ts_ns"] for r in sent]
    assert [len(set(stamps[a:b])) for a, b in [(0, 6), (6, 9), (9, 11)]] == [1, 1, 1]
    assert len(set(stamps)) == 3


def test_a_run_the_kernel_refuses_goes_one_datagram_per_send(link) -> None:
    node, channel, receiver = link
    if channel.sock.family == socket.AF_INET:
        channel.sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
    else:
        channel.sock.setsockopt(SOL_UDP, UDP_NO_CHECK6_TX, 1)
        # IPv6 wants a checksum: a receiver takes datagrams without one only where it says so.
        receiver.setsockopt(SOL_UDP, UDP_NO_CHECK6_RX, 1)
    node._message_seq = node.lamport = 999
    ids = [node.context.send("a", "data", "x" * 40) for _ in range(10)]
    node.flush_dirty()
    reads = read_runs(receiver)
    assert [len(datagrams) for datagrams in reads] == [1] * 10
    datagrams = [d for datagrams in reads for d in datagrams]
    assert [m.id for m in opened(node, datagrams)] == ids
    sent = records(node, "sendto")
    assert [r["msg_id"] for r in sent] == ids and len({r["ts_ns"] for r in sent}) == 10
    assert not [r for r in records(node, "error")]
    # Datagrams of that size or larger are not tried as a run again; smaller ones still are.
    assert channel._segment_limit == len(datagrams[0]) - 1


@pytest.mark.parametrize("transport_name", TRANSPORTS)
def test_a_listener_reads_a_run_as_its_datagrams(tmp_path: Path, transport_name: str) -> None:
    transport = get_transport(transport_name)
    if transport.available() is not None:
        pytest.skip(transport.available())
    node = make_node(tmp_path, transport_name, initiator=True)
    receiver = listener_socket(transport_name)
    listener = DatagramListener(node, receiver, transport)
    host = receiver.getsockname()[0]
    sender = socket.socket(receiver.family, socket.SOCK_DGRAM)
    sender.bind((host, 0))
    sender.connect(receiver.getsockname())
    stranger = socket.socket(receiver.family, socket.SOCK_DGRAM)
    stranger.bind((host, 0))
    stranger.connect(receiver.getsockname())
    listener.add_peer("a", sender.getsockname())
    seal = node.run_key.seal
    try:
        good = [Message("a", "b", f"a:{n}", "data", "y" * 30, lamport=n) for n in range(100, 140)]
        datagrams = [seal(encode_message(m)) for m in good]
        # A forged datagram of the same size inside a run: the run's others are the node's still.
        forged = datagrams[20][:-1] + bytes([datagrams[20][-1] ^ 1])
        run = [*datagrams[:20], forged, *datagrams[20:]]
        sender.sendmsg([b"".join(run)], segment_size_option(len(run[0])))
        stranger.sendmsg([b"".join(datagrams[:3])], segment_size_option(len(run[0])))
        listener.on_readable()

        assert node.app.messages == good
        received = records(node, "recvfrom")
        assert [r["msg_id"] for r in received] == [m.id for m in good]
        assert [r["nbytes"] for r in received] == [len(d) for d in datagrams]
        errors = records(node, "error")
        assert len(errors) == 4
        assert "run's proof" in errors[0]["error"] and errors[0]["nbytes"] == len(forged)
        assert all("not a neighbour" in e["error"] for e in errors[1:])
        assert not listener.closed
    finally:
        for sock in (sender, stranger):
            sock.close()
        node.trace.close()
        listener.close()


def test_a_send_refused_inside_a_callback_is_reported_by_the_loop_and_tried_again(link) -> None:
    node, channel, receiver = link
    receiver.close()  # the peer is away: its port answers each run with ICMP "port unreachable"
    node._message_seq = node.lamport = 999
    ids = [node.context.send("a", "data", "x" * 40) for _ in range(RUNS_AT_ONCE)]
    # The first run went; on loopback the kernel reports its ICMP error at the next send, which waits
    # with the rest: the app's callback is not interrupted by it.
    assert None not in ids and not channel.closed
    sent = [r["msg_id"] for r in records(node, "sendto")]
    assert sent == ids[: len(sent)] and MAX_SEGMENTS <= len(sent) < RUNS_AT_ONCE
    assert records(node, "error") == [] and channel.backlog == 0
    node.flush_dirty()
    errors = records(node, "error")
    assert errors and all("ConnectionRefusedError" in e["error"] for e in errors)
    # A connected UDP socket keeps working after an ICMP error: what waited goes, in order.
    for _ in range(2 * RUNS_AT_ONCE):
        if not channel.pending_output:
            break
        channel.on_writable()
    assert not channel.closed and not channel.pending_output
    assert [r["msg_id"] for r in records(node, "sendto")] == ids


def _namespace_unavailable() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs util-linux's unshare and iproute2's ip"
    probe = subprocess.run(
        ["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"cannot make a network namespace: {probe.stderr.strip()}"
    return None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport_name", TRANSPORTS)
def test_datagrams_larger_than_the_routes_mtu_go_one_per_send_and_smaller_ones_in_runs(
    tmp_path: Path, transport_name: str
) -> None:
    """A whole run in a network namespace of the test's own whose loopback has a 1,500-byte MTU, as a
    veth between hosts has: the kernel refuses runs of 2,000-byte datagrams, which then go one per
    send; the 500-byte ones still go as a run; every one arrives and is traced."""
    unavailable = _namespace_unavailable()
    if unavailable:
        pytest.skip(unavailable)
    script = (
        "import sys, netsim; "
        f"run = netsim.run('line:2', app={RUN_APPS + ':SendsRunsOfTwoSizes'!r}, "
        f"transport={transport_name!r}, out={str(tmp_path)!r}, duration=60); "
        "print(run.run_dir); sys.exit(0 if run.summary.to_dict()['exit_status'] == 'ok' else 1)"
    )
    done = subprocess.run(
        [
            "unshare",
            "-rn",
            "sh",
            "-c",
            'ip link set lo up mtu 1500 && exec "$0" -c "$1"',
            sys.executable,
            script,
        ],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _, events = load_trace(Path(done.stdout.strip().splitlines()[-1]))
    sent = [e for e in events if e["event"] == "sendto" and e["node"] == "n0"]
    received = [e for e in events if e["event"] == "recvfrom" and e["node"] == "n1"]
    assert [e["msg_id"] for e in received] == [e["msg_id"] for e in sent] and len(sent) == 64
    assert [e["nbytes"] for e in received] == [e["nbytes"] for e in sent]
    assert not [e for e in events if e["event"] == "error"]
    large = [e["ts_ns"] for e in sent if e["msg_type"] == "body-2000"]
    small = [e["ts_ns"] for e in sent if e["msg_type"] == "body-500"]
    assert len(set(large)) == 32  # one send each: the route refused them as a run
    assert len(set(small)) == 1  # one run
