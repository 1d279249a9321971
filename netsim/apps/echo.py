"""echo: every node pings each neighbour a few times; each ping is answered with a pong.

The round trip of every ping is written to the trace as an ``app`` event
(``{"kind": "rtt", "peer": ..., "rtt_ns": ...}``), measured on the shared clock.
"""

from __future__ import annotations

from typing import Any

from netsim.runtime.app import App
from netsim.runtime.context import NodeContext
from netsim.wire.message import Message


class EchoApp(App):
    rounds = 3
    interval_s = 0.01

    def on_start(self, ctx: NodeContext) -> None:
        self.sent_at: dict[str, int] = {}
        self.rounds_left = self.rounds
        self.replies_due = 0
        self._ping_all(ctx)

    def _ping_all(self, ctx: NodeContext) -> None:
        if not ctx.neighbours:
            ctx.stop()
            return
        self.rounds_left -= 1
        for neighbour in ctx.neighbours:
            message_id = ctx.send(neighbour, "ping", {"round": self.rounds - self.rounds_left})
            if message_id is not None:
                self.sent_at[message_id] = ctx.now_ns()
                self.replies_due += 1
        if self.rounds_left > 0:
            ctx.set_timer(self.interval_s, "round")

    def on_timer(self, ctx: NodeContext, name: str, data: Any) -> None:
        self._ping_all(ctx)

    def on_message(self, ctx: NodeContext, message: Message) -> None:
        if message.type == "ping":
            ctx.reply(message, "pong", message.body)
        elif message.type == "pong" and message.in_reply_to in self.sent_at:
            rtt_ns = ctx.now_ns() - self.sent_at.pop(message.in_reply_to)
            ctx.record(kind="rtt", peer=message.src, msg_id=message.in_reply_to, rtt_ns=rtt_ns)
            self.replies_due -= 1
            if self.rounds_left == 0 and self.replies_due == 0:
                ctx.stop()
