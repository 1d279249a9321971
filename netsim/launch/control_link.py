"""The launcher's end of a control socket: sends that never block, reads of whatever has arrived.

The launcher talks to every node, and to its fork server, over one of these. A node that is busy, or
stopped by a fault, must not hold the launcher up: what the kernel does not take now waits here and
goes when the socket is writable again (the launcher's selector says when). Framing and messages are
``netsim.runtime.control``'s.
"""

from __future__ import annotations

import array
import collections
import socket
from typing import Any

from netsim.runtime.control import READ_CHUNK_BYTES, ControlDecoder, ControlProtocolError, encode_control

# The most descriptors one message of the fork server carries (it sends one per node it forked).
MAX_FDS_PER_READ = 4
_FD_SIZE = array.array("i").itemsize


class ControlLink:
    """One non-blocking control socket of the launcher's.

    ``takes_fds``: the other end passes descriptors (SCM_RIGHTS) with its messages; they queue in
    ``fds`` in the order they came, which is the order of the messages that carry them.
    """

    def __init__(self, sock: socket.socket, *, takes_fds: bool = False) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.fileno = sock.fileno()
        self.takes_fds = takes_fds
        self.fds: collections.deque[int] = collections.deque()
        self.eof = False
        # The launcher's selector watches it for EVENT_WRITE (it has output queued).
        self.wants_write = False
        self._decoder = ControlDecoder()
        self._out = bytearray()

    # ---- sending ------------------------------------------------------------------------------------

    def send(self, kind: str, **fields: Any) -> None:
        """Queue one message and send what the kernel takes now; OSError if the other end is gone."""
        self._out += encode_control(kind, **fields)
        self.flush()

    def flush(self) -> None:
        """Send what the kernel takes of what is queued."""
        out = self._out
        while out:
            try:
                sent = self.sock.send(out)
            except BlockingIOError:
                return
            del out[:sent]

    @property
    def pending_output(self) -> bool:
        return bool(self._out)

    # ---- reading ------------------------------------------------------------------------------------

    def read(self) -> list[dict[str, Any]]:
        """Every message that has arrived; sets ``eof`` when the other end has closed."""
        messages: list[dict[str, Any]] = []
        while not self.eof:
            try:
                data = self._receive()
            except BlockingIOError:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                if self._decoder.partial:
                    raise ControlProtocolError("a control socket closed in the middle of a message")
                break
            messages.extend(self._decoder.feed(data))
            if len(data) < READ_CHUNK_BYTES:
                # Drained for now; one more recv() would only say so.
                break
        return messages

    def _receive(self) -> bytes:
        if not self.takes_fds:
            return self.sock.recv(READ_CHUNK_BYTES)
        data, ancillary, flags, _ = self.sock.recvmsg(
            READ_CHUNK_BYTES, socket.CMSG_SPACE(MAX_FDS_PER_READ * _FD_SIZE)
        )
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - len(payload) % _FD_SIZE])
                self.fds.extend(fds)
        if flags & socket.MSG_CTRUNC:
            raise ControlProtocolError("descriptors passed on a control socket were cut off")
        return data

    def close(self) -> None:
        while self.fds:
            socket.close(self.fds.popleft())
        self.sock.close()
