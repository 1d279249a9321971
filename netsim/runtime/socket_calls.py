"""How one call of a socket program reads in the trace: names, addresses and payloads as JSON values.

Pure: values in, JSON values out. ``netsim.runtime.traced_socket`` calls these for every call it
records; docs/trace-format.md ("Socket programs' calls") documents what they produce.
"""

from __future__ import annotations

import errno as errno_module
import hashlib
import socket
from typing import Any

PREVIEW_BYTES = 48
DIGEST_BYTES = 8

_TRANSPORTS = {
    (socket.AF_INET, socket.SOCK_STREAM): "tcp",
    (socket.AF_INET6, socket.SOCK_STREAM): "tcp6",
    (socket.AF_INET, socket.SOCK_DGRAM): "udp",
    (socket.AF_INET6, socket.SOCK_DGRAM): "udp6",
    (socket.AF_UNIX, socket.SOCK_STREAM): "unix",
    (socket.AF_UNIX, socket.SOCK_DGRAM): "unix-dgram",
    (socket.AF_UNIX, socket.SOCK_SEQPACKET): "unix-seqpacket",
}
# Byte streams: a receive may take part of a send, or several. The others keep each send whole.
STREAM_TRANSPORTS = frozenset({"tcp", "tcp6", "unix"})
# Connection-oriented: a send goes to the peer the socket is connected to.
CONNECTED_TRANSPORTS = frozenset({"tcp", "tcp6", "unix", "unix-seqpacket"})


# Protocol families whose option names reuse the numbers of the common ones (SO_J1939_PROMISC is 2, as
# SO_REUSEADDR is): never the name a reader expects.
_FOREIGN = ("SO_J1939", "SO_VM_", "SOCK_NONBLOCK", "SOCK_CLOEXEC", "AF_UNSPEC")


def _names(prefix: str, *, exclude: tuple[str, ...] = ()) -> dict[int, str]:
    names: dict[int, str] = {}
    for name in sorted(dir(socket), key=len):
        if name.startswith(prefix) and not name.startswith(exclude + _FOREIGN):
            value = getattr(socket, name)
            if isinstance(value, int):
                names.setdefault(int(value), name)
    return names


_LEVELS = {
    socket.SOL_SOCKET: "SOL_SOCKET",
    socket.IPPROTO_IP: "IPPROTO_IP",
    socket.IPPROTO_IPV6: "IPPROTO_IPV6",
    socket.IPPROTO_TCP: "IPPROTO_TCP",
    socket.IPPROTO_UDP: "IPPROTO_UDP",
}
_OPTIONS = {
    socket.SOL_SOCKET: _names("SO_"),
    socket.IPPROTO_IP: _names("IP_"),
    socket.IPPROTO_IPV6: _names("IPV6_"),
    socket.IPPROTO_TCP: _names("TCP_"),
    socket.IPPROTO_UDP: _names("UDP_"),
}
_FAMILIES = _names("AF_")
_TYPES = _names("SOCK_")
_SHUTDOWN = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}


def transport_name(family: int, kind: int) -> str:
    """netsim's name for a socket of this family and type (``tcp``, ``unix-dgram``...)."""
    name = _TRANSPORTS.get((int(family), int(kind)))
    if name is not None:
        return name
    return f"{_FAMILIES.get(int(family), str(int(family)))}/{_TYPES.get(int(kind), str(int(kind)))}"


def family_name(family: int) -> str:
    return _FAMILIES.get(int(family), str(int(family)))


def type_name(kind: int) -> str:
    return _TYPES.get(int(kind), str(int(kind)))


def level_name(level: int) -> str | int:
    return _LEVELS.get(level, level)


def option_name(level: int, option: int) -> str | int:
    return _OPTIONS.get(level, {}).get(option, option)


def shutdown_name(how: int) -> str | int:
    return _SHUTDOWN.get(how, how)


def address_json(address: Any) -> Any:
    """A socket address as the trace writes it: ``[host, port]``, ``[host, port, flowinfo, scope_id]``,
    a path, ``"@name"`` for an abstract AF_UNIX name, ``""`` for an unbound AF_UNIX socket."""
    if address is None:
        return ""
    if isinstance(address, tuple):
        return list(address)
    if isinstance(address, bytes):
        if address.startswith(b"\0"):
            return "@" + address[1:].decode("utf-8", "backslashreplace")
        return address.decode("utf-8", "backslashreplace")
    if isinstance(address, str) and address.startswith("\0"):
        return "@" + address[1:]
    return address if isinstance(address, str | int | float | list) else str(address)


def value_json(value: Any) -> Any:
    """An option's value or a call's result as JSON: bytes as text, anything unusual as its str."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


def digest(payload: bytes | bytearray | memoryview) -> str:
    """The payload's fingerprint, the same at both ends: how datagrams are paired."""
    return hashlib.blake2b(payload, digest_size=DIGEST_BYTES).hexdigest()


def preview(payload: bytes | bytearray | memoryview) -> str:
    """The first bytes of a payload as text for a reader of the trace; never parsed back."""
    head = payload[:PREVIEW_BYTES]
    return (head if type(head) is bytes else bytes(head)).decode("utf-8", "backslashreplace")


def errno_name(error: BaseException) -> str | None:
    """The errno's symbolic name (``ECONNREFUSED``); ``ETIMEDOUT`` for a socket's own timeout."""
    if isinstance(error, TimeoutError) and getattr(error, "errno", None) is None:
        return "ETIMEDOUT"
    number = getattr(error, "errno", None)
    if isinstance(number, int):
        return errno_module.errorcode.get(number, str(number))
    return None


def error_text(error: BaseException) -> str:
    """The exception on one line, as a traceback's last line reads."""
    text = str(error).replace("\n", " ")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
