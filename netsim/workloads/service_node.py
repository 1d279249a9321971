"""A service node (``seq-kv``, ``lin-kv``, ``lww-kv``, ``lin-tso``): a netsim node whose app answers the
server nodes' requests with one of ``netsim.workloads.services``' services, over real sockets."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from netsim.runtime.app import App
from netsim.workloads.services import SERVICES

if TYPE_CHECKING:
    from netsim.runtime.context import NodeContext
    from netsim.wire.message import Message


class ServiceNode(App):
    def on_start(self, ctx: NodeContext) -> None:
        config = ctx.config
        self.service = SERVICES[config["service"]](random.Random(f"{config['seed']}:{ctx.name}"))
        # Services serve as long as the run goes on; the run ends when the clients are done.

    def on_message(self, ctx: NodeContext, message: Message) -> None:
        body = message.body if isinstance(message.body, dict) else {}
        reply = self.service.handle(message.src, body, ctx.now_ns())
        if reply is not None:
            ctx.send(message.src, reply["type"], reply, in_reply_to=message.id)
