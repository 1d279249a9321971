"""A node's way out of a run, step by step as the launcher asks (``netsim.runtime.control``).

``drain``: the app stops (``on_stop``), its timers go, messages held by shaped links are released, and
the node answers ``quiesced``. ``shut``, once every node has quiesced (so that no node still running
takes a neighbour's orderly EOF for a failure): each connected link is half-closed once its output is
out, and read to its EOF; then ``drained``. ``close``: the datagrams still queued are read and the loop
ends. However the node ends, every socket it has is closed last (``close_all``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.runtime import control
from netsim.runtime.channels import DatagramListener, LinkChannel
from netsim.runtime.states import CLOSING, DRAINING, RUNNING

if TYPE_CHECKING:
    from netsim.runtime.node import Node


class Shutdown:
    def __init__(self, node: Node) -> None:
        self.node = node
        # ``shut`` came: the loop checks after every turn whether the links are drained.
        self.shutting_links = False

    def drain(self) -> None:
        node = self.node
        if node.state == RUNNING and node.app is not None and node.context is not None:
            node.app.on_stop(node.context)
        node.state = DRAINING
        node.timers.clear_app_timers()
        # Messages still held by a shaped link were sent before the stop: deliver them now.
        node.shaping.release_all()
        node.flush_dirty()
        node.tell(control.QUIESCED)

    def shut_links(self) -> None:
        """Every node has quiesced: half-close each link once its output is out, and read it to EOF."""
        self.shutting_links = True
        self.check_drained()

    def check_drained(self) -> None:
        """Drained: nothing left to send, and every connected link has been read to its EOF."""
        node = self.node
        waiting = False
        for channel in list(node.channels.values()):
            if channel.closed:
                continue
            if channel.pending_output:
                waiting = True
                continue
            if channel.transport.connected:
                channel.shut_write()
                if channel.eof_received:
                    node.links.close(channel, "shutdown")
                else:
                    waiting = True
        if not waiting and node.state == DRAINING:
            node.state = CLOSING
            node.tell(control.DRAINED)

    def close(self) -> None:
        node = self.node
        # Whatever datagrams are still queued for us were sent before every node drained: read them.
        for listener in node.listeners.values():
            if isinstance(listener, DatagramListener) and not listener.closed:
                listener.on_readable()
        node.finished = True

    def close_all(self, reason: str) -> None:
        """Close every socket the node has, each with a ``close`` event giving ``reason``."""
        node = self.node
        node.state = CLOSING
        seen: set[int] = set()
        for channel in list(node.channels.values()) + [
            key.data for key in list(node.selector.get_map().values()) if isinstance(key.data, LinkChannel)
        ]:
            if id(channel) in seen or channel.closed:
                continue
            seen.add(id(channel))
            node.links.close(channel, reason)
        for listener in node.listeners.values():
            if not listener.closed:
                node.trace.event("close", reason=reason, **listener.trace_fields())
                node.unregister(listener)
                listener.close()
        node.link_setup.close()
