"""The words every layer shares, as plain data: transport names and traits, built-in app names, and
the prefix of netsim's own message types.

It imports nothing from netsim, so the topology checker, the trace tools and the socket code can all
agree on what ``"udp"`` or ``"flood"`` means without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Framing = Literal["stream", "packet"]


@dataclass(frozen=True, slots=True)
class TransportTraits:
    """What a transport promises, independent of its sockets.

    ``connected``: listen/accept/connect (TCP, AF_UNIX stream and seqpacket) rather than one bound
    socket that receives from anyone (UDP, AF_UNIX datagram).
    ``framing``: "stream" needs a length prefix to find message boundaries; "packet" carries one
    message per send.
    ``reliable``: the kernel delivers every message exactly once, in order, or reports an error.
    ``sealed``: any process on the host can send to its sockets (UDP), so each datagram carries the
    run's proof (``netsim.wire.auth``).
    """

    name: str
    connected: bool
    framing: Framing
    reliable: bool
    sealed: bool = False


TRANSPORT_TRAITS: dict[str, TransportTraits] = {
    traits.name: traits
    for traits in (
        TransportTraits("tcp", connected=True, framing="stream", reliable=True),
        TransportTraits("tcp6", connected=True, framing="stream", reliable=True),
        TransportTraits("udp", connected=False, framing="packet", reliable=False, sealed=True),
        TransportTraits("udp6", connected=False, framing="packet", reliable=False, sealed=True),
        TransportTraits("unix", connected=True, framing="stream", reliable=True),
        # AF_UNIX datagrams are never dropped: a full receiver makes the sender wait.
        TransportTraits("unix-dgram", connected=False, framing="packet", reliable=True),
        TransportTraits("unix-seqpacket", connected=True, framing="packet", reliable=True),
    )
}
TRANSPORT_NAMES: tuple[str, ...] = tuple(TRANSPORT_TRAITS)
DEFAULT_TRANSPORT = "tcp"

BUILTIN_APP_NAMES: tuple[str, ...] = ("echo", "flood", "gossip")
DEFAULT_APP = "flood"

# The message types netsim sends itself start with this (the link handshake is "netsim.hello"); trace
# tools hide them unless asked.
CONTROL_TYPE_PREFIX = "netsim."


def is_app_spec(value: str) -> bool:
    """True for a built-in name or a ``module:Class`` spec (resolved later, when the run starts)."""
    if value in BUILTIN_APP_NAMES:
        return True
    module, sep, cls = value.partition(":")
    return bool(sep and module and cls)
