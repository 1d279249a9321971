"""What a node process is told before it starts: who it is, its links, and where to write."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from netsim.runtime.bounds import LOG_LIMIT_BYTES
from netsim.shaping.conditions import NO_CONDITIONS, Conditions
from netsim.wire.auth import RUN_KEY_BYTES


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """One link as seen from one of its ends.

    ``initiator``: this end connects (the edge's first node); the other end listens and accepts.
    Datagram links have no connection, but the initiator is still the one named first.
    """

    peer: str
    peer_index: int
    transport: str
    initiator: bool
    # What the link does to messages this node sends to the peer (latency, loss, ...).
    conditions: Conditions = NO_CONDITIONS


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Timing knobs shared by every node of a run."""

    startup_timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    # How long a node must see no I/O and hold no timers before it reports itself idle.
    idle_after_s: float = 0.05
    # The least time between two status reports of one node.
    status_interval_s: float = 0.2
    # A node's log stops growing here (netsim.runtime.bounds.CappedLog).
    log_limit_bytes: int = LOG_LIMIT_BYTES


@dataclass(frozen=True, slots=True)
class NodePlan:
    name: str
    index: int
    app: str
    links: tuple[LinkPlan, ...]
    node_names: tuple[str, ...]
    seed: int
    socket_dir: str
    trace_path: str
    log_path: str
    settings: RuntimeSettings = RuntimeSettings()
    # A restarted node binds where its previous process was: {"listeners": {transport: address},
    # "links": {peer: address}}, so its neighbours' address books stay right.
    fixed_addresses: dict[str, Any] | None = None
    generation: int = 0
    # The run's secret (netsim.wire.auth), the same for every node of a run; never printed.
    run_key: bytes = field(default_factory=lambda: secrets.token_bytes(RUN_KEY_BYTES), repr=False)
