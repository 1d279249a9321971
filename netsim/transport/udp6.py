"""udp6: AF_INET6 / SOCK_DGRAM on ::1, one message per datagram, may lose messages."""

from __future__ import annotations

import socket

from netsim.transport.inet import InetDatagramTransport


class Udp6Transport(InetDatagramTransport):
    name = "udp6"
    family = socket.AF_INET6
    loopback = "::1"
    # 65535 (payload length field) - 8 (UDP header); IPv6's header is not counted in the payload length.
    max_message_bytes = 65527
