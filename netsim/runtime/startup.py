"""A node's set-up before the start barrier: bind its listeners and link sockets, then connect its links.

Binding comes first for every node of the run, so that the launcher can hand each one its neighbours'
real addresses (``bound``, then ``addresses``); connecting follows. A restarted node binds where its
previous process was bound if it can, and keeps dialling a peer that is down instead of failing.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from netsim.errors import StartupError, TransportError
from netsim.runtime import control
from netsim.runtime.channels import Channel, DatagramListener, Listener
from netsim.runtime.reconnect import close_socket
from netsim.runtime.states import SETUP
from netsim.transport import Transport, get_transport
from netsim.transport.base import LinkEnd

if TYPE_CHECKING:
    from netsim.runtime.node import Node

# How long a restarted node waits for its links to live peers before its app starts without them.
RESTART_LINKS_WAIT_S = 3.0


class LinkSetup:
    """Binds a node's sockets, and connects its links once it knows where its peers are."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.link_sockets: dict[str, Any] = {}  # peer -> bound, unconnected socket (set-up only)
        # Peers whose hello the node waits for before it is ready (links they initiate, at a first start).
        self.awaiting_hello: set[str] = set()

    def bind(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Bind every listener and link socket; returns the addresses the launcher is told of:
        (transport name -> listener address, peer -> link socket address)."""
        node = self.node
        plan = node.plan
        if plan.socket_program:
            # The program makes its own sockets; netsim binds only the listeners it declared.
            return node.app.bind_declared(), {}  # type: ignore[union-attr]
        end = LinkEnd(plan.index, plan.socket_dir, plan.bind_host, plan.bind_host6)
        fixed = plan.fixed_addresses or {}
        fixed_listeners, fixed_links = fixed.get("listeners", {}), fixed.get("links", {})
        inbound_per_transport: dict[str, int] = {}
        for link in plan.links:
            if not link.initiator:
                inbound_per_transport[link.transport] = inbound_per_transport.get(link.transport, 0) + 1
        for transport_name in dict.fromkeys(link.transport for link in plan.links):
            transport = get_transport(transport_name)
            # Room for every expected inbound link, so start-up connects never wait for accept().
            backlog = max(128, inbound_per_transport.get(transport_name, 0) + 16)
            sock = self._bind_again(
                transport, partial(transport.listener, end, backlog), fixed_listeners.get(transport_name)
            )
            channel: Channel = (
                Listener(node, sock, transport)
                if transport.connected
                else DatagramListener(node, sock, transport)
            )
            node.listeners[transport_name] = channel
            node.register(channel)
            node.trace.event("bind", transport=transport_name, sockname=channel.sockname, role="listener")
            if transport.connected:
                node.trace.event("listen", transport=transport_name, sockname=channel.sockname)
        link_addresses: dict[str, Any] = {}
        for link in plan.links:
            transport = get_transport(link.transport)
            if link.initiator or not transport.connected:
                # Peers recognise a datagram link by its address: a restarted node keeps it.
                sock = self._bind_again(
                    transport,
                    partial(transport.link_socket, end, link.peer_index),
                    None if transport.connected else fixed_links.get(link.peer),
                )
                self.link_sockets[link.peer] = sock
                link_addresses[link.peer] = sock.getsockname()
                node.trace.event(
                    "bind", transport=link.transport, sockname=sock.getsockname(), role="link", peer=link.peer
                )
        listener_addresses = {name: channel.sockname for name, channel in node.listeners.items()}
        return listener_addresses, link_addresses

    def _bind_again(self, transport: Transport, bind: Any, previous: Any) -> Any:
        """``bind(address)``: where a restarted node's previous process was bound, if it can.

        While a node is dead its ports are free, and another process may take one: then the node binds
        a new address, says so in the trace, and the launcher gives its neighbours the new one.
        """
        if previous is None:
            return bind(None)
        try:
            return bind(transport.address_from_json(previous))
        except TransportError as error:
            self.node.write_error(
                f"cannot bind the address it had before its restart ({error}): bound a new one",
                transport=transport.name,
                sockname=previous,
            )
            return bind(None)

    def receive_addresses(self) -> None:
        """Wait for the launcher's address book, connect the links, and say ``ready`` if nothing waits."""
        node = self.node
        command = node.conn.receive(node.plan.settings.startup_timeout_s)
        if command is None:
            raise StartupError(f"node {node.name!r}: no address book from the launcher")
        if command["kind"] != control.ADDRESSES:
            # The run is stopping before it started (start-up failed elsewhere, or a stop signal).
            node.finished = True
            return
        self.connect(command["peers"])
        node.flush_dirty()
        if node.plan.generation > 0 and self.awaiting_hello:
            node.call_later(RESTART_LINKS_WAIT_S, self._waited_long_enough)
        self._maybe_ready()

    def _waited_long_enough(self) -> None:
        """A restarted node's peers that have not reconnected: its app starts without those links."""
        node = self.node
        if node.state != SETUP or not self.awaiting_hello:
            return
        for peer in sorted(self.awaiting_hello):
            link = node.links_by_peer[peer]
            node.write_error(
                f"the link to {peer!r} was not up again {RESTART_LINKS_WAIT_S:g} s after the restart: "
                "the app starts without it",
                transport=link.transport,
                peer=peer,
            )
        self.awaiting_hello.clear()
        self._maybe_ready()

    def connect(self, peers: dict[str, dict[str, Any]]) -> None:
        """Connect every link this node makes, given each peer's addresses from the launcher.

        ``peers``: for each peer, ``listener``: its listener address for our link's transport, and
        ``link``: the address its datagram link socket sends to us from.
        """
        node = self.node
        plan = node.plan
        if plan.socket_program:
            node.app.learn_addresses(peers)  # type: ignore[union-attr]
            return
        reconnects = node.reconnects
        for link in plan.links:
            transport = get_transport(link.transport)
            entry = peers[link.peer]
            listener_address = transport.address_from_json(entry["listener"])
            reconnects.peer_listener[link.peer] = listener_address
            # A restarted node's app starts, as a first start's does, once its links are up: but for
            # those to dead peers, and for at most RESTART_LINKS_WAIT_S (see _waited_long_enough).
            waits = transport.connected and not entry.get("down")
            if transport.connected and not link.initiator:
                if waits:
                    # Up once its hello proves it (a restarted node's peers dial it again at once).
                    self.awaiting_hello.add(link.peer)
                continue
            sock = self.link_sockets.pop(link.peer)
            if not transport.connected:
                reconnects.own_link_address[link.peer] = sock.getsockname()
            # A datagram link socket is connected too: poll() then reports it writable only when the
            # peer's queue has room (AF_UNIX), and ICMP errors come back to it (UDP).
            try:
                transport.connect(sock, listener_address, plan.settings.connect_timeout_s)
            except TransportError as error:
                if plan.generation == 0:
                    raise
                # Restarted while this peer is down: keep trying in the background.
                reconnects.failed(sock, link.peer, 0, error)
                continue
            if not transport.connected:
                receiver = node.listeners[link.transport]
                assert isinstance(receiver, DatagramListener)
                receiver.add_peer(link.peer, transport.address_from_json(entry["link"]))
            # A first start's connections are up at once (see Handshakes.connected); a restarted
            # node's, like any reconnection, once the answer to the hello proves the listener.
            trusted = plan.generation == 0 or not transport.connected
            node.links.dialled(sock, transport, listener_address, link.peer, trusted=trusted)
            if not trusted and waits:
                self.awaiting_hello.add(link.peer)

    def linked(self, peer: str) -> None:
        """The link to ``peer`` is up: the node may be ready now."""
        self.awaiting_hello.discard(peer)
        self._maybe_ready()

    def _maybe_ready(self) -> None:
        node = self.node
        if node.state == SETUP and not self.awaiting_hello:
            node.tell(control.READY)

    def close(self) -> None:
        """Close the link sockets that never connected (the run ended during set-up)."""
        for sock in self.link_sockets.values():
            close_socket(sock)
        self.link_sockets.clear()
