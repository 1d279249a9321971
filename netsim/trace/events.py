"""Looking at single events: filtering a trace, and formatting one event.

``filter_events`` streams the events that match a set of filters (nodes, a link, event kinds, message
types, a time window) through ``TraceReader``; ``format_event`` renders one event as an aligned line for
people. Times are seconds into the run: ``(ts_ns - header start_ts_ns) / 1e9``. Following one message
through the trace is ``netsim.trace.follow``'s.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Iterator
from typing import Any

from netsim.errors import OptionError
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.records import compact_json, format_address
from netsim.trace.schema import MESSAGE_FIELDS, REQUIRED_EVENT_FIELDS, header_start_ts_ns

# The link filter holds events behind an accept it cannot tie to the link yet; past this many, it gives
# the accept up (see _LinkEvents).
MAX_WAITING_EVENTS = 10_000
# How many node names an error message lists before "...".
NAMES_SHOWN = 20
# Widths of the event and transport columns: the longest names, "recvfrom" and "unix-seqpacket".
EVENT_WIDTH = 8
TRANSPORT_WIDTH = 14
# Fields format_event prints in their own columns; the others follow as key=value.
_SHOWN_FIELDS = frozenset(REQUIRED_EVENT_FIELDS + MESSAGE_FIELDS)


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
        start = header_start_ts_ns(reader.header)
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


def format_time(ts_ns: int, start_ts_ns: int | None) -> str:
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
        format_time(ts_ns, start_ts_ns) if type(ts_ns) is int else "?",
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
            text = value if isinstance(value, str) else compact_json(value)
            parts.append(f"{key}={text}")
    return ("  " + "  ".join(parts)).rstrip()
