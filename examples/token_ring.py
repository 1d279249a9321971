"""A token goes round the ring three times; each node stops once it has seen it three times.

netsim run ring:6 --app examples/token_ring.py:TokenRing
"""

from __future__ import annotations

import netsim


class TokenRing(netsim.App):
    laps = 3

    def on_start(self, ctx):
        self.seen = 0
        ring = ctx.nodes  # in topology order: on ring:N, each node's successor is its neighbour
        self.next_node = ring[(ring.index(ctx.name) + 1) % len(ring)]
        if ctx.name == ring[0]:
            ctx.send(self.next_node, "token", {"lap": 1, "hops": 0})

    def on_message(self, ctx, message):
        self.seen += 1
        lap, hops = message.body["lap"], message.body["hops"] + 1
        ctx.record(kind="token", lap=lap, hops=hops)
        if ctx.name == ctx.nodes[0]:
            lap += 1  # the token is back where it started
        if lap <= self.laps:
            ctx.send(self.next_node, "token", {"lap": lap, "hops": hops})
        if self.seen == self.laps:
            ctx.stop()
