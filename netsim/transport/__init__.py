"""The seven transports behind one interface, looked up by name."""

from __future__ import annotations

from netsim.errors import TransportError
from netsim.transport.base import LinkEnd, Transport
from netsim.transport.tcp import TcpTransport
from netsim.transport.tcp6 import Tcp6Transport
from netsim.transport.udp import UdpTransport
from netsim.transport.udp6 import Udp6Transport
from netsim.transport.unix import UnixDatagramTransport, UnixSeqpacketTransport, UnixStreamTransport
from netsim.vocabulary import DEFAULT_TRANSPORT, TRANSPORT_NAMES

TRANSPORTS: dict[str, Transport] = {
    transport.name: transport
    for transport in (
        TcpTransport(),
        Tcp6Transport(),
        UdpTransport(),
        Udp6Transport(),
        UnixStreamTransport(),
        UnixDatagramTransport(),
        UnixSeqpacketTransport(),
    )
}
assert tuple(TRANSPORTS) == TRANSPORT_NAMES


def get_transport(name: str) -> Transport:
    try:
        return TRANSPORTS[name]
    except KeyError:
        raise TransportError(
            f"unknown transport {name!r}", hint=f"use one of: {', '.join(TRANSPORT_NAMES)}"
        ) from None


__all__ = ["DEFAULT_TRANSPORT", "TRANSPORTS", "TRANSPORT_NAMES", "LinkEnd", "Transport", "get_transport"]
