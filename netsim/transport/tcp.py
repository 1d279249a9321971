"""tcp: AF_INET / SOCK_STREAM on 127.0.0.1, length-prefixed frames."""

from __future__ import annotations

import socket

from netsim.transport.inet import InetStreamTransport


class TcpTransport(InetStreamTransport):
    name = "tcp"
    family = socket.AF_INET
    loopback = "127.0.0.1"
