"""flood: the topology's first node floods a message; every node forwards it once to its other neighbours.

Every node that receives the flood records it (``{"kind": "flood", "hops": n}``) and stops; the
source stops once it has sent. Nodes the flood cannot reach never stop, and the run ends when the
network is quiet.
"""

from __future__ import annotations

from netsim.runtime.app import App
from netsim.runtime.context import NodeContext
from netsim.wire.message import Message


class FloodApp(App):
    def on_start(self, ctx: NodeContext) -> None:
        self.seen = False
        if ctx.name == ctx.nodes[0]:
            self.seen = True
            ctx.broadcast("flood", {"origin": ctx.name, "hops": 1})
            ctx.record(kind="flood", origin=ctx.name, hops=0)
            ctx.stop()

    def on_message(self, ctx: NodeContext, message: Message) -> None:
        if message.type != "flood" or self.seen:
            return
        self.seen = True
        hops = int(message.body["hops"])
        ctx.record(kind="flood", origin=message.body["origin"], hops=hops)
        ctx.broadcast("flood", {"origin": message.body["origin"], "hops": hops + 1}, exclude={message.src})
        ctx.stop()
