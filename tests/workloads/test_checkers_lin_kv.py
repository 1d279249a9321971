"""The lin-kv checker and its linearizability search: hand-made histories whose verdict is known,
properties over histories made by a real register, and the search held to a brute-force one."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from typing import Any

from checker_histories import History
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsim.workloads.checkers import check_lin_kv
from netsim.workloads.checkers.linearizable import ABSENT, CAS, READ, WRITE, RegisterOp, check_register
from netsim.workloads.history import Op

KEY_DOES_NOT_EXIST = {"code": 20, "text": "key does not exist"}
PRECONDITION_FAILED = {"code": 22, "text": "precondition failed"}


def read(h: History, key: Any, seen: Any, **kw: Any) -> Op:
    return h.add("read", [key, None], [key, seen], **kw)


def write(h: History, key: Any, value: Any, type: str = "ok", **kw: Any) -> Op:
    return h.add("write", [key, value], None, type, **kw)


def cas(h: History, key: Any, old: Any, new: Any, type: str = "ok", **kw: Any) -> Op:
    return h.add("cas", [key, [old, new]], None, type, **kw)


def check(h: History, **options: Any):
    return check_lin_kv(h.ops, ["n1", "n2"], **options)


# -- hand-made histories -----------------------------------------------------------------------------


def test_sequential_history_is_valid() -> None:
    h = History()
    read(h, "x", None)
    write(h, "x", 1)
    read(h, "x", 1)
    cas(h, "x", 1, 2)
    read(h, "x", 2)
    verdict = check(h)
    assert verdict.valid is True, verdict
    assert verdict.details["keys"] == 1
    assert verdict.details["ops_checked"] == 5


def test_stale_read_after_a_completed_write_is_invalid() -> None:
    h = History()
    write(h, "x", 1)
    write(h, "x", 2, process="c2", node="n2")
    stale = read(h, "x", 1, process="c3")
    verdict = check(h)
    assert verdict.valid is False
    assert verdict.explanation is not None
    assert f"op {stale.index} (c3 via n1) read 1" in verdict.explanation
    assert 'key "x"' in verdict.explanation
    assert "could only hold 2" in verdict.explanation
    assert verdict.details["stuck"]["op"] == stale.index
    assert verdict.details["stuck"]["possible_values"] == [2]


def test_cas_that_succeeds_on_a_wrong_from_value_is_invalid() -> None:
    h = History()
    write(h, "k", 5)
    write(h, "k", 1)
    bad = cas(h, "k", 5, 6)
    verdict = check(h)
    assert verdict.valid is False
    assert f"op {bad.index}" in verdict.explanation
    assert "cas from 5 to 6 succeeded" in verdict.explanation
    assert "could only hold 1" in verdict.explanation


def test_a_value_nothing_wrote_is_named_without_a_search() -> None:
    h = History()
    for value in range(8):
        write(h, "k", value, process=f"c{value}", start=0, end=50)
    bad = cas(h, "k", 9, 6, start=10, end=60)
    write(h, "k", 9, start=61, end=70)  # invoked after the cas returned
    verdict = check(h)
    assert verdict.valid is False
    assert f"op {bad.index}" in verdict.explanation
    assert "no write or cas that may have set 9 had been invoked before it returned" in verdict.explanation
    assert verdict.details["states_explored"] == 0


def test_cas_on_a_key_never_written_is_invalid() -> None:
    h = History()
    cas(h, "k", None, 1)
    h2 = History()
    cas(h2, "k", 0, 1)
    assert check(h).valid is True  # cas from null: the model has null and no value as one state
    verdict = check(h2)
    assert verdict.valid is False
    assert "no write or cas that may have set 0 had been invoked" in verdict.explanation


def test_overlapping_writes_are_linearizable_in_the_one_order_the_reads_allow() -> None:
    # w1 and w2 overlap; a read inside them sees 2, a read after both sees 1: only w2, r, w1, r works.
    h = History()
    write(h, "x", 1, start=0, end=10)
    write(h, "x", 2, process="c2", start=0, end=10)
    read(h, "x", 2, process="c3", start=1, end=9)
    read(h, "x", 1, process="c3", start=11, end=12)
    assert check(h).valid is True


def test_overlapping_writes_cannot_be_seen_in_both_orders() -> None:
    h = History()
    write(h, "x", 1, start=0, end=10)
    write(h, "x", 2, process="c2", start=0, end=10)
    read(h, "x", 1, process="c3", start=11, end=12)
    flip = read(h, "x", 2, process="c3", start=13, end=14)
    verdict = check(h)
    assert verdict.valid is False
    assert f"op {flip.index}" in verdict.explanation
    assert verdict.details["stuck"]["possible_values"] == [1]


def test_concurrent_reads_may_see_old_and_new_value() -> None:
    h = History()
    write(h, "x", 1)
    write(h, "x", 2, start=10, end=20)
    read(h, "x", 1, process="c2", start=11, end=12)
    read(h, "x", 2, process="c3", start=13, end=14)
    assert check(h).valid is True
    # ... but once one read saw the new value, a read that starts after it ended cannot see the old one.
    read(h, "x", 1, process="c2", start=15, end=16)
    assert check(h).valid is False


def test_info_write_may_have_happened_at_any_later_time() -> None:
    h = History()
    write(h, "x", 1)
    write(h, "x", 2, "info", start=2, end=3)
    write(h, "x", 3, process="c2", start=4, end=5)
    read(h, "x", 2, start=10, end=11)  # the timed-out write took effect after the write of 3
    assert check(h).valid is True
    assert check(h).details["indeterminate_ops"] == 1


def test_info_write_may_never_have_happened() -> None:
    h = History()
    write(h, "x", 1)
    write(h, "x", 2, "info")
    read(h, "x", 1, start=50, end=51)
    assert check(h).valid is True


def test_info_write_takes_effect_at_most_once() -> None:
    h = History()
    write(h, "x", 1)
    write(h, "x", 2, "info")
    read(h, "x", 2)
    write(h, "x", 3)
    read(h, "x", 2)  # would need the timed-out write to happen a second time
    assert check(h).valid is False


def test_info_write_cannot_happen_before_it_was_invoked() -> None:
    h = History()
    write(h, "x", 1)
    read(h, "x", 2, start=2, end=3)
    write(h, "x", 2, "info", start=5, end=6)
    assert check(h).valid is False


def test_info_cas_applies_only_from_its_from_value() -> None:
    h = History()
    write(h, "x", 1)
    cas(h, "x", 1, 2, "info")
    read(h, "x", 2)
    assert check(h).valid is True
    h = History()
    write(h, "x", 7)
    cas(h, "x", 1, 2, "info")
    read(h, "x", 2)
    assert check(h).valid is False


def test_failed_cas_did_not_take_effect() -> None:
    h = History()
    write(h, "x", 2)
    write(h, "x", 1)
    h.add("cas", ["x", [1, 2]], None, "fail", error=PRECONDITION_FAILED)
    read(h, "x", 2)
    verdict = check(h)
    assert verdict.valid is False
    assert "could only hold 1" in verdict.explanation


def test_read_failing_with_key_does_not_exist_is_a_read_of_no_value() -> None:
    h = History()
    h.add("read", ["x", None], None, "fail", error=KEY_DOES_NOT_EXIST)
    write(h, "x", 1)
    assert check(h).valid is True
    missing = h.add("read", ["x", None], None, "fail", error=KEY_DOES_NOT_EXIST)
    verdict = check(h)
    assert verdict.valid is False
    assert f"op {missing.index}" in verdict.explanation
    assert "key-does-not-exist" in verdict.explanation


def test_other_failed_reads_tell_nothing() -> None:
    h = History()
    write(h, "x", 1)
    h.add("read", ["x", None], None, "fail", error={"code": 11, "text": "temporarily unavailable"})
    h.add("read", ["x", None], None, "info")
    assert check(h).valid is True


def test_keys_are_independent_and_the_bad_one_is_named() -> None:
    h = History()
    write(h, "a", 1)
    write(h, 7, 1)
    read(h, "a", 1)
    write(h, 7, 2)
    read(h, 7, 1)
    verdict = check(h)
    assert verdict.valid is False
    assert verdict.explanation.startswith("key 7:")
    assert verdict.details["invalid_keys"] == [7]
    assert verdict.details["keys"] == 2


def test_values_compare_as_json() -> None:
    h = History()
    write(h, "x", {"a": 1, "b": [1, 2]})
    read(h, "x", {"b": [1, 2], "a": 1})
    assert check(h).valid is True
    h = History()
    write(h, "x", 1)
    read(h, "x", True)
    assert check(h).valid is False


def test_search_over_its_bound_is_unknown_and_names_the_key() -> None:
    h = History()
    for value in range(6):  # six concurrent writes: many orders to try before giving up
        write(h, "hot", value, process=f"c{value}", start=0, end=100)
    read(h, "hot", 3, start=101, end=102)
    read(h, "hot", 4, start=103, end=104)
    assert check(h).valid is False
    verdict = check(h, max_states=3)
    assert verdict.valid == "unknown"
    assert 'key "hot"' in verdict.explanation
    assert "3" in verdict.explanation
    assert verdict.details["unknown_keys"] == ["hot"]


def test_too_many_chains_of_info_ops_is_unknown() -> None:
    h = History()
    write(h, "k", 1, start=0, end=1)
    for old, new in itertools.permutations(range(1, 9), 2):  # every value to every other, timed out
        cas(h, "k", old, new, "info", start=2, end=3)
    read(h, "k", 8, start=10, end=11)
    assert check(h).valid is True  # one chain is enough: cas 1 -> 8
    verdict = check(h, max_states=100)
    assert verdict.valid == "unknown"
    assert 'key "k"' in verdict.explanation


def test_op_completing_before_its_invocation_is_unknown() -> None:
    h = History()
    bad = write(h, "k", 1, start=5, end=4)
    verdict = check(h)
    assert verdict.valid == "unknown"
    assert (
        f"op {bad.index}" in verdict.explanation and "completed before it was invoked" in verdict.explanation
    )


def test_malformed_ops_are_unknown_and_named() -> None:
    h = History()
    write(h, "x", 1)
    bad = h.add("read", ["x", None], 1)
    verdict = check(h)
    assert verdict.valid == "unknown"
    assert f"op {bad.index}" in verdict.explanation
    assert check_lin_kv([], []).valid == "unknown"


# -- properties over histories a real register produced -----------------------------------------------


@st.composite
def register_histories(draw: st.DrawFn, overlap_ms: int = 25, indeterminate: bool = True) -> list[Op]:
    """Runs random reads, writes and cas on a real dict of registers, each at its own instant, then gives
    every operation an interval around that instant (overlapping others when ``overlap_ms`` allows) and,
    if ``indeterminate``, turns some outcomes into info (with or without their effect)."""
    seed = draw(st.integers(0, 2**32 - 1))
    count = draw(st.integers(1, 40))
    keys = draw(st.sampled_from([["x"], ["x", "y"]]))
    rng = random.Random(seed)
    state: dict[str, int] = {}
    ops: list[Op] = []
    for position in range(count):
        at = position * 10
        start, end = at - rng.randint(0, overlap_ms), at + rng.randint(0, overlap_ms)
        key = rng.choice(keys)
        kind = rng.choice(["read", "write", "cas"])
        fields: dict[str, Any] = {"type": "ok", "result": None, "error": None}
        if kind == "read":
            value: Any = [key, None]
            if key in state:
                fields["result"] = [key, state[key]]
            else:
                fields.update(type="fail", error=KEY_DOES_NOT_EXIST)
        elif kind == "write":
            value = [key, rng.randint(0, 3)]
            if indeterminate and rng.random() < 0.15:
                fields["type"] = "info"  # timed out, then either happened or did not
                if rng.random() < 0.5:
                    state[key] = value[1]
            else:
                state[key] = value[1]
        else:
            old, new = rng.randint(0, 3), rng.randint(0, 3)
            value = [key, [old, new]]
            if key not in state:
                fields.update(type="fail", error=KEY_DOES_NOT_EXIST)
            elif state[key] != old:
                fields.update(type="fail", error=PRECONDITION_FAILED)
            elif indeterminate and rng.random() < 0.15:
                fields["type"] = "info"
                if rng.random() < 0.5:
                    state[key] = new
            else:
                state[key] = new
        if indeterminate and kind == "read" and rng.random() < 0.1:
            fields.update(type="info", result=None, error=None)
        ops.append(
            Op(
                index=0,
                process=f"c{position}",
                node="n1",
                f=kind,
                value=value,
                invoke_ns=start * 1_000_000,
                complete_ns=end * 1_000_000,
                **fields,
            )
        )
    # History order is invocation order.
    ops.sort(key=lambda op: op.invoke_ns)
    return [replace(op, index=index) for index, op in enumerate(ops)]


def takes_part(op: Op) -> bool:
    """Whether the lin-kv checker uses the operation: ok ones, info writes and cas, reads of no key."""
    if op.type == "ok" or (op.type == "info" and op.f != "read"):
        return True
    return op.type == "fail" and op.f == "read" and (op.error or {}).get("code") == 20


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(register_histories())
def test_histories_of_a_real_register_are_linearizable(ops: list[Op]) -> None:
    verdict = check_lin_kv(ops, ["n1"])
    assert verdict.valid == (True if any(map(takes_part, ops)) else "unknown"), verdict


@settings(max_examples=100, deadline=None)
@given(register_histories(overlap_ms=4, indeterminate=False), st.data())
def test_a_mutated_read_in_a_sequential_history_is_caught(ops: list[Op], data: st.DataObject) -> None:
    reads = [position for position, op in enumerate(ops) if op.f == "read" and op.type == "ok"]
    if not reads:
        return
    position = data.draw(st.sampled_from(reads))
    key, seen = ops[position].result
    wrong = data.draw(st.integers(-2, 5).filter(lambda value: value != seen))
    ops[position] = replace(ops[position], result=[key, wrong])
    verdict = check_lin_kv(ops, ["n1"])
    assert verdict.valid is False, verdict
    assert verdict.details["stuck"]["op"] == ops[position].index


def test_a_mutated_read_among_overlapping_ops_is_caught() -> None:
    # Constructed: the read overlaps only a write of the value it had to see.
    h = History()
    write(h, "x", 1)
    write(h, "x", 2, start=10, end=20)
    read(h, "x", 2, process="c2", start=21, end=22)
    assert check(h).valid is True
    h.ops[-1] = replace(h.ops[-1], result=["x", 3])
    assert check(h).valid is False


# -- the search held to a brute-force one ------------------------------------------------------------


def brute_force(ops: list[RegisterOp]) -> bool:
    """Every order of every subset of the info ops with all the others, checked step by step."""
    required = [o for o in ops if o.return_ns is not None]
    optional = [o for o in ops if o.return_ns is None]
    for size in range(len(optional) + 1):
        for chosen in itertools.combinations(optional, size):
            for order in itertools.permutations(required + list(chosen)):
                if respects_real_time(order) and legal(order):
                    return True
    return False


def respects_real_time(order: tuple[RegisterOp, ...]) -> bool:
    return all(
        not (later.return_ns is not None and later.return_ns < earlier.invoke_ns)
        for position, earlier in enumerate(order)
        for later in order[position + 1 :]
    )


def legal(order: tuple[RegisterOp, ...]) -> bool:
    value = ABSENT
    for o in order:
        if o.kind == READ and o.arg != value:
            return False
        if o.kind == CAS and o.arg != value:
            return False
        value = o.arg if o.kind == WRITE else o.arg2 if o.kind == CAS else value
    return True


@st.composite
def small_register_histories(draw: st.DrawFn) -> list[RegisterOp]:
    count = draw(st.integers(1, 6))
    ops = []
    for position in range(count):
        kind = draw(st.sampled_from([READ, WRITE, CAS]))
        start = draw(st.integers(0, 20))
        info = kind != READ and draw(st.booleans()) and draw(st.booleans())
        end = None if info else start + draw(st.integers(0, 10))
        arg, arg2 = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        stub = Op(position, "c", "n", "read", None, "ok", None, start, end or start)
        ops.append(RegisterOp(stub, kind, arg, arg2, start, end))
    return ops


@settings(max_examples=400, deadline=None)
@given(small_register_histories())
def test_search_agrees_with_brute_force(ops: list[RegisterOp]) -> None:
    result = check_register(ops)
    assert result.linearizable is brute_force(ops)
    if result.linearizable is False:
        assert result.stuck is not None and result.stuck.return_ns is not None
        assert result.possible_values or result.states_explored == 0
