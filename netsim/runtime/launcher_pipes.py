"""The launcher's two pipes, as the node's event loop serves them beside its sockets.

The control socket carries the launcher's commands (``netsim.runtime.control``), each turned here into
the node's step it asks for, and, by its EOF, says that the launcher is gone. The start gate is one
pipe every forked node reads: its EOF is the start barrier opening for all of them at once.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Any

from netsim.runtime import control
from netsim.runtime.control import ControlSocket
from netsim.runtime.states import DRAINING, RUNNING, SETUP

if TYPE_CHECKING:
    from netsim.runtime.node import Node


class ControlChannel:
    """The launcher's pipe, served by the same selector as the sockets."""

    def __init__(self, owner: Node, conn: ControlSocket) -> None:
        self.owner = owner
        self.conn = conn
        self.fileno = conn.fileno()

    def on_readable(self) -> None:
        try:
            commands = self.conn.read_available()
        except (EOFError, OSError):
            # Only the launcher holds the other end: it is gone, and nobody will tell us to stop.
            self.owner.on_launcher_gone()
            return
        self.dispatch(commands)

    def dispatch(self, commands: list[dict[str, Any]]) -> None:
        for command in commands:
            self._on_command(command)

    def _on_command(self, command: dict[str, Any]) -> None:
        node = self.owner
        kind = command["kind"]
        if kind == control.START and node.state == SETUP:
            node.start_app()
        elif kind == control.DRAIN and node.state in (SETUP, RUNNING):
            node.shutdown.drain()
        elif kind == control.SHUT and node.state == DRAINING:
            node.shutdown.shut_links()
        elif kind == control.CLOSE:
            node.shutdown.close()
        elif kind == control.BLOCK:
            node.shaping.shaper_for(command["peer"]).block(command["reason"])
        elif kind == control.UNBLOCK:
            node.shaping.shaper_for(command["peer"]).unblock(command["reason"])
        elif kind == control.FREEZE:
            node.flush_traces()
            node.tell(control.FROZEN)
            os.kill(os.getpid(), signal.SIGSTOP)
        elif kind == control.MOVED:
            node.reconnects.peer_moved(command["peer"], command["listener"], command["link"])
        elif kind == control.PEER_BACK:
            node.reconnects.peer_back(command["peer"])
        elif kind == control.CONDITIONS:
            node.shaping.set_conditions(command["peer"], command["conditions"])

    def on_writable(self) -> None:
        pass


class StartGate:
    """The read end of the launcher's start pipe: its EOF is the start barrier opening for every node."""

    def __init__(self, owner: Node, fileno: int) -> None:
        self.owner = owner
        self.fileno = fileno

    def on_readable(self) -> None:
        self.owner.selector.unregister(self.fileno)
        os.close(self.fileno)
        if self.owner.state == SETUP:
            self.owner.start_app()

    def on_writable(self) -> None:
        pass
