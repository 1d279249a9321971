"""netsim: run distributed systems for real, one OS process per node, real sockets on every link."""

from __future__ import annotations

__version__ = "0.1.0"
