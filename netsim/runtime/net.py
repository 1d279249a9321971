"""``net``: what a socket program (``def main(net)``) is given of its node and the network.

A socket program owns its node's process: netsim calls ``main(net)`` once, on every node at once,
and the node is done when it returns. It makes its own sockets with ``net.socket()``; each is a real
``socket.socket`` whose calls are traced (``netsim.runtime.traced_socket``). docs/socket-programs.md
is the guide; every name below is public API.

Listeners a node must have before any node's ``main`` runs are declared with ``netsim.listens``
on ``main``; netsim binds them at start-up, before the start barrier, so that no client's first
``connect`` can find its server not yet listening::

    @netsim.listens(9000)
    def main(net):
        server = net.listen(9000)          # the listening socket netsim bound, on (net.host, 9000)
        conn, address = server.accept()
"""

from __future__ import annotations

import errno
import random
import socket
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from netsim.clock import now_ns
from netsim.errors import StartupError
from netsim.runtime.hosts import node_host, node_path_dir

if TYPE_CHECKING:
    from netsim.runtime.program_links import ProgramSockets
    from netsim.runtime.traced_socket import TracedSocket

LISTEN_ATTRIBUTE = "netsim_listens"
# Transport -> (family, type) of a listener spec's socket.
LISTEN_TRANSPORTS: dict[str, tuple[int, int]] = {
    "tcp": (socket.AF_INET, socket.SOCK_STREAM),
    "tcp6": (socket.AF_INET6, socket.SOCK_STREAM),
    "udp": (socket.AF_INET, socket.SOCK_DGRAM),
    "udp6": (socket.AF_INET6, socket.SOCK_DGRAM),
    "unix": (socket.AF_UNIX, socket.SOCK_STREAM),
    "unix-dgram": (socket.AF_UNIX, socket.SOCK_DGRAM),
    "unix-seqpacket": (socket.AF_UNIX, socket.SOCK_SEQPACKET),
}
# Errors a connect gets while the peer's server is not up yet (or a partition holds): worth a retry.
RETRY_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENOENT, errno.ENETUNREACH, errno.EAGAIN})

Main = TypeVar("Main", bound=Callable[..., Any])


def parse_listen_spec(spec: int | str) -> tuple[str, int | str]:
    """``9000`` / ``"tcp:9000"`` / ``"udp6:53"`` / ``"unix:chat"`` -> (transport, port or path name);
    ValueError saying what is accepted."""
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise ValueError(f"listener {spec!r}: give a port (9000) or 'TRANSPORT:PORT' / 'unix:NAME'")
    if isinstance(spec, int):
        transport, where = "tcp", str(spec)
    else:
        transport, sep, where = spec.partition(":")
        if not sep:
            transport, where = "tcp", spec
    if transport not in LISTEN_TRANSPORTS:
        raise ValueError(
            f"listener {spec!r}: unknown transport {transport!r} (use {', '.join(LISTEN_TRANSPORTS)})"
        )
    if transport.startswith("unix"):
        if not where or "/" in where or where in (".", ".."):
            raise ValueError(f"listener {spec!r}: an AF_UNIX listener is a plain name, e.g. 'unix:chat'")
        return transport, where
    if not where.isdigit() or not 0 < int(where) < 65536:
        raise ValueError(f"listener {spec!r}: the port must be 1..65535")
    return transport, int(where)


def listens(*specs: int | str, nodes: Iterable[str] | None = None) -> Callable[[Main], Main]:
    """Declare the listeners ``main`` needs bound before any node's ``main`` starts.

    Each spec is a port (TCP on the node's own address), ``"udp:PORT"``, ``"tcp6:PORT"``,
    ``"udp6:PORT"`` (on ``::1``, whose ports the whole machine shares), or ``"unix:NAME"``,
    ``"unix-dgram:NAME"``, ``"unix-seqpacket:NAME"`` (at ``net.path(NAME)``). ``net.listen(spec)``
    returns the socket. ``nodes``: the names of the nodes that have these listeners (default: every
    node that runs ``main``), as a server's port on ``::1`` can be bound by one node only. Stack the
    decorator for listeners on different nodes.
    """
    for spec in specs:
        parse_listen_spec(spec)
    if isinstance(nodes, str):
        raise ValueError(f"listens(nodes={nodes!r}): give a collection of node names, e.g. nodes=['server']")
    only = None if nodes is None else frozenset(nodes)

    def declare(main: Main) -> Main:
        earlier = getattr(main, LISTEN_ATTRIBUTE, ())
        setattr(main, LISTEN_ATTRIBUTE, (*earlier, *((spec, only) for spec in specs)))
        return main

    return declare


def declared_listeners(main: Callable[..., Any], node: str) -> tuple[int | str, ...]:
    """The listeners ``main`` declared for ``node``."""
    return tuple(spec for spec, only in getattr(main, LISTEN_ATTRIBUTE, ()) if only is None or node in only)


class Net:
    """A socket program's node: its name and neighbours, its addresses, its sockets, its log."""

    def __init__(
        self,
        sockets: ProgramSockets,
        *,
        index: int,
        nodes: tuple[str, ...],
        neighbours: tuple[str, ...],
        seed: int,
        log: Callable[[str], None],
        record: Callable[[dict[str, Any]], None],
    ) -> None:
        self._sockets = sockets
        self._index = {name: position for position, name in enumerate(nodes)}
        self._log = log
        self._record = record
        self._listeners: dict[tuple[str, int | str], TracedSocket] = {}
        self._started_ns = now_ns()
        self.name: str = sockets.node_name
        self.index: int = index
        self.nodes: tuple[str, ...] = nodes
        self.neighbours: tuple[str, ...] = neighbours
        self.host: str = sockets.host
        self.seed: int = seed
        self.rng = random.Random(f"{seed}:{self.name}")

    # ---- addresses ------------------------------------------------------------------------------------

    def host_of(self, name: str) -> str:
        """The IPv4 address of node ``name`` (its own loopback address; see docs/socket-programs.md)."""
        return node_host(self._sockets.host_base, self._node_index(name))

    def path(self, name: str, node: str | None = None) -> str:
        """The AF_UNIX path ``name`` of this node, or of ``node``: inside the run's private directory."""
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"net.path({name!r}): give a plain name such as 'chat'")
        index = self._index[self.name] if node is None else self._node_index(node)
        return f"{node_path_dir(self._sockets.socket_dir, index)}/{name}"

    def address_of(self, node: str, port_or_name: int | str, transport: str = "tcp") -> Any:
        """Where ``node``'s listener ``port_or_name`` on ``transport`` is, as ``connect`` takes it."""
        if transport.startswith("unix"):
            return self.path(str(port_or_name), node)
        if transport.endswith("6"):
            return ("::1", int(port_or_name))
        return (self.host_of(node), int(port_or_name))

    def _node_index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            if isinstance(name, str) and _is_ip_address(name):
                raise ValueError(
                    f"{name!r} is an address, not a node's name: pass the node's name "
                    f"(net.connect('n0', PORT)) or a (host, port) tuple (net.connect(({name!r}, PORT)))"
                ) from None
            raise ValueError(f"no node named {name!r} in this run") from None

    # ---- sockets --------------------------------------------------------------------------------------

    def socket(
        self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
    ) -> TracedSocket:
        """A new socket, as ``socket.socket(family, type, proto)`` makes, every call of it traced."""
        from netsim.runtime.traced_socket import TracedSocket

        sock = TracedSocket(family, type, proto)
        sock._adopt(self._sockets)  # noqa: SLF001 - the socket's one-time set-up
        sock._record("socket", args=sock.describe())  # noqa: SLF001
        return sock

    def listen(self, spec: int | str, backlog: int | None = None) -> TracedSocket:
        """The listener ``spec`` (see ``netsim.listens``): the one bound at start-up if ``main``
        declared it, else one bound (and, on a stream, listening) now."""
        transport, where = parse_listen_spec(spec)
        existing = self._listeners.get((transport, where))
        if existing is not None and socket.socket.fileno(existing) != -1:
            return existing
        family, kind = LISTEN_TRANSPORTS[transport]
        sock = self.socket(family, kind)
        try:
            if family != socket.AF_UNIX and kind == socket.SOCK_STREAM:
                # A restarted node binds its port again at once, whatever its last connections left in
                # TIME_WAIT. Not on a datagram socket: there, two sockets that set it share the address,
                # whoever owns the second (another user could take the node's datagrams). Set by netsim,
                # not the program: untraced.
                socket.socket.setsockopt(sock, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(self.address_of(self.name, where, transport))
            if kind != socket.SOCK_DGRAM:
                sock.listen(128 if backlog is None else backlog)
        except OSError:
            sock.close()
            raise
        self._listeners[(transport, where)] = sock
        return sock

    def connect(
        self,
        node_or_address: Any,
        port_or_name: int | str | None = None,
        *,
        transport: str = "tcp",
        timeout: float = 10.0,
    ) -> TracedSocket:
        """A connected stream socket, retried while the server is not up yet.

        ``net.connect("server", 9000)`` or ``net.connect(("127.2.0.1", 9000))``. ``ECONNREFUSED``
        (nobody listens yet), ``ENOENT`` (no such AF_UNIX path yet) and ``ENETUNREACH`` (a partition)
        are retried with backoff from 10 ms to 0.5 s until ``timeout`` seconds have passed; then the
        last error is raised. Every attempt is in the trace.
        """
        if port_or_name is None:
            address = node_or_address
            family = (
                socket.AF_UNIX
                if isinstance(address, str)
                else (socket.AF_INET6 if ":" in str(address[0]) else socket.AF_INET)
            )
            kind = LISTEN_TRANSPORTS.get(transport, (0, socket.SOCK_STREAM))[1]
        else:
            address = self.address_of(node_or_address, port_or_name, transport)
            family, kind = LISTEN_TRANSPORTS[transport]
        deadline = time.monotonic() + timeout
        pause = 0.01
        while True:
            sock = self.socket(family, kind)
            try:
                sock.connect(address)
                return sock
            except OSError as error:
                sock.close()
                if error.errno not in RETRY_ERRNOS or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(0.5, pause * 2)

    # ---- the node -------------------------------------------------------------------------------------

    def log(self, text: str) -> None:
        """A line in this node's log (``nodes/INDEX-NAME.log`` in the run directory)."""
        self._log(text)

    def record(self, **data: Any) -> None:
        """Write an ``app`` event with ``data`` (JSON values) to the trace."""
        self._record(data)

    def now_ns(self) -> int:
        """The run's shared clock, in nanoseconds (the trace's ``ts_ns``)."""
        return now_ns()

    @property
    def elapsed_s(self) -> float:
        """Seconds since this node's ``main`` was called."""
        return (now_ns() - self._started_ns) / 1e9

    def _bind_declared(self, specs: tuple[int | str, ...]) -> dict[str, Any]:
        """Bind the listeners ``main`` declared; returns spec -> address, for the launcher."""
        bound: dict[str, Any] = {}
        for spec in specs:
            transport, where = parse_listen_spec(spec)
            try:
                sock = self.listen(spec)
            except OSError as error:
                shared = " (IPv6 ports on ::1 are shared by every node: give each node its own)"
                raise StartupError(
                    f"node {self.name!r}: cannot bind its declared listener {transport}:{where} at "
                    f"{self.address_of(self.name, where, transport)}: {error.strerror or error}"
                    + (shared if transport.endswith("6") else "")
                ) from None
            bound[f"{transport}:{where}"] = sock._names_now()[0]  # noqa: SLF001
        return bound

    def _start_clock(self) -> None:
        self._started_ns = now_ns()


def _is_ip_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
