"""Apps the runtime tests run by file path (``path/to/runtime_apps.py:Class``)."""

from __future__ import annotations

import os
import signal

from netsim import App


class Ticker(App):
    """Sends a tick to every neighbour every 50 ms for ``ticks`` rounds, then stops."""

    ticks = 30

    def on_start(self, ctx):
        self.left = self.ticks
        ctx.set_timer(0.05, "tick")

    def on_timer(self, ctx, name, data):
        ctx.broadcast("tick", {"left": self.left})
        self.left -= 1
        if self.left > 0:
            ctx.set_timer(0.05, "tick")
        else:
            ctx.record(kind="ticker-finished")
            ctx.stop()


class CrashOnSecondMessage(App):
    """The node named 'n2' raises on its second message; everyone else relays a counter around."""

    def on_start(self, ctx):
        self.received = 0
        if ctx.name == ctx.nodes[0]:
            ctx.broadcast("count", 0)

    def on_message(self, ctx, message):
        self.received += 1
        if ctx.name == "n2" and self.received == 2:
            raise RuntimeError("boom on purpose")
        ctx.broadcast("count", message.body + 1, exclude={message.src})
        ctx.set_timer(0.01, "again", message.src)

    def on_timer(self, ctx, name, data):
        ctx.send(data, "count", 0)


class KilledBySignal(App):
    """The node named 'n1' SIGKILLs itself 300 ms after start; the others tick until the run ends."""

    def on_start(self, ctx):
        ctx.set_timer(0.05, "tick")
        if ctx.name == "n1":
            ctx.set_timer(0.3, "die")

    def on_timer(self, ctx, name, data):
        if name == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        ctx.broadcast("tick")
        ctx.set_timer(0.05, "tick")


class Forever(App):
    """Ticks until the run is stopped from outside."""

    def on_start(self, ctx):
        ctx.set_timer(0.05, "tick")

    def on_timer(self, ctx, name, data):
        ctx.broadcast("tick")
        ctx.set_timer(0.05, "tick")


class LinkWatcher(Ticker):
    """A Ticker that records what it hears about its links."""

    def on_link_down(self, ctx, peer, reason):
        ctx.record(kind="link-down", peer=peer, reason=reason)

    def on_link_up(self, ctx, peer):
        ctx.record(kind="link-up", peer=peer)
