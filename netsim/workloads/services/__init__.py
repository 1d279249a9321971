"""The services netsim hosts as nodes of their own, as Maelstrom does (doc/services.md): ``lin-kv``,
``seq-kv``, ``lww-kv`` and ``lin-tso``. A node's program sends a body to one of these names and gets a
reply.

Each service is pure logic: ``handle(src, body, now_ns)`` returns the reply body for one request (or
None for a request without ``msg_id``), never touches a socket and never reads a clock. Each is built
as ``SERVICES[name](rng)`` with the run's ``random.Random``, so the choices it makes (a stale version,
a replica) are the same for the same seed. docs/services.md says what each one guarantees.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from netsim.workloads.services.last_write_wins import LastWriteWinsKV
from netsim.workloads.services.linearizable import LinearizableKV, TimestampOracle
from netsim.workloads.services.requests import (
    KEY_DOES_NOT_EXIST,
    MALFORMED_REQUEST,
    NOT_SUPPORTED,
    PRECONDITION_FAILED,
    Service,
    canonical_json,
)
from netsim.workloads.services.sequential import SequentialKV

SERVICES: dict[str, Callable[[random.Random], Service]] = {
    LinearizableKV.name: LinearizableKV,
    SequentialKV.name: SequentialKV,
    LastWriteWinsKV.name: LastWriteWinsKV,
    TimestampOracle.name: TimestampOracle,
}
SERVICE_NAMES: tuple[str, ...] = tuple(SERVICES)

__all__ = [
    "KEY_DOES_NOT_EXIST",
    "MALFORMED_REQUEST",
    "NOT_SUPPORTED",
    "PRECONDITION_FAILED",
    "SERVICES",
    "SERVICE_NAMES",
    "LastWriteWinsKV",
    "LinearizableKV",
    "SequentialKV",
    "Service",
    "TimestampOracle",
    "canonical_json",
]
