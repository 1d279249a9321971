"""Traffic per node and per link direction: messages, bytes, errors and loss, counted one event at a time.

``TrafficCounter`` is the one place that counts them. ``summarize_trace``, ``trace_stats`` and
``netsim.trace.export`` all feed it their events, so that their node and link figures agree: a message
(send/sendto or recv/recvfrom) counts for its node always, and for the link between its node and
``peer`` when it names one. A socket program's ``call`` that moves bytes counts its bytes the same way,
but no message. Loss on a direction x -> y is the number of messages x sent to y minus the
number y received from x (never negative): counts rather than sets of ``msg_id``, which is exact as long
as no message is received twice, as on every netsim transport.

The counters start from the header's topology, so that nodes and links that carried nothing are listed
too, in the header's order; a pair of nodes that exchanged messages without a link in the topology gets
a link with ``in_topology=False``. Memory grows with the nodes and links, never with the events.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

from netsim.trace.records import str_or_none
from netsim.trace.schema import (
    CALL_RECEIVES,
    CALL_SENDS,
    RECEIVE_EVENTS,
    SEND_EVENTS,
    errors_of,
    header_links,
)

MESSAGE_EVENTS = SEND_EVENTS | RECEIVE_EVENTS
LINK_SEPARATOR = " -- "
DIRECTION_SEPARATOR = " -> "


def link_key(node: str, peer: str) -> str:
    """The name of the undirected link between two nodes: ``"a -- b"`` with the names sorted."""
    first, second = sorted((node, peer))
    return f"{first}{LINK_SEPARATOR}{second}"


def seconds_between(first_ns: int | None, last_ns: int | None) -> float | None:
    return None if first_ns is None or last_ns is None else (last_ns - first_ns) / 1e9


def _per_second(count: int, span_s: float | None) -> float | None:
    return count / span_s if span_s else None


class MessageCounts(Protocol):
    """What a node, a link and a link direction all count."""

    @property
    def messages_sent(self) -> int: ...
    @property
    def messages_received(self) -> int: ...
    @property
    def bytes_sent(self) -> int: ...
    @property
    def bytes_received(self) -> int: ...


def rates_per_second(counts: MessageCounts, span_s: float | None) -> dict[str, float | None]:
    """Each of the four counts divided by ``span_s``; no rate (None) over a span of zero or an unknown one."""
    return {
        "messages_sent": _per_second(counts.messages_sent, span_s),
        "messages_received": _per_second(counts.messages_received, span_s),
        "bytes_sent": _per_second(counts.bytes_sent, span_s),
        "bytes_received": _per_second(counts.bytes_received, span_s),
    }


@dataclass(slots=True)
class NodeTraffic:
    """One node's events and messages (send/sendto and recv/recvfrom), and when it was active."""

    node: str
    app: str | None = None
    events: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    errors: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None

    @property
    def active_s(self) -> float | None:
        """Seconds from the node's first event to its last."""
        return seconds_between(self.first_ts_ns, self.last_ts_ns)

    def counts(self) -> dict[str, int]:
        """The node's counts, as both the summary's and the stats' JSON list them."""
        return {
            "events": self.events,
            "messages_sent": self.messages_sent,
            "messages_received": self.messages_received,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "errors": self.errors,
        }

    def to_dict(self, run_span_s: float | None = None) -> dict[str, Any]:
        """The node as ``netsim trace stats --json`` prints it: counts, active span and rates."""
        return {
            "node": self.node,
            "app": self.app,
            **self.counts(),
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "active_s": self.active_s,
            "per_s_active": rates_per_second(self, self.active_s),
            "per_s_run": rates_per_second(self, run_span_s),
        }


@dataclass(slots=True)
class DirectionTraffic:
    """Messages from ``source`` to ``destination``, as both ends recorded them, and their latencies.

    ``latencies_ns`` stays empty unless the caller matches sends to receives (``trace_stats`` does).
    """

    source: str
    destination: str
    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    # Messages (and socket programs' datagrams) netsim dropped on purpose: a link's loss or queue, a
    # partition, a link that was down. Never sent, so not among the lost.
    dropped: int = 0

    @property
    def key(self) -> str:
        return f"{self.source}{DIRECTION_SEPARATOR}{self.destination}"

    @property
    def lost(self) -> int:
        """Sent minus received, never negative."""
        return max(0, self.messages_sent - self.messages_received)

    def to_dict(self) -> dict[str, Any]:
        """The direction's counts, as ``netsim trace summary --json`` prints them (stats adds rates)."""
        return {
            "from": self.source,
            "to": self.destination,
            "messages_sent": self.messages_sent,
            "bytes_sent": self.bytes_sent,
            "messages_received": self.messages_received,
            "bytes_received": self.bytes_received,
            "lost": self.lost,
            "dropped": self.dropped,
        }


class _BothDirections:
    """A read-only count of a link: the same count of its two directions, added up."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, link: None, owner: type | None = None) -> _BothDirections: ...
    @overload
    def __get__(self, link: LinkTraffic, owner: type | None = None) -> int: ...
    def __get__(self, link: LinkTraffic | None, owner: type | None = None) -> _BothDirections | int:
        if link is None:
            return self
        return getattr(link.a_to_b, self.name) + getattr(link.b_to_a, self.name)


@dataclass(slots=True)
class LinkTraffic:
    """One undirected link ``a -- b`` (a < b) and its two directions.

    ``in_topology`` is False for a pair of nodes that exchanged messages without a link in the header's
    topology (an app that talks to a non-neighbour); its transport is then the one its events name.
    """

    a: str
    b: str
    transport: str | None
    in_topology: bool
    a_to_b: DirectionTraffic = field(init=False)
    b_to_a: DirectionTraffic = field(init=False)

    def __post_init__(self) -> None:
        self.a_to_b = DirectionTraffic(self.a, self.b)
        self.b_to_a = DirectionTraffic(self.b, self.a)

    @property
    def key(self) -> str:
        return f"{self.a}{LINK_SEPARATOR}{self.b}"

    @property
    def directions(self) -> tuple[DirectionTraffic, DirectionTraffic]:
        return self.a_to_b, self.b_to_a

    def names(self) -> dict[str, Any]:
        """What the link is, as both the summary's and the stats' JSON begin it: key, ends, transport."""
        return {
            "link": self.key,
            "a": self.a,
            "b": self.b,
            "transport": self.transport,
            "in_topology": self.in_topology,
        }

    # A link's counts are its two directions' added up.
    messages_sent = _BothDirections()
    messages_received = _BothDirections()
    bytes_sent = _BothDirections()
    bytes_received = _BothDirections()
    lost = _BothDirections()
    dropped = _BothDirections()

    @property
    def active_s(self) -> float | None:
        """Seconds from the link's first message event to its last."""
        firsts = [d.first_ts_ns for d in self.directions if d.first_ts_ns is not None]
        lasts = [d.last_ts_ns for d in self.directions if d.last_ts_ns is not None]
        return seconds_between(min(firsts), max(lasts)) if firsts else None


class TrafficCounter:
    """Counts per node and per link direction, fed one event at a time.

    ``node_type`` and ``link_type`` are the classes the counters are made of: a caller that reports
    them in its own shape passes subclasses of ``NodeTraffic`` and ``LinkTraffic`` (as the summary does).
    """

    def __init__(
        self,
        header: dict[str, Any],
        *,
        node_type: type[NodeTraffic] = NodeTraffic,
        link_type: type[LinkTraffic] = LinkTraffic,
    ) -> None:
        self._node_type = node_type
        self._link_type = link_type
        topology = header.get("topology")
        topology = topology if isinstance(topology, dict) else {}
        node_apps = header.get("node_apps")
        self._node_apps: dict[str, Any] = node_apps if isinstance(node_apps, dict) else {}
        self.nodes: dict[str, NodeTraffic] = {}
        for name in topology.get("nodes") or []:
            if isinstance(name, str):
                self.node(name)
        self.links: dict[str, LinkTraffic] = {}
        # (source, destination) -> its direction: one tuple lookup instead of sorting and formatting a key.
        self.directions: dict[tuple[str, str], DirectionTraffic] = {}
        self.messages_without_peer = 0
        # Events counted so far, and for each link outside the topology the number of the event that
        # made it (``added`` then): what a caller sharing this counter with others (the report's pass)
        # needs to know whether a link already existed at one of its own events.
        self.added = 0
        self.created_at: dict[tuple[str, str], int] = {}
        default_transport = str_or_none(header.get("transport"))
        for a, b, transport in header_links(header):
            self._link(a, b, default_transport if transport is None else transport, in_topology=True)

    def node(self, name: str) -> NodeTraffic:
        stats = self.nodes.get(name)
        if stats is None:
            app = self._node_apps.get(name)
            stats = self.nodes[name] = self._node_type(name, app if isinstance(app, str) else None)
        return stats

    def _link(self, first: str, second: str, transport: str | None, *, in_topology: bool) -> LinkTraffic:
        a, b = sorted((first, second))
        key = f"{a}{LINK_SEPARATOR}{b}"
        link = self.links.get(key)
        if link is None:
            link = self.links[key] = self._link_type(a, b, transport, in_topology)
            self.directions[(a, b)] = link.a_to_b
            self.directions[(b, a)] = link.b_to_a
        return link

    def direction(self, source: str, destination: str, transport: Any = None) -> DirectionTraffic:
        """The direction ``source -> destination``, adding a link outside the topology if needed."""
        found = self.directions.get((source, destination))
        if found is None:
            transport = transport if isinstance(transport, str) else None
            link = self._link(source, destination, transport, in_topology=False)
            self.created_at[(link.a, link.b)] = self.added
            found = self.directions[(source, destination)]
        return found

    def add(self, record: dict[str, Any]) -> NodeTraffic:
        """Count one event (a record from ``TraceReader``); returns its node's counters."""
        # The per-event hot path of summary, stats and export: plain attribute updates, no helper calls
        # for the common case (known node, known direction).
        self.added += 1
        ts_ns: int = record["ts_ns"]
        name: str = record["node"]
        stats = self.nodes.get(name)
        if stats is None:
            stats = self.node(name)
        stats.events += 1
        if stats.first_ts_ns is None:
            stats.first_ts_ns = stats.last_ts_ns = ts_ns
        elif ts_ns > stats.last_ts_ns:  # type: ignore[operator]
            stats.last_ts_ns = ts_ns
        elif ts_ns < stats.first_ts_ns:
            stats.first_ts_ns = ts_ns
        kind = record["event"]
        if kind in MESSAGE_EVENTS:
            nbytes = record.get("nbytes")
            if type(nbytes) is not int:
                nbytes = 0
            peer = record.get("peer")
            sending = kind in SEND_EVENTS
            if sending:
                stats.messages_sent += 1
                stats.bytes_sent += nbytes
            else:
                stats.messages_received += 1
                stats.bytes_received += nbytes
            if type(peer) is not str:
                self.messages_without_peer += 1
                return stats
            pair = (name, peer) if sending else (peer, name)
            direction = self.directions.get(pair)
            if direction is None:
                direction = self.direction(*pair, record.get("transport"))
            if sending:
                direction.messages_sent += 1
                direction.bytes_sent += nbytes
            else:
                direction.messages_received += 1
                direction.bytes_received += nbytes
            if direction.first_ts_ns is None:
                direction.first_ts_ns = direction.last_ts_ns = ts_ns
            elif ts_ns > direction.last_ts_ns:  # type: ignore[operator]
                direction.last_ts_ns = ts_ns
            elif ts_ns < direction.first_ts_ns:
                direction.first_ts_ns = ts_ns
        elif kind == "error" or kind == "stop":
            stats.errors += errors_of(record)
        elif kind == "drop":
            peer = record.get("peer")
            if type(peer) is str:
                direction = self.directions.get((name, peer))
                if direction is None:
                    direction = self.direction(name, peer, record.get("transport"))
                direction.dropped += 1
        elif kind == "call":
            self._add_call(record, stats, name, ts_ns)
        return stats

    def _add_call(self, record: dict[str, Any], stats: NodeTraffic, name: str, ts_ns: int) -> None:
        """A socket program's call: the bytes it moved count for its node, and for the link to ``peer``
        when it names one. Calls are not messages: a stream has no message boundaries."""
        call = record.get("call")
        if call in CALL_SENDS:
            sending = True
        elif call in CALL_RECEIVES:
            sending = False
        else:
            return
        nbytes = record.get("nbytes")
        if type(nbytes) is not int or nbytes <= 0:
            return
        if sending:
            stats.bytes_sent += nbytes
        else:
            stats.bytes_received += nbytes
        peer = record.get("peer")
        if type(peer) is not str:
            return
        direction = self.direction(*((name, peer) if sending else (peer, name)), record.get("transport"))
        if sending:
            direction.bytes_sent += nbytes
        else:
            direction.bytes_received += nbytes
        if direction.first_ts_ns is None or ts_ns < direction.first_ts_ns:
            direction.first_ts_ns = ts_ns
        if direction.last_ts_ns is None or ts_ns > direction.last_ts_ns:
            direction.last_ts_ns = ts_ns

    def add_all(self, records: Iterable[dict[str, Any]]) -> None:
        """Count these events, one at a time (``add``)."""
        add = self.add
        for record in records:
            add(record)

    def state(self) -> dict[str, Any]:
        """The counts as JSON-ready data, for ``merge`` into the counter of an earlier part of the trace."""
        return {
            "nodes": [
                [
                    n.node,
                    n.events,
                    n.messages_sent,
                    n.messages_received,
                    n.bytes_sent,
                    n.bytes_received,
                    n.errors,
                    n.first_ts_ns,
                    n.last_ts_ns,
                ]
                for n in self.nodes.values()
            ],
            "links": [
                [
                    link.a,
                    link.b,
                    link.transport,
                    link.in_topology,
                    *(
                        [d.messages_sent, d.bytes_sent, d.messages_received, d.bytes_received]
                        + [d.first_ts_ns, d.last_ts_ns, d.dropped]
                        for d in link.directions
                    ),
                ]
                for link in self.links.values()
            ],
            "messages_without_peer": self.messages_without_peer,
        }

    def merge(self, later: dict[str, Any]) -> None:
        """Add the ``state()`` of a counter fed the events that follow this one's, from the same header.

        Afterwards this counter is what one counter fed every event would be, down to the order of the
        nodes and links it found (``latencies_ns`` aside, which neither side keeps while counting).
        """
        for name, events, sent, received, bytes_sent, bytes_received, errors, first, last in later["nodes"]:
            stats = self.node(name)
            stats.events += events
            stats.messages_sent += sent
            stats.messages_received += received
            stats.bytes_sent += bytes_sent
            stats.bytes_received += bytes_received
            stats.errors += errors
            stats.first_ts_ns = _earliest(stats.first_ts_ns, first)
            stats.last_ts_ns = _latest(stats.last_ts_ns, last)
        for a, b, transport, in_topology, *directions in later["links"]:
            # The link this counter already has, or the later one's, found first in the later events.
            link = self._link(a, b, transport, in_topology=in_topology)
            for direction, (sent, bytes_sent, received, bytes_received, first, last, dropped) in zip(
                link.directions, directions, strict=True
            ):
                direction.dropped += dropped
                direction.messages_sent += sent
                direction.bytes_sent += bytes_sent
                direction.messages_received += received
                direction.bytes_received += bytes_received
                direction.first_ts_ns = _earliest(direction.first_ts_ns, first)
                direction.last_ts_ns = _latest(direction.last_ts_ns, last)
        self.messages_without_peer += later["messages_without_peer"]


def _earliest(first: int | None, second: int | None) -> int | None:
    return second if first is None else first if second is None else min(first, second)


def _latest(first: int | None, second: int | None) -> int | None:
    return second if first is None else first if second is None else max(first, second)
