"""What a workload's clients ask, in Maelstrom's message shapes, and what each reply means: pure.

For each workload a ``Workload`` says which operations a client invokes (``next_op``: the operation's
``f``, its ``value`` as the history records it, and the request body to send), what an ``ok`` reply
gives (``result``: the history's completion value), whether the run ends with final reads (one per
server node, after the time limit and a pause for the system to settle), and what a client sends every
node before the workload starts (broadcast's ``topology``). The shapes follow Maelstrom's
doc/workloads.md; the history's ``value`` and ``result`` shapes are documented in
``netsim.workloads.history`` and ``docs/workloads.md``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Keys a kv or kafka workload uses: few, so that operations on one key overlap.
KV_KEYS = 5
KAFKA_KEYS = 3
# Values written to a kv key come from this range: collisions make stale reads visible.
KV_VALUES = 5


@dataclass(frozen=True, slots=True)
class Invocation:
    f: str
    value: Any
    body: dict[str, Any]


class Workload:
    """A workload's operations. One instance per client, seeded by the run and the client's name."""

    name = ""
    # Final reads: once the time limit has passed, every server node is read once more.
    final_reads = False

    def __init__(self, rng: random.Random, client: str, nodes: list[str]) -> None:
        self.rng = rng
        self.client = client
        self.nodes = nodes

    def setup(self, node: str, topology: dict[str, list[str]]) -> dict[str, Any] | None:
        """What to send ``node`` before the first operation (its reply is awaited), or None."""
        return None

    def next_op(self) -> Invocation:
        raise NotImplementedError

    def final_read(self) -> Invocation:
        return Invocation("read", None, {"type": "read"})

    def result(self, invocation: Invocation, reply: dict[str, Any]) -> Any:
        """The history's completion value of an ``ok`` reply."""
        return None


class Echo(Workload):
    name = "echo"

    def next_op(self) -> Invocation:
        text = f"Please echo {self.rng.randrange(1 << 30)}"
        return Invocation("echo", text, {"type": "echo", "echo": text})

    def result(self, invocation: Invocation, reply: dict[str, Any]) -> Any:
        return reply.get("echo")


class UniqueIds(Workload):
    name = "unique-ids"

    def next_op(self) -> Invocation:
        return Invocation("generate", None, {"type": "generate"})

    def result(self, invocation: Invocation, reply: dict[str, Any]) -> Any:
        return reply.get("id")


class _Counting:
    """Values for broadcast and g-set: unique across clients (client number in the low digits)."""

    def __init__(self, client: str) -> None:
        self.offset = int(client.lstrip("c") or 0)
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return self.count * 1000 + self.offset


class Broadcast(Workload):
    name = "broadcast"
    final_reads = True

    def __init__(self, rng: random.Random, client: str, nodes: list[str]) -> None:
        super().__init__(rng, client, nodes)
        self.values = _Counting(client)

    def setup(self, node: str, topology: dict[str, list[str]]) -> dict[str, Any] | None:
        return {"type": "topology", "topology": topology}

    def next_op(self) -> Invocation:
        if self.rng.random() < 0.5:
            value = self.values.next()
            return Invocation("broadcast", value, {"type": "broadcast", "message": value})
        return Invocation("read", None, {"type": "read"})

    def result(self, invocation: Invocation, reply: dict[str, Any]) -> Any:
        return reply.get("messages") if invocation.f == "read" else None


class GSet(Workload):
    name = "g-set"
    final_reads = True

    def __init__(self, rng: random.Random, client: str, nodes: list[str]) -> None:
        super().__init__(rng, client, nodes)
        self.values = _Counting(client)

    def next_op(self) -> Invocation:
        if self.rng.random() < 0.5:
            value = self.values.next()
            return Invocation("add", value, {"type": "add", "element": value})
        return Invocation("read", None, {"type": "read"})

    def result(self, invocation: Invocation, reply: dict[str, Any]) -> Any:
        return reply.get("value") if invocation.f == "read" else None


class GCounter(Workload):
    name = "g-counter"
    final_reads = True
    negative = False

    def next_op(self) -> Invocation:
        if self.rng.random() < 0.5:
            low = -5 if self.negative else 0
            delta = self.rng.randint(low, 5)
            return Invocation("add", delta, {"type": "add", "delta": delta})
        return Invocation("read", None, {"type": "read"})

    def result(self, invocation: Invocation, reply: dict[str, Any]) -> Any:
        return reply.get("value") if invocation.f == "read" else None


class PNCounter(GCounter):
    name = "pn-counter"
    negative = True


class LinKv(Workload):
    """History values: read [key, None] -> [key, value]; write [key, value]; cas [key, [from, to]]."""

    name = "lin-kv"

    def next_op(self) -> Invocation:
        key = self.rng.randrange(KV_KEYS)
        roll = self.rng.random()
        if roll < 0.4:
            return Invocation("read", [key, None], {"type": "read", "key": key})
        if roll < 0.7:
            value = self.rng.randrange(KV_VALUES)
            return Invocation("write", [key, value], {"type": "write", "key": key, "value": value})
        old, new = self.rng.randrange(KV_VALUES), self.rng.randrange(KV_VALUES)
        return Invocation("cas", [key, [old, new]], {"type": "cas", "key": key, "from": old, "to": new})

    def result(self, invocation: Invocation, reply: dict[str, Any]) -> Any:
        if invocation.f == "read":
            return [invocation.value[0], reply.get("value")]
        return invocation.value


class Kafka(Workload):
    """History values: send [key, msg] -> offset; poll {key: offset} -> {key: [[offset, msg], ...]};
    commit_offsets {key: offset}; list_committed_offsets [keys] -> {key: offset}."""

    name = "kafka"

    def __init__(self, rng: random.Random, client: str, nodes: list[str]) -> None:
        super().__init__(rng, client, nodes)
        self.values = _Counting(client)
        # What this client has seen of each key, so that polls and commits move forward.
        self.seen: dict[str, int] = {}

    def next_op(self) -> Invocation:
        key = str(self.rng.randrange(KAFKA_KEYS))
        roll = self.rng.random()
        if roll < 0.5:
            msg = self.values.next()
            return Invocation("send", [key, msg], {"type": "send", "key": key, "msg": msg})
        if roll < 0.8:
            offsets = {key: self.seen.get(key, 0)}
            return Invocation("poll", offsets, {"type": "poll", "offsets": offsets})
        if roll < 0.9 and key in self.seen:
            offsets = {key: self.seen[key]}
            return Invocation("commit_offsets", offsets, {"type": "commit_offsets", "offsets": offsets})
        keys = [key]
        return Invocation("list_committed_offsets", keys, {"type": "list_committed_offsets", "keys": keys})

    def result(self, invocation: Invocation, reply: dict[str, Any]) -> Any:
        if invocation.f == "send":
            return reply.get("offset")
        if invocation.f == "poll":
            msgs = reply.get("msgs")
            if isinstance(msgs, dict):
                for key, pairs in msgs.items():
                    if isinstance(pairs, list) and pairs and isinstance(pairs[-1], list) and pairs[-1]:
                        last = pairs[-1][0]
                        if isinstance(last, int):
                            self.seen[key] = max(self.seen.get(key, 0), last + 1)
            return msgs
        if invocation.f == "list_committed_offsets":
            return reply.get("offsets")
        return None


WORKLOADS: dict[str, Callable[[random.Random, str, list[str]], Workload]] = {
    workload.name: workload
    for workload in (Echo, UniqueIds, Broadcast, GSet, GCounter, PNCounter, LinKv, Kafka)
}
