"""Looking at single events and messages: filtering a trace, formatting one event, following one message.

``filter_events`` streams the events that match a set of filters (nodes, a link, event kinds, message
types, a time window); ``format_event`` renders one event as an aligned line for people;
``follow_message`` gathers one message's life (its send, its receives, the replies that cite it, what
its receiver sent on, and its fate) in one streaming pass. All of them read through ``TraceReader``.
Times are seconds into the run: ``(ts_ns - header start_ts_ns) / 1e9``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from netsim.errors import InputError, OptionError
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.schema import RECEIVE_EVENTS, SEND_EVENTS
from netsim.vocabulary import TRANSPORT_TRAITS

# Messages the receiving node sent with the same type within this long after a receive are listed as
# "possibly forwarded": apps that relay (flood, gossip) do it within microseconds.
FORWARD_WINDOW_NS = 1_000_000
# The link filter holds events behind an accept it cannot tie to the link yet; past this many, it gives
# the accept up (see _LinkEvents).
MAX_WAITING_EVENTS = 10_000
# How many node names an error message lists before "...".
NAMES_SHOWN = 20
# Widths of the event and transport columns: the longest names, "recvfrom" and "unix-seqpacket".
EVENT_WIDTH = 8
TRANSPORT_WIDTH = 14
# What netsim's link conditions and faults record about a message, besides its send and receive.
SHAPING_EVENTS = frozenset({"drop", "duplicate", "delay"})
INCIDENT_EVENTS = SHAPING_EVENTS | {"error"}
# Fields format_event prints in their own columns; the others follow as key=value.
_SHOWN_FIELDS = frozenset(
    {
        "ts_ns",
        "node",
        "event",
        "transport",
        "sockname",
        "peername",
        "peer",
        "nbytes",
        "msg_id",
        "msg_type",
        "in_reply_to",
        "lamport",
    }
)


def format_names(names: list[str]) -> str:
    """Names for an error message: the first NAMES_SHOWN, then how many there are."""
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > NAMES_SHOWN else "")


def parse_link(spec: str, node_names: list[str]) -> tuple[str, str]:
    """``"A-B"`` as the pair (A, B) of known node names; names may contain "-" themselves.

    Every "-" in ``spec`` is tried as the separator; exactly one split must give two known, distinct
    nodes. Otherwise ``OptionError`` names the known nodes (none matched) or the candidate pairs.
    """
    names = set(node_names)
    splits = [
        (spec[:index], spec[index + 1 :])
        for index, char in enumerate(spec)
        if char == "-" and spec[:index] in names and spec[index + 1 :] in names
    ]
    pairs = [(a, b) for a, b in splits if a != b]
    if len(pairs) == 1:
        return pairs[0]
    if len(pairs) > 1:
        choices = ", ".join(f"{a!r} and {b!r}" for a, b in pairs)
        raise OptionError(
            f"--link {spec!r} is ambiguous: it splits into {choices}",
            hint="pick the nodes with --node A --node B instead",
        )
    if splits:
        raise OptionError(f"--link {spec!r}: a link joins two different nodes")
    raise OptionError(
        f"--link {spec!r}: not two known node names joined by '-' (known nodes: {format_names(node_names)})",
        hint="write a link as A-B, for example n0-n1",
    )


def check_nodes(nodes: set[str], node_names: list[str]) -> None:
    """Raise ``OptionError`` naming the known nodes if ``nodes`` holds a name that is not one of
    ``node_names`` (a trace header's); a header without names checks nothing."""
    unknown = sorted(nodes - set(node_names)) if node_names else []
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise OptionError(
            f"--node: no node named {names} in this run (known nodes: {format_names(node_names)})"
        )


def _start_ts_ns(header: dict[str, Any]) -> int | None:
    start = header.get("start_ts_ns")
    return start if type(start) is int else None


def _address_key(address: Any) -> Any:
    # IPv6 ends may disagree on flowinfo and scope_id; host and port identify the socket.
    return tuple(address[:2]) if type(address) is list else address


def filter_events(
    run_or_trace: str | os.PathLike[str],
    *,
    nodes: set[str] | None = None,
    link: tuple[str, str] | None = None,
    events: set[str] | None = None,
    types: set[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int | None = None,
    strict: bool = True,
) -> Iterator[dict[str, Any]]:
    """The events of a run directory's or trace file's trace that pass every filter given, streamed.

    ``nodes``: recorded by one of these nodes. ``link=(a, b)``: about the socket between a and b, either
    way: recorded by one of them with the other as ``peer`` (an ``accept`` that does not name its peer
    matches by its addresses, which the other end's ``connect`` or its own later events name; see
    ``_LinkEvents``). ``events``: these event kinds.
    ``types``: messages of these ``msg_type``. ``since``/``until``: seconds into the run, inclusive.
    ``limit``: at most this many events. The input is checked before the first event is read: a bad
    path is an ``InputError`` at the call, not at the first ``next()``.
    """
    if limit is not None and limit < 0:
        raise OptionError(f"--limit must be 0 or more, got {limit}")
    if since is not None and until is not None and since > until:
        raise OptionError(f"--since ({since} s) is after --until ({until} s)")
    reader = TraceReader(resolve_trace_path(run_or_trace), strict=strict)
    return _filtered(reader, nodes, link, events, types, since, until, limit)


def _filtered(
    reader: TraceReader,
    nodes: set[str] | None,
    link: tuple[str, str] | None,
    events: set[str] | None,
    types: set[str] | None,
    since: float | None,
    until: float | None,
    limit: int | None,
) -> Iterator[dict[str, Any]]:
    with reader:
        if limit == 0:
            return
        start = _start_ts_ns(reader.header)
        since_ns = until_ns = None
        on_link = None if link is None else _LinkEvents(link)
        count = 0
        for record in reader:
            ts_ns = record["ts_ns"]
            if start is None:
                start = ts_ns  # a header without start_ts_ns: time counts from the first event
            if since_ns is None:
                since_ns = None if since is None else start + round(since * 1e9)
                until_ns = None if until is None else start + round(until * 1e9)
            if until_ns is not None and ts_ns > until_ns:
                break  # the trace is sorted by ts_ns: nothing later can match
            if on_link is not None:
                on_link.learn(record)
            if (
                (since_ns is None or ts_ns >= since_ns)
                and (nodes is None or record["node"] in nodes)
                and (events is None or record["event"] in events)
                and (types is None or record.get("msg_type") in types)
            ):
                if on_link is None:
                    ready: Iterator[dict[str, Any]] = iter((record,))
                else:
                    on_link.offer(record)
                    ready = on_link.ready()
            elif on_link is not None:
                ready = on_link.ready()
            else:
                continue
            for event in ready:
                yield event
                count += 1
                if limit is not None and count >= limit:
                    return
        if on_link is not None:
            for event in on_link.rest():
                yield event
                count += 1
                if limit is not None and count >= limit:
                    return


class _LinkEvents:
    """The events about the socket(s) between nodes a and b, in trace order.

    An event recorded by a or b with the other as ``peer`` is on the link. An ``accept`` that names no
    peer is on the link if the other end names its addresses (a ``connect`` from the other node whose
    sockname/peername mirror it), or if the accepting node's own later events on that socket name the
    other node as their peer. Its ``ts_ns`` may come before the ``connect`` that decides it (the kernel
    completes the connection on the listening side first), so from an undecided accept on, the events
    that pass wait here until it is decided, and leave in trace order. An accept still undecided when
    the trace ends, or with ``MAX_WAITING_EVENTS`` events waiting behind it, is left out: memory stays
    bounded, and a link's hello names the accepting socket's peer within a few events.
    """

    def __init__(self, link: tuple[str, str]) -> None:
        self.a, self.b = link
        # (node, sockname, peername) of the link's sockets, as the other end named them.
        self.sockets: set[tuple[str, Any, Any]] = set()
        # Events that passed, oldest first: [record, on the link (True, False, or None while undecided),
        # the socket key of an undecided accept].
        self._waiting: deque[list[Any]] = deque()
        # (node, sockname, peername) of each undecided accept -> its entry in _waiting.
        self._undecided: dict[tuple[str, Any, Any], list[Any]] = {}

    def _other(self, node: str) -> str | None:
        return self.b if node == self.a else self.a if node == self.b else None

    def learn(self, record: dict[str, Any]) -> None:
        """Take what any event says about the link's sockets, whether or not it passes the filters."""
        node, peer = record["node"], record.get("peer")
        other = self._other(node)
        sockname, peername = record.get("sockname"), record.get("peername")
        if other is None or peer is None or sockname is None or peername is None:
            return
        with contextlib.suppress(TypeError):  # an unhashable address in a hand-made trace
            own = (node, _address_key(sockname), _address_key(peername))
            accept = self._undecided.pop(own, None)
            if accept is not None:  # the accepting node's own socket, now named
                accept[1] = peer == other
            if peer == other:
                mirror = (other, _address_key(peername), _address_key(sockname))
                self.sockets.add(mirror)
                accept = self._undecided.pop(mirror, None)
                if accept is not None:
                    accept[1] = True

    def offer(self, record: dict[str, Any]) -> None:
        """An event that passed the other filters: on the link, not, or (an accept) not known yet."""
        node = record["node"]
        other = self._other(node)
        entry: list[Any] = [record, False, None]
        if other is not None:
            peer = record.get("peer")
            if peer is not None:
                entry[1] = peer == other
            else:
                sockname, peername = record.get("sockname"), record.get("peername")
                if sockname is not None and peername is not None:
                    with contextlib.suppress(TypeError):  # an unhashable address in a hand-made trace
                        key = (node, _address_key(sockname), _address_key(peername))
                        if key in self.sockets:
                            entry[1] = True
                        elif record["event"] == "accept":
                            entry[1] = None
                            entry[2] = key
                            self._undecided[key] = entry
        if entry[1] is not False:
            waiting = self._waiting
            waiting.append(entry)
            if len(waiting) > MAX_WAITING_EVENTS and waiting[0][1] is None:
                oldest = waiting[0]
                oldest[1] = False
                self._undecided.pop(oldest[2], None)

    def ready(self) -> Iterator[dict[str, Any]]:
        """The waiting events on the link up to the first undecided one, oldest first."""
        waiting = self._waiting
        while waiting and waiting[0][1] is not None:
            record, on_link, _ = waiting.popleft()
            if on_link:
                yield record

    def rest(self) -> Iterator[dict[str, Any]]:
        """At the end of the trace: every waiting event on the link; undecided accepts are left out."""
        self._undecided.clear()
        while self._waiting:
            record, on_link, _ = self._waiting.popleft()
            if on_link:
                yield record


def format_address(address: Any) -> str:
    """``host:port``, ``[v6 host]:port``, or an AF_UNIX path (``""`` for an unnamed socket)."""
    if type(address) is list and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if isinstance(host, str) and ":" in host else f"{host}:{port}"
    if address == "":
        return '""'
    return str(address)


def _seconds(ts_ns: int, start_ts_ns: int | None) -> str:
    if start_ts_ns is None:
        return f"{ts_ns}ns"
    return f"{(ts_ns - start_ts_ns) / 1e9:10.6f}s"


_ARROWS = {"send": "->", "sendto": "->", "connect": "->", "recv": "<-", "recvfrom": "<-", "accept": "<-"}


def format_event(event: dict[str, Any], start_ts_ns: int | None, *, node_width: int = 0) -> str:
    """One event as an aligned line for people, for example (columns padded)::

        0.012345s  n1  recv  tcp  127.0.0.1:40001 <- 127.0.0.1:51234  [n0]  83B  n0:4 ping  L=5

    Addresses read from the recording node's side: ``sockname -> peername`` for what it sends or
    connects, ``sockname <- peername`` for what it receives or accepts. ``node_width`` pads the node
    column (pass the longest node name's length to line a listing up). Fields without a column of
    their own follow as ``key=value``.
    """
    kind = str(event.get("event"))
    ts_ns = event.get("ts_ns")
    parts = [
        _seconds(ts_ns, start_ts_ns) if type(ts_ns) is int else "?",
        f"{event.get('node')!s:<{node_width}}",
        f"{kind:<{EVENT_WIDTH}}",
    ]
    transport = event.get("transport")
    if transport is not None:
        parts.append(f"{transport!s:<{TRANSPORT_WIDTH}}")
    if "sockname" in event:
        where = format_address(event["sockname"])
        if "peername" in event:
            where += f" {_ARROWS.get(kind, '--')} {format_address(event['peername'])}"
        parts.append(where)
    if "peer" in event:
        parts.append(f"[{event['peer']}]")
    if "nbytes" in event:
        parts.append(f"{event['nbytes']}B")
    if "msg_id" in event or "msg_type" in event:
        parts.append(" ".join(str(event[key]) for key in ("msg_id", "msg_type") if key in event))
    if "in_reply_to" in event:
        parts.append(f"re {event['in_reply_to']}")
    if "lamport" in event:
        parts.append(f"L={event['lamport']}")
    for key, value in event.items():
        if key not in _SHOWN_FIELDS:
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            parts.append(f"{key}={text}")
    return ("  " + "  ".join(parts)).rstrip()


# ---- following one message ---------------------------------------------------------------------------


@dataclass(slots=True)
class ReplyLife:
    """A reply that cites the followed message (``in_reply_to``): its send(s) and receive(s)."""

    msg_id: str
    msg_type: str | None
    sends: list[dict[str, Any]] = field(default_factory=list)
    receives: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "msg_type": self.msg_type,
            "sends": list(self.sends),
            "receives": list(self.receives),
        }


@dataclass(slots=True)
class MessageLife:
    """Everything the trace says about one message; ``to_dict()`` is ``netsim trace follow --json``.

    ``incidents`` are the ``drop``, ``duplicate`` and ``delay`` events of netsim's link conditions that
    name the message, and the ``error`` events that name it (in their ``msg_id`` or their error text).
    ``possibly_forwarded`` are the sends of a receiving node, of the same ``msg_type``, within
    ``FORWARD_WINDOW_NS`` after it received the message: a guess, not a link the trace records.
    ``destination_stopped`` says whether the destination's ``stop`` is in the trace.
    """

    msg_id: str
    start_ts_ns: int | None
    sends: list[dict[str, Any]] = field(default_factory=list)
    receives: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    replies: list[ReplyLife] = field(default_factory=list)
    possibly_forwarded: list[dict[str, Any]] = field(default_factory=list)
    destination_stopped: bool = False

    def _first(self, key: str) -> Any:
        for record in self.sends + self.receives + self._shaping():
            if key in record:
                return record[key]
        return None

    def _shaping(self) -> list[dict[str, Any]]:
        # Recorded by the sender, naming the destination: what is known of a message dropped unsent.
        return [incident for incident in self.incidents if incident["event"] in SHAPING_EVENTS]

    @property
    def msg_type(self) -> str | None:
        return self._first("msg_type")

    @property
    def transport(self) -> str | None:
        return self._first("transport")

    @property
    def sender(self) -> str | None:
        if self.sends:
            return self.sends[0]["node"]
        if self.receives:
            return self.receives[0].get("peer")
        shaping = self._shaping()
        return shaping[0]["node"] if shaping else None

    @property
    def destination(self) -> str | None:
        if self.sends:
            return self.sends[0].get("peer")
        if self.receives:
            return self.receives[0]["node"]
        shaping = self._shaping()
        return shaping[0].get("peer") if shaping else None

    @property
    def latency_ns(self) -> int | None:
        """From the first send to the first receive."""
        if not self.sends or not self.receives:
            return None
        return self.receives[0]["ts_ns"] - self.sends[0]["ts_ns"]

    @property
    def fate(self) -> str:
        """``delivered``, ``dropped`` (by netsim, on purpose), ``lost`` (its destination stopped without
        receiving it) or ``in flight at end`` (the trace ends before the destination stopped)."""
        if self.receives:
            return "delivered"
        if any(incident["event"] == "drop" for incident in self.incidents):
            return "dropped"
        if self.destination_stopped:
            return "lost"
        return "in flight at end"

    def to_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "msg_type": self.msg_type,
            "sender": self.sender,
            "destination": self.destination,
            "transport": self.transport,
            "fate": self.fate,
            "latency_ns": self.latency_ns,
            "sends": list(self.sends),
            "receives": list(self.receives),
            "incidents": list(self.incidents),
            "replies": [reply.to_dict() for reply in self.replies],
            "possibly_forwarded": list(self.possibly_forwarded),
            "destination_stopped": self.destination_stopped,
        }


def follow_message(run_or_trace: str | os.PathLike[str], msg_id: str, *, strict: bool = True) -> MessageLife:
    """The life of message ``msg_id`` in a run directory's or trace file's trace, from one pass.

    Raises ``InputError`` (exit 2) if no event of the trace names ``msg_id``.
    """
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader:
        life = MessageLife(msg_id=msg_id, start_ts_ns=_start_ts_ns(reader.header))
        replies: dict[str, ReplyLife] = {}
        # The id as a whole token in an error text: "n0:1" must not match inside "n0:12".
        mention = re.compile(rf"(?<![\w:]){re.escape(msg_id)}(?!\w)")
        # (receiving node, receive ts_ns + window) for each receive: sends inside may forward it.
        windows: list[tuple[str, int]] = []
        stopped: set[str] = set()
        msg_type: Any = None
        for record in reader:
            kind = record["event"]
            record_msg_id = record.get("msg_id")
            if record_msg_id == msg_id:
                if kind in SEND_EVENTS:
                    life.sends.append(record)
                elif kind in RECEIVE_EVENTS:
                    life.receives.append(record)
                    msg_type = record.get("msg_type")
                    windows.append((record["node"], record["ts_ns"] + FORWARD_WINDOW_NS))
                elif kind in INCIDENT_EVENTS:
                    life.incidents.append(record)
                continue
            if kind == "stop":
                stopped.add(record["node"])
            elif kind == "error":
                text = record.get("error")
                if isinstance(text, str) and mention.search(text):
                    life.incidents.append(record)
            if record.get("in_reply_to") == msg_id and isinstance(record_msg_id, str):
                reply = replies.get(record_msg_id)
                if reply is None:
                    reply = replies[record_msg_id] = ReplyLife(record_msg_id, record.get("msg_type"))
                if kind in SEND_EVENTS:
                    reply.sends.append(record)
                elif kind in RECEIVE_EVENTS:
                    reply.receives.append(record)
            elif windows and kind in SEND_EVENTS:
                ts_ns = record["ts_ns"]
                # The trace is sorted: a window that has closed stays closed.
                windows = [(node, end) for node, end in windows if end >= ts_ns]
                if (
                    any(node == record["node"] for node, _end in windows)
                    and record.get("msg_type") == msg_type
                ):
                    life.possibly_forwarded.append(record)
        life.replies = list(replies.values())
        if not (life.sends or life.receives or life.incidents or life.replies):
            raise InputError(
                f"{reader.path}: no event names message {msg_id!r}",
                hint="message ids look like n0:1 (sender:counter); list them with "
                "netsim trace events RUN --event send",
            )
        destination = life.destination
        life.destination_stopped = destination is not None and destination in stopped
        return life


def format_duration(ns: int) -> str:
    """A duration for people: ``850 ns``, ``67 µs``, ``1.234 ms``, ``2.500 s``."""
    if abs(ns) < 1_000:
        return f"{ns} ns"
    if abs(ns) < 1_000_000:
        return f"{ns / 1e3:.0f} µs"
    if abs(ns) < 1_000_000_000:
        return f"{ns / 1e6:.3f} ms"
    return f"{ns / 1e9:.3f} s"


def _over(record: dict[str, Any]) -> str:
    text = f"over {record.get('transport', '?')}"
    if "sockname" in record and "peername" in record:
        text += f" {format_address(record['sockname'])} -> {format_address(record['peername'])}"
    if "nbytes" in record:
        text += f" ({record['nbytes']} B)"
    return text


def message_timeline(life: MessageLife) -> list[str]:
    """The message's life as one line per step, in time order, then its fate."""
    steps: list[tuple[int, int, str]] = []
    first_send = life.sends[0]["ts_ns"] if life.sends else None

    def add(record: dict[str, Any], text: str) -> None:
        ts_ns = record["ts_ns"]
        steps.append((ts_ns, len(steps), f"{_seconds(ts_ns, life.start_ts_ns).strip()}  {text}"))

    def after(ts_ns: int, since: int | None, what: str = "later") -> str:
        return "" if since is None else f" ({format_duration(ts_ns - since)} {what})"

    for index, send in enumerate(life.sends):
        again = " again" if index else ""
        add(
            send,
            f"{send['node']} sent{again} {send.get('msg_type', 'message')} {life.msg_id} "
            f"to {send.get('peer', '?')} {_over(send)}",
        )
    last_receive: dict[str, int] = {}
    for index, receive in enumerate(life.receives):
        again = " again" if index else ""
        add(receive, f"{receive['node']} received it{again}{after(receive['ts_ns'], first_send)}")
        last_receive.setdefault(receive["node"], receive["ts_ns"])
    for incident in life.incidents:
        kind = incident["event"]
        if kind == "drop":
            text = f"netsim dropped it at {incident['node']} ({incident.get('reason', 'no reason given')})"
        elif kind == "duplicate":
            text = f"netsim duplicated it at {incident['node']}"
        elif kind == "delay":
            delay_ns = incident.get("delay_ns")
            held = f" {format_duration(delay_ns)}" if type(delay_ns) is int else ""
            text = f"netsim held it back{held} at {incident['node']}"
        else:
            text = f"{incident['node']} error: {incident.get('error', '?')}"
        add(incident, text)
    for reply in life.replies:
        reply_sent = reply.sends[0]["ts_ns"] if reply.sends else None
        for send in reply.sends:
            since = last_receive.get(send["node"])
            add(
                send,
                f"{send['node']} replied {reply.msg_type or 'message'} {reply.msg_id} to "
                f"{send.get('peer', '?')}{after(send['ts_ns'], since, 'after receiving it')}",
            )
        for receive in reply.receives:
            add(
                receive,
                f"{receive['node']} received the reply {reply.msg_id}{after(receive['ts_ns'], reply_sent)}",
            )
    for send in life.possibly_forwarded:
        since = last_receive.get(send["node"])
        add(
            send,
            f"{send['node']} possibly forwarded it as {send.get('msg_id', '?')} to {send.get('peer', '?')}"
            f"{after(send['ts_ns'], since, 'after receiving it')}",
        )
    lines = [text for _ts, _order, text in sorted(steps)]
    fate = f"fate: {life.fate}"
    if life.latency_ns is not None:
        fate += f", latency {format_duration(life.latency_ns)}"
    elif life.fate == "lost" and _known_unreliable(life.transport):
        fate += f" ({life.transport} does not retransmit)"
    lines.append(fate)
    return lines


def _known_unreliable(transport: str | None) -> bool:
    traits = TRANSPORT_TRAITS.get(transport) if transport else None
    return traits is not None and not traits.reliable
