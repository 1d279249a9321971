"""The checker for the counter workloads: g-counter (grow-only) and pn-counter.

Ops: ``f`` "add" whose ``value`` is the integer delta; ``f`` "read" whose ``result`` is the counter's
value (an integer). ``final=True`` marks the final reads, one per node, after the workload.

Rules:

* An ok add happened, a failed add did not, an info add may have. So every final read must lie in
  ``[lower, upper]``, where ``lower`` = the sum of ok deltas plus the negative info deltas, and ``upper``
  = the sum of ok deltas plus the positive info deltas.
* No other ok read may exceed what the adds invoked before
  it completed could sum to: it lies between the sum of their negative deltas and the sum of their
  positive deltas (fail adds excluded). This holds whatever the consistency model, since a read cannot
  reflect an add issued after it was answered, and catches a double count long before the final reads.
* g-counter only: an ok add with a negative delta makes the history invalid (the counter only grows).
* Without any ok final read the verdict is "unknown", as it is if some server node has no ok final read
  and every final read there is lies within the bounds.
"""

from __future__ import annotations

import bisect
from itertools import accumulate
from typing import Any

from netsim.workloads.checkers.common import (
    ShapeError,
    describe,
    final_reads_by_node,
    is_integer,
    never_raises,
    nodes_without_final_read,
    show,
)
from netsim.workloads.history import FAIL, INFO, OK, Op, Verdict


@never_raises
def check_g_counter(ops: list[Op], nodes: list[str]) -> Verdict:
    return check_counter(ops, nodes, grow_only=True)


@never_raises
def check_pn_counter(ops: list[Op], nodes: list[str]) -> Verdict:
    return check_counter(ops, nodes, grow_only=False)


def check_counter(ops: list[Op], nodes: list[str], grow_only: bool) -> Verdict:
    adds = [op for op in ops if op.f == "add"]
    for op in adds:
        if not is_integer(op.value):
            raise ShapeError(op, f"an add's delta must be an integer, not {show(op.value)}")
    acknowledged_sum = sum(op.value for op in adds if op.type == OK)
    uncertain = [op for op in adds if op.type == INFO]
    lower = acknowledged_sum + sum(op.value for op in uncertain if op.value < 0)
    upper = acknowledged_sum + sum(op.value for op in uncertain if op.value > 0)
    problems: list[str] = []  # in the order found; the first becomes the explanation

    if grow_only:
        shrinking = [op for op in adds if op.type == OK and op.value < 0]
        if shrinking:
            problems.append(
                f"{describe(shrinking[0])} added {shrinking[0].value} and was acknowledged, but a g-counter"
                f" only grows ({len(shrinking)} negative adds acknowledged)"
            )

    reads = [op for op in ops if op.f == "read" and op.type == OK]
    for op in reads:
        if not is_integer(op.result):
            raise ShapeError(op, f"a read's result must be an integer, not {show(op.result)}")

    finals = final_reads_by_node(ops)
    final_values: dict[str, Any] = {}
    for node, node_finals in sorted(finals.items()):
        for op in node_finals:
            final_values[node] = op.result
            if not lower <= op.result <= upper:
                problems.append(
                    f"the final read of {node} ({describe(op)}) returned {op.result}, outside"
                    f" [{lower}, {upper}]: acknowledged adds sum to {acknowledged_sum}, and {len(uncertain)}"
                    f" adds of unknown outcome could move that down to {lower} or up to {upper}"
                )
    # Final reads have the tighter bounds above.
    problems.extend(reads_beyond_invoked_adds(adds, [op for op in reads if not op.final]))
    silent_nodes = nodes_without_final_read(nodes, finals)
    details: dict[str, Any] = {
        "lower_bound": lower,
        "upper_bound": upper,
        "acknowledged_sum": acknowledged_sum,
        "adds": {
            "ok": sum(op.type == OK for op in adds),
            "info": len(uncertain),
            "fail": sum(op.type == FAIL for op in adds),
        },
        "final_reads": final_values,
        "nodes_without_final_read": silent_nodes,
        "problems": len(problems),
    }
    if problems:
        more = f" ({len(problems) - 1} more problems)" if len(problems) > 1 else ""
        return Verdict(False, problems[0] + more, details)
    if not finals:
        return Verdict(
            "unknown", "no final read completed ok: cannot compare the counter with the adds", details
        )
    if silent_nodes:
        return Verdict("unknown", f"no final read completed ok on {', '.join(silent_nodes)}", details)
    return Verdict(True, None, details)


def reads_beyond_invoked_adds(adds: list[Op], reads: list[Op]) -> list[str]:
    """Reads outside [sum of negative, sum of positive] deltas of the adds (ok or info) invoked before the
    read completed."""
    possible = sorted((op.invoke_ns, op.value) for op in adds if op.type != FAIL)
    invoked_ns = [invoke_ns for invoke_ns, _ in possible]
    most = list(accumulate((max(delta, 0) for _, delta in possible), initial=0))
    least = list(accumulate((min(delta, 0) for _, delta in possible), initial=0))
    problems = []
    for op in reads:
        invoked = bisect.bisect_left(invoked_ns, op.complete_ns)
        if not least[invoked] <= op.result <= most[invoked]:
            problems.append(
                f"{describe(op)} read {op.result}, but the {invoked} adds invoked before it completed could"
                f" only sum to a value in [{least[invoked]}, {most[invoked]}]"
            )
    return problems
