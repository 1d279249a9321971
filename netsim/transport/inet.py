"""What TCP and UDP over IPv4 and IPv6 share: loopback addresses (or, over many hosts, the host's
address) with a kernel-chosen port."""

from __future__ import annotations

import socket
import sys
from typing import ClassVar

from netsim.transport.base import Address, LinkEnd, Transport, kernel_supports

# Linux's IP_BIND_ADDRESS_NO_PORT (Python names it only from 3.12 on).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


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
