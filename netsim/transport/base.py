"""The one interface every transport implements, and the socket plumbing they share.

A transport knows how to make its sockets: a *listener* (the socket a node accepts connections or
receives datagrams on) and a *link socket* (one end of one link, bound before it connects so both
ends are named in the trace). It does not move messages: the node runtime does, choosing how to
frame them from ``framing`` alone, so adding a transport never touches the event loop.
"""

from __future__ import annotations

import errno
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from netsim.errors import TransportError
from netsim.vocabulary import TRANSPORT_TRAITS, Framing

# What the socket API gives and takes: (host, port[, flowinfo, scope_id]) or an AF_UNIX path.
Address = Any

# Socket buffer sizes we ask for; the kernel caps them at net.core.{r,w}mem_max without privileges.
SOCKET_BUFFER_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class LinkEnd:
    """Where a node's sockets for one transport live: the node index, the private socket dir, and the
    host addresses its IPv4 and IPv6 sockets bind (None: loopback; a run over many hosts binds the
    host's cluster address, which its links to other hosts reach it on)."""

    node_index: int
    socket_dir: str
    host: str | None = None
    host6: str | None = None


class Transport(ABC):
    """A socket family and type, as netsim uses it.

    A subclass names itself (``name``) and takes ``connected``, ``framing``, ``reliable`` and
    ``sealed`` from ``netsim.vocabulary.TRANSPORT_TRAITS``, the one place they are declared (the
    trace tools read them there without importing socket code).
    ``max_message_bytes``: the largest encoded message one send may carry. Where ``sealed``, each
    datagram carries the run's proof, which takes ``DATAGRAM_TAG_BYTES`` of it.
    ``batches_datagrams``: the kernel sends a run of same-size datagrams in one call, and a listener
    reads such a run back whole (the options and their bytes: ``netsim.transport.inet``).
    """

    name: ClassVar[str]
    family: ClassVar[int]
    sock_type: ClassVar[int]
    connected: ClassVar[bool]
    framing: ClassVar[Framing]
    reliable: ClassVar[bool]
    max_message_bytes: ClassVar[int]
    sealed: ClassVar[bool] = False
    # True where the kernel sends a run of same-size datagrams in one call and reads it back whole
    # (UDP_SEGMENT and UDP_GRO; see netsim.transport.inet and netsim.wire.datagram_batches).
    batches_datagrams: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            traits = TRANSPORT_TRAITS[cls.name]
            cls.connected = traits.connected
            cls.framing = traits.framing
            cls.reliable = traits.reliable
            cls.sealed = traits.sealed

    def available(self) -> str | None:
        """None if the kernel supports this transport here, else the reason it does not."""
        return None

    def listener(self, end: LinkEnd, backlog: int, address: Address | None = None) -> socket.socket:
        """A bound (and, if connected, listening) non-blocking socket; its address is its getsockname()."""
        sock = self._socket()
        try:
            self._prepare(sock)
            self._bind(sock, self.listener_address(end) if address is None else address)
            if self.connected:
                sock.listen(backlog)
        except OSError as error:
            sock.close()
            raise TransportError(f"{self.name}: cannot open a listener: {error.strerror or error}") from error
        sock.setblocking(False)
        return sock

    def link_socket(self, end: LinkEnd, peer_index: int, address: Address | None = None) -> socket.socket:
        """A bound, not yet connected socket for the link from ``end`` to node ``peer_index``.

        ``address`` rebinds a socket where a previous one was (a restarted node keeps its addresses).
        """
        sock = self._socket()
        try:
            self._prepare(sock)
            self._prepare_link(sock, address)
            self._bind(sock, self.link_address(end, peer_index) if address is None else address)
        except OSError as error:
            sock.close()
            raise TransportError(
                f"{self.name}: cannot bind a link socket: {error.strerror or error}"
            ) from error
        return sock

    def connect(self, sock: socket.socket, peer_address: Address, timeout_s: float) -> None:
        """Connect a link socket to a peer's listener, then make it non-blocking.

        Blocking with a timeout is safe during start-up: listeners are sized so the kernel completes
        every expected connection from its backlog without the peer calling accept().
        """
        sock.settimeout(timeout_s)
        try:
            sock.connect(peer_address)
        except OSError as error:
            raise TransportError(
                f"{self.name}: cannot connect to {peer_address!r}: {error.strerror or error}"
            ) from error
        sock.setblocking(False)

    @abstractmethod
    def listener_address(self, end: LinkEnd) -> Address: ...

    @abstractmethod
    def link_address(self, end: LinkEnd, peer_index: int) -> Address: ...

    def address_from_json(self, value: Any) -> Address:
        """An address as JSON carried it (lists for tuples) back in the socket API's shape."""
        return tuple(value) if isinstance(value, list) else value

    def _bind(self, sock: socket.socket, address: Address) -> None:
        sock.bind(address)

    def _socket(self) -> socket.socket:
        try:
            return socket.socket(self.family, self.sock_type)
        except OSError as error:
            raise TransportError(f"{self.name}: cannot create a socket: {error.strerror or error}") from error

    def _prepare_link(self, sock: socket.socket, address: Address | None) -> None:  # noqa: B027 - a hook
        """Options a link socket (not a listener) takes before bind; ``address`` None: a new one."""

    def _prepare(self, sock: socket.socket) -> None:
        """Socket options set before bind; subclasses add their own."""
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_BYTES)


def would_block(error: OSError) -> bool:
    return error.errno in (errno.EAGAIN, errno.EWOULDBLOCK)


def kernel_supports(family: int, sock_type: int, address: Address) -> str | None:
    """None if a socket of this family and type can bind ``address`` here, else why not."""
    if family == getattr(socket, "AF_INET6", None) and not socket.has_ipv6:
        return "Python was built without IPv6"
    try:
        with socket.socket(family, sock_type) as probe:
            probe.bind(address)
    except OSError as error:
        return f"the kernel refused: {error.strerror or error}"
    return None
