"""What TCP and UDP over IPv4 and IPv6 share: loopback addresses with a kernel-chosen port."""

from __future__ import annotations

import socket
from typing import ClassVar

from netsim.transport.base import Address, LinkEnd, Transport, kernel_supports


class InetTransport(Transport):
    loopback: ClassVar[str]

    def listener_address(self, end: LinkEnd) -> Address:
        return (self.loopback, 0)

    def link_address(self, end: LinkEnd, peer_index: int) -> Address:
        return (self.loopback, 0)

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


class InetDatagramTransport(InetTransport):
    sock_type = socket.SOCK_DGRAM
    max_message_bytes: ClassVar[int]
