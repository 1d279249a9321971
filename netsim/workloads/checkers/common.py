"""What every checker shares: value identity, how an operation is named in an explanation, latency
quantiles, the figures common to all workloads, and the guard that keeps a checker from raising.

Values in a history are JSON values. Two of them are the same value when their canonical JSON is the
same (object keys sorted): ``1`` and ``true`` differ, as do ``1`` and ``1.0``, although Python's ``==``
says otherwise. ``canonical`` gives a hashable stand-in with exactly that equality.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from netsim.trace.stats import LatencyStats
from netsim.workloads.history import FAIL, INFO, OK, Op, Verdict

# Lists in a verdict's details (lost values, duplicate ids, ...) stop here; a count says how many in all.
DETAILS_CAP = 20
# How much of a value an explanation shows before it is cut.
SHOW_CHARS = 80

Checker = Callable[[list[Op], list[str]], Verdict]


class ShapeError(Exception):
    """An operation whose value or result does not have its workload's shape: the history cannot be
    judged, so the guard turns this into an "unknown" verdict that names the operation."""

    def __init__(self, op: Op, problem: str) -> None:
        super().__init__(f"{describe(op)}: {problem}")


def canonical(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal for two values iff their canonical JSON is equal."""
    kind = type(value)
    # Plain ints and strings stand for themselves (the common case, and ints of any size); bool is not
    # int here, so true and 1 stay apart. Everything else becomes its canonical JSON text, as bytes,
    # which no int or str ever equals.
    if kind is int or kind is str:
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        # orjson refuses integers beyond 64 bits inside containers; json takes them.
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr).encode()


def is_integer(value: Any) -> bool:
    """An integer as JSON has it: Python's bool is an int, JSON's true is not."""
    return isinstance(value, int) and not isinstance(value, bool)


def show(value: Any) -> str:
    """A value as JSON for an explanation, cut to ``SHOW_CHARS``."""
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # mixed-type keys or a cycle: not JSON, but say something
        text = repr(value)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


def describe(op: Op) -> str:
    """How an explanation names an operation: its index, client and node."""
    return f"op {op.index} ({op.process} via {op.node})"


def value_order(value: Any) -> tuple[int, Any]:
    """A sort key that puts numbers first, in numeric order, then everything else by its JSON."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, show(value))


def capped(values: Iterable[Any]) -> list[Any]:
    return list(itertools.islice(values, DETAILS_CAP))


def quantiles_ms(durations_ns: Iterable[int]) -> dict[str, Any]:
    """Nearest-rank p50/p99/max of durations in milliseconds, as ``trace stats`` computes its own
    percentiles (the smallest observed value with at least p % at or below it)."""
    stats = LatencyStats.of(durations_ns)

    def ms(value_ns: int | None) -> float | None:
        return None if value_ns is None else round(value_ns / 1e6, 3)

    return {"count": stats.count, "p50": ms(stats.p50_ns), "p99": ms(stats.p99_ns), "max": ms(stats.max_ns)}


def common_stats(ops: list[Op]) -> dict[str, Any]:
    """Figures every workload reports: how many operations ended ok, fail and info, availability and
    client latency.

    ``ok``/``fail``/``info`` count every operation, final reads included. ``availability`` is the share of
    workload operations (final reads excluded: they run after the workload, once faults are over) that
    ended ok; None without any. ``latency_ms`` is invoke to completion over the ok workload operations.
    """
    counts = {OK: 0, FAIL: 0, INFO: 0}
    workload_ops = ok_workload_ops = 0
    ok_durations_ns: list[int] = []
    for op in ops:
        counts[op.type] = counts.get(op.type, 0) + 1
        if op.final:
            continue
        workload_ops += 1
        if op.type == OK:
            ok_workload_ops += 1
            ok_durations_ns.append(op.complete_ns - op.invoke_ns)
    return {
        "ops": len(ops),
        "ok": counts[OK],
        "fail": counts[FAIL],
        "info": counts[INFO],
        "final_reads": len(ops) - workload_ops,
        "availability": round(ok_workload_ops / workload_ops, 6) if workload_ops else None,
        "latency_ms": quantiles_ms(ok_durations_ns),
    }


def never_raises(checker: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Wraps a checker so that whatever the history holds, it returns a verdict: a ``ShapeError`` names
    the malformed operation, anything else (a limit, a bug) says the checker could not decide."""

    @functools.wraps(checker)
    def guarded(ops: list[Op], nodes: list[str], **options: Any) -> Verdict:
        try:
            return checker(ops, nodes, **options)
        except ShapeError as error:
            return Verdict("unknown", f"cannot check this history: {error}")
        except Exception as error:  # RecursionError and MemoryError included
            text = str(error)
            if len(text) > SHOW_CHARS:
                text = text[: SHOW_CHARS - 3] + "..."
            return Verdict("unknown", f"{checker.__name__} could not decide: {type(error).__name__}: {text}")

    return guarded


def final_reads_by_node(ops: Iterable[Op], f: str = "read") -> dict[str, list[Op]]:
    """The ok final reads, per node, in history order."""
    by_node: dict[str, list[Op]] = {}
    for op in ops:
        if op.final and op.f == f and op.type == OK:
            by_node.setdefault(op.node, []).append(op)
    return by_node


def nodes_without_final_read(nodes: list[str], finals: dict[str, list[Op]]) -> list[str]:
    """The server nodes none of whose final reads completed ok."""
    return [node for node in nodes if node not in finals]
