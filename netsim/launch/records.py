"""What the launcher knows of each node process, and what it hands its caller.

``NodeState`` is the launcher's row for one node process, with the tests its waits use
(``has_bound``, ``is_ready``, ...); ``ReadyNode``, ``Progress``, ``LaunchOutcome`` and ``LaunchLimits``
are what goes between the launcher and ``netsim.launch.run``; ``death_text`` and ``forced_text`` say how a
node ended when it could not say so itself.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netsim.launch.control_link import ControlLink
from netsim.runtime.plan import NodePlan


@dataclass(eq=False)
class NodeState:
    """What the launcher knows of one node process (compared by identity: it is kept in sets)."""

    plan: NodePlan
    pid: int | None = None  # None until the fork server says it forked the node
    link: ControlLink | None = None
    bound: dict[str, Any] | None = None
    ready: bool = False
    done: bool = False
    quiesced: bool = False
    drained: bool = False
    closed: bool = False
    exited: bool = False
    # It exited before the run's stop without its goodbye (CLOSED), whatever its exit code.
    died_unreported: bool = False
    exit_code: int | None = None
    frozen: bool = False
    idle: bool = False
    last_activity_ns: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    crash_traceback: str | None = None
    killed_by_fault: bool = False  # its death was scheduled: a fault, not a failure
    stopped: bool = False  # SIGSTOPped by a fault
    lost_with_host: bool = False  # its host's agent was lost (a run over many hosts): the host failed
    lost_with_server: bool = False  # it ended because its fork server died: the server failed
    # The signal the shutdown had to send because the node did not stop when asked (a failure).
    forced: str | None = None
    forced_after_s: float = 0.0

    @property
    def name(self) -> str:
        return self.plan.name


@dataclass(frozen=True, slots=True)
class ReadyNode:
    """A node that has started: its process id and the addresses its listeners got from the kernel."""

    name: str
    pid: int
    listeners: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for progress displays."""

    phase: str  # "starting", "running", "stopping"; then "merging" (the trace, after the launcher)
    nodes: int
    nodes_bound: int
    nodes_ready: int
    nodes_done: int
    elapsed_s: float
    messages_sent: int
    messages_received: int
    nodes_forked: int = 0
    nodes_exited: int = 0


@dataclass
class LaunchOutcome:
    """How the processes ran; the caller turns it into summary.json."""

    ended_by: str  # "done", "quiet", "duration", "failure", "interrupted"
    signal: str | None = None  # the signal that interrupted the run (SIGINT, SIGTERM, SIGHUP)
    startup_s: float = 0.0
    running_s: float = 0.0
    shutdown_s: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LaunchLimits:
    duration_s: float
    quiet_s: float
    startup_timeout_s: float = 60.0
    drain_timeout_s: float = 5.0
    close_timeout_s: float = 5.0
    terminate_timeout_s: float = 2.0
    # The nodes whose apps end the run as "done" once all have stopped (a workload's clients); None:
    # every node.
    done_when: frozenset[str] | None = None


ProgressCallback = Callable[[Progress], None]
ReadyCallback = Callable[[list[ReadyNode]], None]


def has_bound(node: NodeState) -> bool:
    return node.bound is not None


def is_ready(node: NodeState) -> bool:
    return node.ready


def forked(node: NodeState) -> bool:
    return node.pid is not None or node.exited


def quiesced(node: NodeState) -> bool:
    return node.quiesced or node.exited


def drained(node: NodeState) -> bool:
    return node.drained or node.exited


def exited(node: NodeState) -> bool:
    return node.exited


def frozen_or_exited(node: NodeState) -> bool:
    return node.frozen or node.exited


def death_text(exit_code: int | None) -> str:
    """How a node that reported nothing ended, from its exit code."""
    if exit_code is not None and exit_code < 0:
        try:
            return f"killed by signal {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"exited with code {exit_code} without reporting"


def forced_text(node: NodeState) -> str:
    return (
        f"did not stop within {node.forced_after_s:.1f} s of being asked to (its app never returned "
        f"from a callback, or ignored the stop): ended with {node.forced}"
    )
