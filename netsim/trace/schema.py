"""The ``netsim-trace/1`` record schema: what nodes write and what every trace tool reads.

A trace is JSON Lines. Line 1 is the header (``"type": "header"``); every other line is one event record.
``docs/trace-format.md`` documents each field with an example; this module is its source of truth.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "netsim-trace/1"
HEADER_TYPE = "header"

# A node's part file may hold its message records as batch rows (netsim.trace.writer.MessageRecords),
# each one these fields, in this order; the launcher's merge turns them back into records.
BATCH_ROW_FIELDS: tuple[str, ...] = ("ts_ns", "nbytes", "msg_id", "msg_type", "lamport", "in_reply_to")

# Every event record has these.
REQUIRED_EVENT_FIELDS: tuple[str, ...] = ("ts_ns", "node", "event")

# A socket program's call on one of its sockets (netsim.runtime.sockets; docs/trace-format.md). Not in
# OPTIONAL_EVENT_FIELDS: the SQL export keeps them in its ``extra`` column, as JSON.
CALL_FIELDS: tuple[str, ...] = (
    "call",  # the method: send, recv, accept, connect, ...
    "sock",  # the socket's number in its node process, in creation order
    "args",  # the call's arguments as a JSON object (address, bufsize, flags, option names...)
    "result",  # what the call returned when that is not bytes (connect_ex's errno name, getsockopt's value)
    "offset",  # on a stream socket: bytes this socket had sent (send) / received (receive) before the call
    "digest",  # on datagram and seqpacket sockets: 16 hex digits of the payload's BLAKE2b hash
    "preview",  # the payload's first 48 bytes as text, for reading only
    "start_ns",  # on a call that may block: when it began (ts_ns: when it returned)
    "errno",  # the call failed: the errno's name
)
CALL_EVENT = "call"
# The calls that move bytes: what the trace tools count and pair (netsim.trace.byte_ranges).
CALL_SENDS: frozenset[str] = frozenset({"send", "sendall", "sendto", "sendmsg"})
CALL_RECEIVES: frozenset[str] = frozenset(
    {"recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "recvmsg_into"}
)

# Optional fields, present only where they apply to the event (absent rather than null). The first
# ones say which socket and which message an event is about; tools show them in this order.
MESSAGE_FIELDS: tuple[str, ...] = (
    "transport",  # one of netsim.vocabulary.TRANSPORT_NAMES
    "sockname",  # getsockname() of the socket: [host, port] / [host, port, flowinfo, scope_id] / "path"
    "peername",  # getpeername(), or the address recvfrom()/sendto() used, same shapes as sockname
    "peer",  # the neighbour node's name at the other end of the socket, once known
    "nbytes",  # bytes handed to / taken from the kernel for this message, framing included
    "msg_id",  # the message envelope's id
    "msg_type",  # the message envelope's type
    "in_reply_to",  # the id of the message this one answers
    "lamport",  # the node's Lamport clock: stamped on a send, after the update on a receive
)
OPTIONAL_EVENT_FIELDS: tuple[str, ...] = MESSAGE_FIELDS + (
    "role",  # on bind: "listener" (accepts / receives) or "link" (one end of one link)
    "error",  # on error: what went wrong, one line
    "data",  # on app: the app's own JSON object
    "reason",  # on close / stop: why; on drop: loss, queue, partition, link-down
    "delay_ns",  # on delay: how long the link holds the message; on duplicate: the copy's delay
    "attempt",  # on connect / error: which reconnection attempt (1, 2, ...) after a link went down
    "fault",  # on fault: partition, heal, link-down, link-up, slow, kill, stop, cont, restart
    "suppressed",  # on error / stop: the node's errors left out of the trace since its last error event
)

# Socket events, in the order they usually happen.
SOCKET_EVENTS: tuple[str, ...] = (
    "bind",
    "listen",
    "connect",
    "accept",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "close",
    "error",
)
# Node life-cycle and app events.
NODE_EVENTS: tuple[str, ...] = ("start", "done", "stop", "app", "forward")
# What link conditions and faults did: written by the sending node (delay, drop, duplicate) or by
# the launcher on behalf of the node(s) a fault concerns (fault; node "*" for the whole run).
SHAPING_EVENTS: tuple[str, ...] = ("delay", "drop", "duplicate", "fault")
# A socket program's calls (a node running ``def main(net)``).
PROGRAM_EVENTS: tuple[str, ...] = (CALL_EVENT,)
EVENTS: tuple[str, ...] = SOCKET_EVENTS + NODE_EVENTS + SHAPING_EVENTS + PROGRAM_EVENTS

SEND_EVENTS: frozenset[str] = frozenset({"send", "sendto"})
RECEIVE_EVENTS: frozenset[str] = frozenset({"recv", "recvfrom"})

# Header keys a writer always fills in.
HEADER_FIELDS: tuple[str, ...] = (
    "type",  # "header"
    "schema",  # SCHEMA
    "run_id",
    "netsim_version",
    "topology",  # {"name", "source", "nodes": [...], "links": [[a, b, transport], ...]}
    "app",  # the run's default app
    "node_apps",  # {node name: the app it runs}, overrides resolved
    "transport",  # the run's default transport
    "seed",
    "started_at",  # wall clock, ISO 8601 UTC, for humans
    "start_ts_ns",  # the shared clock when the run started; ts_ns - start_ts_ns = time into the run
    "clock",  # which clock ts_ns comes from
)
# Header keys only some runs have: "node_cmds", "workload", and "node_hosts" ({node name: its own IPv4
# loopback address}) in a run with socket programs.
CLOCK_NAME = "CLOCK_MONOTONIC"


def errors_of(record: dict[str, Any]) -> int:
    """How many errors a record stands for: an ``error`` event is one, plus those it says were left out
    before it (``suppressed``); a ``stop`` stands for those left out at the end; any other event none."""
    kind = record.get("event")
    if kind != "error" and kind != "stop":
        return 0
    suppressed = record.get("suppressed")
    left_out = suppressed if type(suppressed) is int and suppressed > 0 else 0
    return left_out + (kind == "error")


def header_node_names(header: dict[str, Any]) -> list[str]:
    """The node names of the header's topology, in its order and each once; none for a header without."""
    topology = header.get("topology")
    names = topology.get("nodes") if isinstance(topology, dict) else None
    return list(dict.fromkeys(n for n in (names if isinstance(names, list) else []) if isinstance(n, str)))


def header_start_ts_ns(header: dict[str, Any]) -> int | None:
    """The header's ``start_ts_ns`` (``ts_ns - start_ts_ns`` is time into the run); None if it has no
    integer one."""
    start = header.get("start_ts_ns")
    return start if type(start) is int else None


def header_links(header: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """The links of the header's topology as (a, b, transport), transport None where the link names
    none; links that are not two node names are passed over."""
    topology = header.get("topology")
    links = topology.get("links") if isinstance(topology, dict) else None
    result: list[tuple[str, str, str | None]] = []
    for link in links if isinstance(links, list) else []:
        if isinstance(link, list) and len(link) >= 2 and all(isinstance(n, str) for n in link[:2]):
            transport = link[2] if len(link) > 2 and isinstance(link[2], str) else None
            result.append((link[0], link[1], transport))
    return result
