"""Checkers: pure functions that judge a workload's history.

``CHECKERS`` maps each workload's name to its checker. A checker takes the history's operations (one
``Op`` per invocation, in history order) and the names of the server nodes, and returns a ``Verdict``:
valid True, False or "unknown", an explanation that names the operation, key and value at fault, and
the figures in ``details``. A checker never raises on a well-typed history: an operation of the wrong
shape, or a search over its bound, is an "unknown" verdict that says so. ``common_stats`` gives the
figures every workload reports alike (counts, availability, latency). ``docs/checkers.md`` has the rules.
"""

from __future__ import annotations

from netsim.workloads.checkers.broadcast import check_broadcast, check_g_set
from netsim.workloads.checkers.common import Checker, common_stats
from netsim.workloads.checkers.counter import check_g_counter, check_pn_counter
from netsim.workloads.checkers.echo import check_echo
from netsim.workloads.checkers.kafka import check_kafka
from netsim.workloads.checkers.lin_kv import check_lin_kv
from netsim.workloads.checkers.unique_ids import check_unique_ids

CHECKERS: dict[str, Checker] = {
    "echo": check_echo,
    "unique-ids": check_unique_ids,
    "broadcast": check_broadcast,
    "g-set": check_g_set,
    "g-counter": check_g_counter,
    "pn-counter": check_pn_counter,
    "lin-kv": check_lin_kv,
    "kafka": check_kafka,
}

__all__ = [
    "CHECKERS",
    "Checker",
    "check_broadcast",
    "check_echo",
    "check_g_counter",
    "check_g_set",
    "check_kafka",
    "check_lin_kv",
    "check_pn_counter",
    "check_unique_ids",
    "common_stats",
]
