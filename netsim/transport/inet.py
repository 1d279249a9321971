"""What TCP and UDP over IPv4 and IPv6 share: loopback addresses (or, over many hosts, the host's
address) with a kernel-chosen port."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
from typing import ClassVar

from netsim.transport.base import Address, LinkEnd, Transport, kernel_supports

# Linux's IP_BIND_ADDRESS_NO_PORT (Python names it only from 3.12 on).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)

# Linux's UDP_SEGMENT (4.18) and UDP_GRO (5.0), options of level SOL_UDP that Python does not name.
SOL_UDP = getattr(socket, "SOL_UDP", 17)
UDP_SEGMENT = 103
UDP_GRO = 104
# One read of a listener that takes runs whole: room for the largest UDP payload (a run is one), and
# for the segment size the kernel puts beside a run (an int).
BATCH_READ_BYTES = 65536
BATCH_ANCILLARY_BYTES = socket.CMSG_SPACE(4)
_SEGMENT_SIZE = struct.Struct("=H")
_GRO_SIZE = struct.Struct("=i")


def segment_size_option(size: int) -> list[tuple[int, int, bytes]]:
    """The ancillary data of a send whose buffer the kernel cuts into datagrams of ``size`` bytes."""
    return [(SOL_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(size))]


def segment_size_of(ancillary: list[tuple[int, int, bytes]]) -> int:
    """The size of each datagram in what one read returned, if the kernel joined a run; else 0."""
    for level, kind, data in ancillary:
        if level == SOL_UDP and kind == UDP_GRO and len(data) >= _GRO_SIZE.size:
            return _GRO_SIZE.unpack_from(data)[0]
    return 0


class InetTransport(Transport):
    loopback: ClassVar[str]

    def listener_address(self, end: LinkEnd) -> Address:
        return (self._host(end), 0)

    def link_address(self, end: LinkEnd, peer_index: int) -> Address:
        return (self._host(end), 0)

    def _host(self, end: LinkEnd) -> str:
        host = end.host6 if self.family == socket.AF_INET6 else end.host
        return host or self.loopback

    def available(self) -> str | None:
        return kernel_supports(self.family, self.sock_type, (self.loopback, 0))


class InetStreamTransport(InetTransport):
    sock_type = socket.SOCK_STREAM
    max_message_bytes = 16 * 1024 * 1024

    def _prepare(self, sock: socket.socket) -> None:
        super()._prepare(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Messages are small and latency is what users measure: no Nagle delay.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _prepare_link(self, sock: socket.socket, address: Address | None) -> None:
        """The connecting end of a link takes its port at connect(), not at bind().

        A port bound before connect() is the socket's alone, and a loopback address has 28,232 of them
        by default, while a 5,000-node run connects some 25,000 links; a port connect() picks needs
        only its connection to be unique, so links to different listeners share ports. Until connect(),
        the socket's name has port 0: its ``bind`` record says so, and its ``connect`` record has the port.
        A restarted node binding the port it had keeps binding it first.
        """
        if address is None and sys.platform.startswith("linux"):
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)


class InetDatagramTransport(InetTransport):
    sock_type = socket.SOCK_DGRAM
    max_message_bytes: ClassVar[int]
    # A node sends the datagrams one callback queued for a peer in as few calls as their sizes allow,
    # and reads a peer's run in one: per message, a syscall less on each side.
    batches_datagrams = sys.platform.startswith("linux")

    def listener(self, end: LinkEnd, backlog: int, address: Address | None = None) -> socket.socket:
        sock = super().listener(end, backlog, address)
        if self.batches_datagrams:
            # A kernel without UDP_GRO hands every datagram over on its own, as without the option.
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_UDP, UDP_GRO, 1)
        return sock
