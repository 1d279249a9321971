"""Apps the conformance suite runs by file path (``path/to/conformance_apps.py:Class``)."""

from __future__ import annotations

from netsim import App
from netsim.errors import MessageTooLarge


class OversizeApp(App):
    """Each node tries one message just over its link's limit, then one that fits, then stops."""

    def on_start(self, ctx):
        peer = ctx.neighbours[0]
        try:
            ctx.send(peer, "too-big", "x" * 70_000)
        except MessageTooLarge as error:
            ctx.record(kind="refused", error=str(error))
        ctx.send(peer, "fits", "x" * 100)
        ctx.stop()


class PacedSender(App):
    """Node 'a' sends COUNT numbered messages to 'b', pausing while the link has a backlog.

    It records the largest backlog it saw and how often it heard on_drained; 'b' records the numbers
    in the order they arrived.
    """

    COUNT = 3_000

    def on_start(self, ctx):
        self.next = 0
        self.largest_backlog = 0
        self.drained = 0
        self.arrived = []
        if ctx.name == "a":
            self.send_some(ctx)

    def on_timer(self, ctx, name, data):
        self.send_some(ctx)

    def on_drained(self, ctx, peer):
        self.drained += 1
        self.send_some(ctx)

    def send_some(self, ctx):
        if self.next == self.COUNT:
            return
        for _ in range(100):
            if self.next == self.COUNT or ctx.backlog("b"):
                break
            ctx.send("b", "n", self.next)
            self.next += 1
            self.largest_backlog = max(self.largest_backlog, ctx.backlog("b"))
        if self.next == self.COUNT:
            ctx.record(kind="sender", largest_backlog=self.largest_backlog, drained=self.drained)
            ctx.stop()
        elif not ctx.backlog("b"):
            ctx.set_timer(0, "more")

    def on_message(self, ctx, message):
        self.arrived.append(message.body)
        if len(self.arrived) == self.COUNT:
            ctx.record(kind="receiver", in_order=self.arrived == list(range(self.COUNT)))
            ctx.stop()

    def on_stop(self, ctx):
        if ctx.name == "b" and len(self.arrived) < self.COUNT:
            ctx.record(kind="receiver", in_order=self.arrived == sorted(set(self.arrived)))
