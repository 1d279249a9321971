"""Dialling a lost link again: where each peer listens (and moves to), and the retries with backoff.

The end that made a link's sending socket (a connection's initiator, either end of a datagram link)
dials again when the link closes while the run goes on, or when its connection never got a good answer
to its hello, or when a restarted node finds a peer down. The first retry comes after 50 ms, each next
one after twice as long, up to 1 s; every failed attempt is an ``error`` event.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from netsim.errors import TransportError
from netsim.runtime.channels import DatagramListener
from netsim.runtime.states import RUNNING, SETUP
from netsim.transport import get_transport
from netsim.transport.base import LinkEnd

if TYPE_CHECKING:
    from netsim.runtime.node import Node

RECONNECT_FIRST_S = 0.05
RECONNECT_MAX_S = 1.0
RECONNECT_TIMEOUT_S = 0.5


class Reconnects:
    """The addresses a node dials its peers at, and its retries."""

    def __init__(self, node: Node) -> None:
        self.node = node
        # peer -> its listener address for our link, and our own link socket's address (datagram),
        # learnt at start-up and when a restarted peer moved
        self.peer_listener: dict[str, Any] = {}
        self.own_link_address: dict[str, Any] = {}

    def owns_link_socket(self, peer: str) -> bool:
        """This node made the link's sending socket: a connection's initiator, either end of datagrams."""
        link = self.node.links_by_peer[peer]
        return link.initiator or not get_transport(link.transport).connected

    def schedule(self, peer: str, attempt: int) -> None:
        delay = min(RECONNECT_MAX_S, RECONNECT_FIRST_S * 2 ** (attempt - 1))
        self.node.call_later(delay, lambda: self._reconnect(peer, attempt))

    def failed(self, sock: Any, peer: str, attempt: int, error: TransportError) -> None:
        """Connecting to ``peer`` failed: close ``sock`` (None if making it failed), say so, retry later."""
        if sock is not None:
            close_socket(sock)
        link = self.node.links_by_peer[peer]
        self.node.write_error(
            f"connect attempt failed: {error}",
            transport=link.transport,
            peer=peer,
            attempt=attempt,
            peername=self.peer_listener.get(peer),
        )
        self.schedule(peer, attempt + 1)

    def peer_moved(self, peer: str, listener: Any, link_address: Any) -> None:
        """A restarted neighbour is bound elsewhere now: send to it there, take datagrams from there."""
        node = self.node
        link = node.links_by_peer[peer]
        transport = get_transport(link.transport)
        self.peer_listener[peer] = transport.address_from_json(listener)
        dialing = node.handshakes.dialing.get(peer)
        if dialing is not None and not dialing.closed:
            # Dialled at the old address, where another process may listen now: dial again.
            node.links.refuse(dialing, f"{peer!r} moved to {listener!r}")
        if transport.connected:
            return  # the next connection to the peer, by either end, uses the new address
        receiver = node.listeners[link.transport]
        assert isinstance(receiver, DatagramListener)
        receiver.move_peer(peer, transport.address_from_json(link_address))
        channel = node.channels.get(peer)
        if channel is not None and not channel.closed:
            node.links.close(channel, "peer moved")  # and reconnected at the new address

    def peer_back(self, peer: str) -> None:
        """A restarted neighbour is bound again: dial it now if this node makes the link's connection
        (the backoff's next try may be a second away, and the neighbour's app waits for its links)."""
        if peer not in self.peer_listener:
            return  # a socket program's node: its program dials, not netsim
        link = self.node.links_by_peer[peer]
        if link.initiator and get_transport(link.transport).connected:
            self._reconnect(peer, 1)

    def _reconnect(self, peer: str, attempt: int) -> None:
        node = self.node
        if node.state not in (SETUP, RUNNING):
            return
        current = node.channels.get(peer)
        if (current is not None and not current.closed) or peer in node.handshakes.dialing:
            return
        link = node.links_by_peer[peer]
        transport = get_transport(link.transport)
        end = LinkEnd(node.plan.index, node.plan.socket_dir, node.plan.bind_host, node.plan.bind_host6)
        listener_address = self.peer_listener[peer]
        sock = None
        try:
            sock = transport.link_socket(end, link.peer_index, self.own_link_address.get(peer))
            transport.connect(sock, listener_address, RECONNECT_TIMEOUT_S)
        except TransportError as error:
            self.failed(sock, peer, attempt, error)
            return
        # A connection is up when the answer to its hello comes (Links.link_up): until then the app's
        # sends are drops. A datagram link is up at once.
        node.links.dialled(
            sock, transport, listener_address, peer, trusted=not transport.connected, attempt=attempt
        )
        if transport.connected:
            node.flush_dirty()
        elif node.state == RUNNING:
            assert node.app is not None
            node.app.on_link_up(node.context, peer)  # type: ignore[arg-type]


def close_socket(sock: Any) -> None:
    """Close a socket that never became a channel, removing the AF_UNIX path it bound."""
    try:
        address = sock.getsockname()
    except OSError:
        address = None
    sock.close()
    if isinstance(address, str) and address:
        with contextlib.suppress(OSError):
            os.unlink(address)
