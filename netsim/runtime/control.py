"""Messages between the launcher and its node processes, over each node's control socket.

The node owns this protocol (it is the node's interface to whoever runs it); the launcher is its client.
The same framing carries the launcher's requests to its fork server (``netsim.launch.forkserver``).

Each message is a JSON object with a ``kind``, behind a 4-byte big-endian length, on one end of a
socketpair that only the run's own processes hold. Nothing that crosses a socket is unpickled, here
or anywhere in netsim. :func:`encode_control` and :class:`ControlDecoder` are the pure codec (bytes
in, messages out); :class:`ControlSocket` is the node's end, whose sends block and whose reads do not.

Node -> launcher: ``bound`` (its real addresses), ``ready`` (all links up), ``status`` (counters,
idle or busy), ``done`` (its app finished), ``quiesced`` (app stopped, nothing held back),
``drained`` (every link read to EOF), ``crashed`` (traceback), ``closed``.
Launcher -> node: ``addresses`` (the neighbours' addresses), ``start``, ``drain``, ``shut``, ``close``,
``moved`` (a restarted neighbour's new addresses), and the faults ``block`` / ``unblock`` (a link
drops everything) and ``conditions`` (a link's new conditions).
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import Any

import orjson

BOUND = "bound"
READY = "ready"
STATUS = "status"
DONE = "done"
QUIESCED = "quiesced"
DRAINED = "drained"
CRASHED = "crashed"
CLOSED = "closed"

ADDRESSES = "addresses"
START = "start"
DRAIN = "drain"
# Sent once every node has quiesced: only then do nodes half-close their links, so no node that is
# still running ever mistakes a neighbour's orderly EOF for a failure.
SHUT = "shut"
CLOSE = "close"
# Faults: block / unblock a peer's link (reason: "partition" or "link-down"); new link conditions.
BLOCK = "block"
UNBLOCK = "unblock"
CONDITIONS = "conditions"
# A restarted peer could not bind where it was (someone took the port while it was dead): its new
# listener address for the link's transport, and its new datagram link address for this node.
MOVED = "moved"
# A restarted peer is bound again: a node that dials it dials now, not at its backoff's next try.
PEER_BACK = "peer-back"
# Before a scheduled SIGKILL: the node flushes its trace, answers ``frozen`` and stops itself, so the
# kill loses nothing of the trace while the node still says no goodbye to its peers.
FREEZE = "freeze"
FROZEN = "frozen"

_LENGTH = struct.Struct("!I")
_LENGTH_SIZE = _LENGTH.size
READ_CHUNK_BYTES = 256 * 1024


class ControlProtocolError(Exception):
    """Bytes on a control socket that are not a control message: a bug in netsim, never user input."""


def encode_control(kind: str, **fields: Any) -> bytes:
    """One control message, framed: the length of its JSON, then the JSON."""
    payload = orjson.dumps({"kind": kind, **fields})
    return _LENGTH.pack(len(payload)) + payload


class ControlDecoder:
    """Turns the bytes of a control socket, in chunks of any size, into messages (dicts with a kind)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[dict[str, Any]]:
        """The messages completed by ``data``, in order; a partial one waits for the next chunk."""
        buffer = self._buffer
        buffer += data
        messages: list[dict[str, Any]] = []
        start = 0
        end = len(buffer)
        while end - start >= _LENGTH_SIZE:
            (size,) = _LENGTH.unpack_from(buffer, start)
            stop = start + _LENGTH_SIZE + size
            if stop > end:
                break
            try:
                message = orjson.loads(memoryview(buffer)[start + _LENGTH_SIZE : stop])
            except orjson.JSONDecodeError as error:
                raise ControlProtocolError(f"a control message is not JSON: {error}") from None
            if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
                raise ControlProtocolError("a control message is not an object with a kind")
            messages.append(message)
            start = stop
        if start:
            del buffer[:start]
        return messages

    @property
    def partial(self) -> bool:
        """True while part of a message has arrived and the rest has not."""
        return bool(self._buffer)


class ControlSocket:
    """A node's end of its control channel: blocking sends, reads of whatever has arrived.

    The launcher reads its end all the time, so a node's send never waits long; reads happen when the
    node's selector says the socket is readable, or, at set-up, with a deadline (:meth:`receive`).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._decoder = ControlDecoder()
        self._pending: list[dict[str, Any]] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, kind: str, **fields: Any) -> None:
        self.sock.sendall(encode_control(kind, **fields))

    def read_available(self) -> list[dict[str, Any]]:
        """The messages that have arrived (after one read of at most READ_CHUNK_BYTES); EOFError at EOF."""
        pending, self._pending = self._pending, []
        if pending:
            return pending
        data = self.sock.recv(READ_CHUNK_BYTES)
        if not data:
            raise EOFError("the control socket's other end closed")
        return self._decoder.feed(data)

    def receive(self, timeout_s: float) -> dict[str, Any] | None:
        """The next message, waiting at most ``timeout_s``; None if none came in time. EOFError at EOF."""
        deadline = time.monotonic() + timeout_s
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        while not self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(remaining * 1000):
                return None
            self._pending = self.read_available()
        return self._pending.pop(0)

    def take_pending(self) -> list[dict[str, Any]]:
        """What :meth:`receive` read beyond the message it returned."""
        pending, self._pending = self._pending, []
        return pending

    def close(self) -> None:
        self.sock.close()
