"""Where a socket program's node lives: its own IPv4 loopback address and its AF_UNIX directory.

On Linux the whole of 127.0.0.0/8 is the loopback interface: any address in it can be bound without
configuration. A run of socket programs gives node ``i`` the address ``127.B.h.l`` with ``h.l`` the
16-bit number ``i + 1`` and ``B`` (2..254) the run's own second octet, chosen at random, so that two runs
on one machine (two test sessions, say) can both bind ``(net.host, 9000)`` without meeting. ``B = 0``
is the fallback where such addresses cannot be bound (macOS without aliases): every node is
``127.0.0.1`` then, and only the ports tell nodes apart.

Pure functions: the launcher picks ``B`` (``netsim.launch``), nodes and trace tools compute from it.
"""

from __future__ import annotations

import os

SHARED_HOST = "127.0.0.1"
# Node numbers are 16 bits under the run's second octet: 65,535 nodes, far past what one machine runs.
MAX_NODES = 0xFFFF
FIRST_OCTET, LAST_OCTET = 2, 254


def node_host(base: int, index: int) -> str:
    """The IPv4 address of the node at ``index`` in a run whose second octet is ``base`` (0: shared)."""
    if base == 0:
        return SHARED_HOST
    number = index + 1
    if not 0 < number <= MAX_NODES:
        raise ValueError(f"node index {index} is past the {MAX_NODES} nodes a run can address")
    return f"127.{base}.{number >> 8}.{number & 0xFF}"


def host_index(base: int, host: str) -> int | None:
    """The index of the node whose address is ``host``, or None when no node of the run has it."""
    if base == 0:
        return None
    parts = host.split(".")
    if len(parts) != 4 or parts[0] != "127" or parts[1] != str(base):
        return None
    try:
        number = (int(parts[2]) << 8) | int(parts[3])
    except ValueError:
        return None
    return number - 1 if 0 < number <= MAX_NODES and 0 <= int(parts[3]) <= 0xFF else None


def node_path_dir(socket_dir: str, index: int) -> str:
    """The directory that holds the AF_UNIX paths of node ``index`` (``net.path(name)``)."""
    return os.path.join(socket_dir, f"p{index}")


def path_index(socket_dir: str, path: str) -> int | None:
    """The index of the node whose ``net.path`` directory holds ``path``, or None."""
    prefix = os.path.join(socket_dir, "p")
    if not path.startswith(prefix):
        return None
    number, sep, _ = path[len(prefix) :].partition("/")
    return int(number) if sep and number.isdigit() else None
