"""AF_UNIX transports: pathname sockets inside the run's private socket directory.

Paths are short and made of node indexes, not names, because sun_path holds 107 bytes at most.
Both ends of every link are bound, so the trace names both.
"""

from __future__ import annotations

import os
import socket
import stat
from typing import ClassVar

from netsim.transport.base import Address, LinkEnd, Transport

# A message must fit the socket send buffer whole; 64 KiB stays well inside the default
# (net.core.wmem_default is 212992) so the limit does not depend on sysctls.
UNIX_PACKET_LIMIT = 64 * 1024


class UnixTransport(Transport):
    family = socket.AF_UNIX
    suffix: ClassVar[str]

    def listener_address(self, end: LinkEnd) -> Address:
        return os.path.join(end.socket_dir, f"{end.node_index}.{self.suffix}")

    def link_address(self, end: LinkEnd, peer_index: int) -> Address:
        return os.path.join(end.socket_dir, f"{end.node_index}-{peer_index}.{self.suffix}")

    def _bind(self, sock: socket.socket, address: Address) -> None:
        # A node killed by a fault cannot unlink its socket files; its restart binds the same paths.
        if isinstance(address, str) and os.path.exists(address) and stat.S_ISSOCK(os.stat(address).st_mode):
            os.unlink(address)
        sock.bind(address)

    def available(self) -> str | None:
        if not hasattr(socket, "AF_UNIX"):
            return "this platform has no AF_UNIX sockets"
        try:
            socket.socket(self.family, self.sock_type).close()
        except OSError as error:
            return f"the kernel refused: {error.strerror or error}"
        return None


class UnixStreamTransport(UnixTransport):
    name = "unix"
    sock_type = socket.SOCK_STREAM
    suffix = "s"
    max_message_bytes = 16 * 1024 * 1024


class UnixDatagramTransport(UnixTransport):
    name = "unix-dgram"
    sock_type = socket.SOCK_DGRAM
    suffix = "d"
    max_message_bytes = UNIX_PACKET_LIMIT


class UnixSeqpacketTransport(UnixTransport):
    name = "unix-seqpacket"
    sock_type = getattr(socket, "SOCK_SEQPACKET", -1)
    suffix = "q"
    max_message_bytes = UNIX_PACKET_LIMIT

    def available(self) -> str | None:
        if not hasattr(socket, "SOCK_SEQPACKET"):
            return "this platform has no SOCK_SEQPACKET"
        return super().available()
