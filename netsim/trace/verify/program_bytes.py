"""The ``program_bytes`` check: a socket program receives only bytes that some node sent it.

Socket programs' ``call`` events carry no message ids: a stream receive covers a byte range of its
connection (``offset``, ``nbytes``), a datagram is known by its payload's ``digest``. So:

* on a stream connection, the byte a receive took last was sent by a send whose range holds it, on
  the mirrored address pair, and that send had begun (``start_ns``) before the receive returned;
* a datagram received from a node's address was sent by that node, from that address to this one,
  as many times as it is received (a ``duplicate`` event allows one more copy).

Records are written when a call returns, so a receive may come before its send in the trace (the
sender's thread had not written it yet): receives not yet explained wait, and only the end of the
trace fails them. What waits is bounded by what was in flight; sends no receive can need any more are
let go. Receives from an address no node of the run owns (``peer`` absent) are not checked, nor bytes
to or from a node a fault killed (its last records may be gone with it), nor bytes from a socket the
trace never shows (a node's untraced socket: ``socket.socket()``, a library's own server), nor bytes
from a socket after its program handed its descriptor on (``detach``: ssl's ``wrap_socket`` writes on it
untraced).
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Hashable
from typing import Any

from netsim.trace.schema import CALL_RECEIVES, CALL_SENDS
from netsim.trace.verify.result import CheckTally

# Sends kept per stream direction for receives still to come (a receiver that never reads).
MAX_SENDS_KEPT = 100_000
_STREAMS = frozenset({"tcp", "tcp6", "unix"})
_SENDS = CALL_SENDS
_RECEIVES = CALL_RECEIVES


def _key(address: Any) -> Hashable:
    if type(address) is list:
        return tuple(address[:2])
    return address if address is None or type(address) is str else repr(address)


class ProgramBytes:
    def __init__(self, tally: CheckTally) -> None:
        self.tally = tally
        # Stream direction (sender's sockname, sender's peername) -> sends not yet needed by a receive,
        # as (offset, end, start_ns, line), and receives not yet explained, as (last byte, ts_ns,
        # record, line).
        self.sends: dict[tuple[Hashable, Hashable], deque[tuple[int, int, int]]] = defaultdict(deque)
        self.waiting: dict[tuple[Hashable, Hashable], deque[tuple[int, int, dict[str, Any], int]]] = (
            defaultdict(deque)
        )
        # Datagram (digest, source, destination) -> copies sent and not yet received; receives waiting.
        self.datagrams: Counter[tuple[Hashable, Hashable, Hashable]] = Counter()
        self.unexplained: dict[tuple[Hashable, Hashable, Hashable], list[tuple[dict[str, Any], int]]] = {}
        # Stream direction -> the end of the sends let go unread (MAX_SENDS_KEPT): bytes below it pass.
        self.forgotten: dict[tuple[Hashable, Hashable], int] = {}
        # Every (sockname, peername) and sockname a traced socket showed: a receive from any other
        # socket came from one the trace does not follow.
        self.traced_ends: set[tuple[Hashable, Hashable]] = set()
        self.traced_names: set[Hashable] = set()
        # (sockname, peername) and sockname of each socket whose descriptor its program handed on.
        self.detached_ends: set[tuple[Hashable, Hashable]] = set()
        self.detached_names: set[Hashable] = set()

    def call(self, record: dict[str, Any], line: int) -> None:
        sockname, peername = _key(record.get("sockname")), _key(record.get("peername"))
        if sockname is not None:
            self.traced_names.add(sockname)
            if peername is not None:
                self.traced_ends.add((sockname, peername))
        call = record.get("call")
        if call not in _SENDS and call not in _RECEIVES:
            if call == "detach" and sockname is not None:
                self.detached_names.add(sockname)
                if peername is not None:
                    self.detached_ends.add((sockname, peername))
            return
        nbytes = record.get("nbytes")
        if "errno" in record or type(nbytes) is not int or nbytes <= 0:
            return
        if record.get("transport") in _STREAMS:
            offset = record.get("offset")
            if type(offset) is not int:
                return
            if call in _SENDS:
                # Kept whether or not the send names its peer: only the receiving end may know whose
                # the connection is (a server's path or port that no node announced), as for datagrams.
                start = record.get("start_ns", record["ts_ns"])
                self._stream_send((sockname, peername), offset, offset + nbytes, start)
            elif "peer" in record:
                self._stream_receive((peername, sockname), offset + nbytes - 1, record, line)
            return
        digest = record.get("digest")
        if type(digest) is not str:
            return
        if call in _SENDS:
            # Kept whether or not the send names its peer: a datagram to a port its owner has bound
            # but not yet announced (docs/socket-programs.md) is received all the same.
            self._datagram_sent((digest, sockname, peername), 1)
        elif "peer" in record:
            self.tally.checked += 1
            key = (digest, peername, sockname)
            if self.datagrams[key] > 0:
                self.datagrams[key] -= 1
            else:
                self.unexplained.setdefault(key, []).append((record, line))

    def duplicate(self, record: dict[str, Any]) -> None:
        """netsim's link delivers a program's datagram twice: one more receive of it is no failure."""
        digest = record.get("digest")
        if type(digest) is str:
            self._datagram_sent((digest, _key(record.get("sockname")), _key(record.get("peername"))), 1)

    def _datagram_sent(self, key: tuple[Hashable, Hashable, Hashable], copies: int) -> None:
        waiting = self.unexplained.get(key)
        while waiting and copies:
            waiting.pop(0)
            copies -= 1
        if waiting == []:
            del self.unexplained[key]
        if copies:
            self.datagrams[key] += copies

    def _stream_send(self, direction: tuple[Hashable, Hashable], offset: int, end: int, start: int) -> None:
        waiting = self.waiting.get(direction)
        while waiting and offset <= waiting[0][0] < end:
            last_byte, ts_ns, record, line = waiting.popleft()
            self._judge(start, ts_ns, last_byte, record, line)
        if waiting is not None and not waiting:
            del self.waiting[direction]
        sends = self.sends[direction]
        if len(sends) >= MAX_SENDS_KEPT:
            # A peer that never reads: its oldest sends go, and a late receive of them is not judged.
            self.forgotten[direction] = sends.popleft()[1]
        sends.append((offset, end, start))

    def _stream_receive(
        self, direction: tuple[Hashable, Hashable], last_byte: int, record: dict[str, Any], line: int
    ) -> None:
        if last_byte < self.forgotten.get(direction, 0):
            return
        self.tally.checked += 1
        sends = self.sends.get(direction)
        # Sends wholly before this receive's last byte: no later receive on this connection needs them.
        while sends and sends[0][1] <= last_byte:
            sends.popleft()
        if sends and sends[0][0] <= last_byte:
            self._judge(sends[0][2], record["ts_ns"], last_byte, record, line)
            return
        self.waiting[direction].append((last_byte, record["ts_ns"], record, line))

    def _judge(
        self, send_start: int, receive_ts: int, last_byte: int, record: dict[str, Any], line: int
    ) -> None:
        if send_start > receive_ts:
            self.tally.fail(
                record, line, f"byte {last_byte} was received before the send that wrote it had begun"
            )

    def finish(self, killed: set[str]) -> None:
        for direction, entries in self.waiting.items():
            if direction not in self.traced_ends or direction in self.detached_ends:
                continue  # sent from a socket the trace does not follow (or no longer)
            for last_byte, _ts, record, line in entries:
                if record.get("peer") not in killed and record.get("node") not in killed:
                    self.tally.fail(record, line, f"byte {last_byte} was received but no node sent it")
        for (_digest, source, _destination), entries in self.unexplained.items():
            if source not in self.traced_names or source in self.detached_names:
                continue
            for record, line in entries:
                if record.get("peer") not in killed and record.get("node") not in killed:
                    digest = record.get("digest")
                    self.tally.fail(
                        record, line, f"datagram {digest} was received but its sender never sent it"
                    )
