"""netsim: run distributed systems for real, one OS process per node, real sockets on every link.

The Python API mirrors the CLI: ``netsim.run(...)`` is ``netsim run``, ``netsim.load_topology(...)``
reads what ``netsim topo`` reads, and apps subclass ``netsim.App``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from netsim.runtime.app import App  # noqa: E402
from netsim.wire.message import Message  # noqa: E402


def run(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Run a simulation; see ``netsim.launch.run.run``."""
    from netsim.launch.run import run as _run

    return _run(*args, **kwargs)


def load_topology(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Load a topology file or generator spec; see ``netsim.topology.load_topology``."""
    from netsim.topology import load_topology as _load

    return _load(*args, **kwargs)


__all__ = ["App", "Message", "__version__", "load_topology", "run"]
