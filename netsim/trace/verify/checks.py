"""The seven checks of ``verify_trace`` as one ``Verifier``: its state while the trace streams by, one
handler per kind of event, and the failures only the end of the trace can tell.

Why one module of nearly 600 lines, and one class: the checks share one pass and one state. A send feeds
four checks at once (exactly_once, lamport, fifo, and the mirror check of its receive), a receive five,
and a ``fault`` touches both the sockets a node holds open and the messages in flight to or from it;
split by check, each piece would need the others' state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from netsim.errors import NetsimError
from netsim.trace.reader import TraceReader, batches_between_skips
from netsim.trace.schema import header_start_ts_ns
from netsim.trace.verify.addresses import address_key, address_keys, address_text
from netsim.trace.verify.message_ids import MessageIds
from netsim.trace.verify.program_bytes import ProgramBytes
from netsim.trace.verify.result import CheckResult, CheckTally, VerifyReport
from netsim.vocabulary import TRANSPORT_TRAITS

# (reliable, connected) per transport name. An unknown transport is not reliable, and is connected
# when its events are send/recv rather than sendto/recvfrom.
_TRANSPORT_FLAGS: dict[str | None, tuple[bool, bool]] = {
    name: (traits.reliable, traits.connected) for name, traits in TRANSPORT_TRAITS.items()
}


# `fault` actions that end a node's process without letting it close anything.
_KILLING_FAULTS = frozenset({"kill", "restart"})


@dataclass(slots=True)
class _Sent:
    """What a receive needs to know about its send while the message is in flight."""

    sender: str
    dest: Any
    reliable: bool
    sockname: Hashable
    peername: Hashable
    lamport: Any
    # The state of the stream connection it was sent on (see Verifier.connections), or None.
    fifo_state: list[Any] | None
    fifo_index: int
    line: int
    # The send's record as JSON text, kept only on reliable transports, where a message never received is
    # a failure to show, and only when it cannot be read again from its line at the end (see Verifier).
    # Text, because a flood keeps tens of thousands of messages in flight: as dicts, they are objects the
    # garbage collector walks again and again.
    record: str | None
    # netsim dropped it on purpose (a `drop` event), or a fault killed one of its ends.
    dropped: bool = False
    lost_to_fault: bool = False


def _transport(record: dict[str, Any]) -> str | None:
    transport = record.get("transport")
    return transport if type(transport) is str else None


def _take_one(copies: Counter[str], msg_id: str) -> bool:
    """Use up one of the copies of ``msg_id`` a ``duplicate`` event announced; False if none is left."""
    left = copies.get(msg_id)
    if not left:
        return False
    if left == 1:
        del copies[msg_id]
    else:
        copies[msg_id] = left - 1
    return True


class _Unread(dict[str, Any]):
    """A failed send's record kept as its line number only: its ``msg_id`` until the line is read again."""


class Verifier:
    """The state of all seven checks while the trace streams by.

    ``records_at`` (``TraceReader.records_at`` of the trace being fed) reads the events of some lines
    again: given it, a send on a reliable transport keeps no copy of its record in case it is never
    received (one JSON text per message in flight, 0.4 s of a 1,000,000-event flood's 4.5 s); the
    records of the few such sends shown as examples are read from their lines at the end.
    """

    def __init__(
        self,
        max_examples: int,
        records_at: Callable[[Iterable[int]], dict[int, Any]] | None = None,
        *,
        across_hosts: bool = False,
    ) -> None:
        self._records_at = records_at
        # A run over many hosts (the header's ``cluster``): each host's times are moved into the
        # launcher's clock within an error bound, so a receive may be written before its send. It waits
        # for its send here (with its node's clock when it came), and is checked when the send comes.
        self.across_hosts = across_hosts
        self.early_receives: dict[str, tuple[dict[str, Any], int, int | None]] = {}
        self.mirror = CheckTally("mirror", max_examples)
        self.exactly_once = CheckTally("exactly_once", max_examples)
        self.fifo = CheckTally("fifo", max_examples)
        self.lamport = CheckTally("lamport", max_examples)
        self.receive_has_send = CheckTally("receive_has_send", max_examples)
        self.sockets_closed = CheckTally("sockets_closed", max_examples)
        self.program_bytes = ProgramBytes(CheckTally("program_bytes", max_examples))
        self.events = 0  # events checked so far

        # exactly_once / receive_has_send
        self.pending: dict[str, _Sent] = {}
        # One key object per socket address for what is kept (connections, sockets, messages in flight),
        # taken from here when the thing kept is made, not at every event that names the address.
        self.addresses: dict[Hashable, Hashable] = {}
        self.sent_ids = MessageIds()
        self.messages_sent = 0
        self.messages_without_id = 0
        # What netsim does on purpose. A `drop` may come before the send it concerns (or instead of it);
        # a `duplicate` comes before both copies are sent, and allows one more send and one more receive.
        self.dropped_ids = MessageIds()
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
        # Per stream connection direction (sender, transport, sockname, peername): [the lamport clock of
        # its last send (None before the first, and again after a fault), the sends on it so far, the
        # highest of those received so far (fifo), its sockname and peername keys]. One entry for all,
        # so that a send looks its connection up once and a receive not at all (its send keeps the
        # entry): for 5,000 nodes there are 50,000 of them, and each lookup hashes a key of nested tuples.
        self.connections: dict[tuple[Hashable, ...], list[Any]] = {}
        # node -> its own keys of `connections`, so that a fault forgets their clocks without a scan of
        # every connection of the run
        self.node_connections: dict[str, list[tuple[Hashable, ...]]] = {}
        # lamport
        self.node_clock: dict[str, int] = {}
        # mirror: connects and accepts waiting for their other end, keyed (transport, connector's
        # sockname, connector's peername)
        self.open_connects: dict[tuple[Hashable, ...], list[tuple[dict[str, Any], int]]] = {}
        self.open_accepts: dict[tuple[Hashable, ...], list[tuple[dict[str, Any], int]]] = {}
        # sockets_closed: node -> socket key -> (line, record as JSON text) of each event that opened it,
        # not closed yet. Every socket of a run is open at once (some 55,000 for 5,000 nodes): as text, a
        # record is a fifth of its dict's size and nothing the garbage collector walks at every collection.
        # Text rather than orjson's bytes, whose buffer stays 4 KiB however short the JSON.
        self.open_sockets: dict[str, dict[tuple[Hashable, ...], list[tuple[int, str]]]] = {}
        self.started: set[str] = set()
        self.stopped: dict[str, Any] = {}  # node -> stop reason
        self.unclosed_by_node: Counter[str] = Counter()

    def _interned(self, key: Hashable) -> Hashable:
        return self.addresses.setdefault(key, key)

    # ---- the pass -------------------------------------------------------------------------------------

    def consume(self, reader: TraceReader) -> int:
        """Run every event of ``reader`` through the checks; return how many there were."""
        for records, skipped_before in batches_between_skips(reader):
            self.add_all(records, skipped_before)
        return self.events

    def add_all(self, records: Iterable[dict[str, Any]], skipped_before: int) -> None:
        """Run these events, the next ones of the trace, through the checks; the reader had skipped
        ``skipped_before`` lines before the first of them, and none between them."""
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
            "call": self.program_bytes.call,
        }
        if self.across_hosts:
            for event in ("send", "sendto"):
                handlers[event] = self._send_across_hosts
            for event in ("recv", "recvfrom"):
                handlers[event] = self._receive_across_hosts
        get_handler = handlers.get
        index = self.events
        # Line 1 is the header; every line skipped before these records pushes them one further.
        first_line = 1 + skipped_before
        for record in records:
            index += 1
            handler = get_handler(record["event"])
            if handler is not None:
                handler(record, index + first_line)
        self.events = index

    def _send(self, record: dict[str, Any], line: int) -> None:
        node = record["node"]
        transport = record.get("transport")
        if type(transport) is not str:
            transport = None
        flags = _TRANSPORT_FLAGS.get(transport)
        reliable, connected = (False, record["event"] == "send") if flags is None else flags
        msg_id = record.get("msg_id")
        exactly_once = self.exactly_once
        if type(msg_id) is str:
            if not self.sent_ids.add(msg_id):
                if _take_one(self.copies_to_send, msg_id):
                    return  # netsim's deliberate second copy: same id, same clock, nothing new to check.
                exactly_once.fail(record, line, f"{msg_id} is sent again (a msg_id is unique in a run)")
                return
            self.messages_sent += 1
            exactly_once.checked += 1
        else:
            self.messages_without_id += 1
            exactly_once.fail(record, line, "send without a msg_id: the message cannot be followed")

        sockname, peername = address_keys(record)
        state = None
        if connected:
            connection = (node, transport, sockname, peername)
            state = self.connections.get(connection)
            if state is None:
                sockname, peername = self._interned(sockname), self._interned(peername)
                connection = (node, transport, sockname, peername)
                state = self.connections[connection] = [None, 0, 0, sockname, peername]
                self.node_connections.setdefault(node, []).append(connection)
            else:
                # The connection's own keys, so that the message in flight shares them.
                sockname, peername = state[3], state[4]
        else:
            sockname, peername = self._interned(sockname), self._interned(peername)
        lamport = record.get("lamport")
        lamport_check = self.lamport
        lamport_check.checked += 1
        if type(lamport) is not int:
            lamport_check.fail(record, line, f"send of {msg_id} has no integer lamport")
        else:
            if state is not None:
                previous = state[0]
                if previous is not None and lamport <= previous:
                    lamport_check.fail(
                        record,
                        line,
                        f"lamport {lamport} is not above {previous}, the previous send on this connection",
                    )
                state[0] = lamport
            if lamport > self.node_clock.get(node, -1):
                self.node_clock[node] = lamport

        if type(msg_id) is not str:
            return
        fifo_index = 0
        if state is not None:
            fifo_index = state[1] = state[1] + 1
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
            state,
            fifo_index,
            line,
            orjson.dumps(record).decode() if reliable and self._records_at is None else None,
        )
        if self.dropped_by_reason and msg_id in self.dropped_ids:
            sent.dropped = True
        if (self.down and dest in self.down) or (
            self.dead_connections and (sockname, peername) in self.dead_connections
        ):
            sent.lost_to_fault = True

    def _send_across_hosts(self, record: dict[str, Any], line: int) -> None:
        self._send(record, line)
        if self.early_receives:
            early = self.early_receives.pop(record.get("msg_id"), None)  # type: ignore[arg-type]
            if early is not None:
                self._receive_late(*early)

    def _receive_across_hosts(self, record: dict[str, Any], line: int) -> None:
        msg_id = record.get("msg_id")
        if type(msg_id) is not str or msg_id in self.pending or msg_id in self.sent_ids:
            self._receive(record, line)
            return
        node = record["node"]
        clock = self.node_clock.get(node)
        self.early_receives[msg_id] = (record, line, clock)
        lamport = record.get("lamport")
        if type(lamport) is int and (clock is None or lamport > clock):
            # The node's later events are checked against this receive's clock as ever.
            self.node_clock[node] = lamport

    def _receive_late(self, record: dict[str, Any], line: int, clock_then: int | None) -> None:
        """A receive written before its send, checked now against its node's clock when it came."""
        node = record["node"]
        clock_now = self.node_clock.get(node)
        if clock_then is None:
            self.node_clock.pop(node, None)
        else:
            self.node_clock[node] = clock_then
        self._receive(record, line)
        after = self.node_clock.get(node)
        if clock_now is not None and (after is None or clock_now > after):
            self.node_clock[node] = clock_now

    def _receive(self, record: dict[str, Any], line: int) -> None:
        node = record["node"]
        msg_id = record.get("msg_id")
        lamport = record.get("lamport")

        lamport_check = self.lamport
        lamport_check.checked += 1
        if type(lamport) is not int:
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
        sockname, peername = address_keys(record)
        if sockname != sent.peername or peername != sent.sockname:
            mirror.fail(
                record,
                line,
                f"{msg_id} is received on {address_text(record.get('sockname'))} from "
                f"{address_text(record.get('peername'))}, but was sent (line {sent.line}) from "
                f"{address_text(sent.sockname)} to {address_text(sent.peername)}",
            )
        if lamport is not None and type(sent.lamport) is int and lamport <= sent.lamport:
            lamport_check.fail(
                record, line, f"{msg_id} is received at lamport {lamport}, sent at {sent.lamport}"
            )
        connection = sent.fifo_state
        if connection is not None:
            fifo = self.fifo
            fifo.checked += 1
            last = connection[2]
            if sent.fifo_index < last:
                fifo.fail(
                    record,
                    line,
                    f"{msg_id} (message {sent.fifo_index} sent on this connection) is received after "
                    f"message {last}",
                )
            else:
                connection[2] = sent.fifo_index

    def _received_again(self, msg_id: str, record: dict[str, Any], line: int) -> None:
        if _take_one(self.copies_to_receive, msg_id):
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
            self.program_bytes.duplicate(record)
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
        """A node killed or restarted by netsim. The launcher stamps the event once the old process has
        stopped acting, and before a new one starts: from here, the node's ids and clock start over."""
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
        for connection in self.node_connections.get(node, ()):
            self.connections[connection][0] = None

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
        sockname, peername = address_keys(record)
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
        interned = self._interned
        key = (
            _transport(record),
            interned(address_key(record.get("sockname"))),
            interned(address_key(peername)),
        )
        self.sockets_closed.checked += 1
        opened = (line, orjson.dumps(record).decode())
        self.open_sockets.setdefault(record["node"], {}).setdefault(key, []).append(opened)

    def _close(self, record: dict[str, Any], line: int) -> None:
        if "peer" not in record and self.open_accepts:
            self._forget_strangers_accept(record)
        sockets = self.open_sockets.get(record["node"])
        if not sockets:
            return
        key = (_transport(record), *address_keys(record))
        opened = sockets.get(key)
        if opened:
            opened.pop(0)
            if not opened:
                del sockets[key]

    def _forget_strangers_accept(self, record: dict[str, Any]) -> None:
        """A connection a node accepted and closed without ever learning whose it was: a process outside
        the run (a port scan, garbage on a port), refused. It is no link, and has no connect to mirror."""
        sockname, peername = address_keys(record)
        key = (_transport(record), peername, sockname)
        waiting = self.open_accepts.get(key)
        if waiting and waiting[0][0]["node"] == record["node"]:
            waiting.pop(0)
            if not waiting:
                del self.open_accepts[key]

    def _stop(self, record: dict[str, Any], line: int) -> None:
        node = record["node"]
        self.stopped[node] = record.get("reason")
        self._report_unclosed(node, f"before its stop (line {line}, reason {record.get('reason')})")

    def _report_unclosed(self, node: str, when: str) -> None:
        sockets = self.open_sockets.pop(node, None)
        if not sockets or node not in self.started:
            return
        for opened in sockets.values():
            for line, text in opened:
                record = orjson.loads(text)
                self.unclosed_by_node[node] += 1
                role = "listener" if record["event"] == "bind" else f"{record['event']}ed socket"
                where = address_text(record.get("sockname"))
                if "peername" in record and record["event"] != "bind":
                    where += f" - {address_text(record.get('peername'))}"
                self.sockets_closed.fail(
                    record, line, f"{node}'s {record.get('transport')} {role} {where} is not closed {when}"
                )

    # ---- the end --------------------------------------------------------------------------------------

    def report(self, path: str, header: dict[str, Any], skipped_lines: int) -> VerifyReport:
        """The report on the trace at ``path`` (its ``header``), once every event of it went through."""
        run_id = header.get("run_id")
        return VerifyReport(
            path=path,
            run_id=run_id if isinstance(run_id, str) else None,
            start_ts_ns=header_start_ts_ns(header),
            events=self.events,
            skipped_lines=skipped_lines,
            checks=self.finish(),
        )

    def finish(self) -> list[CheckResult]:
        self.program_bytes.finish(self.killed)
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
                        f"{what} {address_text(record.get('sockname'))} -> "
                        f"{address_text(record.get('peername'))} has no {other} with these addresses "
                        "mirrored",
                    )

        # Receives whose send never came: each fails as a receive without a send.
        early, self.early_receives = self.early_receives, {}
        for record, line, clock in early.values():
            self._receive_late(record, line, clock)
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
                self.program_bytes.tally,
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
                    orjson.loads(sent.record) if sent.record else _Unread(msg_id=msg_id),
                    sent.line,
                    f"{msg_id} is sent on a reliable transport and never received "
                    f"(the receiver {sent.dest} stopped)",
                )
            else:
                # The receiver never stopped: the run did not end cleanly and exactly-once is not promised.
                in_flight_at_end += 1
        self._read_unread(exactly_once)
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

    def _read_unread(self, tally: CheckTally) -> None:
        """Put the records of the examples kept as their line only (``_Unread``) in their place."""
        lines: list[int] = []

        def note(record: dict[str, Any], line: int) -> dict[str, Any]:
            if type(record) is _Unread:
                lines.append(line)
            return record

        tally.replace_examples(note)
        if not lines or self._records_at is None:
            return
        try:
            found = self._records_at(lines)
        except (OSError, NetsimError):  # the trace is gone or changed: the examples keep their msg_id
            found = {}

        def fill(record: dict[str, Any], line: int) -> dict[str, Any]:
            if type(record) is not _Unread:
                return record
            event = found.get(line)
            return event if type(event) is dict else dict(record)

        tally.replace_examples(fill)
