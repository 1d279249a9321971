"""The checkers of every workload but lin-kv (test_checkers_lin_kv.py): valid histories, histories
that break each rule, the "unknown" cases, the registry, the common figures, and the promise that no
well-typed history makes a checker raise.

Every history meant to be invalid is asserted ``valid is False``, so a checker that says True to
everything fails each of those tests."""

from __future__ import annotations

from typing import Any

import pytest
from checker_histories import MS, History
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.workloads.checkers import (
    CHECKERS,
    check_broadcast,
    check_echo,
    check_g_counter,
    check_g_set,
    check_kafka,
    check_pn_counter,
    check_unique_ids,
    common_stats,
)
from netsim.workloads.checkers.common import never_raises
from netsim.workloads.history import Op, Verdict

NODES = ["n1", "n2"]

# -- registry and common figures ----------------------------------------------------------------------


def test_registry_names_every_maelstrom_workload_checked() -> None:
    assert set(CHECKERS) == {
        "echo",
        "unique-ids",
        "broadcast",
        "g-set",
        "g-counter",
        "pn-counter",
        "lin-kv",
        "kafka",
    }
    for checker in CHECKERS.values():
        verdict = checker([], NODES)
        assert isinstance(verdict, Verdict)
        assert verdict.valid == "unknown"  # an empty history proves nothing


def test_a_checker_that_fails_inside_says_so_instead_of_raising() -> None:
    @never_raises
    def check_broken(ops: list[Op], nodes: list[str]) -> Verdict:
        return Verdict(True, None, {"first": ops[0].index})

    verdict = check_broken([], NODES)
    assert verdict.valid == "unknown"
    assert verdict.explanation == "check_broken could not decide: IndexError: list index out of range"


def test_common_stats() -> None:
    h = History()
    h.add("echo", "a", "a", start=0, end=2)
    h.add("echo", "b", "b", start=2, end=12)
    h.add("echo", "c", None, "fail")
    h.add("echo", "d", None, "info")
    h.add("read", None, [1], final=True, start=100, end=1100)
    stats = common_stats(h.ops)
    assert stats["ops"] == 5
    assert (stats["ok"], stats["fail"], stats["info"], stats["final_reads"]) == (3, 1, 1, 1)
    assert stats["availability"] == 0.5  # 2 ok of 4 workload ops: the final read does not count
    assert stats["latency_ms"] == {"count": 2, "p50": 2.0, "p99": 10.0, "max": 10.0}
    assert common_stats([])["availability"] is None


# -- echo --------------------------------------------------------------------------------------------


def test_echo_valid() -> None:
    h = History()
    h.add("echo", "hello", "hello")
    h.add("echo", {"b": 1, "a": [1, 2]}, {"a": [1, 2], "b": 1})
    h.add("echo", "lost", None, "info")
    h.add("echo", "refused", None, "fail")
    verdict = check_echo(h.ops, NODES)
    assert verdict.valid is True
    assert verdict.details["echoes_ok"] == 2


def test_echo_that_alters_the_text_is_invalid() -> None:
    h = History()
    h.add("echo", "hello", "hello")
    bad = h.add("echo", "hello world", "hello wOrld", process="c2", node="n2")
    verdict = check_echo(h.ops, NODES)
    assert verdict.valid is False
    assert verdict.explanation == f'op {bad.index} (c2 via n2) sent "hello world" but got "hello wOrld" back'
    assert verdict.details["altered_ops"] == [bad.index]


def test_echo_compares_json_values() -> None:
    h = History()
    h.add("echo", 1, True)
    assert check_echo(h.ops, NODES).valid is False
    assert check_echo([op for op in h.ops if op.type == "fail"], NODES).valid == "unknown"


# -- unique-ids --------------------------------------------------------------------------------------


def test_unique_ids_valid_across_types() -> None:
    h = History()
    for value in [1, "1", 1.5, True, None, [1], {"n": 1, "c": 2}, {"n": 2, "c": 2}]:
        h.add("generate", None, value)
    h.add("generate", None, 1, "info")  # a timed-out generate handed out nothing the client saw
    verdict = check_unique_ids(h.ops, NODES)
    assert verdict.valid is True
    assert verdict.details["ids"] == 8


def test_repeated_ids_are_invalid() -> None:
    h = History()
    first = h.add("generate", None, 7, node="n1")
    h.add("generate", None, 8)
    second = h.add("generate", None, 7, process="c2", node="n2")
    verdict = check_unique_ids(h.ops, NODES)
    assert verdict.valid is False
    assert (
        verdict.explanation
        == f"id 7 was generated 2 times: op {first.index} (c1 via n1) and op {second.index} (c2 via n2)"
    )
    assert verdict.details["duplicates"] == [{"id": 7, "count": 2, "ops": [first.index, second.index]}]


def test_ids_repeat_regardless_of_key_order() -> None:
    h = History()
    h.add("generate", None, {"node": "n1", "seq": 3})
    h.add("generate", None, {"seq": 3, "node": "n1"})
    assert check_unique_ids(h.ops, NODES).valid is False


# -- broadcast and g-set -------------------------------------------------------------------------------


def broadcast_history(final_n2: list[int], add_f: str = "broadcast") -> History:
    h = History()
    h.add(add_f, 1)
    h.add(add_f, 2, process="c2", node="n2")
    h.add(add_f, 3, None, "info")  # may or may not show up
    h.add(add_f, 4, None, "fail")  # so may this one
    h.add("read", None, [1])
    h.add("read", None, [1, 2, 3], node="n2")
    h.add("read", None, [1, 2, 3, 4], final=True)
    h.add("read", None, final_n2, node="n2", final=True)
    return h


def test_broadcast_valid() -> None:
    verdict = check_broadcast(broadcast_history([2, 1]).ops, NODES)
    assert verdict.valid is True, verdict
    assert verdict.details["acknowledged"] == 2
    assert verdict.details["lost_count"] == 0
    assert verdict.details["never_stable"] == 0


def test_broadcast_that_forgets_a_value_is_invalid() -> None:
    h = broadcast_history([1, 3])
    verdict = check_broadcast(h.ops, NODES)
    assert verdict.valid is False
    assert verdict.explanation.startswith(
        "broadcast of 2 was acknowledged (op 1 (c2 via n2)) but is missing from the final read of n2 (op 7"
    )
    assert verdict.details["lost"] == [2]
    assert verdict.details["lost_by_node"] == {"n2": 1}
    assert verdict.details["never_stable"] == 1


def test_broadcast_that_reads_a_value_never_sent_is_invalid() -> None:
    h = History()
    h.add("broadcast", 1)
    bad = h.add("read", None, [1, 99], node="n2")
    h.add("read", None, [1], final=True)
    h.add("read", None, [1], node="n2", final=True)
    verdict = check_broadcast(h.ops, NODES)
    assert verdict.valid is False
    assert f"op {bad.index} (c1 via n2) read 99" in verdict.explanation
    assert verdict.details["unexpected"] == [99]


def test_broadcast_without_final_reads_is_unknown() -> None:
    h = History()
    h.add("broadcast", 1)
    h.add("read", None, [1])
    verdict = check_broadcast(h.ops, NODES)
    assert verdict.valid == "unknown"
    assert "no final read" in verdict.explanation
    h.add("read", None, [1, 5])  # ... but a value never sent is wrong whatever comes later
    assert check_broadcast(h.ops, NODES).valid is False


def test_broadcast_with_a_node_missing_its_final_read_is_unknown() -> None:
    h = History()
    h.add("broadcast", 1)
    h.add("read", None, [1], final=True)
    h.add("read", None, None, "info", node="n2", final=True)
    verdict = check_broadcast(h.ops, NODES)
    assert verdict.valid == "unknown"
    assert "n2" in verdict.explanation
    assert verdict.details["nodes_without_final_read"] == ["n2"]


def test_broadcast_stable_latency() -> None:
    h = History()
    h.add("broadcast", 5, start=0, end=1)
    h.add("read", None, [5], start=2, end=3)  # n1 has it from its first read on
    h.add("read", None, [], node="n2", start=4, end=5)  # n2 misses it ...
    h.add("read", None, [5], node="n2", start=10, end=11)  # ... and has it by 11 ms
    h.add("read", None, [5], final=True, start=20, end=21)
    h.add("read", None, [5], node="n2", final=True, start=20, end=21)
    verdict = check_broadcast(h.ops, NODES)
    assert verdict.valid is True
    assert verdict.details["stable_latency_ms"] == {"count": 1, "p50": 11.0, "p99": 11.0, "max": 11.0}


def test_g_set_uses_the_same_rules() -> None:
    assert check_g_set(broadcast_history([1, 2], add_f="add").ops, NODES).valid is True
    verdict = check_g_set(broadcast_history([2], add_f="add").ops, NODES)
    assert verdict.valid is False
    assert verdict.explanation.startswith("add of 1 was acknowledged")


def test_set_read_of_the_wrong_shape_is_unknown_and_named() -> None:
    h = History()
    h.add("broadcast", 1)
    bad = h.add("read", None, {"messages": [1]})
    verdict = check_broadcast(h.ops, NODES)
    assert verdict.valid == "unknown"
    assert f"op {bad.index}" in verdict.explanation


# -- g-counter and pn-counter ------------------------------------------------------------------------------


def counter_history(final_reads: list[Any], deltas: list[tuple[int, str]] | None = None) -> History:
    h = History()
    for delta, outcome in deltas or [(1, "ok"), (2, "ok"), (3, "ok"), (4, "info"), (10, "fail")]:
        h.add("add", delta, None, outcome)
    h.add("read", None, 3)
    for node, value in zip(NODES, final_reads, strict=False):
        h.add("read", None, value, node=node, final=True)
    return h


def test_g_counter_valid_within_the_bounds_info_adds_allow() -> None:
    verdict = check_g_counter(counter_history([6, 10]).ops, NODES)
    assert verdict.valid is True, verdict
    assert (verdict.details["lower_bound"], verdict.details["upper_bound"]) == (6, 10)
    assert verdict.details["final_reads"] == {"n1": 6, "n2": 10}


def test_counter_that_double_counts_is_invalid() -> None:
    h = counter_history([6, 12])
    verdict = check_g_counter(h.ops, NODES)
    assert verdict.valid is False
    assert verdict.explanation.startswith(
        f"the final read of n2 (op {h.ops[-1].index} (c1 via n2)) returned 12"
    )
    assert "[6, 10]" in verdict.explanation


def test_counter_counting_a_failed_add_is_invalid() -> None:
    assert check_pn_counter(counter_history([16, 6]).ops, NODES).valid is False


def test_counter_read_above_everything_invoked_so_far_is_invalid() -> None:
    h = History()
    h.add("add", 1)
    early = h.add("read", None, 2)  # only 1 had been added: a double count, long before the final reads
    h.add("add", 1)
    h.add("read", None, 2, final=True)
    h.add("read", None, 2, node="n2", final=True)
    verdict = check_g_counter(h.ops, NODES)
    assert verdict.valid is False
    assert verdict.explanation.startswith(f"op {early.index} (c1 via n1) read 2, but the 1 adds invoked")


def test_g_counter_rejects_an_acknowledged_negative_add_and_pn_counter_takes_it() -> None:
    h = counter_history([1, 1], deltas=[(3, "ok"), (-2, "ok")])
    verdict = check_g_counter(h.ops, NODES)
    assert verdict.valid is False
    assert "added -2" in verdict.explanation
    assert check_pn_counter(h.ops, NODES).valid is True


def test_pn_counter_bounds_with_negative_info_adds() -> None:
    deltas = [(5, "ok"), (-3, "info"), (2, "info")]
    for final, expected in [(2, True), (7, True), (4, True), (1, False), (8, False)]:
        verdict = check_pn_counter(counter_history([final, final], deltas).ops, NODES)
        assert verdict.valid is expected, (final, verdict)


def test_counter_without_final_reads_is_unknown() -> None:
    verdict = check_pn_counter(counter_history([]).ops, NODES)
    assert verdict.valid == "unknown"
    verdict = check_pn_counter(counter_history([6]).ops, NODES)
    assert verdict.valid == "unknown"
    assert "n2" in verdict.explanation


def test_counter_read_that_is_no_integer_is_unknown_and_named() -> None:
    h = counter_history(["6", 6])
    verdict = check_pn_counter(h.ops, NODES)
    assert verdict.valid == "unknown"
    assert f"op {h.ops[-2].index}" in verdict.explanation


# -- kafka -------------------------------------------------------------------------------------------


def kafka_history() -> History:
    """Two keys; a poll that sees all of k1 from 0, commits of k1 then a list that sees them."""
    h = History()
    h.add("send", ["k1", "a"], 0)
    h.add("send", ["k1", "b"], 1, process="c2")
    h.add("send", ["k1", "c"], 4)  # offsets may be sparse
    h.add("send", ["k2", "x"], 0)
    h.add("send", ["k1", "maybe"], None, "info")
    h.add("poll", {"k1": 0, "k2": 0}, {"k1": [[0, "a"], [1, "b"], [4, "c"], [5, "maybe"]], "k2": [[0, "x"]]})
    h.add("poll", {"k1": 1}, {"k1": [[1, "b"]]})
    h.add("commit_offsets", {"k1": 1})
    h.add("list_committed_offsets", ["k1", "k2"], {"k1": 1})
    return h


def check_kafka_with(h: History, f: str, value: Any, result: Any = None, **kw: Any) -> tuple[Verdict, Op]:
    op = h.add(f, value, result, **kw)
    return check_kafka(h.ops, NODES), op


def test_kafka_valid() -> None:
    verdict = check_kafka(kafka_history().ops, NODES)
    assert verdict.valid is True, verdict
    assert verdict.details["acknowledged"] == 4
    assert verdict.details["unobserved"] == 0
    assert verdict.details["polls_ok"] == 2


def test_kafka_log_that_loses_an_acknowledged_send_is_invalid() -> None:
    verdict, poll = check_kafka_with(kafka_history(), "poll", {"k1": 0}, {"k1": [[0, "a"], [4, "c"]]})
    assert verdict.valid is False
    assert verdict.explanation.startswith("lost write: key k1: op 1 (c2 via n1) was acknowledged at offset 1")
    assert f"op {poll.index}" in verdict.explanation
    assert verdict.details["findings"]["lost_write"] == 1


def test_kafka_poll_that_starts_past_an_acknowledged_offset_loses_it() -> None:
    verdict, _ = check_kafka_with(kafka_history(), "poll", {"k1": 0}, {"k1": [[1, "b"]]})
    assert verdict.valid is False
    assert "offset 0" in verdict.explanation
    # Asked from 2, starting at 4 skips nothing acknowledged: offsets may be sparse.
    verdict, _ = check_kafka_with(kafka_history(), "poll", {"k1": 2}, {"k1": [[4, "c"]]})
    assert verdict.valid is True


def test_kafka_poll_that_reorders_offsets_is_invalid() -> None:
    verdict, poll = check_kafka_with(
        kafka_history(), "poll", {"k1": 0}, {"k1": [[0, "a"], [4, "c"], [1, "b"]]}
    )
    assert verdict.valid is False
    assert (
        verdict.explanation
        == f"poll nonmonotonic: key k1: op {poll.index} (c1 via n1) returned offset 1 after 4"
    )


def test_kafka_two_messages_at_one_offset_is_invalid() -> None:
    verdict, send = check_kafka_with(kafka_history(), "send", ["k1", "d"], 1)
    assert verdict.valid is False
    assert verdict.explanation.startswith('offset reused: key k1: offset 1 was given to "d"')
    assert f"op {send.index}" in verdict.explanation


def test_kafka_poll_that_contradicts_an_acknowledged_send_is_invalid() -> None:
    verdict, _ = check_kafka_with(kafka_history(), "poll", {"k2": 0}, {"k2": [[0, "y"]]})
    assert verdict.valid is False
    assert verdict.details["findings"]["poll_contradicts_send"] == 1
    assert verdict.details["findings"]["unexpected_message"] == 1  # "y" was never sent to k2
    assert verdict.explanation.startswith(
        'poll contradicts send: key k2: op 9 (c1 via n1) returned "y" at offset 0'
    )
    verdict, _ = check_kafka_with(kafka_history(), "poll", {"k1": 4}, {"k1": [[4, "c"], [6, "a"]]})
    assert verdict.valid is False
    assert "its only send was acknowledged at offset 0" in verdict.explanation


def test_kafka_polls_that_disagree_are_invalid() -> None:
    h = kafka_history()
    h.add("send", ["k3", "p"], None, "info")
    h.add("send", ["k3", "q"], None, "info")
    h.add("poll", {"k3": 0}, {"k3": [[0, "p"]]})
    verdict, _ = check_kafka_with(h, "poll", {"k3": 0}, {"k3": [[0, "q"]]})
    assert verdict.valid is False
    assert verdict.explanation.startswith('polls disagree: key k3: offset 0 held "p"')


def test_kafka_that_goes_back_on_a_commit_is_invalid() -> None:
    def committed() -> History:
        h = kafka_history()
        h.add("commit_offsets", {"k1": 4, "k2": 0})
        return h

    verdict, listing = check_kafka_with(
        committed(), "list_committed_offsets", ["k1", "k2"], {"k1": 1, "k2": 0}
    )
    assert verdict.valid is False
    assert verdict.explanation.startswith(
        f"commit regression: key k1: op {listing.index} (c1 via n1) listed offset 1"
    )
    verdict, _ = check_kafka_with(committed(), "list_committed_offsets", ["k1", "k2"], {"k1": 4})
    assert verdict.valid is False
    assert "key k2" in verdict.explanation and "listed no offset" in verdict.explanation
    verdict, _ = check_kafka_with(committed(), "list_committed_offsets", ["k1", "k2"], {"k1": 5, "k2": 0})
    assert verdict.valid is True


def test_kafka_list_concurrent_with_a_commit_may_miss_it() -> None:
    h = kafka_history()
    h.add("commit_offsets", {"k1": 4}, start=100, end=110)
    h.add("list_committed_offsets", ["k1"], {"k1": 1}, start=105, end=106)
    assert check_kafka(h.ops, NODES).valid is True


def test_kafka_message_never_sent_is_invalid() -> None:
    verdict, _ = check_kafka_with(kafka_history(), "poll", {"k1": 5}, {"k1": [[5, "maybe"], [9, "ghost"]]})
    assert verdict.valid is False
    assert verdict.explanation.startswith('unexpected message: key k1: op 9 (c1 via n1) returned "ghost"')


def test_kafka_keys_are_compared_as_strings() -> None:
    h = History()
    h.add("send", [1, "a"], 0)
    h.add("send", [1, "b"], 1)
    h.add("poll", {"1": 0}, {"1": [[0, "a"], [1, "b"]]})
    assert check_kafka(h.ops, NODES).valid is True
    h.add("poll", {"1": 0}, {"1": [[1, "b"]]})
    assert check_kafka(h.ops, NODES).valid is False


def test_kafka_without_polls_is_unknown_and_malformed_is_named() -> None:
    h = History()
    h.add("send", ["k1", "a"], 0)
    verdict = check_kafka(h.ops, NODES)
    assert verdict.valid == "unknown"
    assert "no poll" in verdict.explanation
    verdict, poll = check_kafka_with(h, "poll", {"k1": 0}, {"k1": [[0]]})
    assert verdict.valid == "unknown"
    assert f"op {poll.index}" in verdict.explanation


# -- no well-typed history makes a checker raise ---------------------------------------------------


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=10,
)
F_NAMES = ["echo", "generate", "broadcast", "read", "add", "write", "cas", "send", "poll", "commit_offsets"]


@st.composite
def any_ops(draw: st.DrawFn) -> list[Op]:
    ops = []
    for index in range(draw(st.integers(0, 12))):
        start = draw(st.integers(0, 100))
        ops.append(
            Op(
                index=index,
                process=draw(st.sampled_from(["c1", "c2"])),
                node=draw(st.sampled_from(NODES)),
                f=draw(st.sampled_from([*F_NAMES, "list_committed_offsets"])),
                value=draw(json_values),
                type=draw(st.sampled_from(["ok", "fail", "info"])),
                result=draw(json_values),
                invoke_ns=start * MS,
                complete_ns=(start + draw(st.integers(0, 50))) * MS,
                error=draw(st.none() | st.fixed_dictionaries({"code": st.sampled_from([20, 22, 11])})),
                final=draw(st.booleans()),
            )
        )
    return ops


@pytest.mark.parametrize("workload", sorted(CHECKERS))
@settings(max_examples=60, deadline=None)
@given(ops=any_ops())
def test_checkers_never_raise(workload: str, ops: list[Op]) -> None:
    verdict = CHECKERS[workload](ops, NODES)
    assert verdict.valid in (True, False, "unknown")
    assert verdict.explanation is None or (
        "Traceback" not in verdict.explanation and len(verdict.explanation) < 1000
    )
    if verdict.valid is not True:
        assert verdict.explanation
    # Odd but well-typed input is judged or named as malformed, never an internal error.
    assert "could not decide" not in (verdict.explanation or ""), verdict.explanation
