"""The base class of every node program ("app"): override the callbacks you need.

The runtime defines the interface of the programs it runs; the built-in apps (``netsim.apps``) sit
above it, like the user's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netsim.runtime.context import NodeContext
    from netsim.wire.message import Message


class App:
    """One instance runs in each node process; ``ctx`` is how it talks to the network.

    Callbacks run one at a time on the node's event loop: never block in them (no ``time.sleep``,
    no blocking sockets); set a timer instead. An exception in a callback crashes the node: the
    run reports it by name with its traceback and stops.
    """

    def on_start(self, ctx: NodeContext) -> None:
        """All links of all nodes are up; messages may be sent from here on. (In a restarted node: its
        links to the neighbours alive then are up again, or 3 s have passed.)"""

    def on_message(self, ctx: NodeContext, message: Message) -> None:
        """A message from a neighbour arrived."""

    def on_timer(self, ctx: NodeContext, name: str, data: Any) -> None:
        """A timer set with ``ctx.set_timer(delay_s, name, data)`` fired."""

    def on_link_down(self, ctx: NodeContext, peer: str, reason: str) -> None:
        """The link to ``peer`` closed while the run was going on (the peer died or sent bad bytes).

        netsim reconnects it (with backoff) when the peer comes back; ``on_link_up`` says when.
        """

    def on_link_up(self, ctx: NodeContext, peer: str) -> None:
        """The link to ``peer`` is up again after ``on_link_down`` (the peer restarted)."""

    def on_drained(self, ctx: NodeContext, peer: str) -> None:
        """The kernel took the last message that waited for room on the link to ``peer``.

        Called only after ``ctx.backlog(peer)`` was above 0: a sender that paused there resumes here.
        """

    def on_stop(self, ctx: NodeContext) -> None:
        """The run is ending; sends from here are still delivered."""


class MainFailed(Exception):
    """A socket program's ``main(net)`` raised (``netsim.runtime.socket_program``): ``text`` is its
    traceback, from the program's own frames."""

    def __init__(self, text: str) -> None:
        super().__init__(text.strip().splitlines()[-1] if text.strip() else "main failed")
        self.text = text
