"""Which send each received byte came from: a socket program's ``call`` events paired by byte range (streams)
and by content hash (datagrams), with no knowledge of the program's protocol.

Pure and streaming: ``BytePairer.add`` takes the events of a trace in order, one at a time, and returns what
each one settles (``finish`` what is left at the end); ``pair_calls`` does both over an iterable.

**Streams** (``tcp``, ``tcp6``, ``unix``). A direction of a connection is named by the sending socket's
``(sockname, peername)``, which the receiving socket records mirrored as ``(peername, sockname)``; both sides
number its bytes from 0 (a call's ``offset``). A send covers ``[offset, offset + nbytes)``, a receive its own
range of the same numbering, and a receive pairs with every send its range overlaps: one ``BytePair`` per
(send, receive), carrying the bytes they share (one contiguous range, since both sides' ranges are). A
receive may come before its send in the trace (a blocking ``sendall`` returns after the receiver has taken
its first bytes), so each side's unmatched ranges wait for the other's. Each side moves forward only, so
when one side has gone past bytes the other side left unmatched, those bytes are settled at once:
``Unreceived`` (sent, never received in the trace) or ``Unsent`` (received, with no send in the trace: the
sender is not traced, say). Memory holds the unmatched ranges only.

**Closing.** Once both sockets of a connection have closed, nothing more of it can come: what it left
unmatched is settled then, and the connection forgotten, so that memory does not grow with the number of
connections either.

**Connection reuse.** A new connection on the same addresses numbers its bytes from 0 again. Each side
counts connections (generations) on its own evidence: a ``connect`` or ``accept`` on its socket when the
generation it is in has seen one or some bytes already, or a send (receive) whose offset is below the bytes
that side has moved in its generation (0, typically). Ranges pair within the same generation only; a
generation both sides have left is settled (what is left unmatched in it never will be).

**Datagrams** (``udp``, ``udp6``, ``unix-dgram``, and ``unix-seqpacket``, whose messages are packets too):
a send and a receive pair when their ``digest`` is the same and the receive's ``(peername, sockname)`` is
the send's ``(sockname, peername)``; equal payloads pair first sent, first received. A receive that does
not say where from (``recv`` on an unconnected socket) pairs with any source, and a socket bound to any
address (``0.0.0.0``, ``::``) receives what was sent to its port on any host. A send nobody received
is ``Unreceived`` with fate ``dropped`` when a ``drop`` event of its node names its digest (netsim's link
conditions dropped it), ``lost`` otherwise (known only at the end).

Addresses are compared as ``netsim trace verify`` compares them: IPv6 on host and port only, AF_UNIX paths
(abstract ones written ``"@name"``) as strings, an absent address as the unnamed ``""``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from netsim.trace.schema import CALL_EVENT, CALL_RECEIVES, CALL_SENDS
from netsim.vocabulary import TRANSPORT_TRAITS

STREAM_TRANSPORTS = frozenset(name for name, traits in TRANSPORT_TRAITS.items() if traits.framing == "stream")
# unix-seqpacket is connected but keeps message boundaries: its messages pair one to one, by digest.
DATAGRAM_TRANSPORTS = frozenset(
    name for name, traits in TRANSPORT_TRAITS.items() if traits.framing == "packet"
)
SEND_CALLS = CALL_SENDS
RECEIVE_CALLS = CALL_RECEIVES
CONNECTION_CALLS = frozenset({"connect", "accept"})

Fate = Literal["not received", "lost", "dropped"]
Address = Any  # a hashable address: ("host", port), a path, or ""
DirectionKey = tuple[str, Address, Address]  # (transport, the sender's address, the receiver's)


def address_key(address: Any) -> Address:
    """A trace address as a hashable value that both ends of a connection agree on."""
    if type(address) is list:
        return tuple(address[:2])  # IPv6: host and port; flowinfo and scope_id may differ between ends
    if address is None:
        return ""
    return address


def send_start_ns(send: dict[str, Any]) -> int:
    """When a send began: its ``start_ns``, or its ``ts_ns`` (when it returned) if it has none."""
    start = send.get("start_ns")
    return start if type(start) is int else send["ts_ns"]


@dataclass(frozen=True, slots=True)
class BytePair:
    """Bytes ``[start, end)`` that ``send`` wrote and ``receive`` took: of one direction of a stream
    connection, or the whole datagram (``[0, nbytes)``)."""

    send: dict[str, Any]
    receive: dict[str, Any]
    start: int
    end: int
    datagram: bool

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def latency_ns(self) -> int:
        """From the moment the send began to the moment the receive returned."""
        return self.receive["ts_ns"] - send_start_ns(self.send)

    @property
    def sender(self) -> str:
        return self.send["node"]

    @property
    def receiver(self) -> str:
        return self.receive["node"]


@dataclass(frozen=True, slots=True)
class Unreceived:
    """Bytes ``[start, end)`` of ``send`` that no receive in the trace took. ``drop`` is the ``drop`` event
    that says netsim dropped the datagram (fate ``dropped``)."""

    send: dict[str, Any]
    start: int
    end: int
    fate: Fate
    drop: dict[str, Any] | None = None

    @property
    def nbytes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Unsent:
    """Bytes ``[start, end)`` of ``receive`` that no send in the trace wrote (its sender is not traced)."""

    receive: dict[str, Any]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


Outcome = BytePair | Unreceived | Unsent
_NOTHING: tuple[Outcome, ...] = ()


class _Side:
    """One socket's end of one direction: which of its connections (generation) it is in, and whether that
    one has been opened (connect / accept) already."""

    __slots__ = ("generation", "opened")

    def __init__(self) -> None:
        self.generation = 0
        self.opened = False


class _Connection:
    """One generation of one direction: the unmatched ranges of each side, ``[start, end, event]`` in order,
    and how far each side has gone."""

    __slots__ = ("sends", "receives", "sent_high", "received_high")

    def __init__(self) -> None:
        self.sends: deque[list[Any]] = deque()
        self.receives: deque[list[Any]] = deque()
        self.sent_high = 0
        self.received_high = 0

    def settle(self, out: list[Outcome]) -> None:
        for start, end, send in self.sends:
            out.append(Unreceived(send, start, end, "not received"))
        for start, end, receive in self.receives:
            out.append(Unsent(receive, start, end))
        self.sends.clear()
        self.receives.clear()


class BytePairer:
    """Pairs the ``call`` events fed to ``add`` in trace order; see the module's docstring.

    ``add`` takes any event and returns what it settled (often nothing); ``finish`` settles the rest.
    """

    def __init__(self) -> None:
        # (direction, sending?) -> that side; (direction, generation) -> its unmatched ranges.
        self._sides: dict[tuple[DirectionKey, bool], _Side] = {}
        self._connections: dict[tuple[DirectionKey, int], _Connection] = {}
        # (node, sock) -> (transport, its address, its peer's) of each stream socket seen and not closed:
        # a close names its socket, and may not have its addresses any more.
        self._sockets: dict[tuple[str, Any], tuple[str, Address, Address]] = {}
        # (transport, own address, peer's) of each stream socket closed before its peer closed.
        self._closed_ends: set[tuple[str, Address, Address]] = set()
        # (transport, destination port or path, digest) -> (source, destination, event) of datagrams sent
        # and not yet received / received before their send.
        self._datagrams_sent: dict[tuple[str, Any, str], deque[tuple[Address, Address, dict[str, Any]]]] = {}
        self._datagrams_early: dict[tuple[str, Any, str], deque[tuple[Address, Address, dict[str, Any]]]] = {}
        # (node, digest) -> drop events not yet matched to their send.
        self._drops: dict[tuple[str, str], deque[dict[str, Any]]] = {}
        # (node, digest) -> second copies a ``duplicate`` event announced (written before the send's call
        # returns): the send is then waited for twice.
        self._copies: dict[tuple[str, str], int] = {}

    # -- feeding ------------------------------------------------------------------------------------

    def add(self, event: dict[str, Any]) -> list[Outcome] | tuple[Outcome, ...]:
        """What ``event`` (the next event of the trace) settles."""
        kind = event["event"]
        if kind == "drop":
            return self._drop(event)
        if kind == "duplicate":
            digest = event.get("digest")
            if type(digest) is str:
                key = (event["node"], digest)
                self._copies[key] = self._copies.get(key, 0) + 1
            return _NOTHING
        if kind != CALL_EVENT:
            return _NOTHING
        call = event.get("call")
        transport = event.get("transport")
        if transport in STREAM_TRANSPORTS:
            if call in SEND_CALLS:
                return self._stream(event, transport, sending=True)
            if call in RECEIVE_CALLS:
                return self._stream(event, transport, sending=False)
            if call in CONNECTION_CALLS:
                return self._opened(event, transport)
            if call == "close":
                return self._closed(event, transport)
        elif transport in DATAGRAM_TRANSPORTS:
            if call in SEND_CALLS:
                return self._datagram(event, transport, sending=True)
            if call in RECEIVE_CALLS:
                return self._datagram(event, transport, sending=False)
        return _NOTHING

    def finish(self) -> list[Outcome]:
        """What is still unmatched at the end of the trace: stream bytes never received or never sent,
        datagrams lost, datagrams received that no traced send wrote."""
        out: list[Outcome] = []
        for connection in self._connections.values():
            connection.settle(out)
        self._connections.clear()
        for sends in self._datagrams_sent.values():
            for _source, _destination, send in sends:
                out.append(Unreceived(send, 0, _nbytes(send), "lost"))
        for receives in self._datagrams_early.values():
            for _source, _destination, receive in receives:
                out.append(Unsent(receive, 0, _nbytes(receive)))
        self._datagrams_sent.clear()
        self._datagrams_early.clear()
        return out

    @property
    def open_ranges(self) -> int:
        """Ranges and datagrams waiting for their other end: what this pairer's memory grows with."""
        waiting = sum(len(c.sends) + len(c.receives) for c in self._connections.values())
        waiting += sum(map(len, self._datagrams_sent.values())) + sum(
            map(len, self._datagrams_early.values())
        )
        return waiting + sum(map(len, self._drops.values()))

    # -- streams ------------------------------------------------------------------------------------

    def _side(self, direction: DirectionKey, sending: bool) -> _Side:
        side = self._sides.get((direction, sending))
        if side is None:
            side = self._sides[(direction, sending)] = _Side()
        return side

    def _connection(self, direction: DirectionKey, generation: int) -> _Connection:
        connection = self._connections.get((direction, generation))
        if connection is None:
            connection = self._connections[(direction, generation)] = _Connection()
        return connection

    def _next_generation(
        self, direction: DirectionKey, sending: bool, side: _Side, out: list[Outcome]
    ) -> None:
        left = side.generation
        side.generation += 1
        side.opened = False
        other = self._sides.get((direction, not sending))
        if other is not None and other.generation <= left:
            return  # the other side is still in it (or behind): its ranges may still pair
        connection = self._connections.pop((direction, left), None)
        if connection is not None:
            connection.settle(out)

    def _opened(self, event: dict[str, Any], transport: str) -> list[Outcome] | tuple[Outcome, ...]:
        """A connect or accept: a new connection on this socket's addresses, both directions."""
        if "errno" in event:
            return _NOTHING
        own = address_key(event.get("sockname"))
        if event.get("call") == "accept":
            result = event.get("result")
            peer = address_key(result.get("address")) if type(result) is dict else ""
            sock = result.get("sock") if type(result) is dict else None
        else:
            peer = address_key(event.get("peername"))
            sock = event.get("sock")
        self._sockets[(event["node"], sock)] = (transport, own, peer)
        out: list[Outcome] = []
        for direction, sending in (((transport, own, peer), True), ((transport, peer, own), False)):
            side = self._side(direction, sending)
            connection = self._connections.get((direction, side.generation))
            moved = connection is not None and (connection.sent_high if sending else connection.received_high)
            if side.opened or moved:
                self._next_generation(direction, sending, side, out)
            side.opened = True
        return out

    def _closed(self, event: dict[str, Any], transport: str) -> list[Outcome] | tuple[Outcome, ...]:
        """A stream socket closed: once both sockets of a connection have, it is over, and what it left
        unmatched never pairs; it is settled, and forgotten, so that memory does not grow with the number
        of connections a trace holds (a connection to a socket that is not traced is remembered)."""
        known = self._sockets.pop((event["node"], event.get("sock")), None)
        if known is None:
            if "peername" not in event:
                return _NOTHING  # a listener, or a socket that never connected
            known = (transport, address_key(event.get("sockname")), address_key(event["peername"]))
        mirror = (known[0], known[2], known[1])
        if mirror not in self._closed_ends:
            self._closed_ends.add(known)
            return _NOTHING
        self._closed_ends.discard(mirror)
        out: list[Outcome] = []
        for direction in (known, mirror):
            for sending in (True, False):
                side = self._sides.pop((direction, sending), None)
                if side is not None:
                    connection = self._connections.pop((direction, side.generation), None)
                    if connection is not None:
                        connection.settle(out)
        return out

    def _stream(
        self, event: dict[str, Any], transport: str, *, sending: bool
    ) -> list[Outcome] | tuple[Outcome, ...]:
        nbytes = event.get("nbytes")
        offset = event.get("offset")
        if type(nbytes) is not int or nbytes <= 0 or type(offset) is not int or offset < 0:
            return _NOTHING  # end of stream, a failed call, or a call that moved nothing
        sockname, peername = address_key(event.get("sockname")), address_key(event.get("peername"))
        direction = (transport, sockname, peername) if sending else (transport, peername, sockname)
        self._sockets[(event["node"], event.get("sock"))] = (transport, sockname, peername)
        out: list[Outcome] = []
        side = self._side(direction, sending)
        connection = self._connection(direction, side.generation)
        if offset < (connection.sent_high if sending else connection.received_high):
            self._next_generation(direction, sending, side, out)
            connection = self._connection(direction, side.generation)
        end = offset + nbytes
        _match(connection, offset, end, event, sending, out)
        if sending:
            connection.sent_high = max(connection.sent_high, end)
        else:
            connection.received_high = max(connection.received_high, end)
        return out

    # -- datagrams ----------------------------------------------------------------------------------

    def _datagram(
        self, event: dict[str, Any], transport: str, *, sending: bool
    ) -> list[Outcome] | tuple[Outcome, ...]:
        digest = event.get("digest")
        if type(digest) is not str or "errno" in event:
            return _NOTHING
        own = address_key(event.get("sockname"))
        # A receive that does not say where from (recv on an unconnected socket) may pair with any source.
        other = address_key(event["peername"]) if "peername" in event or sending else None
        source, destination = (own, other) if sending else (other, own)
        key = (transport, _port(destination), digest)
        if sending:
            copies = self._copies.get((event["node"], digest))
            if copies:
                # netsim's link delivers this datagram twice: the send pairs with two receives.
                if copies == 1:
                    del self._copies[(event["node"], digest)]
                else:
                    self._copies[(event["node"], digest)] = copies - 1
                first = self._datagram(event, transport, sending=True)
                return [*first, *self._datagram(event, transport, sending=True)]
            drops = self._drops.get((event["node"], digest))
            if drops:
                drop = drops.popleft()
                if not drops:
                    del self._drops[(event["node"], digest)]
                return [Unreceived(event, 0, _nbytes(event), "dropped", drop)]
            receive = _take(self._datagrams_early, key, source, destination)
            if receive is not None:
                return [BytePair(event, receive, 0, _nbytes(event), True)]
            self._datagrams_sent.setdefault(key, deque()).append((source, destination, event))
            return _NOTHING
        send = _take(self._datagrams_sent, key, source, destination)
        if send is not None:
            return [BytePair(send, event, 0, _nbytes(send), True)]
        self._datagrams_early.setdefault(key, deque()).append((source, destination, event))
        return _NOTHING

    def _drop(self, event: dict[str, Any]) -> list[Outcome] | tuple[Outcome, ...]:
        """netsim dropped a datagram of a program: settle its send, or wait for it (the drop may be
        written before the call that sent it returns)."""
        digest = event.get("digest")
        if type(digest) is not str:
            return _NOTHING
        node = event["node"]
        # Its send, if already here: the first one waiting from this node with this digest.
        for key, sends in self._datagrams_sent.items():
            if key[2] != digest:
                continue
            for index, (_source, _destination, send) in enumerate(sends):
                if send["node"] == node and _same_socket(send, event):
                    del sends[index]
                    if not sends:
                        del self._datagrams_sent[key]
                    return [Unreceived(send, 0, _nbytes(send), "dropped", event)]
        self._drops.setdefault((node, digest), deque()).append(event)
        return _NOTHING


# Hosts a socket bound to "any address" reports: it receives what was sent to any of its host's addresses.
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def _port(address: Address) -> Any:
    """What a datagram's destination is filed under: an inet address's port (its host is compared when
    pairing, where a wildcard matches any), an AF_UNIX path as it is."""
    return address[1] if type(address) is tuple and len(address) >= 2 else address


def _same_place(first: Address, second: Address) -> bool:
    if first is None or second is None or first == second:
        return True
    if type(first) is tuple and type(second) is tuple and first[1:] == second[1:]:
        return first[0] in _WILDCARD_HOSTS or second[0] in _WILDCARD_HOSTS
    return False


def _take(waiting: dict[Any, deque[Any]], key: Any, source: Address, destination: Address) -> Any:
    """The first event waiting under ``key`` from ``source`` to ``destination`` (either may be unknown, or
    a wildcard host), removed from ``waiting``; None if there is none."""
    queue = waiting.get(key)
    if not queue:
        return None
    for index, (their_source, their_destination, event) in enumerate(queue):
        if _same_place(their_source, source) and _same_place(their_destination, destination):
            del queue[index]
            if not queue:
                del waiting[key]
            return event
    return None


def _same_socket(send: dict[str, Any], drop: dict[str, Any]) -> bool:
    sock = drop.get("sock")
    return sock is None or send.get("sock") == sock


def _nbytes(event: dict[str, Any]) -> int:
    nbytes = event.get("nbytes")
    return nbytes if type(nbytes) is int and nbytes > 0 else 0


def _match(
    connection: _Connection, start: int, end: int, event: dict[str, Any], sending: bool, out: list[Outcome]
) -> None:
    """Pair ``[start, end)`` of ``event`` with the other side's waiting ranges; settle what can never pair;
    leave the rest waiting."""
    if sending:
        others, own, other_high = connection.receives, connection.sends, connection.received_high
    else:
        others, own, other_high = connection.sends, connection.receives, connection.sent_high

    def lone(lone_event: dict[str, Any], lone_start: int, lone_end: int, is_send: bool) -> None:
        if is_send:
            out.append(Unreceived(lone_event, lone_start, lone_end, "not received"))
        else:
            out.append(Unsent(lone_event, lone_start, lone_end))

    # The other side's ranges wholly before this one: this side has gone past them without them.
    while others and others[0][1] <= start:
        other_start, other_end, other_event = others.popleft()
        lone(other_event, other_start, other_end, not sending)
    position = start
    while others and others[0][0] < end:
        waiting = others[0]
        other_start, other_end, other_event = waiting
        low, high = max(start, other_start), min(end, other_end)
        if other_start < low:
            lone(other_event, other_start, low, not sending)
        if position < low:
            lone(event, position, low, sending)
        if sending:
            out.append(BytePair(event, other_event, low, high, False))
        else:
            out.append(BytePair(other_event, event, low, high, False))
        position = high
        if other_end > high:
            waiting[0] = high
            break
        others.popleft()
    if position < end:
        # Bytes the other side has gone past already never pair; the rest wait for it.
        passed = min(end, max(position, other_high))
        if position < passed:
            lone(event, position, passed, sending)
        if passed < end:
            own.append([passed, end, event])


def pair_calls(events: Iterable[dict[str, Any]]) -> Iterator[Outcome]:
    """Every outcome of pairing ``events`` (a trace's, in order), the unmatched ones at the end."""
    pairer = BytePairer()
    add = pairer.add
    for event in events:
        yield from add(event)
    yield from pairer.finish()
