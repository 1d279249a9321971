"""Checking a trace against the guarantees of ``netsim-trace/1``, in one streaming pass.

``verify_trace`` reads events through ``TraceReader`` and runs six checks side by side:

* ``mirror``: both ends of every stream connection record the same address pair, mirrored, and every
  message's receive sees the addresses of its send the other way round;
* ``exactly_once``: every message on a reliable transport is received once, and nothing is received
  twice. Loss on udp/udp6 is counted, not failed, and so is what netsim does on purpose: ``drop`` and
  ``duplicate`` events (link conditions, partitions) and nodes a ``fault`` event kills or restarts;
* ``fifo``: on every stream connection, messages are received in the order they were sent;
* ``lamport``: a receive's clock is above its send's and above everything its node recorded before;
* ``receive_has_send``: no message is received before (or without) being sent;
* ``sockets_closed``: every socket a started node opened is closed before it stops.

Memory stays O(nodes + sockets + messages in flight): a send waits in a dict keyed by ``msg_id`` until
its first receive takes it out, and ids already sent are kept as one bitmap of sequence numbers per
sending node (``msg_id`` is ``"<node>:<seq>"``), not a set of every id. A message that is never received
(udp loss) stays in flight until the end of the trace, held as a few fields rather than its record.

The lamport check is what the writer can promise, not "a node's values increase line by line": a node
stamps a message when the app queues it but records the ``send`` when the kernel takes it, so a send
can follow, in the trace, a receive with a higher clock. What does hold, and is checked: a receive's
clock is above every clock its node recorded earlier, and sends on one stream connection leave in stamp
order (datagrams may not: link conditions can reorder them on purpose).
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.vocabulary import TRANSPORT_TRAITS

CHECK_DESCRIPTIONS: dict[str, str] = {
    "mirror": "both ends of each connection and each message see mirrored addresses",
    "exactly_once": "reliable transports deliver every message once; nothing arrives twice",
    "fifo": "each stream connection delivers messages in the order they were sent",
    "lamport": "a receive's clock exceeds its send's and its node's earlier clocks",
    "receive_has_send": "every received message was sent earlier in the trace",
    "sockets_closed": "a started node closes every socket it opened before it stops",
}
CHECK_NAMES: tuple[str, ...] = tuple(CHECK_DESCRIPTIONS)

# msg_id sequence numbers above this go to a plain set instead of a bitmap (16 MiB of bits per sender).
MAX_BITMAP_SEQ = 1 << 27


@dataclass(slots=True)
class CheckResult:
    """One check's outcome. ``examples`` are the first offending events (records, in trace order) and
    ``problems`` says, for each, what is wrong with it (same order). ``counts`` holds figures a check
    reports besides its failures, such as ``lost_unreliable``; ``to_dict()`` puts them at top level."""

    name: str
    description: str
    passed: bool
    checked: int
    failures: int
    examples: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "passed": self.passed,
            "checked": self.checked,
            "failures": self.failures,
            **self.counts,
            "examples": list(self.examples),
            "problems": list(self.problems),
        }


@dataclass(slots=True)
class VerifyReport:
    """The result of ``verify_trace``; ``to_dict()`` is what ``netsim trace verify --json`` prints."""

    path: str
    run_id: str | None
    start_ts_ns: int | None
    events: int
    skipped_lines: int
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "run_id": self.run_id,
            "ok": self.ok,
            "events": self.events,
            "skipped_lines": self.skipped_lines,
            "checks": [check.to_dict() for check in self.checks],
        }


class _Check:
    """Counts and the first ``max_examples`` offending events (by trace line) of one check."""

    __slots__ = ("name", "checked", "failures", "max_examples", "_examples", "_order", "counts")

    def __init__(self, name: str, max_examples: int) -> None:
        self.name = name
        self.checked = 0
        self.failures = 0
        self.max_examples = max_examples
        # A max-heap on (line, order) via negation: failures found at the end of the trace (a send never
        # received) can be earlier in the file than ones found on the way, and the earliest win.
        self._examples: list[tuple[int, int, dict[str, Any], str]] = []
        self._order = 0
        self.counts: dict[str, Any] = {}

    def fail(self, record: dict[str, Any], line: int, problem: str) -> None:
        self.failures += 1
        if self.max_examples <= 0:
            return
        self._order += 1
        entry = (-line, -self._order, record, f"line {line}: {problem}")
        if len(self._examples) < self.max_examples:
            heapq.heappush(self._examples, entry)
        elif entry > self._examples[0]:
            heapq.heapreplace(self._examples, entry)

    def result(self) -> CheckResult:
        ordered = sorted(self._examples, reverse=True)
        return CheckResult(
            name=self.name,
            description=CHECK_DESCRIPTIONS[self.name],
            passed=self.failures == 0,
            checked=self.checked,
            failures=self.failures,
            examples=[record for _line, _order, record, _problem in ordered],
            problems=[problem for _line, _order, _record, problem in ordered],
            counts=self.counts,
        )


class _MessageIds:
    """A set of ``msg_id`` strings stored as one bitmap of sequence numbers per sending node."""

    __slots__ = ("_bitmaps", "_others")

    def __init__(self) -> None:
        self._bitmaps: dict[str, bytearray] = {}
        self._others: set[str] = set()

    def add(self, msg_id: str) -> bool:
        """Add ``msg_id``; True if it was not there yet."""
        sender, separator, seq_text = msg_id.rpartition(":")
        if separator and seq_text.isascii() and seq_text.isdigit():
            seq = int(seq_text)
            if seq <= MAX_BITMAP_SEQ:
                bitmap = self._bitmaps.get(sender)
                if bitmap is None:
                    bitmap = self._bitmaps[sender] = bytearray(64)
                index, bit = seq >> 3, 1 << (seq & 7)
                if index >= len(bitmap):
                    bitmap.extend(bytes(max(index + 1, 2 * len(bitmap)) - len(bitmap)))
                if bitmap[index] & bit:
                    return False
                bitmap[index] |= bit
                return True
        if msg_id in self._others:
            return False
        self._others.add(msg_id)
        return True

    def forget(self, sender: str) -> None:
        """Forget every id of ``sender`` (a restarted node numbers its messages from 1 again)."""
        self._bitmaps.pop(sender, None)
        prefix = f"{sender}:"
        self._others = {msg_id for msg_id in self._others if not msg_id.startswith(prefix)}

    def __contains__(self, msg_id: str) -> bool:
        sender, separator, seq_text = msg_id.rpartition(":")
        if separator and seq_text.isascii() and seq_text.isdigit():
            seq = int(seq_text)
            if seq <= MAX_BITMAP_SEQ:
                bitmap = self._bitmaps.get(sender)
                index = seq >> 3
                return bitmap is not None and index < len(bitmap) and bool(bitmap[index] & (1 << (seq & 7)))
        return msg_id in self._others


class _Sent:
    """What a receive needs to know about its send while the message is in flight."""

    __slots__ = (
        "sender",
        "dest",
        "reliable",
        "sockname",
        "peername",
        "lamport",
        "fifo_key",
        "fifo_index",
        "line",
        "record",
        "dropped",
        "lost_to_fault",
    )

    def __init__(
        self,
        sender: str,
        dest: Any,
        reliable: bool,
        sockname: Hashable,
        peername: Hashable,
        lamport: Any,
        fifo_key: tuple[Hashable, ...] | None,
        fifo_index: int,
        line: int,
        record: dict[str, Any] | None,
    ) -> None:
        self.sender = sender
        self.dest = dest
        self.reliable = reliable
        self.sockname = sockname
        self.peername = peername
        self.lamport = lamport
        self.fifo_key = fifo_key
        self.fifo_index = fifo_index
        self.line = line
        # Kept only on reliable transports, where a message never received is a failure to show.
        self.record = record
        # netsim dropped it on purpose (a `drop` event), or a fault killed one of its ends.
        self.dropped = False
        self.lost_to_fault = False


def _address_key(address: Any) -> Hashable:
    """An address as a hashable key: [host, port, flowinfo, scope_id] compares on (host, port) only.

    The two ends of one IPv6 connection may disagree on flowinfo and scope_id, never on host and port.
    """
    if type(address) is list:
        key: Any = tuple(address[:2])
    elif address is None or type(address) is str:
        return address
    else:
        key = address
    try:
        hash(key)
    except TypeError:
        return repr(address)
    return key


def _format_address(address: Any) -> str:
    """An address as people write it; also takes the (host, port) keys of ``_address_key``."""
    if type(address) in (list, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if isinstance(host, str) and ":" in host else f"{host}:{port}"
    if address == "":
        return '""'
    return str(address)


def _transport(record: dict[str, Any]) -> str | None:
    transport = record.get("transport")
    return transport if type(transport) is str else None


def _is_int(value: Any) -> bool:
    return type(value) is int


def verify_trace(
    run_or_trace: str | os.PathLike[str], *, strict: bool = True, max_examples: int = 5
) -> VerifyReport:
    """Check a run directory's or trace file's trace against the format's guarantees, in one pass.

    ``strict=False`` skips malformed lines (counted in ``skipped_lines``) instead of raising
    ``TraceFormatError``. Each check keeps its first ``max_examples`` offending events.
    """
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader:
        verifier = _Verifier(max_examples)
        events = verifier.consume(reader)
        checks = verifier.finish()
        header = reader.header
        run_id = header.get("run_id")
        start_ts_ns = header.get("start_ts_ns")
        return VerifyReport(
            path=str(reader.path),
            run_id=run_id if isinstance(run_id, str) else None,
            start_ts_ns=start_ts_ns if _is_int(start_ts_ns) else None,
            events=events,
            skipped_lines=reader.skipped_count,
            checks=checks,
        )


# (reliable, connected) per transport name. An unknown transport is not reliable, and is connected
# when its events are send/recv rather than sendto/recvfrom.
_TRANSPORT_FLAGS: dict[str | None, tuple[bool, bool]] = {
    name: (traits.reliable, traits.connected) for name, traits in TRANSPORT_TRAITS.items()
}


# `fault` actions that end a node's process without letting it close anything.
_KILLING_FAULTS = frozenset({"kill", "restart"})


class _Verifier:
    """The state of all six checks while the trace streams by."""

    def __init__(self, max_examples: int) -> None:
        self.mirror = _Check("mirror", max_examples)
        self.exactly_once = _Check("exactly_once", max_examples)
        self.fifo = _Check("fifo", max_examples)
        self.lamport = _Check("lamport", max_examples)
        self.receive_has_send = _Check("receive_has_send", max_examples)
        self.sockets_closed = _Check("sockets_closed", max_examples)

        # Canonical address keys, so in-flight messages share one object per socket address.
        self.addresses: dict[Hashable, Hashable] = {}
        # exactly_once / receive_has_send
        self.pending: dict[str, _Sent] = {}
        self.sent_ids = _MessageIds()
        self.messages_sent = 0
        self.messages_without_id = 0
        # What netsim does on purpose. A `drop` may come before the send it concerns (or instead of it);
        # a `duplicate` comes before both copies are sent, and allows one more send and one more receive.
        self.dropped_ids = _MessageIds()
        self.dropped_by_reason: Counter[str] = Counter()
        self.duplicate_events = 0
        self.copies_to_send: Counter[str] = Counter()
        self.copies_to_receive: Counter[str] = Counter()
        self.unexplained_duplicates: dict[str, list[tuple[dict[str, Any], int]]] = {}
        # Nodes a `fault` killed (or restarted), and those of them not started again yet.
        self.killed: set[str] = set()
        self.down: set[str] = set()
        self.lost_to_faults = 0
        # (sockname, peername), from the peer's side, of the stream connections of killed processes.
        self.dead_connections: set[tuple[Hashable, Hashable]] = set()
        # fifo: per stream connection direction (sender, transport, sockname, peername)
        self.sent_on_connection: dict[tuple[Hashable, ...], int] = {}
        self.received_on_connection: dict[tuple[Hashable, ...], int] = {}
        # lamport
        self.node_clock: dict[str, int] = {}
        self.connection_clock: dict[tuple[Hashable, ...], int] = {}
        # mirror: connects and accepts waiting for their other end, keyed (transport, connector's
        # sockname, connector's peername)
        self.open_connects: dict[tuple[Hashable, ...], list[tuple[dict[str, Any], int]]] = {}
        self.open_accepts: dict[tuple[Hashable, ...], list[tuple[dict[str, Any], int]]] = {}
        # sockets_closed: node -> socket key -> the records that opened it, not closed yet
        self.open_sockets: dict[str, dict[tuple[Hashable, ...], list[tuple[dict[str, Any], int]]]] = {}
        self.started: set[str] = set()
        self.stopped: dict[str, Any] = {}  # node -> stop reason
        self.unclosed_by_node: Counter[str] = Counter()

    def _key(self, address: Any) -> Hashable:
        """``_address_key``, inlined for the common shapes (this runs twice per message event)."""
        if type(address) is str:
            return address
        if type(address) is list and len(address) >= 2:
            key: Any = (address[0], address[1])
            try:
                return self.addresses.setdefault(key, key)
            except TypeError:
                return repr(address)
        key = _address_key(address)
        return self.addresses.setdefault(key, key)

    # ---- the pass -------------------------------------------------------------------------------------

    def consume(self, reader: TraceReader) -> int:
        """Run every event of ``reader`` through the checks; return how many there were."""
        handlers: dict[str, Callable[[dict[str, Any], int], None]] = {
            "send": self._send,
            "sendto": self._send,
            "recv": self._receive,
            "recvfrom": self._receive,
            "connect": self._connection,
            "accept": self._connection,
            "bind": self._bind,
            "close": self._close,
            "start": self._start,
            "stop": self._stop,
            "drop": self._drop,
            "duplicate": self._duplicate,
            "fault": self._fault,
        }
        get_handler = handlers.get
        index = 0
        for record in reader:
            index += 1
            handler = get_handler(record["event"])
            if handler is not None:
                # Line 1 is the header; every line skipped before this record pushes it one further.
                handler(record, index + 1 + reader.skipped_count)
        return index

    def _send(self, record: dict[str, Any], line: int) -> None:
        node = record["node"]
        transport = record.get("transport")
        if type(transport) is not str:
            transport = None
        reliable, connected = _TRANSPORT_FLAGS.get(transport, (False, record["event"] == "send"))
        msg_id = record.get("msg_id")
        exactly_once = self.exactly_once
        if type(msg_id) is str:
            if not self.sent_ids.add(msg_id):
                copies = self.copies_to_send.get(msg_id)
                if copies:
                    # netsim's deliberate second copy: same id, same clock, nothing new to check.
                    if copies == 1:
                        del self.copies_to_send[msg_id]
                    else:
                        self.copies_to_send[msg_id] = copies - 1
                    return
                exactly_once.fail(record, line, f"{msg_id} is sent again (a msg_id is unique in a run)")
                return
            self.messages_sent += 1
            exactly_once.checked += 1
        else:
            self.messages_without_id += 1
            exactly_once.fail(record, line, "send without a msg_id: the message cannot be followed")

        sockname = self._key(record.get("sockname"))
        peername = self._key(record.get("peername"))
        connection = (node, transport, sockname, peername) if connected else None
        lamport = record.get("lamport")
        lamport_check = self.lamport
        lamport_check.checked += 1
        if not _is_int(lamport):
            lamport_check.fail(record, line, f"send of {msg_id} has no integer lamport")
        else:
            if connection is not None:
                previous = self.connection_clock.get(connection)
                if previous is not None and lamport <= previous:
                    lamport_check.fail(
                        record,
                        line,
                        f"lamport {lamport} is not above {previous}, the previous send on this connection",
                    )
                self.connection_clock[connection] = lamport
            if lamport > self.node_clock.get(node, -1):
                self.node_clock[node] = lamport

        if type(msg_id) is not str:
            return
        fifo_index = 0
        if connection is not None:
            fifo_index = self.sent_on_connection.get(connection, 0) + 1
            self.sent_on_connection[connection] = fifo_index
        dest = record.get("peer")
        if self.killed and self.pending.pop(msg_id, None) is not None:
            # The same id from a restarted node's earlier life, never received: gone with that process.
            self.lost_to_faults += 1
        sent = self.pending[msg_id] = _Sent(
            node,
            dest,
            reliable,
            sockname,
            peername,
            lamport,
            connection,
            fifo_index,
            line,
            record if reliable else None,
        )
        if self.dropped_by_reason and msg_id in self.dropped_ids:
            sent.dropped = True
        if (self.down and dest in self.down) or (
            self.dead_connections and (sockname, peername) in self.dead_connections
        ):
            sent.lost_to_fault = True

    def _receive(self, record: dict[str, Any], line: int) -> None:
        node = record["node"]
        msg_id = record.get("msg_id")
        lamport = record.get("lamport")

        lamport_check = self.lamport
        lamport_check.checked += 1
        if not _is_int(lamport):
            lamport_check.fail(record, line, f"receive of {msg_id} has no integer lamport")
            lamport = None
        else:
            previous = self.node_clock.get(node)
            if previous is not None and lamport <= previous:
                lamport_check.fail(
                    record, line, f"lamport {lamport} is not above {previous}, already recorded by {node}"
                )
            else:
                self.node_clock[node] = lamport

        has_send = self.receive_has_send
        has_send.checked += 1
        if type(msg_id) is not str:
            self.messages_without_id += 1
            has_send.fail(record, line, "receive without a msg_id: no send can match it")
            return
        sent = self.pending.pop(msg_id, None)
        if sent is None:
            # A send leaves `pending` only at its first receive: sent before means received before.
            if msg_id in self.sent_ids:
                self._received_again(msg_id, record, line)
            else:
                has_send.fail(record, line, f"{msg_id} is received but was not sent before")
            return

        mirror = self.mirror
        mirror.checked += 1
        sockname = self._key(record.get("sockname"))
        peername = self._key(record.get("peername"))
        if sockname != sent.peername or peername != sent.sockname:
            mirror.fail(
                record,
                line,
                f"{msg_id} is received on {_format_address(record.get('sockname'))} from "
                f"{_format_address(record.get('peername'))}, but was sent (line {sent.line}) from "
                f"{_format_address(sent.sockname)} to {_format_address(sent.peername)}",
            )
        if lamport is not None and _is_int(sent.lamport) and lamport <= sent.lamport:
            lamport_check.fail(
                record, line, f"{msg_id} is received at lamport {lamport}, sent at {sent.lamport}"
            )
        if sent.fifo_key is not None:
            fifo = self.fifo
            fifo.checked += 1
            last = self.received_on_connection.get(sent.fifo_key, 0)
            if sent.fifo_index < last:
                fifo.fail(
                    record,
                    line,
                    f"{msg_id} (message {sent.fifo_index} sent on this connection) is received after "
                    f"message {last}",
                )
            else:
                self.received_on_connection[sent.fifo_key] = sent.fifo_index

    def _received_again(self, msg_id: str, record: dict[str, Any], line: int) -> None:
        copies = self.copies_to_receive.get(msg_id)
        if copies:
            if copies == 1:
                del self.copies_to_receive[msg_id]
            else:
                self.copies_to_receive[msg_id] = copies - 1
            return
        # A `duplicate` event later in the trace may still explain it; decided at the end.
        self.unexplained_duplicates.setdefault(msg_id, []).append((record, line))

    def _drop(self, record: dict[str, Any], line: int) -> None:
        reason = record.get("reason")
        self.dropped_by_reason[reason if isinstance(reason, str) else "unknown"] += 1
        msg_id = record.get("msg_id")
        if type(msg_id) is not str:
            return  # dropped before it had an id (a send on a link that is down)
        sent = self.pending.get(msg_id)
        if sent is not None:
            sent.dropped = True
        elif msg_id not in self.sent_ids:
            self.dropped_ids.add(msg_id)
        # else: already received; netsim dropped another copy.

    def _duplicate(self, record: dict[str, Any], line: int) -> None:
        self.duplicate_events += 1
        msg_id = record.get("msg_id")
        if type(msg_id) is not str:
            return
        self.copies_to_send[msg_id] += 1
        waiting = self.unexplained_duplicates.get(msg_id)
        if waiting:
            waiting.pop(0)
            if not waiting:
                del self.unexplained_duplicates[msg_id]
        else:
            self.copies_to_receive[msg_id] += 1

    def _fault(self, record: dict[str, Any], line: int) -> None:
        """A node killed or restarted by netsim. The launcher writes the event once the old process is gone
        and before a new one starts: from here, the node's ids and clock start over."""
        fault = record.get("fault")
        if fault not in _KILLING_FAULTS:
            return  # partitions and link faults show up as `drop` events; a paused node resumes
        node = record["node"]
        self.killed.add(node)
        if fault == "kill":
            self.down.add(node)  # until it starts again
        # A killed process closes nothing, and what was in flight from or to it may be gone with it,
        # as is what its peers still send on its connections before they notice.
        for transport, sockname, peername in self.open_sockets.pop(node, {}):
            if peername is not None and _TRANSPORT_FLAGS.get(transport, (False, False))[1]:
                self.dead_connections.add((peername, sockname))
        for sent in self.pending.values():
            if sent.sender == node or sent.dest == node:
                sent.lost_to_fault = True
        self.sent_ids.forget(node)
        self.node_clock.pop(node, None)
        for connection in [key for key in self.connection_clock if key[0] == node]:
            del self.connection_clock[connection]

    def _start(self, record: dict[str, Any], line: int) -> None:
        node = record["node"]
        self.started.add(node)
        self.down.discard(node)

    def _connection(self, record: dict[str, Any], line: int) -> None:
        kind = record["event"]
        self._open_socket(record, line, record.get("peername"))
        transport = _transport(record)
        if not _TRANSPORT_FLAGS.get(transport, (False, False))[1]:
            return  # a connected udp / unix-dgram socket has no accept at the other end
        self.mirror.checked += 1
        sockname = self._key(record.get("sockname"))
        peername = self._key(record.get("peername"))
        if self.dead_connections:
            # A new connection on the addresses of a dead one (a restarted node binds them again).
            self.dead_connections.discard((sockname, peername))
            self.dead_connections.discard((peername, sockname))
        if kind == "connect":
            key, mine, theirs = (transport, sockname, peername), self.open_connects, self.open_accepts
        else:
            key, mine, theirs = (transport, peername, sockname), self.open_accepts, self.open_connects
        waiting = theirs.get(key)
        if not waiting:
            mine.setdefault(key, []).append((record, line))
            return
        other, other_line = waiting.pop(0)
        if not waiting:
            del theirs[key]
        connect, accept = (record, other) if kind == "connect" else (other, record)
        if (
            connect.get("peer", accept["node"]) != accept["node"]
            or accept.get("peer", connect["node"]) != connect["node"]
        ):
            self.mirror.fail(
                record,
                line,
                f"{connect['node']} connected to {connect.get('peer')} but {accept['node']} accepted "
                f"(addresses mirrored with line {other_line})",
            )

    def _bind(self, record: dict[str, Any], line: int) -> None:
        if record.get("role") == "listener":
            self._open_socket(record, line, None)

    def _open_socket(self, record: dict[str, Any], line: int, peername: Any) -> None:
        key = (_transport(record), self._key(record.get("sockname")), self._key(peername))
        self.sockets_closed.checked += 1
        self.open_sockets.setdefault(record["node"], {}).setdefault(key, []).append((record, line))

    def _close(self, record: dict[str, Any], line: int) -> None:
        sockets = self.open_sockets.get(record["node"])
        if not sockets:
            return
        key = (_transport(record), self._key(record.get("sockname")), self._key(record.get("peername")))
        opened = sockets.get(key)
        if opened:
            opened.pop(0)
            if not opened:
                del sockets[key]

    def _stop(self, record: dict[str, Any], line: int) -> None:
        node = record["node"]
        self.stopped[node] = record.get("reason")
        self._report_unclosed(node, f"before its stop (line {line}, reason {record.get('reason')})")

    def _report_unclosed(self, node: str, when: str) -> None:
        sockets = self.open_sockets.pop(node, None)
        if not sockets or node not in self.started:
            return
        for opened in sockets.values():
            for record, line in opened:
                self.unclosed_by_node[node] += 1
                role = "listener" if record["event"] == "bind" else f"{record['event']}ed socket"
                where = _format_address(record.get("sockname"))
                if "peername" in record and record["event"] != "bind":
                    where += f" - {_format_address(record.get('peername'))}"
                self.sockets_closed.fail(
                    record, line, f"{node}'s {record.get('transport')} {role} {where} is not closed {when}"
                )

    # ---- the end --------------------------------------------------------------------------------------

    def finish(self) -> list[CheckResult]:
        for node in list(self.open_sockets):
            self._report_unclosed(node, "by the end of the trace (the node has no stop event)")
        crashed = sorted(node for node, reason in self.stopped.items() if reason == "crash")
        self.sockets_closed.counts = {
            "unclosed_by_node": dict(self.unclosed_by_node),
            "crashed_nodes": crashed,
            "crashed_nodes_not_closed": [node for node in crashed if self.unclosed_by_node[node]],
            "killed_nodes": sorted(self.killed),
        }

        for waiting, what in ((self.open_connects, "connect"), (self.open_accepts, "accept")):
            other = "accept" if what == "connect" else "connect"
            for entries in waiting.values():
                for record, line in entries:
                    self.mirror.fail(
                        record,
                        line,
                        f"{what} {_format_address(record.get('sockname'))} -> "
                        f"{_format_address(record.get('peername'))} has no {other} with these addresses "
                        "mirrored",
                    )

        self._finish_delivery()
        return [
            check.result()
            for check in (
                self.mirror,
                self.exactly_once,
                self.fifo,
                self.lamport,
                self.receive_has_send,
                self.sockets_closed,
            )
        ]

    def _finish_delivery(self) -> None:
        exactly_once = self.exactly_once
        all_stopped = bool(self.started) and all(node in self.stopped for node in self.started)
        lost_unreliable = in_flight_at_end = 0
        for msg_id, sent in self.pending.items():
            if sent.lost_to_fault:
                self.lost_to_faults += 1
            elif sent.dropped:
                pass  # counted at its `drop` event
            elif not sent.reliable:
                lost_unreliable += 1
            elif (sent.dest in self.stopped) if isinstance(sent.dest, str) else all_stopped:
                exactly_once.fail(
                    sent.record or {"msg_id": msg_id},
                    sent.line,
                    f"{msg_id} is sent on a reliable transport and never received "
                    f"(the receiver {sent.dest} stopped)",
                )
            else:
                # The receiver never stopped: the run did not end cleanly and exactly-once is not promised.
                in_flight_at_end += 1
        for msg_id, entries in self.unexplained_duplicates.items():
            for record, line in entries:
                exactly_once.fail(record, line, f"{msg_id} is received again")
        exactly_once.counts = {
            "messages_sent": self.messages_sent,
            "lost_unreliable": lost_unreliable,
            "in_flight_at_end": in_flight_at_end,
            "dropped_by_netsim": sum(self.dropped_by_reason.values()),
            "dropped_by_reason": dict(self.dropped_by_reason),
            "deliberate_duplicates": self.duplicate_events,
            "lost_to_faults": self.lost_to_faults,
            "messages_without_id": self.messages_without_id,
        }
