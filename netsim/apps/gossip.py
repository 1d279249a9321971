"""gossip: every node starts with one rumour (its own name) and pushes what it knows to a random
neighbour every tick, until every node knows every rumour.

A node stops (votes the run done) once it knows all rumours, but keeps pushing so that its
neighbours learn them too; the run ends when every node has stopped. Random choices use the node's
seeded ``ctx.rng``, so a run repeats with the same ``--seed``.
"""

from __future__ import annotations

from typing import Any

from netsim.runtime.app import App
from netsim.runtime.context import NodeContext
from netsim.wire.message import Message


class GossipApp(App):
    tick_s = 0.01

    def on_start(self, ctx: NodeContext) -> None:
        self.known: set[str] = {ctx.name}
        self.everyone = set(ctx.nodes)
        self._check_complete(ctx)
        if ctx.neighbours:
            ctx.set_timer(ctx.rng.uniform(0, self.tick_s), "push")

    def on_timer(self, ctx: NodeContext, name: str, data: Any) -> None:
        neighbour = ctx.rng.choice(ctx.neighbours)
        ctx.send(neighbour, "rumours", sorted(self.known))
        ctx.set_timer(self.tick_s, "push")

    def on_message(self, ctx: NodeContext, message: Message) -> None:
        if message.type != "rumours" or not isinstance(message.body, list):
            return
        before = len(self.known)
        self.known.update(str(rumour) for rumour in message.body)
        if len(self.known) != before:
            self._check_complete(ctx)

    def _check_complete(self, ctx: NodeContext) -> None:
        if self.known >= self.everyone:
            ctx.record(kind="gossip-complete", rumours=len(self.known))
            ctx.stop()
