"""A node's start-up, rehearsed in the fork server before it forks a large run's nodes.

Why: a forked node shares its parent's pages until it writes to them, and CPython 3.11 writes to a
function's code object the first times the function runs (its warm-up count, then its bytecode as it
is quickened and specialised). Every node runs the same start-up code, so each would copy the same
pages. A server that has run that code a few times itself holds it warmed, and its nodes leave those
pages shared: bench/launch.py measured 0.3 MiB less memory per idle node (bench/README.md).

What runs: for each transport the run's links use, two nodes of this process, "a" and "b", linked by
it, take the steps of ``netsim.runtime.process.run_node``: bind, report, read their address book,
connect, prove the link, say ready, start when their start gate opens, and send each other a message,
REHEARSALS times over, with the node loop's own turns. The sockets are real ones on loopback (AF_UNIX
ones in a temporary directory, which also takes their traces and logs); every socket is closed and
the directory removed. What a node process does to itself (its process group, signals, output) is not
rehearsed, and neither is any code of the user's: the nodes' app is netsim's base ``App``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import selectors
import socket
import tempfile
from collections.abc import Callable, Iterable

from netsim.runtime import control
from netsim.runtime.app import App
from netsim.runtime.context import NodeContext
from netsim.runtime.control import ControlSocket
from netsim.runtime.launcher_pipes import ControlChannel, StartGate
from netsim.runtime.node import Node
from netsim.runtime.plan import LinkPlan, NodePlan
from netsim.wire.auth import RUN_KEY_BYTES

# Start-ups per transport: 3.11 quickens a function at its eighth call.
REHEARSALS = 10
# Loop turns the two nodes may take to be ready, and then to receive their messages.
MAX_TURNS = 100
NAMES = ("a", "b")

# The transports this process has rehearsed a start-up over (and so every node it forks after).
rehearsed: set[str] = set()


class RehearsalFailed(RuntimeError):
    """The rehearsal's nodes did not get as far as they should have."""


def rehearse(transports: Iterable[str], rehearsals: int = REHEARSALS) -> None:
    """Run two-node start-ups over each of ``transports``; raises what a start-up raises."""
    with tempfile.TemporaryDirectory(prefix="netsim-rehearsal-") as directory:
        for transport in dict.fromkeys(transports):
            for number in range(rehearsals):
                run_dir = os.path.join(directory, f"{number}-{transport}")
                os.mkdir(run_dir)
                _start_up(transport, run_dir)
            rehearsed.add(transport)


class _Pair:
    """Two nodes, the launcher's ends of their control sockets, and their start gate."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.launcher_ends: list[ControlSocket] = []
        self.gate_read, self.gate_write = os.pipe()

    def add_nodes(self, transport: str, directory: str) -> None:
        run_key = secrets.token_bytes(RUN_KEY_BYTES)
        for index, name in enumerate(NAMES):
            plan = NodePlan(
                name=name,
                index=index,
                app="echo",
                links=(LinkPlan(NAMES[1 - index], 1 - index, transport, initiator=index == 0),),
                node_names=NAMES,
                seed=index,
                socket_dir=directory,
                trace_path=os.path.join(directory, f"{name}.jsonl"),
                log_path=os.path.join(directory, f"{name}.log"),
                run_key=run_key,
            )
            ours, theirs = socket.socketpair()
            self.launcher_ends.append(ControlSocket(ours))
            try:
                node = Node(plan, ControlSocket(theirs))
            except BaseException:
                theirs.close()
                raise
            self.nodes.append(node)

    def turn_until(self, done: Callable[[], bool]) -> None:
        for _ in range(MAX_TURNS):
            if done():
                return
            for node in self.nodes:
                node.turn(wait=False)
        raise RehearsalFailed("the rehearsal's nodes did not get there")

    def open_gate(self) -> None:
        """Close the gate's write end: its EOF starts both nodes, as the fork server's starts a run's."""
        os.close(self.gate_write)
        self.gate_write = -1

    def close(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.shutdown.close_all("rehearsal")
            node.trace.close()
            for key in list(node.selector.get_map().values()):
                if isinstance(key.data, StartGate):  # a gate that never opened
                    node.selector.unregister(key.fd)
                    os.close(key.fd)
            node.selector.close()
            node.conn.close()
            node.receive_view.release()
            node.receive_buffer.close()
            node.log_file.close()
        for end in self.launcher_ends:
            end.close()
        os.close(self.gate_read)
        if self.gate_write >= 0:
            os.close(self.gate_write)


def _start_up(transport: str, directory: str) -> None:
    pair = _Pair()
    nodes = pair.nodes
    try:
        pair.add_nodes(transport, directory)
        bound = []
        for node in nodes:
            node.log(f"node {node.name!r} rehearses")
            node.app = App()
            node.context = NodeContext(node, node.plan.seed)
            listeners, links = node.link_setup.bind()
            node.tell(control.BOUND, listeners=listeners, links=links)
            bound.append((listeners, links))
        for index, end in enumerate(pair.launcher_ends):
            peer = NAMES[1 - index]
            peer_listeners, peer_links = bound[1 - index]
            address = {"listener": peer_listeners.get(transport), "link": peer_links.get(NAMES[index])}
            end.send(control.ADDRESSES, peers={peer: address})
        for node in nodes:
            node.link_setup.receive_addresses()
            commands = ControlChannel(node, node.conn)
            node.selector.register(node.conn.fileno(), selectors.EVENT_READ, commands)
            commands.dispatch(node.conn.take_pending())
            # Each node has its own read end of the gate, as each node process has.
            gate = os.dup(pair.gate_read)
            node.selector.register(gate, selectors.EVENT_READ, StartGate(node, gate))
        pair.turn_until(lambda: all(not node.link_setup.awaiting_hello for node in nodes))
        pair.open_gate()
        pair.turn_until(lambda: all(node.app is not None and node.started_ns for node in nodes))
        received = [node.counters["received"] for node in nodes]
        for index, node in enumerate(nodes):
            if node.send_message(NAMES[1 - index], "rehearsal", {"from": node.name}) is None:
                raise RehearsalFailed(f"{node.name} could not send over {transport}")
        pair.turn_until(lambda: all(n.counters["received"] > r for n, r in zip(nodes, received, strict=True)))
    finally:
        pair.close()
