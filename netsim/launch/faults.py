"""Carrying out a fault schedule during a run: the launcher's side of ``netsim.shaping.faults``.

Link faults become ``block`` / ``unblock`` / ``conditions`` commands to both ends of each link
(the nodes drop or shape in their own send path); node faults become signals (SIGKILL, SIGSTOP,
SIGCONT) or a restart. Every fault is written to the trace as a ``fault`` event, by the launcher.
The runner takes the faults one at a time from a :class:`~netsim.shaping.faults.FaultSchedule`, which
computes repeating ones as they come: it holds the next fault, never the rest of the schedule.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import Any, Protocol

from netsim.clock import now_ns
from netsim.runtime import control
from netsim.shaping.conditions import NO_CONDITIONS, Conditions, override_conditions
from netsim.shaping.faults import Fault, FaultSchedule
from netsim.shaping.links import LinkConditionsMap
from netsim.shaping.shaper import DROP_LINK_DOWN, DROP_PARTITION
from netsim.topology.model import Topology
from netsim.trace.writer import TraceWriter
from netsim.transport import get_transport

# The node field of a fault that concerns the whole run (partition, heal).
WHOLE_RUN = "*"


class NodeControl(Protocol):
    """What the runner needs of the launcher: a way to reach each node by name. The launcher is one;
    a test's stand-in that records the calls is another."""

    def send_to(self, name: str, kind: str, **fields: Any) -> None:
        """Send node ``name`` a control message of ``kind`` (``netsim.runtime.control``)."""

    def signal_node(self, name: str, signum: int) -> None:
        """Send node ``name``'s process ``signum`` (SIGSTOP, SIGCONT)."""

    def kill_node(self, name: str) -> int:
        """SIGKILL node ``name``, keeping what it traced. Returns when it stopped acting (``now_ns``):
        after its last traced event and before its peers can notice its death."""

    def restart_node(self, name: str) -> int:
        """Kill node ``name`` and start a fresh process in its place (same addresses and app).
        Returns when the old process stopped acting, as ``kill_node`` does."""


class FaultRunner:
    def __init__(
        self,
        launcher: NodeControl,
        faults: FaultSchedule | Iterable[Fault],
        topology: Topology,
        conditions: LinkConditionsMap,
        default_transport: str,
        trace_path: str,
    ) -> None:
        """``faults``: a FaultSchedule (in time order already), or one-off faults in any order."""
        self.launcher = launcher
        if not isinstance(faults, FaultSchedule):
            faults = sorted(faults, key=lambda fault: fault.at_s)
        self._upcoming = iter(faults)
        self._next: Fault | None = next(self._upcoming, None)
        self.applied: list[dict[str, Any]] = []
        self.topology = topology
        self.default_transport = default_transport
        self.conditions = dict(conditions)
        self.trace = TraceWriter(trace_path, WHOLE_RUN)
        self._partitioned: set[tuple[str, str]] = set()
        self._attrs = {node.name: node.attrs for node in topology.nodes}
        self._links = {frozenset((link.a, link.b)): link for link in topology.links}

    @property
    def next_at_s(self) -> float | None:
        """When the next fault is due, in seconds into the run; None when none is left."""
        return self._next.at_s if self._next is not None else None

    def run_due(self, elapsed_s: float) -> None:
        while self._next is not None and self._next.at_s <= elapsed_s:
            fault = self._next
            self._next = next(self._upcoming, None)
            self.apply(fault, elapsed_s)

    def close(self) -> None:
        self.trace.close()

    def apply(self, fault: Fault, elapsed_s: float) -> None:
        # Stamped before acting, so nothing a fault causes appears in the trace before the fault. A kill
        # is stamped once the node has stopped acting: a node on another host may send until its
        # freeze arrives, and those sends belong before its death.
        applied_at = now_ns()
        action = fault.action
        if action == "partition":
            self._heal()
            self._partition(fault.groups)
        elif action == "heal":
            self._heal()
        elif action in ("link-down", "link-up"):
            a, b = fault.nodes
            kind = control.BLOCK if action == "link-down" else control.UNBLOCK
            self._both_ends(a, b, kind, reason=DROP_LINK_DOWN)
        elif action == "slow":
            self._slow(fault)
        elif action == "kill":
            applied_at = self.launcher.kill_node(fault.nodes[0])
        elif action == "stop":
            self.launcher.signal_node(fault.nodes[0], signal.SIGSTOP)
        elif action == "cont":
            self.launcher.signal_node(fault.nodes[0], signal.SIGCONT)
        elif action == "restart":
            applied_at = self.launcher.restart_node(fault.nodes[0])
        record = {**fault.to_dict(), "at_s": round(elapsed_s, 6), "scheduled_s": fault.at_s}
        self.applied.append(record)
        node = fault.nodes[0] if fault.nodes else WHOLE_RUN
        peer = fault.nodes[1] if len(fault.nodes) == 2 else None
        self.trace.event("fault", ts_ns=applied_at, node=node, peer=peer, fault=action, data=record)
        self.trace.flush()

    def _both_ends(self, a: str, b: str, kind: str, **fields: Any) -> None:
        self.launcher.send_to(a, kind, peer=b, **fields)
        self.launcher.send_to(b, kind, peer=a, **fields)

    def _partition(self, groups: tuple[tuple[str, ...], ...]) -> None:
        group_of = {name: index for index, group in enumerate(groups) for name in group}
        rest = len(groups)  # nodes named in no group form one more group
        for link in self.topology.links:
            if group_of.get(link.a, rest) != group_of.get(link.b, rest):
                self._partitioned.add((link.a, link.b))
                self._both_ends(link.a, link.b, control.BLOCK, reason=DROP_PARTITION)

    def _heal(self) -> None:
        for a, b in sorted(self._partitioned):
            self._both_ends(a, b, control.UNBLOCK, reason=DROP_PARTITION)
        self._partitioned.clear()

    def _slow(self, fault: Fault) -> None:
        link = self._links[frozenset(fault.nodes)]
        key = (link.a, link.b)
        transport = get_transport(link.transport or self.default_transport)
        forward, backward = override_conditions(
            self.conditions.get(key, (NO_CONDITIONS, NO_CONDITIONS)),
            fault.conditions,
            datagram=not transport.connected,
            a_attrs=self._attrs[link.a],
            b_attrs=self._attrs[link.b],
        )
        self.conditions[key] = (forward, backward)
        self.launcher.send_to(link.a, control.CONDITIONS, peer=link.b, conditions=_fields(forward))
        self.launcher.send_to(link.b, control.CONDITIONS, peer=link.a, conditions=_fields(backward))


def _fields(conditions: Conditions) -> dict[str, Any]:
    return {name: getattr(conditions, name) for name in Conditions.__slots__}
