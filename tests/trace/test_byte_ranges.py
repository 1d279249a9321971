"""Pairing a socket program's calls: stream byte ranges and datagrams, byte by byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from netsim_testing import TracedSocket, payload_digest, trace_header, write_trace

from netsim.trace.byte_ranges import BytePair, BytePairer, Unreceived, Unsent, address_key, pair_calls
from netsim.trace.reader import iter_events

A = ["127.0.0.2", 40001]
B = ["127.0.0.3", 51234]


def tcp_pair(transport: str = "tcp", a: Any = A, b: Any = B) -> tuple[TracedSocket, TracedSocket]:
    """Both ends of one connection: n0's socket 3 at ``a`` and n1's socket 4 at ``b``."""
    return (
        TracedSocket("n0", 3, transport, a, b, "n1"),
        TracedSocket("n1", 4, transport, b, a, "n0"),
    )


def outcomes(events: list[dict[str, Any]]) -> tuple[list[BytePair], list[Unreceived], list[Unsent]]:
    pairs, unreceived, unsent = [], [], []
    for outcome in pair_calls(events):
        if isinstance(outcome, BytePair):
            pairs.append(outcome)
        elif isinstance(outcome, Unreceived):
            unreceived.append(outcome)
        else:
            unsent.append(outcome)
    return pairs, unreceived, unsent


def spans(pairs: list[BytePair]) -> list[tuple[int, int, int, int]]:
    """(send offset, receive offset, start, end) of each pair, in order of bytes."""
    return sorted((p.send["offset"], p.receive["offset"], p.start, p.end) for p in pairs)


# -- streams ----------------------------------------------------------------------------------------------


def test_one_send_split_over_receives_and_one_receive_over_sends() -> None:
    client, server = tcp_pair()
    events = [
        client.send(100, b"hello ", start_ns=90),
        client.send(110, b"world", start_ns=105),
        server.recv(120, b"hel"),  # part of the first send
        server.recv(130, b"lo wor"),  # the end of the first send and the start of the second
        server.recv(140, b"ld"),
    ]
    pairs, unreceived, unsent = outcomes(events)
    assert spans(pairs) == [(0, 0, 0, 3), (0, 3, 3, 6), (6, 3, 6, 9), (6, 9, 9, 11)]
    assert not unreceived and not unsent
    first = next(p for p in pairs if p.start == 0)
    assert first.latency_ns == 120 - 90 and first.sender == "n0" and first.receiver == "n1"
    assert not first.datagram and first.nbytes == 3


def test_a_receive_before_its_send_returns_still_pairs() -> None:
    client, server = tcp_pair()
    send = client.send(500, b"x" * 100, start_ns=100, call="sendall")  # returns after the receiver read
    events = [server.recv(200, b"x" * 60), server.recv(300, b"x" * 40), send]
    pairs, unreceived, unsent = outcomes(events)
    assert spans(pairs) == [(0, 0, 0, 60), (0, 60, 60, 100)]
    assert [p.latency_ns for p in sorted(pairs, key=lambda p: p.start)] == [100, 200]
    assert not unreceived and not unsent


def test_unreceived_and_unsent_bytes() -> None:
    client, server = tcp_pair()
    events = [client.send(100, b"abcdef"), server.recv(110, b"abc")]
    pairs, unreceived, unsent = outcomes(events)
    assert spans(pairs) == [(0, 0, 0, 3)]
    assert [(u.start, u.end, u.fate) for u in unreceived] == [(3, 6, "not received")]
    # The receiver's sender not traced: every byte it took is unsent.
    _, lonely = tcp_pair(b=["127.0.0.9", 999])
    pairs, unreceived, unsent = outcomes([lonely.recv(10, b"abc"), lonely.recv(20, b"de")])
    assert not pairs and not unreceived
    assert [(u.receive["offset"], u.start, u.end) for u in unsent] == [(0, 0, 3), (3, 3, 5)]


def test_bytes_one_side_went_past_are_settled_at_once() -> None:
    client, server = tcp_pair()
    pairer = BytePairer()
    assert not pairer.add(client.send(100, b"abc"))
    server.received = 5  # the receiver's trace lost bytes 0..5 (an untraced read)
    settled = list(pairer.add(server.recv(110, b"xy")))
    # The receiver has gone past bytes 0..3; its own 5..7 wait for a send that may still come.
    assert [(type(o).__name__, o.start, o.end) for o in settled] == [("Unreceived", 0, 3)]
    assert pairer.open_ranges == 1
    settled = list(pairer.add(client.send(120, b"defg")))
    assert [(type(o).__name__, o.start, o.end) for o in settled] == [("Unreceived", 3, 5), ("BytePair", 5, 7)]
    assert pairer.open_ranges == 0


def test_memory_holds_only_open_ranges() -> None:
    client, server = tcp_pair()
    pairer = BytePairer()
    for index in range(1000):
        pairer.add(client.send(10 * index, b"0123456789"))
        pairer.add(server.recv(10 * index + 5, b"0123456789"))
        assert pairer.open_ranges == 0
    pairer.add(client.send(20_000, b"abc"))
    assert pairer.open_ranges == 1


def test_both_directions_of_a_connection_pair_apart() -> None:
    client, server = tcp_pair("tcp6", ["::1", 40001, 0, 0], ["::1", 51234, 0, 7])
    events = [
        client.send(100, b"ping"),
        server.recv(110, b"ping"),
        server.send(120, b"pong!"),
        client.recv(130, b"pong!"),
    ]
    pairs, unreceived, unsent = outcomes(events)
    assert [(p.sender, p.receiver, p.nbytes) for p in pairs] == [("n0", "n1", 4), ("n1", "n0", 5)]
    assert not unreceived and not unsent


def test_connection_reuse_restarts_offsets() -> None:
    client, server = tcp_pair()
    first = [client.send(100, b"first"), server.recv(110, b"fir")]  # "st" never read
    client.sent = server.received = 0  # a new connection on the same addresses
    second = [client.send(200, b"again"), server.recv(210, b"again")]
    pairs, unreceived, unsent = outcomes(first + second)
    assert [(p.send["preview"], p.start, p.end) for p in pairs] == [("first", 0, 3), ("again", 0, 5)]
    assert [(u.send["preview"], u.start, u.end) for u in unreceived] == [("first", 3, 5)]
    assert not unsent


def test_connect_and_accept_start_a_new_connection() -> None:
    client, server = tcp_pair()
    listener = TracedSocket("n1", 1, "tcp", B)

    def opened(ts_ns: int) -> list[dict[str, Any]]:
        client.sent = client.received = server.received = server.sent = 0
        return [
            client.call(ts_ns, "connect", args={"address": B}, start_ns=ts_ns - 5),
            listener.call(ts_ns + 1, "accept", result={"sock": 4, "address": A}),
        ]

    # The first connection: the server reads 2 of 3 bytes; then one that opens but sends nothing; then a
    # third whose receive of "z" comes before its send (offset 0 both times, yet the third connection).
    events = opened(10) + [client.send(20, b"abc"), server.recv(30, b"ab")]
    events += opened(40)
    events += opened(50) + [server.recv(60, b"z"), client.send(70, b"z", start_ns=55)]
    pairs, unreceived, unsent = outcomes(events)
    assert [(p.send["preview"], p.receive["preview"], p.start, p.end) for p in pairs] == [
        ("abc", "ab", 0, 2),
        ("z", "z", 0, 1),
    ]
    assert [(u.start, u.end) for u in unreceived] == [(2, 3)]
    assert not unsent


def test_unix_stream_with_abstract_addresses() -> None:
    client, server = tcp_pair("unix", "@netsim-autobind-00012", "/tmp/netsim-x/n1.sock")
    events = [client.send(10, b"over unix"), server.recv(20, b"over "), server.recv(30, b"unix")]
    pairs, unreceived, unsent = outcomes(events)
    assert spans(pairs) == [(0, 0, 0, 5), (0, 5, 5, 9)]
    assert not unreceived and not unsent


def test_failed_calls_and_end_of_stream_pair_nothing() -> None:
    client, server = tcp_pair()
    events = [
        client.call(10, "send", errno="EPIPE", error="BrokenPipeError: [Errno 32] Broken pipe", start_ns=9),
        server.call(20, "recv", nbytes=0, offset=0, start_ns=15),
        server.call(30, "recv", errno="ETIMEDOUT", error="TimeoutError: timed out", start_ns=25),
        client.call(40, "setsockopt", args={"level": "SOL_SOCKET", "option": "SO_REUSEADDR", "value": 1}),
    ]
    assert list(pair_calls(events)) == []


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[int], list[int], list[str]]:
    """A byte stream cut into random sends and random receives, and a random causal schedule of them."""
    data = draw(st.binary(min_size=1, max_size=400))
    sizes = st.lists(st.integers(1, 64), min_size=1, max_size=60)
    send_sizes = _cut(len(data), draw(sizes))
    receive_sizes = _cut(len(data), draw(sizes))
    steps = draw(st.lists(st.sampled_from(["send", "recv"]), min_size=0, max_size=300))
    return data, send_sizes, receive_sizes, steps


def _cut(total: int, sizes: list[int]) -> list[int]:
    cuts: list[int] = []
    for size in sizes:
        if sum(cuts) >= total:
            break
        cuts.append(min(size, total - sum(cuts)))
    if sum(cuts) < total:
        cuts.append(total - sum(cuts))
    return cuts


def _schedule(data: bytes, send_sizes: list[int], receive_sizes: list[int], steps: list[str]):
    """The trace of those calls: a send starts, then returns at a later step (its receives may come in
    between); a receive takes only bytes whose send has started."""
    client, server = tcp_pair()
    events: list[dict[str, Any]] = []
    ts = 0
    started = 0  # bytes of sends that have begun
    sent_calls: list[tuple[int, bytes]] = []  # (start_ns, payload) begun, not yet returned
    send_queue = list(send_sizes)
    receive_queue = list(receive_sizes)
    received = 0
    choices = iter(steps)
    while send_queue or sent_calls or receive_queue:
        ts += 1
        step = next(choices, "flush")
        can_receive = receive_queue and received + receive_queue[0] <= started
        if step == "recv" and can_receive:
            size = receive_queue.pop(0)
            events.append(server.recv(ts, data[received : received + size]))
            received += size
        elif send_queue and (step == "send" or not can_receive) and not sent_calls:
            size = send_queue.pop(0)
            sent_calls.append((ts, data[started : started + size]))
            started += size
        elif sent_calls and (step != "recv" or not can_receive):
            start_ns, payload = sent_calls.pop(0)
            events.append(client.send(ts, payload, start_ns=start_ns, call="sendall"))
        elif can_receive:
            size = receive_queue.pop(0)
            events.append(server.recv(ts, data[received : received + size]))
            received += size
    return events


@settings(max_examples=150, deadline=None)
@given(streams())
def test_every_received_byte_pairs_with_exactly_the_send_that_wrote_it(
    stream: tuple[bytes, list[int], list[int], list[str]],
) -> None:
    data, send_sizes, receive_sizes, steps = stream
    events = _schedule(data, send_sizes, receive_sizes, steps)
    assert sum(e["nbytes"] for e in events if e["call"] == "sendall") == len(data)
    owner: list[int] = [0] * len(data)  # how many sends each received byte was paired with
    for outcome in pair_calls(events):
        assert isinstance(outcome, BytePair), outcome
        send, receive = outcome.send, outcome.receive
        assert send["offset"] <= outcome.start < outcome.end <= send["offset"] + send["nbytes"]
        assert receive["offset"] <= outcome.start and outcome.end <= receive["offset"] + receive["nbytes"]
        assert outcome.latency_ns >= 0
        for index in range(outcome.start, outcome.end):
            owner[index] += 1
            # Byte by byte: what the receive took there is what the send wrote there.
            assert (
                data[index] == data[send["offset"] : send["offset"] + send["nbytes"]][index - send["offset"]]
            )
    assert owner == [1] * len(data)


# -- datagrams --------------------------------------------------------------------------------------------


def test_datagrams_pair_by_digest_and_mirrored_addresses() -> None:
    sender = TracedSocket("n0", 2, "udp", ["127.0.0.2", 5000])
    receiver = TracedSocket("n1", 3, "udp", ["127.0.0.3", 6000])
    other = TracedSocket("n2", 2, "udp", ["127.0.0.4", 5000])
    to, source = ["127.0.0.3", 6000], ["127.0.0.2", 5000]
    events = [
        sender.send(10, b"same", to=to),
        other.send(11, b"same", to=to),  # same payload, another sender
        sender.send(12, b"same", to=to),
        receiver.recv(20, b"same", source=source),
        receiver.recv(21, b"same", source=["127.0.0.4", 5000]),
        sender.send(30, b"lost", to=to),
    ]
    pairs, unreceived, unsent = outcomes(events)
    assert [(p.send["node"], p.send["ts_ns"], p.receive["ts_ns"]) for p in pairs] == [
        ("n0", 10, 20),  # equal payloads: first sent, first received
        ("n2", 11, 21),
    ]
    assert all(p.datagram and p.start == 0 and p.end == 4 for p in pairs)
    assert sorted((u.send["ts_ns"], u.fate) for u in unreceived) == [(12, "lost"), (30, "lost")]
    assert not unsent


def test_datagram_received_before_its_send_returns() -> None:
    sender = TracedSocket("n0", 2, "unix-dgram", "/tmp/x/n0.sock", "/tmp/x/n1.sock", "n1")
    receiver = TracedSocket("n1", 2, "unix-dgram", "/tmp/x/n1.sock")
    events = [receiver.recv(20, b"early", source="/tmp/x/n0.sock"), sender.send(25, b"early", start_ns=15)]
    pairs, unreceived, unsent = outcomes(events)
    assert [(p.latency_ns, p.nbytes) for p in pairs] == [(5, 5)]
    assert not unreceived and not unsent


def test_dropped_datagrams_before_and_after_their_send() -> None:
    sender = TracedSocket("n0", 2, "udp6", ["::1", 5000, 0, 0])
    to = ["::1", 6000, 0, 0]

    def drop(ts_ns: int, payload: bytes) -> dict[str, Any]:
        return {
            "ts_ns": ts_ns,
            "node": "n0",
            "event": "drop",
            "sock": 2,
            "peer": "n1",
            "nbytes": len(payload),
            "digest": payload_digest(payload),
            "reason": "loss",
        }

    events = [
        drop(10, b"one"),
        sender.send(11, b"one", to=to),
        sender.send(20, b"two", to=to),
        drop(21, b"two"),
    ]
    pairs, unreceived, unsent = outcomes(events)
    assert not pairs and not unsent
    assert [(u.send["preview"], u.fate, u.drop["ts_ns"]) for u in unreceived] == [  # type: ignore[index]
        ("one", "dropped", 10),
        ("two", "dropped", 21),
    ]


def test_a_datagram_the_link_duplicated_pairs_with_both_receives() -> None:
    sender = TracedSocket("n0", 2, "udp", ["127.0.0.2", 5000])
    receiver = TracedSocket("n1", 3, "udp", ["127.0.0.3", 6000])
    to, source = ["127.0.0.3", 6000], ["127.0.0.2", 5000]
    duplicate = {
        "ts_ns": 9,
        "node": "n0",
        "event": "duplicate",
        "sock": 2,
        "peer": "n1",
        "digest": payload_digest(b"twice"),
        "sockname": source,
        "peername": to,
    }
    events = [
        duplicate,
        sender.send(10, b"twice", to=to),
        receiver.recv(20, b"twice", source=source),
        receiver.recv(25, b"twice", source=source),
    ]
    pairs, unreceived, unsent = outcomes(events)
    assert [(p.send["ts_ns"], p.receive["ts_ns"]) for p in pairs] == [(10, 20), (10, 25)]
    assert not unreceived and not unsent


def test_seqpacket_pairs_one_to_one_and_abstract_names_are_addresses() -> None:
    client = TracedSocket("n0", 5, "unix-seqpacket", "@client", "@server", "n1")
    server = TracedSocket("n1", 6, "unix-seqpacket", "@server", "@client", "n0")
    events = [
        client.send(10, b"a"),
        client.send(11, b"a"),
        server.recv(12, b"a"),
        client.send(13, b"bb"),
        server.recv(14, b"bb"),
        server.recv(15, b"a"),
    ]
    pairs, unreceived, unsent = outcomes(events)
    assert [(p.send["ts_ns"], p.receive["ts_ns"]) for p in pairs] == [(10, 12), (13, 14), (11, 15)]
    assert not unreceived and not unsent


def test_addresses_as_both_ends_agree_on_them() -> None:
    assert address_key(["::1", 40001, 0, 0]) == address_key(["::1", 40001, 5, 1]) == ("::1", 40001)
    assert address_key(["127.0.0.1", 1]) == ("127.0.0.1", 1)
    assert address_key("@abstract") == "@abstract"
    assert address_key(None) == ""


def test_pairs_a_trace_file_read_back(tmp_path: Path) -> None:
    client, server = tcp_pair()
    events = [
        client.send(1_000_000_100, b"GET / HTTP/1.0\r\n\r\n"),
        server.recv(1_000_000_200, b"GET / HTTP/1.0\r\n\r\n"),
    ]
    path = write_trace(tmp_path / "trace.jsonl", trace_header(["n0", "n1"], [["n0", "n1", "tcp"]]), events)
    pairs, unreceived, unsent = outcomes(list(iter_events(path)))
    assert [(p.start, p.end, p.latency_ns) for p in pairs] == [(0, 18, 100)]
    assert not unreceived and not unsent


def test_datagram_receivers_bound_to_any_address_and_receives_without_a_source() -> None:
    sender = TracedSocket("n0", 2, "udp", ["127.0.0.2", 5000])
    wildcard = TracedSocket("n1", 3, "udp", ["0.0.0.0", 6000])
    other_port = TracedSocket("n1", 4, "udp", ["0.0.0.0", 6001])
    events = [
        sender.send(10, b"to any", to=["127.0.0.3", 6000]),
        other_port.recv(15, b"to any", source=["127.0.0.2", 5000]),  # another port: not this one
        wildcard.recv(20, b"to any", source=["127.0.0.2", 5000]),
        sender.send(30, b"anonymous", to=["127.0.0.3", 6000]),
        wildcard.recv(40, b"anonymous", call="recv"),  # recv says nothing of the source
    ]
    pairs, unreceived, unsent = outcomes(events)
    assert [(p.send["ts_ns"], p.receive["ts_ns"]) for p in pairs] == [(10, 20), (30, 40)]
    assert not unreceived
    assert [u.receive["ts_ns"] for u in unsent] == [15]


def test_udp6_datagrams_pair_on_host_and_port_of_four_element_addresses() -> None:
    sender = TracedSocket("n0", 2, "udp6", ["::1", 5000, 0, 0])
    receiver = TracedSocket("n1", 2, "udp6", ["::1", 6000, 0, 0])
    events = [
        sender.send(10, b"v6", to=["::1", 6000, 0, 0]),
        receiver.recv(20, b"v6", source=["::1", 5000, 0, 2]),  # a scope id the sender did not write
        sender.send(30, b"v6", to=["::1", 6000, 0, 0]),
        receiver.recv(40, b"v6", source=["::1", 5999, 0, 0]),  # another sender's port
    ]
    pairs, unreceived, unsent = outcomes(events)
    assert [(p.send["ts_ns"], p.receive["ts_ns"]) for p in pairs] == [(10, 20)]
    assert [(u.send["ts_ns"], u.fate) for u in unreceived] == [(30, "lost")]
    assert [u.receive["ts_ns"] for u in unsent] == [40]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([b"a", b"b", b"cc"]), st.booleans(), st.integers(0, 3)), max_size=40)
)
def test_datagrams_pair_one_to_one_whatever_the_loss_and_the_delays(
    datagrams: list[tuple[bytes, bool, int]],
) -> None:
    """Equal payloads, some lost, each received up to three sends later (or, with delay 0, before its send
    returns): every receive pairs with a send of its payload, once, and in the order they were sent."""
    sender = TracedSocket("n0", 2, "unix-dgram", "/run/n0.sock")
    receiver = TracedSocket("n1", 2, "unix-dgram", "/run/n1.sock")
    timed: list[tuple[int, int, dict[str, Any]]] = []
    for index, (payload, arrives, delay) in enumerate(datagrams):
        send_ts = 10 * index + 5
        timed.append((send_ts, 0, sender.send(send_ts, payload, start_ns=10 * index, to="/run/n1.sock")))
        if arrives:
            receive_ts = 10 * (index + delay) + (2 if delay == 0 else 7)
            timed.append((receive_ts, 1, receiver.recv(receive_ts, payload, source="/run/n0.sock")))
    # A datagram link delivers equal payloads in order here; the trace is sorted by time.
    events = [event for _ts, _order, event in sorted(timed, key=lambda item: item[:2])]
    pairs, unreceived, unsent = outcomes(events)
    assert not unsent
    assert len(pairs) == sum(arrives for _payload, arrives, _delay in datagrams)
    assert len(pairs) + len(unreceived) == len(datagrams)
    assert all(p.send["digest"] == p.receive["digest"] and p.latency_ns > 0 for p in pairs)
    for payload in (b"a", b"b", b"cc"):
        mine = sorted(
            (p for p in pairs if p.send["preview"] == payload.decode()), key=lambda p: p.receive["ts_ns"]
        )
        assert [p.send["ts_ns"] for p in mine] == sorted(p.send["ts_ns"] for p in mine)


def test_closing_both_ends_settles_and_forgets_the_connection() -> None:
    pairer = BytePairer()
    settled: list[Any] = []
    for port in range(1000):
        client, server = tcp_pair(a=["127.0.0.2", 30000 + port])
        for event in (
            client.call(port * 10, "connect", args={"address": B}),
            client.send(port * 10 + 1, b"hello"),
            server.recv(port * 10 + 2, b"hel"),
            client.call(port * 10 + 3, "close"),  # "lo" is never read
            server.call(port * 10 + 4, "close"),
        ):
            settled += pairer.add(event)
        assert pairer.open_ranges == 0
    assert not (pairer._sides or pairer._connections or pairer._sockets or pairer._closed_ends)
    assert [type(o).__name__ for o in settled[:2]] == ["BytePair", "Unreceived"]
    assert len(settled) == 2000


@settings(max_examples=80, deadline=None)
@given(st.lists(streams(), min_size=1, max_size=3), st.booleans())
def test_reused_addresses_pair_within_each_connection(
    connections: list[tuple[bytes, list[int], list[int], list[str]]], announced: bool
) -> None:
    """Connections one after another on the same addresses, each numbering its bytes from 0, with or
    without their connect, accept and close calls in the trace: bytes pair within their connection."""
    events: list[dict[str, Any]] = []
    listener = TracedSocket("n1", 1, "tcp", B)
    for index, (data, send_sizes, receive_sizes, steps) in enumerate(connections):
        base = 10_000 * index
        calls = _schedule(data, send_sizes, receive_sizes, steps)
        for event in calls:
            event["ts_ns"] += base + 10
            event["start_ns"] += base + 10
            event["connection"] = index
        if announced:
            client, server = tcp_pair()
            calls.insert(0, client.call(base + 1, "connect", args={"address": B}))
            calls.insert(1, listener.call(base + 2, "accept", result={"sock": 4, "address": A}))
            calls += [client.call(base + 9_000, "close"), server.call(base + 9_001, "close")]
        events += calls
    counts = [[0] * len(data) for data, *_ in connections]
    for outcome in pair_calls(events):
        assert isinstance(outcome, BytePair), outcome
        connection = outcome.send["connection"]
        assert outcome.receive["connection"] == connection
        for index in range(outcome.start, outcome.end):
            counts[connection][index] += 1
    assert all(count == [1] * len(count) for count in counts)
