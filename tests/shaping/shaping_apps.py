"""Apps the shaping tests run by file path."""

from __future__ import annotations

from netsim import App


class Burst(App):
    """Node 'a' sends 2,000 numbered messages to 'b' in bursts of 100, one burst per millisecond."""

    total = 2000

    def on_start(self, ctx):
        self.sent = 0
        if ctx.name == "a":
            ctx.set_timer(0, "burst")
        else:
            ctx.stop()

    def on_timer(self, ctx, name, data):
        for _ in range(100):
            ctx.send("b", "n", self.sent)
            self.sent += 1
        if self.sent < self.total:
            ctx.set_timer(0.001, "burst")
        else:
            ctx.stop()
