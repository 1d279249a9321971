"""The apps and the program bench/programs.py runs: a module of their own (see bench/launch_app.py)."""

from __future__ import annotations

from typing import Any

import netsim

MESSAGES = 20_000


class Source(netsim.App):
    """Sends MESSAGES Maelstrom-shaped bodies to its one neighbour, pacing itself by the backlog."""

    def on_start(self, ctx: Any) -> None:
        self.peer = ctx.neighbours[0]
        self.sent = 0
        ctx.record(kind="first-send")
        self.more(ctx)

    def more(self, ctx: Any) -> None:
        while self.sent < MESSAGES and not ctx.backlog(self.peer):
            self.sent += 1
            ctx.send(self.peer, "relay", {"type": "relay", "seq": self.sent, "dest": "n2"})
        if self.sent < MESSAGES:
            ctx.set_timer(0.001, "more")
        else:
            ctx.stop()

    def on_timer(self, ctx: Any, name: str, data: Any) -> None:
        self.more(ctx)

    def on_drained(self, ctx: Any, peer: str) -> None:
        self.more(ctx)


class Relay(netsim.App):
    """Passes every message from n0 on to n2: the Python app beside the relay program."""

    def on_message(self, ctx: Any, message: Any) -> None:
        ctx.send("n2", message.type, message.body)


class Sink(netsim.App):
    """Counts what arrives; records the moment the last one did."""

    def on_start(self, ctx: Any) -> None:
        self.received = 0

    def on_message(self, ctx: Any, message: Any) -> None:
        self.received += 1
        if self.received == MESSAGES:
            ctx.record(kind="last-receive")
            ctx.stop()
