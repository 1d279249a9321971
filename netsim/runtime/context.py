"""What an app sees of its node: its name, its neighbours, and the means to send, time and stop."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from netsim.clock import now_ns

if TYPE_CHECKING:
    from netsim.runtime.node import Node
    from netsim.wire.message import Message


class NodeContext:
    """Handed to every callback of an app.

    ``rng`` is this node's own ``random.Random``, seeded from the run's seed and the node's name:
    make every random choice with it and a run repeats with the same seed.
    """

    def __init__(self, node: Node, seed: int) -> None:
        self._node = node
        self.name: str = node.name
        self.neighbours: tuple[str, ...] = node.neighbour_names
        self.nodes: tuple[str, ...] = node.plan.node_names
        # Settings netsim gives a built-in app beyond the plan (a workload client's); {} for the rest.
        self.config: dict[str, Any] = node.plan.config or {}
        self.seed = seed
        self.rng = random.Random(f"{seed}:{node.name}")
        # Every app sends through here, often per message: these attributes are the node's own methods,
        # one call fewer than the documented methods below, which say what they do.
        self.send = node.send_message
        self.backlog = node.backlog

    def send(self, dst: str, type: str, body: Any = None, *, in_reply_to: str | None = None) -> str | None:
        """Send a message to neighbour ``dst``; returns its id, or None if the link is down.

        Raises ValueError for a node that is not a neighbour and MessageTooLarge for a message the
        link's transport cannot carry.
        """
        return self._node.send_message(dst, type, body, in_reply_to=in_reply_to)

    def reply(self, message: Message, type: str, body: Any = None) -> str | None:
        """Answer ``message``, citing it in ``in_reply_to``."""
        return self._node.send_message(message.src, type, body, in_reply_to=message.id)

    def broadcast(
        self, type: str, body: Any = None, *, exclude: tuple[str, ...] | set[str] = ()
    ) -> list[str]:
        """Send the same message to every neighbour not in ``exclude``; returns the ids sent."""
        sent: list[str] = []
        for neighbour in self.neighbours:
            if neighbour not in exclude:
                message_id = self._node.send_message(neighbour, type, body)
                if message_id is not None:
                    sent.append(message_id)
        return sent

    def backlog(self, dst: str) -> int:
        """How many messages sent to neighbour ``dst`` wait because the kernel will not take them yet.

        They wait while the socket's send buffer (on ``unix-dgram``, the receiver's queue) is full,
        where a program on blocking sockets would be stuck in ``send()``. netsim keeps them, in order,
        and hands them over as the kernel makes room; to pace a fast sender, stop sending to ``dst``
        while this is not 0 and go on in ``on_drained``. unix-dgram and unix-seqpacket links give the
        kernel each message as it is sent; stream, udp and udp6 links give it what a callback sent when
        the callback returns (udp and udp6 also once 256 wait), so theirs count only once the kernel has
        refused some. Messages a shaped link holds are on the link, not in the backlog.
        """
        return self._node.backlog(dst)

    def set_timer(self, delay_s: float, name: str = "timer", data: Any = None) -> int:
        """Call ``on_timer(ctx, name, data)`` once, ``delay_s`` seconds from now; returns the timer id."""
        return self._node.set_timer(delay_s, name, data)

    def cancel_timer(self, timer_id: int) -> None:
        self._node.cancel_timer(timer_id)

    def stop(self) -> None:
        """This node has finished its work. It keeps serving its links (messages still arrive, and its
        timers still fire); the run ends when all have stopped."""
        self._node.app_done()

    def record(self, **data: Any) -> None:
        """Write an ``app`` event with ``data`` (JSON values) to the trace, e.g. a measured round trip."""
        self._node.trace.event("app", data=data)

    def log(self, text: str) -> None:
        """A line in this node's log file."""
        self._node.log(text)

    def now_ns(self) -> int:
        """The run's shared clock, in nanoseconds (the same clock as the trace's ts_ns)."""
        return now_ns()

    @property
    def elapsed_s(self) -> float:
        """Seconds since this node's app started."""
        return (now_ns() - self._node.started_ns) / 1e9
