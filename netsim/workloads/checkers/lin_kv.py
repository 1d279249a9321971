"""The lin-kv workload's checker: every key, on its own, behaves as one linearizable register.

Ops (``value`` is what was asked, ``result`` what an ok reply gave):

* ``read``: ``value`` ``[key, None]``, ``result`` ``[key, v]``.
* ``write``: ``value`` ``[key, v]``.
* ``cas``: ``value`` ``[key, [from, to]]``: set to ``to`` if the value is ``from``.

Outcomes: ``ok`` took effect, inside its interval. ``fail`` did not take effect and is left out, with
one exception: a read that failed with error 20 (key-does-not-exist) saw the key absent at some point
of its interval, and is checked as a read of no value. (A cas that failed with 20 or 22 is left out
like any failure: Maelstrom's own lin-kv model does so too.) ``info`` may have taken effect at any time
after its invocation, or never; info reads tell nothing and are left out.

Model: each key is an independent register that starts with no value; a write of ``null`` is the same
as no value. Keys are checked one by one (linearizability is compositional), each with the search in
``linearizable.py``, bounded by ``max_states`` configurations per key: a key over the bound makes the
verdict "unknown" and is named, unless another key is not linearizable.
"""

from __future__ import annotations

from typing import Any

from netsim.workloads.checkers.common import (
    DETAILS_CAP,
    ShapeError,
    canonical,
    capped,
    describe,
    never_raises,
    show,
)
from netsim.workloads.checkers.linearizable import (
    ABSENT,
    CAS,
    READ,
    WRITE,
    RegisterOp,
    SearchResult,
    check_register,
)
from netsim.workloads.history import FAIL, OK, Op, Verdict

DEFAULT_MAX_STATES = 1_000_000
KEY_DOES_NOT_EXIST = 20


class Values:
    """Interns the values of a history as small ints, ``ABSENT`` (0) for no value and null alike."""

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {canonical(None): ABSENT}
        self.shown: list[Any] = [None]

    def id(self, value: Any) -> int:
        key = canonical(value)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.shown)
            self.shown.append(value)
        return found

    def describe(self, value_ids: tuple[int, ...]) -> str:
        names = ["no value" if value_id == ABSENT else show(self.shown[value_id]) for value_id in value_ids]
        if len(names) > DETAILS_CAP:
            names = names[:DETAILS_CAP] + [f"{len(value_ids) - DETAILS_CAP} more"]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def error_code(op: Op) -> Any:
    return op.error.get("code") if isinstance(op.error, dict) else None


def register_op(op: Op, values: Values) -> tuple[Any, RegisterOp] | None:
    """The key an operation touches and what it did to that key's register; None for operations that
    tell nothing (failed, or reads of unknown outcome)."""
    if not (isinstance(op.value, list) and len(op.value) == 2):
        raise ShapeError(op, f"a {op.f}'s value must be [key, argument], not {show(op.value)}")
    key, argument = op.value
    if op.complete_ns < op.invoke_ns:
        raise ShapeError(op, "it completed before it was invoked")
    if op.f == "read":
        if op.type == OK:
            if not (isinstance(op.result, list) and len(op.result) == 2):
                raise ShapeError(op, f"a read's result must be [key, value], not {show(op.result)}")
            return key, RegisterOp(op, READ, values.id(op.result[1]), ABSENT, op.invoke_ns, op.complete_ns)
        if op.type == FAIL and error_code(op) == KEY_DOES_NOT_EXIST:
            return key, RegisterOp(op, READ, ABSENT, ABSENT, op.invoke_ns, op.complete_ns)
        return None
    if op.type == FAIL:
        return None
    return_ns = op.complete_ns if op.type == OK else None
    if op.f == "write":
        return key, RegisterOp(op, WRITE, values.id(argument), ABSENT, op.invoke_ns, return_ns)
    if not (isinstance(argument, list) and len(argument) == 2):
        raise ShapeError(op, f"a cas's value must be [key, [from, to]], not {show(op.value)}")
    return key, RegisterOp(op, CAS, values.id(argument[0]), values.id(argument[1]), op.invoke_ns, return_ns)


@never_raises
def check_lin_kv(ops: list[Op], nodes: list[str], *, max_states: int = DEFAULT_MAX_STATES) -> Verdict:
    values = Values()
    by_key: dict[Any, list[RegisterOp]] = {}
    shown_keys: dict[Any, Any] = {}
    for op in ops:
        if op.f in ("read", "write", "cas"):
            found = register_op(op, values)
            if found is not None:
                key, operation = found
                by_key.setdefault(canonical(key), []).append(operation)
                shown_keys.setdefault(canonical(key), key)

    results: dict[Any, SearchResult] = {
        key: check_register(key_ops, max_states) for key, key_ops in by_key.items()
    }
    invalid = [key for key, result in results.items() if result.linearizable is False]
    undecided = [key for key, result in results.items() if result.linearizable == "unknown"]
    details: dict[str, Any] = {
        "keys": len(by_key),
        "ops_checked": sum(len(key_ops) for key_ops in by_key.values()),
        "indeterminate_ops": sum(o.return_ns is None for key_ops in by_key.values() for o in key_ops),
        "states_explored": sum(result.states_explored for result in results.values()),
        "max_states": max_states,
        "invalid_keys": capped(shown_keys[key] for key in invalid),
        "unknown_keys": capped(shown_keys[key] for key in undecided),
    }
    if invalid:
        # The key whose stuck operation comes first in the history explains the verdict (a result that
        # is not linearizable always names its stuck operation).
        def stuck_index(key: Any) -> int:
            stuck = results[key].stuck
            return stuck.op.index if stuck is not None else -1

        key = min(invalid, key=stuck_index)
        result = results[key]
        stuck = result.stuck
        assert stuck is not None
        details["stuck"] = {
            "key": shown_keys[key],
            "op": stuck.op.index,
            "f": stuck.op.f,
            "value": stuck.op.value,
            "result": stuck.op.result,
            "possible_values": [values.shown[value_id] for value_id in result.possible_values[:DETAILS_CAP]],
        }
        more = f" ({len(invalid) - 1} other keys are not linearizable either)" if len(invalid) > 1 else ""
        if result.possible_values:
            held = "when it had to take effect the register could only hold"
            held += f" {values.describe(result.possible_values)}"
        else:
            held = f"no write or cas that may have set {values.describe((stuck.arg,))} had been invoked"
            held += " before it returned"
        explanation = (
            f"key {show(shown_keys[key])}: {describe(stuck.op)} {what_happened(stuck, values)}, but no"
            f" linearization allows it: {held}{more}"
        )
        return Verdict(False, explanation, details)
    if undecided:
        explanation = (
            f"key {show(shown_keys[undecided[0]])}: the search went over its bound of {max_states:,}"
            f" configurations without deciding ({len(undecided)} of {len(by_key)} keys undecided;"
            " raise max_states)"
        )
        return Verdict("unknown", explanation, details)
    if not by_key:
        return Verdict("unknown", "no read, write or cas took effect: nothing to check", details)
    return Verdict(True, None, details)


def what_happened(operation: RegisterOp, values: Values) -> str:
    op = operation.op
    if operation.kind == READ and op.type != OK:
        return f"read failed with key-does-not-exist ({KEY_DOES_NOT_EXIST})"
    if operation.kind == READ:
        return f"read {values.describe((operation.arg,))}"
    if operation.kind == CAS:
        return (
            f"cas from {values.describe((operation.arg,))} to {values.describe((operation.arg2,))} succeeded"
        )
    return f"wrote {values.describe((operation.arg,))}"
