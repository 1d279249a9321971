"""What the agent's and the relay's sockets share: writes that never block, and TCP keepalive on the
host link."""

from __future__ import annotations

import contextlib
import selectors
import socket
from typing import Any


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


def receive_now(sock: socket.socket, size: int) -> bytes | None:
    """What ``sock`` has now: None if nothing yet, ``b""`` once the other end closed or the socket failed."""
    try:
        return sock.recv(size)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def watch_output(selector: selectors.BaseSelector, out: Outbox, data: Any) -> None:
    """Have ``selector`` say when ``out``'s socket is writable while it has output queued, and only then."""
    wants = bool(out.out)
    if wants != out.wants_write:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wants else 0)
        # A socket already unregistered (its node or host is gone) has nothing to watch.
        with contextlib.suppress(KeyError, ValueError):
            selector.modify(out.sock, events, data)
        out.wants_write = wants


# How long sent data may wait unacknowledged on a host link before the link is given up (ms).
USER_TIMEOUT_MS = 20_000


def keepalive(sock: socket.socket, user_timeout_ms: int = USER_TIMEOUT_MS) -> None:
    """A host that vanishes without closing its connections is noticed within some 20 s.

    Keepalive probes go only while nothing sent waits for its acknowledgement, and a host link always
    has something in flight: ``TCP_USER_TIMEOUT`` bounds how long sent data may wait unacknowledged,
    so both ends give up on a cut network in the same 20 s (the retransmissions alone take minutes).
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    options = (
        ("TCP_KEEPIDLE", 5),
        ("TCP_KEEPINTVL", 3),
        ("TCP_KEEPCNT", 4),
        ("TCP_USER_TIMEOUT", user_timeout_ms),
    )
    for name, value in options:
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
