"""The node programs bench/socket_calls.py runs on a ring: the same exchange written as a socket
program and as a netsim App. A module of its own, so that the fork server imports netsim and this file
only (see bench/launch_app.py for why)."""

from __future__ import annotations

import os
from typing import Any

import netsim

PORT = 7100
# Lines each node sends its successor; the bench sets it in the environment the fork server inherits.
LINES = int(os.environ.get("NETSIM_BENCH_RING_LINES", "200"))
LINE = b"x" * 63 + b"\n"


@netsim.listens(PORT)
def ring_lines(net: Any) -> None:
    """Each node sends LINES 64-byte lines to its successor (one sendall each) and reads as many
    from its predecessor (one recv each of what has come)."""
    ring = net.nodes
    to_successor = net.socket()
    to_successor.connect((net.host_of(ring[(net.index + 1) % len(ring)]), PORT))
    from_predecessor, _ = net.listen(PORT).accept()
    expected = LINES * len(LINE)
    received = 0
    for _ in range(LINES):
        to_successor.sendall(LINE)
    while received < expected:
        received += len(from_predecessor.recv(65536))
    to_successor.close()
    from_predecessor.close()


class RingLines(netsim.App):
    """The same on netsim's own links: LINES messages to the successor, done once LINES came in."""

    def on_start(self, ctx: Any) -> None:
        ring = ctx.nodes
        self.successor = ring[(ring.index(ctx.name) + 1) % len(ring)]
        self.to_send = LINES
        self.received = 0
        self.stopped = False
        self.send_some(ctx)

    def send_some(self, ctx: Any) -> None:
        while self.to_send and not ctx.backlog(self.successor):
            ctx.send(self.successor, "line", "x" * 63)
            self.to_send -= 1
        self.stop_when_done(ctx)

    def stop_when_done(self, ctx: Any) -> None:
        if self.received == LINES and not self.to_send and not self.stopped:
            self.stopped = True
            ctx.stop()

    def on_drained(self, ctx: Any, peer: str) -> None:
        self.send_some(ctx)

    def on_message(self, ctx: Any, message: Any) -> None:
        self.received += 1
        self.stop_when_done(ctx)
