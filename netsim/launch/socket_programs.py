"""What a run of socket programs (``def main(net)``) needs before it starts: which nodes run one, that
no link joins one to an app, and the run's per-node IPv4 addresses (``netsim.runtime.hosts``)."""

from __future__ import annotations

import errno
import random
import socket

from netsim.apps.registry import is_socket_program, resolve_app
from netsim.errors import OptionError
from netsim.runtime.hosts import FIRST_OCTET, LAST_OCTET, MAX_NODES, node_host
from netsim.topology.model import Topology
from netsim.topology.parse import format_names

NO_OWN_HOSTS_WARNING = (
    "this system cannot bind addresses in 127.0.0.0/8 other than 127.0.0.1 (macOS without loopback "
    "aliases): every node's net.host is 127.0.0.1, so nodes must use different ports"
)


def socket_program_nodes(topo: Topology, default_app: str, cmd: str | None) -> frozenset[str]:
    """The nodes whose app is a ``main(net)`` function (specs already checked by ``_check_runnable``)."""
    names = set()
    for node in topo.nodes:
        if node.cmd is not None or (cmd is not None and not node.app):
            continue
        if is_socket_program(resolve_app(node.app or default_app)):
            names.add(node.name)
    return frozenset(names)


def check_socket_program_mains(topo: Topology, default_app: str, programs: frozenset[str]) -> None:
    """Each program's ``main`` takes ``net``, and its ``@netsim.listens(..., nodes=[...])`` names nodes
    of this topology: said now, not by every node failing, or a listener silently never bound."""
    import inspect

    from netsim.runtime.net import LISTEN_ATTRIBUTE

    names = {node.name for node in topo.nodes}
    seen: set[int] = set()
    for node in topo.nodes:
        if node.name not in programs:
            continue
        main = resolve_app(node.app or default_app)
        if id(main) in seen:
            continue
        seen.add(id(main))
        label = getattr(main, "__qualname__", None) or repr(main)
        try:
            inspect.signature(main).bind(object())
        except TypeError:
            raise OptionError(
                f"socket program {label}{_signature_of(main)} cannot be called as main(net)",
                hint=f"give it one parameter: def {label}(net)",
            ) from None
        except ValueError:
            pass  # no signature to read (a builtin): called as it is
        for spec, only in getattr(main, LISTEN_ATTRIBUTE, ()):
            unknown = sorted(set(only or ()) - names)
            if unknown:
                raise OptionError(
                    f"{topo.source}: @netsim.listens({spec!r}, nodes=...) on {label} names "
                    f"{format_names(unknown)}, which {'is no node' if len(unknown) == 1 else 'are no nodes'} "
                    "of this topology",
                    hint=f"its nodes are {format_names(sorted(names))}",
                )


def _signature_of(main: object) -> str:
    import inspect

    try:
        return str(inspect.signature(main))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def check_socket_program_links(topo: Topology, programs: frozenset[str], *, workload: bool) -> None:
    """A link joins two socket programs or two netsim apps: the two speak nothing in common."""
    if not programs:
        return
    if workload:
        raise OptionError(
            "a workload's clients speak Maelstrom's protocol, and a socket program has its own sockets",
            hint="run a workload with --cmd programs, or socket programs without --workload",
        )
    if len(topo.nodes) > MAX_NODES:
        raise OptionError(f"{topo.source}: socket programs can be addressed on {MAX_NODES} nodes at most")
    mixed = [link for link in topo.links if (link.a in programs) != (link.b in programs)]
    if mixed:
        link = mixed[0]
        program, other = (link.a, link.b) if link.a in programs else (link.b, link.a)
        raise OptionError(
            f"{topo.source}: link {link.a} -- {link.b} joins node {program!r}, which runs a socket program "
            f"(main(net)), to {other!r}, which does not"
            + (
                f" ({len(mixed)} such links: {format_names([f'{m.a}--{m.b}' for m in mixed])})"
                if len(mixed) > 1
                else ""
            ),
            hint="run socket programs on every node of a connected part of the topology (--app file.py:main)",
        )


class HostBaseLease:
    """The run's second octet of per-node addresses, held against other runs on this machine.

    The hold is an abstract AF_UNIX name, ``netsim-hosts-<octet>``, bound for as long as the run lasts:
    only one process can bind it, the kernel lets it go when the launcher exits however it exits, and
    it leaves no file behind. ``base`` 0 (with a ``warning``) where per-node addresses cannot be bound.
    """

    def __init__(self, base: int, warning: str | None, hold: socket.socket | None) -> None:
        self.base = base
        self.warning = warning
        self._hold = hold

    def close(self) -> None:
        if self._hold is not None:
            self._hold.close()
            self._hold = None


def lease_host_base() -> HostBaseLease:
    """A second octet no other run on this machine holds, tried in random order."""
    bases = list(range(FIRST_OCTET, LAST_OCTET + 1))
    random.SystemRandom().shuffle(bases)
    if not _own_hosts_bindable(bases[0]):
        return HostBaseLease(0, NO_OWN_HOSTS_WARNING, None)
    for base in bases:
        hold = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            hold.bind(f"\0netsim-hosts-{base}")
        except OSError:
            hold.close()
            continue
        return HostBaseLease(base, None, hold)
    return HostBaseLease(
        0, f"every address block 127.2-254.x.x is held by another netsim run: {NO_OWN_HOSTS_WARNING}", None
    )


def _own_hosts_bindable(base: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((node_host(base, 0), 0))
    except OSError as error:
        if error.errno in (errno.EADDRNOTAVAIL, errno.EINVAL):
            return False
        raise
    finally:
        probe.close()
    return True


def node_hosts(topo: Topology, base: int, programs: frozenset[str]) -> dict[str, str]:
    """The header's ``node_hosts``: each socket program's node and its own IPv4 address."""
    return {node.name: node_host(base, node.index) for node in topo.nodes if node.name in programs}
