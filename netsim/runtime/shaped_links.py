"""A node's shaped links: a LinkShaper per peer, and the messages they hold back until release.

The node hands every outgoing message of a shaped link here. Its verdict is carried out and traced
(``drop``, ``delay``, ``duplicate``); held copies are released from the node's event loop, and a copy
whose link went down on the way (a fault, or the peer died) is dropped then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netsim.clock import now_ns
from netsim.runtime.channels import LinkChannel, Outgoing
from netsim.runtime.holding import HeldMessage, ReleaseQueue
from netsim.shaping.conditions import NO_CONDITIONS, Conditions
from netsim.shaping.shaper import DRAW_BITS, DROP_LINK_DOWN, LinkShaper
from netsim.transport import get_transport

if TYPE_CHECKING:
    from netsim.runtime.node import Node


class ShapedLinks:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.shapers: dict[str, LinkShaper] = {
            link.peer: self._new_shaper(link.peer, link.conditions)
            for link in node.plan.links
            if link.conditions.shaped
        }
        self.held = ReleaseQueue()
        self._held_per_peer = self.held.held_per_peer  # read for every message sent on a shaped link

    def __bool__(self) -> bool:
        """True while messages are held: the node is not idle."""
        return bool(self.held)

    @property
    def next_release_ns(self) -> int | None:
        return self.held.next_release_ns

    def shaper_for(self, peer: str) -> LinkShaper:
        """The peer's shaper, made (with no conditions) when a fault first touches an unshaped link."""
        if peer not in self.shapers:
            self.shapers[peer] = self._new_shaper(peer, NO_CONDITIONS)
        return self.shapers[peer]

    def set_conditions(self, peer: str, fields: dict[str, Any]) -> None:
        self.shaper_for(peer).conditions = Conditions(**fields)

    def send(self, channel: LinkChannel, shaper: LinkShaper, payload: bytes, outgoing: Outgoing) -> None:
        """Drop, delay or duplicate one message as its link's conditions say, and trace the decision."""
        node = self.node
        peer = channel.peer
        wire_bytes = len(payload) + channel.frame_overhead
        # .get: a Counter's [] calls __missing__, in Python, for a peer that never had a message held.
        if shaper.instant and not self._held_per_peer.get(peer):
            # Nothing to delay and nothing held ahead of it: to the kernel now, or dropped.
            if shaper.admits_all:
                shaper.draw(DRAW_BITS)  # what admit would draw, and it could not drop
                drop = None
            else:
                drop = shaper.admit(wire_bytes)
            if drop is None:
                # node.to_kernel, inlined: this is every message of a lossless instant link.
                if channel.queue(payload, outgoing):
                    node._dirty.add(channel)
                return
            now = now_ns()
            releases: tuple[int, ...] = ()
        else:
            now = now_ns()
            drop, releases, _, _ = shaper.decide(now, wire_bytes)
        if drop is not None:
            node.trace.event("drop", ts_ns=now, reason=drop, **_fields(channel, wire_bytes, outgoing))
            node.count_drop()
            return
        if len(releases) > 1:
            delay_ns = releases[1] - now
            node.trace.event(
                "duplicate", ts_ns=now, delay_ns=delay_ns, **_fields(channel, wire_bytes, outgoing)
            )
        for copy, release_ns in enumerate(releases):
            if release_ns <= now and not self.held.held_per_peer.get(peer):
                # Nothing held ahead of it on this link: straight to the kernel.
                node.to_kernel(channel, payload, outgoing)
                shaper.released(wire_bytes)
                continue
            if copy == 0:
                fields = _fields(channel, wire_bytes, outgoing)
                node.trace.event("delay", ts_ns=now, delay_ns=release_ns - now, **fields)
            self.held.hold(release_ns, peer, payload, outgoing, wire_bytes)

    def release_due(self, now: int) -> None:
        self._release(self.held.pop_due(now))

    def release_all(self) -> None:
        """The run is ending: held messages were sent before the stop, so cut their delays short."""
        self._release(self.held.pop_all())

    def _release(self, due: list[HeldMessage]) -> None:
        node = self.node
        for held in due:
            shaper = self.shapers[held.peer]
            shaper.released(held.wire_bytes)
            channel = node.channels.get(held.peer)
            reason = shaper.blocked or (DROP_LINK_DOWN if channel is None or channel.closed else None)
            if reason is None:
                assert channel is not None
                node.to_kernel(channel, held.payload, held.outgoing)
                continue
            # The link went down (a fault, or the peer died) while the message was on its way.
            msg_id, msg_type, lamport, _ = held.outgoing
            node.trace.event(
                "drop",
                reason=reason,
                peer=held.peer,
                nbytes=held.wire_bytes,
                msg_id=msg_id,
                msg_type=msg_type,
                lamport=lamport,
            )
            node.count_drop()

    def _new_shaper(self, peer: str, conditions: Conditions) -> LinkShaper:
        node = self.node
        ordered = get_transport(node.links_by_peer[peer].transport).connected
        return LinkShaper(conditions, seed=f"{node.plan.seed}:{node.name}->{peer}", ordered=ordered)


def _fields(channel: LinkChannel, wire_bytes: int, outgoing: Outgoing) -> dict[str, Any]:
    """The fields of a delay, drop or duplicate record: built only when one is written."""
    msg_id, msg_type, lamport, _ = outgoing
    return {
        "transport": channel.transport.name,
        "peer": channel.peer,
        "nbytes": wire_bytes,
        "msg_id": msg_id,
        "msg_type": msg_type,
        "lamport": lamport,
    }
