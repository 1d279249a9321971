"""tcp6: AF_INET6 / SOCK_STREAM on ::1, length-prefixed frames."""

from __future__ import annotations

import socket

from netsim.transport.inet import InetStreamTransport


class Tcp6Transport(InetStreamTransport):
    name = "tcp6"
    family = socket.AF_INET6
    loopback = "::1"
