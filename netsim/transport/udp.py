"""udp: AF_INET / SOCK_DGRAM on 127.0.0.1, one message per datagram, may lose messages."""

from __future__ import annotations

import socket

from netsim.transport.inet import InetDatagramTransport


class UdpTransport(InetDatagramTransport):
    name = "udp"
    family = socket.AF_INET
    loopback = "127.0.0.1"
    # 65535 - 20 (IPv4 header) - 8 (UDP header)
    max_message_bytes = 65507
