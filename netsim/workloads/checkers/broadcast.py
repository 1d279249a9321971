"""The checker for grow-only sets: the broadcast and g-set workloads.

Ops: an add (``f`` "broadcast" for broadcast, "add" for g-set) whose ``value`` is the element; ``f``
"read" whose ``result`` is the list of elements the node holds. ``final=True`` marks the final reads,
one per node, issued after the workload once faults are over.

Rules:

* An element is *acknowledged* if an add of it completed ok, *attempted* if any add of it was invoked
  (ok, fail or info: a failed or timed-out add may or may not show up).
* *Lost*: an acknowledged element missing from the final read of some node. Any lost element makes the
  history invalid.
* *Unexpected*: an element in any ok read (final or not) that no add ever attempted. Any makes the
  history invalid.
* Without any ok final read the verdict is "unknown" (unless something unexpected was read already);
  so it is if some server node has no ok final read and nothing is lost in the others.

**Stable latency** of an acknowledged element: per node, take that node's ok reads (final ones included)
in the order they were invoked, and find the first read from which on every read of the node contains
the element; the element is stable on the node when that read completed (an upper bound: the element
may have arrived at any time since the previous read that missed it). The element is stable when it is
stable on every node that has reads, and its stable latency runs from the earliest invocation of an ok
add of it to that moment (0 if reads saw it earlier, e.g. through a timed-out add of the same element).
An element that the last read of some node misses is *never stable*. Reads are samples, so the
figure's resolution is the read interval of the slowest node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netsim.workloads.checkers.common import (
    DETAILS_CAP,
    ShapeError,
    canonical,
    capped,
    describe,
    final_reads_by_node,
    never_raises,
    nodes_without_final_read,
    quantiles_ms,
    show,
    value_order,
)
from netsim.workloads.history import OK, Op, Verdict


@never_raises
def check_broadcast(ops: list[Op], nodes: list[str]) -> Verdict:
    return check_grow_only_set(ops, nodes, add_f="broadcast")


@never_raises
def check_g_set(ops: list[Op], nodes: list[str]) -> Verdict:
    return check_grow_only_set(ops, nodes, add_f="add")


def check_grow_only_set(ops: list[Op], nodes: list[str], add_f: str) -> Verdict:
    # Elements are kept as canonical stand-ins; `shown` maps each back to a value to report.
    shown: dict[Any, Any] = {}
    first_ack: dict[Any, Op] = {}  # element -> its first ok add, in history order
    ack_invoke_ns: dict[Any, int] = {}  # element -> the earliest invocation of an ok add of it
    attempted: set[Any] = set()
    reads: list[tuple[Op, set[Any]]] = []
    for op in ops:
        if op.f == add_f:
            element = canonical(op.value)
            shown.setdefault(element, op.value)
            attempted.add(element)
            if op.type == OK:
                first_ack.setdefault(element, op)
                ack_invoke_ns[element] = min(ack_invoke_ns.get(element, op.invoke_ns), op.invoke_ns)
        elif op.f == "read" and op.type == OK:
            if not isinstance(op.result, list):
                raise ShapeError(op, f"a read's result must be a list of elements, not {show(op.result)}")
            held = set()
            for value in op.result:
                element = canonical(value)
                shown.setdefault(element, value)
                held.add(element)
            reads.append((op, held))
    acknowledged = set(first_ack)

    def listing(elements: Iterable[Any]) -> list[Any]:
        return sorted((shown[element] for element in elements), key=value_order)

    def first_of(elements: Iterable[Any]) -> Any:
        return min(elements, key=lambda element: value_order(shown[element]))

    unexpected: dict[Any, Op] = {}
    for op, held in reads:
        for element in held - attempted:
            unexpected.setdefault(element, op)

    finals = final_reads_by_node(ops)
    held_by_op = {op.index: held for op, held in reads}
    lost_by_node: dict[str, int] = {}
    lost: dict[Any, Op] = {}  # element -> the first final read that misses it
    for node, node_finals in sorted(finals.items()):
        for final in node_finals:
            missing = acknowledged - held_by_op[final.index]
            if missing:
                lost_by_node[node] = lost_by_node.get(node, 0) + len(missing)
            for element in missing:
                lost.setdefault(element, final)

    latencies_ns, never_stable = stable_latencies(reads, acknowledged, ack_invoke_ns)
    silent_nodes = nodes_without_final_read(nodes, finals)
    details: dict[str, Any] = {
        "acknowledged": len(acknowledged),
        "attempted": len(attempted),
        "final_reads": sum(len(node_finals) for node_finals in finals.values()),
        "nodes_without_final_read": silent_nodes,
        "lost_count": len(lost),
        "lost": capped(listing(lost)),
        "lost_by_node": lost_by_node,
        "unexpected_count": len(unexpected),
        "unexpected": capped(listing(unexpected)),
        "stable_latency_ms": quantiles_ms(latencies_ns),
        "never_stable": never_stable,
    }
    if lost:
        element = first_of(lost)
        final, ack = lost[element], first_ack[element]
        explanation = (
            f"{add_f} of {show(shown[element])} was acknowledged ({describe(ack)}) but is missing from the"
            f" final read of {final.node} ({describe(final)}); {len(lost)} acknowledged values lost in all, "
            f"missing on {len(lost_by_node)} of {len(finals)} nodes with a final read"
        )
        return Verdict(False, explanation, details)
    if unexpected:
        element = first_of(unexpected)
        read = unexpected[element]
        explanation = (
            f"{describe(read)} read {show(shown[element])}, which no {add_f} ever sent"
            f" ({len(unexpected)} unexpected values in all)"
        )
        return Verdict(False, explanation, details)
    if not finals:
        return Verdict("unknown", "no final read completed ok: cannot tell what the nodes kept", details)
    if silent_nodes:
        shown_nodes = ", ".join(silent_nodes[:DETAILS_CAP])
        return Verdict(
            "unknown", f"no final read completed ok on {shown_nodes}: cannot tell what they kept", details
        )
    return Verdict(True, None, details)


def stable_latencies(
    reads: list[tuple[Op, set[Any]]], acknowledged: set[Any], ack_invoke_ns: dict[Any, int]
) -> tuple[list[int], int]:
    """Stable latency, in ns, of each acknowledged element that became stable, and how many never did
    (the module docstring has the definition)."""
    by_node: dict[str, list[tuple[Op, set[Any]]]] = {}
    for op, held in reads:
        by_node.setdefault(op.node, []).append((op, held))
    if not by_node:
        return [], 0
    stable_at: dict[Any, int] = dict.fromkeys(acknowledged, 0)
    never: set[Any] = set()
    for node_reads in by_node.values():
        node_reads.sort(key=lambda read: (read[0].invoke_ns, read[0].index))
        # Walk back from the node's last read, keeping the elements every read so far (the suffix) holds;
        # an element drops out at the newest read that misses it, and was stable from the read after.
        last_held = node_reads[-1][1]
        in_suffix = acknowledged & last_held
        never |= acknowledged - last_held
        for position in range(len(node_reads) - 2, -1, -1):
            dropped = in_suffix - node_reads[position][1]
            if dropped:
                since_ns = node_reads[position + 1][0].complete_ns
                for element in dropped:
                    stable_at[element] = max(stable_at[element], since_ns)
                in_suffix -= dropped
        since_ns = node_reads[0][0].complete_ns
        for element in in_suffix:
            stable_at[element] = max(stable_at[element], since_ns)
    latencies_ns = [
        max(0, stable_at[element] - ack_invoke_ns[element])
        for element in acknowledged
        if element not in never
    ]
    return latencies_ns, len(never)
