"""A node's links as they come and go: connections made and accepted, links up, links closed.

A connection the node dialled or accepted becomes a channel; it is the link to its peer once its hello
proves it (``netsim.runtime.handshake``), or at once where the launcher vouched for the address. A
link closes when its peer closes it, on a socket error or bad bytes, when it is refused or replaced,
and at the run's end; the app hears of a link going down while it runs, and the end that made the
link's socket dials it again (``netsim.runtime.reconnect``). A listener out of descriptors stops
accepting for a while, longer each time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netsim.errors import CodecError
from netsim.runtime.bounds import ACCEPT_BACKOFF_FIRST_S, ACCEPT_BACKOFF_MAX_S
from netsim.runtime.channels import Channel, LinkChannel, Listener, PacketChannel, StreamChannel
from netsim.runtime.states import CLOSING, DRAINING, RUNNING, SETUP
from netsim.transport import Transport

if TYPE_CHECKING:
    from netsim.runtime.node import Node


class Links:
    def __init__(self, node: Node) -> None:
        self.node = node

    def _channel(
        self, sock: Any, transport: Transport, peername: Any, peer: str | None, *, owns_path: bool
    ) -> LinkChannel:
        if transport.framing == "stream":
            return StreamChannel(self.node, sock, transport, peername, peer, owns_path=owns_path)
        return PacketChannel(self.node, sock, transport, peername, peer, owns_path=owns_path)

    # ---- links up -----------------------------------------------------------------------------------

    def dialled(
        self,
        sock: Any,
        transport: Transport,
        listener_address: Any,
        peer: str,
        *,
        trusted: bool,
        attempt: int | None = None,
    ) -> None:
        """``sock`` connected to ``peer``'s listener: serve it, and send the hello on a connection.

        ``trusted``: the link is up at once (see ``Handshakes.connected``); otherwise a connection is up
        once the answer to its hello proves the listener (``link_up``).
        """
        node = self.node
        channel = self._channel(sock, transport, listener_address, peer, owns_path=True)
        node.register(channel)
        if attempt is None:
            node.trace.event("connect", **channel.trace_fields())
        else:
            node.trace.event("connect", attempt=attempt, **channel.trace_fields())
        if transport.connected:
            node.handshakes.connected(channel, trusted=trusted)
        if trusted:
            node.channels[peer] = channel

    def on_accepted(self, listener: Listener, sock: Any) -> None:
        node = self.node
        channel = self._channel(sock, listener.transport, sock.getpeername(), None, owns_path=False)
        node.register(channel)
        node.trace.event("accept", **channel.trace_fields())
        node.handshakes.accepted(channel)

    def pause_accepting(self, listener: Listener, error: OSError) -> None:
        """Out of descriptors (or buffers): stop watching the listener for a while, longer each time."""
        node = self.node
        delay_s = min(ACCEPT_BACKOFF_MAX_S, 2 * listener.backoff_s or ACCEPT_BACKOFF_FIRST_S)
        listener.backoff_s = delay_s
        node.trace_error(listener, f"accept: {error.strerror or error}: not accepting for {delay_s:g} s")
        node.unregister(listener)
        node.call_later(delay_s, lambda: self._resume_accepting(listener))

    def _resume_accepting(self, listener: Listener) -> None:
        node = self.node
        if not listener.closed and not node.registered(listener):
            node.register(listener)

    def link_up(self, channel: LinkChannel) -> None:
        """``channel`` proved itself: it is the link to its peer now."""
        node = self.node
        peer = channel.peer
        assert peer is not None
        existing = node.channels.get(peer)
        if existing is channel:
            return  # a start-up link, up since it connected: its answer has come
        if existing is not None and not existing.closed:
            # The peer connected again (restarted, or it saw the old connection fail before we did).
            self.close(existing, "replaced by a new connection")
        node.channels[peer] = channel
        node.link_setup.linked(peer)
        if node.state == RUNNING:
            assert node.app is not None
            node.app.on_link_up(node.context, peer)  # type: ignore[arg-type]

    # ---- links down ---------------------------------------------------------------------------------

    def refuse(self, channel: LinkChannel, problem: str, nbytes: int | None = None) -> None:
        """Close a connection that has not proved it belongs to the run, saying why in the trace."""
        self.reject(channel, problem, nbytes, reason="refused")

    def reject(
        self, channel: LinkChannel, problem: str, nbytes: int | None, reason: str = "bad bytes"
    ) -> None:
        self.node.trace_error(channel, problem, nbytes=nbytes)
        self.close(channel, reason)

    def on_bad_bytes(self, channel: LinkChannel, error: CodecError, nbytes: int) -> None:
        self.reject(channel, f"bad frame: {error}", nbytes)

    def on_peer_closed(self, channel: LinkChannel) -> None:
        node = self.node
        if node.state in (DRAINING, CLOSING):
            # The peer half-closed as part of the shutdown: Shutdown.check_drained closes this link
            # once our own output is out. Until then only writability matters (EOF stays readable).
            node.update_interest(channel)
            return
        self.close(channel, "peer closed")

    def on_socket_error(self, channel: Channel, error: OSError) -> None:
        self.node.trace_error(channel, f"{type(error).__name__}: {error.strerror or error}")
        if isinstance(error, ConnectionRefusedError) and channel.transport.name in ("udp", "udp6"):
            # An ICMP "port unreachable" for an earlier datagram: the peer is away, but a connected
            # UDP socket keeps working when it comes back at the same address.
            return
        if isinstance(channel, LinkChannel):
            self.close(channel, "socket error")

    def close(self, channel: LinkChannel, reason: str) -> None:
        if channel.closed:
            return
        node = self.node
        node.trace.event("close", reason=reason, **channel.trace_fields())
        node.unregister(channel)
        channel.close()
        node._dirty.discard(channel)
        handshakes = node.handshakes
        dialing = handshakes.dialing.get(channel.peer) is channel  # type: ignore[arg-type]
        handshakes.forget(channel)
        peer = channel.peer
        # The closed channel stays in node.channels: sends to this peer now fail visibly in the trace.
        if peer is not None and node.channels.get(peer) is channel and node.state == RUNNING:
            assert node.app is not None
            node.app.on_link_down(node.context, peer, reason)  # type: ignore[arg-type]
            if node.reconnects.owns_link_socket(peer):
                node.reconnects.schedule(peer, 1)
        elif dialing and node.state in (SETUP, RUNNING):
            # Our connection never got a good answer to its hello: try again, as for a lost link.
            node.reconnects.schedule(peer, 1)
