"""The workload programs of tests/programs (Python) and tests/programs/js (JavaScript), driven directly
over their stdin and stdout, without netsim: each test starts a program, sends ``init`` and a few
requests, and checks the replies. For the programs that use a service (seq-kv, lin-kv), the test plays
the service: it answers the program's service requests from a dict. The mutants are checked to have
exactly the defect they claim, so that tests of the checkers can count on it.

Every line a program writes on stdout must be a JSON message from its node; every program must shrug
off lines that are not messages and bodies it does not know, and exit 0 when its stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PROGRAMS = Path(__file__).resolve().parent.parent / "programs"
NODE_JS = shutil.which("node")
SERVICES = {"seq-kv", "lin-kv", "lww-kv", "lin-tso"}

requires_node = pytest.mark.skipif(NODE_JS is None, reason="no `node` (JavaScript) on this machine")
BOTH = [pytest.param("python"), pytest.param("javascript", marks=requires_node)]

pytestmark = pytest.mark.timeout(30)

Body = dict[str, Any]


class Program:
    """One node program as a child process, spoken to over its stdin and stdout."""

    def __init__(self, name: str, language: str, env: dict[str, str] | None = None) -> None:
        if language == "python":
            argv = [sys.executable, str(PROGRAMS / f"{name}.py")]
        else:
            argv = [NODE_JS or "node", str(PROGRAMS / "js" / f"{name}.js")]
        self.name = f"{language} {name}"
        self.node_id = "n0"
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (the ``start`` fixture closes it)
        environment = {key: value for key, value in os.environ.items() if key != "NETSIM_STATE_DIR"}
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env={**environment, **(env or {})},
        )
        self.pending = b""
        self.backlog: list[dict[str, Any]] = []  # messages read while looking for a reply, in order
        self.next_msg_id = 100

    def write(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def send(self, src: str, body: Body) -> None:
        self.write(json.dumps({"src": src, "dest": self.node_id, "body": body}))

    def request(self, body: Body, src: str = "c1") -> int:
        """Sends ``body`` from ``src`` with a fresh msg_id, which it returns."""
        self.next_msg_id += 1
        self.send(src, {**body, "msg_id": self.next_msg_id})
        return self.next_msg_id

    def receive(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next message the program writes, None when none comes within ``timeout`` seconds."""
        if self.backlog:
            return self.backlog.pop(0)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            assert chunk, f"{self.name} closed its stdout; stderr:\n{self.stderr_text()}"
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        message = json.loads(line)  # stdout holds messages only
        assert message["src"] == self.node_id and isinstance(message["dest"], str), message
        assert isinstance(message["body"]["type"], str), message
        return message

    def expect(self, timeout: float = 5.0) -> dict[str, Any]:
        message = self.receive(timeout)
        assert message is not None, f"{self.name} wrote nothing in {timeout} s; stderr:\n{self.stderr_text()}"
        return message

    def reply_to(self, msg_id: int, src: str = "c1") -> Body:
        """The body of the reply to ``msg_id``, which must go to ``src``; messages to other nodes that the
        program writes before it (gossip, say) are kept for ``receive``."""
        skipped = []
        while True:
            message = self.expect()
            if message["body"].get("in_reply_to") == msg_id and message["dest"] == src:
                self.backlog[:0] = skipped
                return message["body"]
            assert not message["dest"].startswith("c"), f"{message} is not the reply to {msg_id}"
            skipped.append(message)

    def call(self, body: Body, src: str = "c1") -> Body:
        return self.reply_to(self.request(body, src), src)

    def init(self, node_id: str = "n0", node_ids: tuple[str, ...] = ("n0",)) -> None:
        # As netsim sends it: from the node to itself.
        self.node_id = node_id
        init = {"type": "init", "msg_id": 1, "node_id": node_id, "node_ids": list(node_ids)}
        self.send(node_id, init)
        assert self.reply_to(1, src=node_id) == {"type": "init_ok", "in_reply_to": 1}

    def close(self) -> int:
        """Closes stdin and returns the exit code, killing the program if it does not exit in 5 s."""
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def unread(self) -> bytes:
        """What the program wrote that no test has read (once it has exited: all of it)."""
        assert self.process.stdout is not None
        return b"".join(json.dumps(message).encode() + b"\n" for message in self.backlog) + (
            self.pending + self.process.stdout.read()
        )

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")


@pytest.fixture
def start() -> Iterator[Callable[..., Program]]:
    """Starts programs (``start(name, language, env=None)``); kills whatever is left after the test."""
    programs: list[Program] = []

    def starter(name: str, language: str, env: dict[str, str] | None = None) -> Program:
        program = Program(name, language, env)
        programs.append(program)
        return program

    yield starter
    for program in programs:
        if program.process.poll() is None:
            program.process.kill()
        program.process.wait()
        for pipe in (program.process.stdin, program.process.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        program.stderr.close()


class KV:
    """A key-value service played by the test: seq-kv/lin-kv semantics on a dict, one request at a time."""

    def __init__(self) -> None:
        self.store: dict[Any, Any] = {}
        self.requests: list[tuple[str, Body]] = []  # (service, body) in the order they came

    def answer(self, body: Body) -> Body:
        key, kind = body["key"], body["type"]
        if kind == "read":
            if key not in self.store:
                return {"type": "error", "code": 20, "text": "key does not exist"}
            return {"type": "read_ok", "value": self.store[key]}
        if kind == "write":
            self.store[key] = body["value"]
            return {"type": "write_ok"}
        assert kind == "cas", body
        if key not in self.store:
            if not body.get("create_if_not_exists"):
                return {"type": "error", "code": 20, "text": "key does not exist"}
        elif self.store[key] != body["from"]:
            return {"type": "error", "code": 22, "text": f"current value {self.store[key]!r} is not the from"}
        self.store[key] = body["to"]
        return {"type": "cas_ok"}

    def serve(self, program: Program, replies: int = 1) -> list[dict[str, Any]]:
        """Answers the program's service requests until it has sent ``replies`` other messages (the
        replies to its clients), which it returns."""
        others = []
        while len(others) < replies:
            message = program.expect()
            if message["dest"] in SERVICES:
                self.requests.append((message["dest"], message["body"]))
                reply = {**self.answer(message["body"]), "in_reply_to": message["body"]["msg_id"]}
                program.send(message["dest"], reply)
            else:
                others.append(message)
        return others

    def call(self, program: Program, body: Body) -> Body:
        msg_id = program.request(body)
        [reply] = self.serve(program)
        assert reply["dest"] == "c1" and reply["body"]["in_reply_to"] == msg_id, reply
        return reply["body"]


def collect(program: Program, seconds: float) -> list[dict[str, Any]]:
    """Every message the program writes within ``seconds``."""
    messages, deadline = [], time.monotonic() + seconds
    while (message := program.receive(max(0.0, deadline - time.monotonic()))) is not None:
        messages.append(message)
    return messages


# --- Lines that are not messages, and bodies a program does not know -----------------------------------

# Program -> a request of a type it knows but missing a field it needs (answered with error 12).
MISSING_FIELD = {
    "echo": {"type": "echo"},
    "echo_altered": {"type": "echo"},
    "broadcast": {"type": "broadcast"},
    "broadcast_no_retry": {"type": "broadcast"},
    "g_set": {"type": "add"},
    "g_counter": {"type": "add"},
    "g_counter_double": {"type": "add"},
    "pn_counter": {"type": "add"},
    "kafka": {"type": "send", "key": "k1"},
    "kafka_dup_offsets": {"type": "send", "key": "k1"},
    "unique_ids": None,
    "unique_ids_unpersisted": None,
    "lin_kv": None,  # a proxy: it leaves judging requests to lin-kv
    "lin_kv_stale": None,
}
JS_PROGRAMS = {
    "echo",
    "echo_altered",
    "unique_ids",
    "broadcast",
    "broadcast_no_retry",
    "g_set",
    "g_counter",
    "pn_counter",
    "lin_kv",
    "lin_kv_stale",
    "kafka",
}
NOT_MESSAGES = [
    "not json at all",
    "[1, 2]",
    "{}",
    '{"src": "c1", "dest": "n0", "body": "a string"}',
    '{"src": "c1", "dest": "n0", "body": {"type": 7, "msg_id": 2}}',
    '{"src": "c1", "dest": "n0", "body": {"msg_id": 3}}',
    '{"src": "c1", "dest": "n0", "body": {"type": "mystery"}}',  # no msg_id: nothing to answer
    '{"src": "c1", "dest": "n0", "body": {"type": "read_ok", "in_reply_to": 999}}',  # a stray reply
    '{"src": "c1", "dest": "n0", "body": {"type": "error", "code": 1, "in_reply_to": [1]}}',
]


def everything() -> list[Any]:
    params = [pytest.param(name, "python", id=f"python-{name}") for name in MISSING_FIELD]
    params += [
        pytest.param(name, "javascript", id=f"javascript-{name}", marks=requires_node)
        for name in sorted(JS_PROGRAMS)
    ]
    return params


def test_every_program_has_its_javascript_twin_where_one_is_claimed() -> None:
    for name in MISSING_FIELD:
        assert (PROGRAMS / f"{name}.py").is_file(), name
    for name in JS_PROGRAMS:
        assert (PROGRAMS / "js" / f"{name}.js").is_file(), name


@pytest.mark.parametrize(("name", "language"), everything())
def test_a_program_shrugs_off_what_is_not_a_request_it_knows(start, name: str, language: str) -> None:
    program = start(name, language)
    program.init()
    for line in NOT_MESSAGES:
        program.write(line)
    # None of those got an answer: the first thing the program says is its reply to this request.
    assert program.call({"type": "no-such-type", "value": [1]}) == {
        "type": "error",
        "code": 10,
        "text": "no-such-type is not supported",
        "in_reply_to": program.next_msg_id,
    }
    if MISSING_FIELD[name] is not None:
        reply = program.call(MISSING_FIELD[name])
        assert reply["type"] == "error" and reply["code"] == 12, reply
    assert program.call({"type": "topology_ok"})["code"] == 10  # a reply type, sent as a request
    assert program.close() == 0, program.stderr_text()
    assert program.unread() == b""


# --- echo ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", BOTH)
def test_echo_answers_with_what_it_was_sent(start, language: str) -> None:
    program = start("echo", language)
    program.init()
    assert program.call({"type": "echo", "echo": "Please echo 35"}) == {
        "type": "echo_ok",
        "echo": "Please echo 35",
        "in_reply_to": program.next_msg_id,
    }
    assert program.call({"type": "echo", "echo": {"any": ["json", 1]}})["echo"] == {"any": ["json", 1]}
    assert program.close() == 0


@pytest.mark.parametrize("language", BOTH)
def test_the_echo_mutant_alters_the_text(start, language: str) -> None:
    program = start("echo_altered", language)
    program.init()
    reply = program.call({"type": "echo", "echo": "Please echo 35"})
    assert reply["type"] == "echo_ok" and reply["echo"] == "Please echo 35!"


# --- unique-ids ----------------------------------------------------------------------------------------


def generate(program: Program, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        reply = program.call({"type": "generate"})
        assert reply["type"] == "generate_ok", reply
        ids.append(reply["id"])
    return ids


def ids_before_and_after_a_restart(start, name: str, language: str, env: dict[str, str]) -> tuple[list, list]:
    first = start(name, language, env)
    first.init("n0", ("n0", "n1"))
    before = generate(first, 5)
    assert first.close() == 0
    second = start(name, language, env)
    second.init("n0", ("n0", "n1"))
    return before, generate(second, 5)


@pytest.mark.parametrize("language", BOTH)
@pytest.mark.parametrize("with_state_dir", [True, False], ids=["state-dir", "no-state-dir"])
def test_unique_ids_are_unique_across_nodes_and_restarts(
    start, tmp_path: Path, language: str, with_state_dir: bool
) -> None:
    env = {"NETSIM_STATE_DIR": str(tmp_path)} if with_state_dir else {}
    before, after = ids_before_and_after_a_restart(start, "unique_ids", language, env)
    other = start("unique_ids", language, env)
    other.init("n1", ("n0", "n1"))
    elsewhere = generate(other, 5)
    every = before + after + elsewhere
    assert len(set(every)) == len(every), every
    if with_state_dir:
        # The restarted node went on after the block it had leased, and left the lease in its directory.
        assert before[0] == "n0-0" and after[0] == "n0-1000", every
        assert (tmp_path / "unique-ids-n0").read_text() == "2000"


def test_the_unique_ids_mutant_repeats_ids_after_a_restart(start, tmp_path: Path) -> None:
    env = {"NETSIM_STATE_DIR": str(tmp_path)}
    before, after = ids_before_and_after_a_restart(start, "unique_ids_unpersisted", "python", env)
    assert before == after == [f"n0-{count}" for count in range(5)]


# --- broadcast -----------------------------------------------------------------------------------------


def gossip_to(messages: list[dict[str, Any]], peer: str) -> list[Body]:
    return [message["body"] for message in messages if message["dest"] == peer]


def ack(program: Program, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        body = message["body"]
        if "msg_id" in body:
            program.send(message["dest"], {"type": f"{body['type']}_ok", "in_reply_to": body["msg_id"]})


@pytest.mark.parametrize("language", BOTH)
def test_broadcast_gossips_to_its_neighbours_until_they_acknowledge(start, language: str) -> None:
    program = start("broadcast", language)
    program.init("n0", ("n0", "n1", "n2", "n3"))
    topology = {"n0": ["n1", "n2"], "n1": ["n0"], "n2": ["n0", "n3"], "n3": ["n2"]}
    assert program.call({"type": "topology", "topology": topology})["type"] == "topology_ok"
    assert program.call({"type": "broadcast", "message": 1})["type"] == "broadcast_ok"
    assert program.call({"type": "read"})["messages"] == [1]
    # Gossip goes to the neighbours only; n1 acknowledges it, n2 (behind a partition, say) does not.
    first = [program.expect(), program.expect()]
    assert sorted(message["dest"] for message in first) == ["n1", "n2"]
    assert all(
        message["body"]["type"] == "gossip" and message["body"]["messages"] == [1] for message in first
    )
    ack(program, [message for message in first if message["dest"] == "n1"])
    later = collect(program, 0.5)
    assert len(gossip_to(later, "n2")) >= 1 and all(
        body["messages"] == [1] for body in gossip_to(later, "n2")
    )
    assert "n3" not in {message["dest"] for message in later}
    # What n1 gossips is acknowledged, and goes on to n2 but not back to n1.
    assert program.call({"type": "gossip", "messages": [2, 3]}, src="n1")["type"] == "gossip_ok"
    assert sorted(program.call({"type": "read"})["messages"]) == [1, 2, 3]
    # Once n2 acknowledges, the gossip stops.
    quiet = False
    for _ in range(10):
        messages = collect(program, 0.4)
        for body in gossip_to(messages, "n1"):
            assert body["messages"] == [1], body  # at most a resend that crossed n1's acknowledgement
        if not messages:
            quiet = True
            break
        assert all(set(body["messages"]) <= {1, 2, 3} for body in gossip_to(messages, "n2"))
        ack(program, messages)
    assert quiet, "the gossip did not stop once acknowledged"
    assert program.close() == 0


@pytest.mark.parametrize("language", BOTH)
def test_the_broadcast_mutant_gossips_once_and_never_retries(start, language: str) -> None:
    program = start("broadcast_no_retry", language)
    program.init("n0", ("n0", "n1", "n2"))
    topology = {"n0": ["n1", "n2"], "n1": ["n0"], "n2": ["n0"]}
    assert program.call({"type": "topology", "topology": topology})["type"] == "topology_ok"
    assert program.call({"type": "broadcast", "message": 1})["type"] == "broadcast_ok"
    gossip = collect(program, 0.6)  # nobody acknowledges: broadcast.py would have sent it again twice
    assert sorted(message["dest"] for message in gossip) == ["n1", "n2"]
    assert all(message["body"] == {"type": "gossip", "messages": [1]} for message in gossip)
    program.send("n1", {"type": "gossip", "messages": [1, 2]})
    assert program.call({"type": "read"})["messages"] == [1, 2]
    assert [message["dest"] for message in collect(program, 0.3)] == ["n2"]


# --- g-set -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", BOTH)
def test_g_set_replicates_its_elements_to_every_node_until_acknowledged(start, language: str) -> None:
    program = start("g_set", language)
    program.init("n0", ("n0", "n1", "n2"))
    assert program.call({"type": "add", "element": 1})["type"] == "add_ok"
    assert program.call({"type": "add", "element": 2})["type"] == "add_ok"
    assert sorted(program.call({"type": "read"})["value"]) == [1, 2]
    replicas = collect(program, 0.5)
    assert {message["dest"] for message in replicas} == {"n1", "n2"}
    assert all(message["body"]["type"] == "replicate" for message in replicas)
    ack(program, [message for message in replicas if message["dest"] == "n1"])
    # n2 did not acknowledge: it gets the elements again.
    again = gossip_to(collect(program, 0.5), "n2")
    assert again and sorted(again[-1]["elements"]) == [1, 2]
    assert program.call({"type": "replicate", "elements": [3]}, src="n2")["type"] == "replicate_ok"
    assert sorted(program.call({"type": "read"})["value"]) == [1, 2, 3]
    assert program.close() == 0


# --- g-counter -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", BOTH)
def test_g_counter_adds_with_a_cas_loop_on_seq_kv(start, language: str) -> None:
    program = start("g_counter", language)
    program.init("n0", ("n0", "n1"))
    kv = KV()
    assert kv.call(program, {"type": "read"})["value"] == 0  # no counter yet
    assert kv.call(program, {"type": "add", "delta": 3})["type"] == "add_ok"
    cas = [body for _, body in kv.requests if body["type"] == "cas"]
    assert cas == [
        {
            "type": "cas",
            "key": "counter",
            "from": 0,
            "to": 3,
            "create_if_not_exists": True,
            "msg_id": cas[0]["msg_id"],
        }
    ]
    assert {service for service, _ in kv.requests} == {"seq-kv"}
    # Another node adds 10 between this node's read and its cas: the cas fails (22) and it tries again.
    msg_id = program.request({"type": "add", "delta": 5})
    read = program.expect()
    assert read["dest"] == "seq-kv" and read["body"]["type"] == "read"
    program.send("seq-kv", {"type": "read_ok", "value": 3, "in_reply_to": read["body"]["msg_id"]})
    kv.store["counter"] = 13
    [reply] = kv.serve(program)
    assert reply["body"] == {"type": "add_ok", "in_reply_to": msg_id}
    assert kv.store["counter"] == 18
    assert kv.call(program, {"type": "read"})["value"] == 18
    assert program.close() == 0


@pytest.mark.parametrize("language", BOTH)
def test_g_counter_passes_on_a_cas_that_failed_for_good(start, language: str) -> None:
    program = start("g_counter", language)
    program.init()
    msg_id = program.request({"type": "add", "delta": 1})
    read = program.expect()
    program.send("seq-kv", {"type": "read_ok", "value": 0, "in_reply_to": read["body"]["msg_id"]})
    cas = program.expect()
    assert cas["body"]["type"] == "cas"
    program.send(
        "seq-kv", {"type": "error", "code": 13, "text": "crashed", "in_reply_to": cas["body"]["msg_id"]}
    )
    reply = program.reply_to(msg_id)
    assert reply["type"] == "error" and reply["code"] == 13


def test_the_g_counter_mutant_counts_each_delta_twice(start) -> None:
    program = start("g_counter_double", "python")
    program.init()
    kv = KV()
    assert kv.call(program, {"type": "add", "delta": 3})["type"] == "add_ok"
    assert kv.call(program, {"type": "add", "delta": 4})["type"] == "add_ok"
    assert kv.call(program, {"type": "read"})["value"] == 14 == kv.store["counter"]


# --- pn-counter ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", BOTH)
def test_pn_counter_merges_gossiped_state(start, language: str) -> None:
    program = start("pn_counter", language)
    program.init("n0", ("n0", "n1"))
    assert program.call({"type": "add", "delta": 5})["type"] == "add_ok"
    assert program.call({"type": "add", "delta": -2})["type"] == "add_ok"
    assert program.call({"type": "read"})["value"] == 3
    # The whole state goes to n1 every round (one round may have gone out between the two adds).
    gossip = collect(program, 0.5)
    assert gossip and {message["dest"] for message in gossip} == {"n1"}
    assert gossip[-1]["body"] == {"type": "replicate", "increments": {"n0": 5}, "decrements": {"n0": 2}}
    program.send("n1", {"type": "replicate", "increments": {"n1": 10}, "decrements": {"n1": 1}})
    program.send("n1", {"type": "replicate", "increments": {"n0": 1, "n1": 4}, "decrements": {}})  # older
    assert program.call({"type": "read"})["value"] == 12
    assert program.call({"type": "add", "delta": 1.5})["code"] == 12
    assert program.close() == 0


# --- lin-kv ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", BOTH)
def test_lin_kv_relays_requests_and_replies_errors_included(start, language: str) -> None:
    program = start("lin_kv", language)
    program.init()
    kv = KV()
    assert kv.call(program, {"type": "read", "key": 1}) == {
        "type": "error",
        "code": 20,
        "text": "key does not exist",
        "in_reply_to": program.next_msg_id,
    }
    assert kv.call(program, {"type": "write", "key": 1, "value": 7})["type"] == "write_ok"
    assert kv.call(program, {"type": "read", "key": 1})["value"] == 7
    assert kv.call(program, {"type": "cas", "key": 1, "from": 2, "to": 3})["code"] == 22
    assert kv.call(program, {"type": "cas", "key": 1, "from": 7, "to": 8})["type"] == "cas_ok"
    assert kv.call(program, {"type": "read", "key": 1})["value"] == 8
    assert [service for service, _ in kv.requests] == ["lin-kv"] * 6
    assert kv.requests[3][1]["from"] == 2 and "in_reply_to" not in kv.requests[3][1]
    assert program.close() == 0


@pytest.mark.parametrize("language", BOTH)
def test_the_lin_kv_mutant_serves_the_first_value_it_read_forever(start, language: str) -> None:
    program = start("lin_kv_stale", language)
    program.init()
    kv = KV()
    kv.store[1] = 7
    assert kv.call(program, {"type": "read", "key": 1})["value"] == 7
    assert kv.call(program, {"type": "write", "key": 1, "value": 8})["type"] == "write_ok"
    assert kv.store[1] == 8
    assert kv.call(program, {"type": "read", "key": 1})["value"] == 7
    assert [body["type"] for _, body in kv.requests] == ["read", "write"]


# --- kafka -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", BOTH)
def test_kafka_keeps_logs_and_committed_offsets_in_lin_kv(start, language: str) -> None:
    program = start("kafka", language)
    program.init()
    kv = KV()
    assert kv.call(program, {"type": "send", "key": "k1", "msg": 10})["offset"] == 0
    assert kv.call(program, {"type": "send", "key": "k1", "msg": 11})["offset"] == 1
    assert kv.call(program, {"type": "send", "key": "k2", "msg": 20})["offset"] == 0
    assert kv.store == {"log-k1": [10, 11], "log-k2": [20]}
    polled = kv.call(program, {"type": "poll", "offsets": {"k1": 1, "k2": 0, "k3": 0}})
    assert polled["type"] == "poll_ok"
    assert polled["msgs"] == {"k1": [[1, 11]], "k2": [[0, 20]], "k3": []}
    assert kv.call(program, {"type": "commit_offsets", "offsets": {"k1": 1}})["type"] == "commit_offsets_ok"
    listed = kv.call(program, {"type": "list_committed_offsets", "keys": ["k1", "k2"]})
    assert listed == {
        "type": "list_committed_offsets_ok",
        "offsets": {"k1": 1},
        "in_reply_to": program.next_msg_id,
    }
    assert {service for service, _ in kv.requests} == {"lin-kv"}
    assert program.close() == 0


def concurrent_sends(program: Program, kv: KV) -> list[int]:
    """Two sends to one key, both read before either appends; the offsets they are given."""
    first = program.request({"type": "send", "key": "k1", "msg": "a"})
    second = program.request({"type": "send", "key": "k1", "msg": "b"})
    replies = {message["body"]["in_reply_to"]: message["body"] for message in kv.serve(program, replies=2)}
    return [replies[first]["offset"], replies[second]["offset"]]


@pytest.mark.parametrize("language", BOTH)
def test_kafka_gives_overlapping_sends_distinct_offsets(start, language: str) -> None:
    program = start("kafka", language)
    program.init()
    kv = KV()
    assert concurrent_sends(program, kv) == [0, 1]
    assert kv.store["log-k1"] == ["a", "b"]
    errors = [body for _, body in kv.requests if body["type"] == "cas"]
    assert len(errors) == 3  # the second send's first cas failed (22), its second one went through


def test_the_kafka_mutant_gives_overlapping_sends_one_offset(start) -> None:
    program = start("kafka_dup_offsets", "python")
    program.init()
    kv = KV()
    assert concurrent_sends(program, kv) == [0, 0]
    assert kv.store["log-k1"] == ["b"]
    assert "cas" not in {body["type"] for _, body in kv.requests}
