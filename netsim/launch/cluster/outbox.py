"""What the agent's and the relay's sockets share: writes that never block, and TCP keepalive on the
host link."""

from __future__ import annotations

import contextlib
import socket


class Outbox:
    """A non-blocking socket and what is queued for it (the agent's and the relay's sockets)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.out = bytearray()
        self.wants_write = False

    def queue(self, data: bytes) -> None:
        self.out += data
        self.flush()

    def flush(self) -> None:
        out = self.out
        while out:
            try:
                sent = self.sock.send(out)
            except BlockingIOError:
                return
            del out[:sent]


def keepalive(sock: socket.socket) -> None:
    """A host that vanishes without closing its connections is noticed within some 20 s."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 3), ("TCP_KEEPCNT", 4)):
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
