"""The services netsim hosts (``netsim.workloads.services``): every reply byte for byte, and each
store's consistency: lin-kv a dict, seq-kv sequential but stale, lww-kv converging after its delay,
lin-tso increasing; the same seed, the same replies."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.wire.maelstrom import ERROR_CODES
from netsim.workloads.services import (
    KEY_DOES_NOT_EXIST,
    MALFORMED_REQUEST,
    NOT_SUPPORTED,
    PRECONDITION_FAILED,
    SERVICE_NAMES,
    SERVICES,
    LastWriteWinsKV,
    LinearizableKV,
    SequentialKV,
    Service,
    TimestampOracle,
    canonical_json,
)

MS = 1_000_000
SECOND = 1_000 * MS
Step = tuple[str, dict[str, Any], int]  # src, body, now_ns


def replies(service: Service, steps: Iterable[Step]) -> list[bytes | None]:
    out: list[bytes | None] = []
    for src, body, now_ns in steps:
        reply = service.handle(src, body, now_ns)
        out.append(None if reply is None else orjson.dumps(reply))
    return out


def value_of(reply: dict[str, Any] | None) -> Any:
    """A read's value, or "missing" for error 20."""
    assert reply is not None
    if reply["type"] == "error":
        assert reply["code"] == KEY_DOES_NOT_EXIST, reply
        return "missing"
    assert reply["type"] == "read_ok", reply
    return reply["value"]


def read(service: Service, src: str, key: Any, now_ns: int = 0) -> Any:
    return value_of(service.handle(src, {"type": "read", "key": key, "msg_id": 1}, now_ns))


def write(service: Service, src: str, key: Any, value: Any, now_ns: int = 0) -> None:
    reply = service.handle(src, {"type": "write", "key": key, "value": value, "msg_id": 1}, now_ns)
    assert reply == {"type": "write_ok", "in_reply_to": 1}


# --- Every reply, byte for byte ---------------------------------------------------------------------

# One client, its requests a second apart: every KV store answers these alike (seq-kv shows a client
# its own writes; lww-kv's replicas have long converged).
KV_SCRIPT: list[tuple[dict[str, Any], bytes | None]] = [
    (
        {"type": "read", "key": "x", "msg_id": 1},
        b'{"type":"error","code":20,"text":"key \\"x\\" does not exist","in_reply_to":1}',
    ),
    ({"type": "write", "key": "x", "value": 1, "msg_id": 2}, b'{"type":"write_ok","in_reply_to":2}'),
    ({"type": "read", "key": "x", "msg_id": 3}, b'{"type":"read_ok","value":1,"in_reply_to":3}'),
    (
        {"type": "cas", "key": "x", "from": 2, "to": 3, "msg_id": 4},
        b'{"type":"error","code":22,"text":"current value of key \\"x\\" is 1, not 2","in_reply_to":4}',
    ),
    ({"type": "cas", "key": "x", "from": 1, "to": 3, "msg_id": 5}, b'{"type":"cas_ok","in_reply_to":5}'),
    ({"type": "read", "key": "x", "msg_id": 6}, b'{"type":"read_ok","value":3,"in_reply_to":6}'),
    (
        {"type": "cas", "key": "y", "from": 0, "to": 1, "msg_id": 7},
        b'{"type":"error","code":20,"text":"key \\"y\\" does not exist","in_reply_to":7}',
    ),
    (
        {"type": "cas", "key": "y", "from": 0, "to": 1, "create_if_not_exists": False, "msg_id": 8},
        b'{"type":"error","code":20,"text":"key \\"y\\" does not exist","in_reply_to":8}',
    ),
    (
        {"type": "cas", "key": "y", "from": 0, "to": 1, "create_if_not_exists": True, "msg_id": 9},
        b'{"type":"cas_ok","in_reply_to":9}',
    ),
    ({"type": "read", "key": "y", "msg_id": 10}, b'{"type":"read_ok","value":1,"in_reply_to":10}'),
    # create_if_not_exists matters only when the key is missing.
    (
        {"type": "cas", "key": "y", "from": 5, "to": 6, "create_if_not_exists": True, "msg_id": 11},
        b'{"type":"error","code":22,"text":"current value of key \\"y\\" is 1, not 5","in_reply_to":11}',
    ),
    ({"type": "write", "key": "z", "value": None, "msg_id": 12}, b'{"type":"write_ok","in_reply_to":12}'),
    ({"type": "read", "key": "z", "msg_id": 13}, b'{"type":"read_ok","value":null,"in_reply_to":13}'),
    (
        {"type": "write", "key": [1, {"b": 2, "a": 1}], "value": {"n": [1, 2]}, "msg_id": 14},
        b'{"type":"write_ok","in_reply_to":14}',
    ),
    (
        {"type": "read", "key": [1.0, {"a": 1, "b": 2}], "msg_id": 15},
        b'{"type":"read_ok","value":{"n":[1,2]},"in_reply_to":15}',
    ),
    (
        {"type": "read", "msg_id": 16},
        b'{"type":"error","code":12,"text":"read request without \\"key\\"","in_reply_to":16}',
    ),
    (
        {"type": "write", "key": "x", "msg_id": 17},
        b'{"type":"error","code":12,"text":"write request without \\"value\\"","in_reply_to":17}',
    ),
    (
        {"type": "cas", "key": "x", "to": 1, "msg_id": 18},
        b'{"type":"error","code":12,"text":"cas request without \\"from\\"","in_reply_to":18}',
    ),
    (
        {"type": "cas", "key": "x", "from": 1, "msg_id": 19},
        b'{"type":"error","code":12,"text":"cas request without \\"to\\"","in_reply_to":19}',
    ),
    (
        {"type": "cas", "key": "x", "from": 3, "to": 4, "create_if_not_exists": "yes", "msg_id": 20},
        b'{"type":"error","code":12,"text":"cas request: create_if_not_exists is \\"yes\\", '
        b'not true or false","in_reply_to":20}',
    ),
    ({"msg_id": 21}, b'{"type":"error","code":12,"text":"the body has no type (a string)","in_reply_to":21}'),
    # Without a msg_id a request takes effect and gets no reply; msg_id 0 is a msg_id.
    ({"type": "write", "key": "x", "value": 7}, None),
    ({"type": "cas", "key": "x", "from": 7, "to": 8}, None),
    ({"type": "read", "key": "x", "msg_id": 0}, b'{"type":"read_ok","value":8,"in_reply_to":0}'),
    ({"type": "read", "key": "nope"}, None),
]

KV_STORES: dict[str, Callable[[random.Random], Service]] = {
    "lin-kv": LinearizableKV,
    "seq-kv": SequentialKV,
    "lww-kv": LastWriteWinsKV,
}


@pytest.mark.parametrize("name", KV_STORES)
def test_every_kv_reply_byte_for_byte(name: str) -> None:
    service = KV_STORES[name](random.Random(7))
    steps = [("n1", body, index * SECOND) for index, (body, _) in enumerate(KV_SCRIPT)]
    assert replies(service, steps) == [expected for _, expected in KV_SCRIPT]


@pytest.mark.parametrize("name", KV_STORES)
def test_a_kv_store_names_itself_and_what_it_answers_for_an_unknown_type(name: str) -> None:
    service = KV_STORES[name](random.Random(7))
    assert replies(service, [("n1", {"type": "delete", "key": "x", "msg_id": 5}, 0)]) == [
        b'{"type":"error","code":10,"text":"' + name.encode() + b' does not support \\"delete\\" '
        b'(it answers read, write, cas)","in_reply_to":5}'
    ]
    assert service.handle("n1", {"type": "ts"}, 0) is None


def test_lin_tso_replies_byte_for_byte() -> None:
    steps: list[Step] = [
        ("n1", {"type": "ts", "msg_id": 1}, 0),
        ("n2", {"type": "ts", "msg_id": 1}, 0),
        ("n1", {"type": "ts"}, 0),  # no msg_id: a timestamp is used up all the same
        ("n1", {"type": "read", "key": "x", "msg_id": 2}, 0),
        ("n1", {"msg_id": 3}, 0),
        ("n1", {"type": "ts", "msg_id": 4}, 0),
    ]
    assert replies(TimestampOracle(random.Random(0)), steps) == [
        b'{"type":"ts_ok","ts":0,"in_reply_to":1}',
        b'{"type":"ts_ok","ts":1,"in_reply_to":1}',
        None,
        b'{"type":"error","code":10,"text":"lin-tso does not support \\"read\\" (it answers ts)",'
        b'"in_reply_to":2}',
        b'{"type":"error","code":12,"text":"the body has no type (a string)","in_reply_to":3}',
        b'{"type":"ts_ok","ts":3,"in_reply_to":4}',
    ]


def test_error_codes_are_maelstroms() -> None:
    assert ERROR_CODES[NOT_SUPPORTED][0] == "not-supported"
    assert ERROR_CODES[MALFORMED_REQUEST][0] == "malformed-request"
    assert ERROR_CODES[KEY_DOES_NOT_EXIST][0] == "key-does-not-exist"
    assert ERROR_CODES[PRECONDITION_FAILED][0] == "precondition-failed"


def test_services_are_registered_under_maelstroms_names() -> None:
    assert SERVICE_NAMES == ("lin-kv", "seq-kv", "lww-kv", "lin-tso")
    for name in SERVICE_NAMES:
        service = SERVICES[name](random.Random(0))
        assert service.name == name


def test_keys_and_values_compare_as_json() -> None:
    assert canonical_json({"b": [1.0, True], "a": "é"}) == '{"a":"é","b":[1,true]}'
    assert canonical_json(1) == canonical_json(1.0) != canonical_json("1") != canonical_json(True)
    service = LinearizableKV(random.Random(0))
    write(service, "n1", 1, "int key")
    write(service, "n1", "1", "string key")
    assert read(service, "n1", 1.0) == "int key"
    assert read(service, "n1", "1") == "string key"
    assert read(service, "n1", True) == "missing"
    write(service, "n1", "k", 2)
    # true is not 2 and not 1; 2.0 is 2.
    assert service.handle("n1", {"type": "cas", "key": "k", "from": True, "to": 0, "msg_id": 1}, 0) == {
        "type": "error",
        "code": 22,
        "text": 'current value of key "k" is 2, not true',
        "in_reply_to": 1,
    }
    cas = {"type": "cas", "key": "k", "from": 2.0, "to": 3, "msg_id": 2}
    assert service.handle("n1", cas, 0) == {"type": "cas_ok", "in_reply_to": 2}


def test_an_error_quotes_at_most_80_characters_of_a_value() -> None:
    service = LinearizableKV(random.Random(0))
    reply = service.handle("n1", {"type": "read", "key": "k" * 200, "msg_id": 1}, 0)
    assert reply is not None
    assert reply["text"] == 'key "' + "k" * 76 + "... does not exist"


@pytest.mark.parametrize("name", KV_STORES)
def test_a_key_or_value_nested_too_deeply_to_compare_is_malformed(name: str) -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    service = KV_STORES[name](random.Random(0))
    too_deep = b'{"type":"error","code":12,"text":"cas request nested too deeply","in_reply_to":1}'
    write(service, "n1", "x", deep)  # a value is kept as it is, not compared
    cas = {"type": "cas", "key": "x", "from": 1, "to": 2, "msg_id": 1}
    assert replies(service, [("n1", cas, SECOND)]) == [too_deep]
    assert replies(service, [("n1", {**cas, "key": deep}, SECOND)]) == [too_deep]
    assert read(service, "n1", "x", now_ns=SECOND) == deep


def test_constructors_refuse_impossible_settings() -> None:
    with pytest.raises(ValueError, match="history_writes must be 0 or more, not -1"):
        SequentialKV(random.Random(0), history_writes=-1)
    with pytest.raises(ValueError, match="replicas must be 1 or more, not 0"):
        LastWriteWinsKV(random.Random(0), replicas=0)
    with pytest.raises(ValueError, match="convergence_ns must be 0 or more, not -5"):
        LastWriteWinsKV(random.Random(0), convergence_ns=-5)


# --- lin-kv: a dict, one step at a time ----------------------------------------------------------------

CLIENTS = st.sampled_from(["n1", "n2", "n3"])
KEYS = st.sampled_from(["x", "y", 0])
VALUES = st.integers(min_value=0, max_value=3)
KV_OPS = st.lists(
    st.tuples(CLIENTS, st.sampled_from(["read", "write", "cas"]), KEYS, VALUES, VALUES, st.booleans()),
    max_size=60,
)


def kv_body(op: str, key: Any, value: int, expected: int, create: bool) -> dict[str, Any]:
    if op == "read":
        return {"type": "read", "key": key, "msg_id": 1}
    if op == "write":
        return {"type": "write", "key": key, "value": value, "msg_id": 1}
    return {
        "type": "cas",
        "key": key,
        "from": expected,
        "to": value,
        "create_if_not_exists": create,
        "msg_id": 1,
    }


def missing_reply(key: Any) -> dict[str, Any]:
    return {
        "type": "error",
        "code": 20,
        "text": f"key {canonical_json(key)} does not exist",
        "in_reply_to": 1,
    }


def dict_model_reply(model: dict[Any, int], body: dict[str, Any]) -> dict[str, Any]:
    """What a linearizable store answers, from a plain dict."""
    key = body["key"]
    if body["type"] == "read":
        if key not in model:
            return missing_reply(key)
        return {"type": "read_ok", "value": model[key], "in_reply_to": 1}
    if body["type"] == "write":
        model[key] = body["value"]
        return {"type": "write_ok", "in_reply_to": 1}
    if key not in model and not body["create_if_not_exists"]:
        return missing_reply(key)
    if key in model and model[key] != body["from"]:
        text = f"current value of key {canonical_json(key)} is {model[key]}, not {body['from']}"
        return {"type": "error", "code": 22, "text": text, "in_reply_to": 1}
    model[key] = body["to"]
    return {"type": "cas_ok", "in_reply_to": 1}


# seq-kv that may look back over no write, and lww-kv that converges at once, are linearizable too.
LINEARIZABLE_STORES: dict[str, Callable[[random.Random], Service]] = {
    "lin-kv": LinearizableKV,
    "seq-kv, history_writes=0": lambda rng: SequentialKV(rng, history_writes=0),
    "lww-kv, convergence_ns=0": lambda rng: LastWriteWinsKV(rng, convergence_ns=0),
}


@pytest.mark.parametrize("name", LINEARIZABLE_STORES)
@settings(max_examples=150, deadline=None)
@given(ops=KV_OPS, seed=st.integers(min_value=0, max_value=2**32))
def test_a_linearizable_store_answers_as_a_dict_would(name: str, ops: list[Any], seed: int) -> None:
    service = LINEARIZABLE_STORES[name](random.Random(seed))
    model: dict[Any, int] = {}
    for now_ns, (src, op, key, value, expected, create) in enumerate(ops):
        body = kv_body(op, key, value, expected, create)
        assert service.handle(src, body, now_ns) == dict_model_reply(model, body)


# --- seq-kv: sequential, stale, never backwards ----------------------------------------------------------


def check_sequential(service: SequentialKV, ops: list[Any], history_writes: int) -> None:
    """Runs ``ops`` and checks each client's replies against the store's states, S0, S1, ... kept in
    full: writes and cas act on the latest state, and each read returns the key's value in some state
    no older than the one that client last acted on or read (nor older than ``history_writes`` writes
    back). Reads are placed greedily at the oldest state that explains them, which finds a placement
    if there is any."""
    states: list[dict[Any, int]] = [{}]
    floors: dict[str, int] = {}
    for src, op, key, value, expected, create in ops:
        body = kv_body(op, key, value, expected, create)
        reply = service.handle(src, body, 0)
        if op == "read":
            got = value_of(reply)
            oldest = max(floors.get(src, 0), len(states) - 1 - history_writes)
            shown = [
                index for index in range(oldest, len(states)) if states[index].get(key, "missing") == got
            ]
            assert shown, f"{src} read {key}={got!r}, in no state from S{oldest} to S{len(states) - 1}"
            floors[src] = shown[0]
            continue
        latest = dict(states[-1])
        assert reply == dict_model_reply(latest, body)
        if reply is not None and reply["type"] in ("write_ok", "cas_ok"):  # a new state, even if equal
            states.append(latest)
        floors[src] = len(states) - 1
    assert service.latest_state == len(states) - 1


@settings(max_examples=200, deadline=None)
@given(
    ops=KV_OPS,
    seed=st.integers(min_value=0, max_value=2**32),
    history_writes=st.sampled_from([0, 1, 3, 32]),
)
def test_seq_kv_is_sequentially_consistent(ops: list[Any], seed: int, history_writes: int) -> None:
    check_sequential(SequentialKV(random.Random(seed), history_writes), ops, history_writes)


def test_seq_kv_never_shows_a_client_its_own_writes_going_back() -> None:
    for seed in range(30):
        service = SequentialKV(random.Random(seed))
        for value in range(20):
            write(service, "n1", "x", value)
            write(service, "n2", "x", 100 + value)  # another client's writes may come after
            assert read(service, "n1", "x") in (value, 100 + value)


def test_seq_kv_reads_of_another_client_never_go_back_behind_what_it_saw() -> None:
    for seed in range(30):
        service = SequentialKV(random.Random(seed))
        seen = -1
        for value in range(40):
            write(service, "n1", "x", value)
            got = read(service, "n2", "x")
            if got != "missing":
                assert got >= seen
                seen = got


def test_seq_kv_floor_spans_keys() -> None:
    """Once a client reads a value, it sees every write that came before that value, to any key."""
    for seed in range(40):
        service = SequentialKV(random.Random(seed))
        write(service, "n1", "x", 1)
        write(service, "n1", "y", 1)
        while read(service, "n2", "y") != 1:
            pass
        assert read(service, "n2", "x") == 1


def test_seq_kv_reads_are_stale_for_some_seeds() -> None:
    """n2 has read x=1; n1 then writes 2: n2's next read may return either (else the store would be
    linearizable), and both happen over a few seeds."""
    outcomes = set()
    for seed in range(40):
        service = SequentialKV(random.Random(seed))
        write(service, "n1", "x", 1)
        while read(service, "n2", "x") != 1:
            pass
        write(service, "n1", "x", 2)
        outcomes.add(read(service, "n2", "x"))
    assert outcomes == {1, 2}


def test_seq_kv_cas_and_writes_act_on_the_latest_value_even_for_a_stale_client() -> None:
    for seed in range(20):
        service = SequentialKV(random.Random(seed))
        write(service, "n1", "x", 1)
        write(service, "n1", "x", 2)  # n2 has seen neither
        cas = {"type": "cas", "key": "x", "from": 2, "to": 3, "msg_id": 1}
        assert service.handle("n2", cas, 0) == {"type": "cas_ok", "in_reply_to": 1}
        assert read(service, "n2", "x") == 3


def test_seq_kv_a_refused_cas_shows_the_client_the_latest_state() -> None:
    for seed in range(20):
        service = SequentialKV(random.Random(seed))
        for value in range(5):
            write(service, "n1", "x", value)
        cas = {"type": "cas", "key": "x", "from": 0, "to": 9, "msg_id": 1}
        assert service.handle("n2", cas, 0)["code"] == PRECONDITION_FAILED  # type: ignore[index]
        assert read(service, "n2", "x") == 4


def test_seq_kv_looks_back_over_at_most_history_writes_writes() -> None:
    """After writes 0..9 (states S1..S10), a client that has seen nothing may be shown S7..S10."""
    outcomes = set()
    for seed in range(20):
        service = SequentialKV(random.Random(seed), history_writes=3)
        for value in range(10):
            write(service, "n1", "x", value)
        outcomes.add(read(service, "n2", "x"))
        linearizable = SequentialKV(random.Random(seed), history_writes=0)
        write(linearizable, "n1", "x", 1)
        assert read(linearizable, "n2", "x") == 1
    assert outcomes == {6, 7, 8, 9}


def test_seq_kv_memory_is_one_version_per_key_plus_history_writes() -> None:
    service = SequentialKV(random.Random(3), history_writes=8)
    rng = random.Random(4)
    for step in range(2000):
        write(service, f"n{rng.randrange(5)}", rng.randrange(10), step)
        read(service, f"n{rng.randrange(5)}", rng.randrange(10))
        assert service.retained_versions() <= 10 + 8
    assert service.retained_versions() >= 10


# --- lww-kv: converges after its delay ---------------------------------------------------------------------


def test_lww_kv_every_read_returns_the_last_write_once_the_delay_has_passed() -> None:
    for seed in range(30):
        service = LastWriteWinsKV(random.Random(seed), convergence_ns=100 * MS)
        for value in range(10):
            write(service, f"n{value % 3}", "x", value, now_ns=value * MS)
        last_write_ns = 9 * MS
        for _ in range(10):
            assert read(service, "n4", "x", now_ns=last_write_ns + 100 * MS) == 9


def test_lww_kv_before_the_delay_a_read_may_return_an_older_value() -> None:
    outcomes = set()
    for seed in range(30):
        service = LastWriteWinsKV(random.Random(seed), convergence_ns=100 * MS)
        write(service, "n1", "x", 1, now_ns=0)
        write(service, "n1", "x", 2, now_ns=200 * MS)  # 1 has spread; 2 is on one replica
        got = read(service, "n2", "x", now_ns=299 * MS)
        assert got in (1, 2)  # never older than what every replica had
        outcomes.add(got)
    assert outcomes == {1, 2}


def test_lww_kv_a_new_key_may_be_missing_on_other_replicas() -> None:
    outcomes = {0: set(), 100 * MS: set()}
    for seed in range(30):
        for delay in outcomes:
            service = LastWriteWinsKV(random.Random(seed))
            write(service, "n1", "k", "v", now_ns=0)
            outcomes[delay].add(read(service, "n1", "k", now_ns=delay))
    assert outcomes == {0: {"v", "missing"}, 100 * MS: {"v"}}


def test_lww_kv_cas_is_not_atomic_across_replicas_and_the_later_one_wins() -> None:
    both_applied = 0
    for seed in range(40):
        service = LastWriteWinsKV(random.Random(seed), convergence_ns=100 * MS)
        write(service, "n1", "x", 0, now_ns=0)
        first = {"type": "cas", "key": "x", "from": 0, "to": "first", "msg_id": 1}
        second = {"type": "cas", "key": "x", "from": 0, "to": "second", "msg_id": 2}
        first_reply = service.handle("n1", first, 200 * MS)
        second_reply = service.handle("n2", second, 201 * MS)
        assert first_reply == {"type": "cas_ok", "in_reply_to": 1}  # every replica has x=0
        if second_reply == {"type": "cas_ok", "in_reply_to": 2}:
            both_applied += 1
            assert read(service, "n3", "x", now_ns=301 * MS) == "second"
        else:
            assert second_reply is not None and second_reply["code"] == PRECONDITION_FAILED
            assert read(service, "n3", "x", now_ns=301 * MS) == "first"
    assert 0 < both_applied < 40


def test_lww_kv_time_never_goes_back() -> None:
    """A now_ns older than one seen is taken as that one: a write is not undone by an earlier clock."""
    service = LastWriteWinsKV(random.Random(0), convergence_ns=100 * MS)
    write(service, "n1", "x", "late", now_ns=500 * MS)
    write(service, "n1", "x", "early", now_ns=0)
    assert read(service, "n2", "x", now_ns=600 * MS) == "early"


def test_lww_kv_memory_is_the_writes_of_one_delay() -> None:
    service = LastWriteWinsKV(random.Random(3), convergence_ns=10 * MS)
    rng = random.Random(4)
    for step in range(2000):
        write(service, "n1", rng.randrange(10), step, now_ns=step * MS)  # one write a millisecond
        read(service, "n2", rng.randrange(10), now_ns=step * MS)
        assert service.retained_writes() <= 10 + 11


# --- lin-tso ---------------------------------------------------------------------------------------------


def test_lin_tso_is_strictly_increasing_across_clients() -> None:
    service = TimestampOracle(random.Random(0))
    rng = random.Random(1)
    last = -1
    for step in range(500):
        reply = service.handle(f"n{rng.randrange(5)}", {"type": "ts", "msg_id": step}, step)
        assert reply is not None and reply["in_reply_to"] == step
        assert isinstance(reply["ts"], int) and reply["ts"] > last
        last = reply["ts"]


# --- The same seed, the same replies ------------------------------------------------------------------------


def random_steps(seed: int, count: int = 300) -> list[Step]:
    rng = random.Random(seed)
    steps: list[Step] = []
    for index in range(count):
        op = rng.choice(["read", "read", "write", "cas", "ts"])
        key, value, expected, create = (
            rng.choice(["x", "y"]),
            rng.randrange(3),
            rng.randrange(3),
            rng.random() < 0.5,
        )
        body = {"type": "ts", "msg_id": 1} if op == "ts" else kv_body(op, key, value, expected, create)
        steps.append((f"n{rng.randrange(4)}", body, index * 7 * MS))
    return steps


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_the_same_seed_gives_the_same_replies(name: str) -> None:
    steps = random_steps(11)
    first = replies(SERVICES[name](random.Random(5)), steps)
    assert replies(SERVICES[name](random.Random(5)), steps) == first
    if name in ("seq-kv", "lww-kv"):  # the stores that choose: another seed, other choices
        assert any(replies(SERVICES[name](random.Random(seed)), steps) != first for seed in range(6, 10))
