"""``lin-kv`` and ``lin-tso``: the services that apply every request at once, in the order they arrive.

``lin-kv`` holds one current value per key; a read returns it, a write replaces it, a cas compares
with it and replaces it in the same step. Since the host hands requests to ``handle`` one at a time
and each takes effect inside that call, between the request's arrival and its reply, every history
of its clients is linearizable. ``lin-tso`` hands out 0, 1, 2, ... : each ``ts`` is greater than
every one handed out before it, to any client.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from netsim.workloads.services.requests import (
    ABSENT,
    CAS_OK,
    WRITE_OK,
    Body,
    KeyValueService,
    KvRequest,
    answer,
    cas_refusal,
    read_reply,
    unknown_type,
)


class LinearizableKV(KeyValueService):
    """Maelstrom's ``lin-kv``. ``rng`` is taken so that every service is built alike; this one
    makes no choice."""

    name: ClassVar[str] = "lin-kv"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._values: dict[str, Any] = {}  # by the key's canonical JSON

    def apply(self, src: str, request: KvRequest, now_ns: int) -> Body:
        current = self._values.get(request.key_id, ABSENT)
        if request.op == "read":
            return read_reply(request, current)
        if request.op == "cas":
            refusal = cas_refusal(request, current)
            if refusal is not None:
                return refusal
        self._values[request.key_id] = request.value
        return WRITE_OK if request.op == "write" else CAS_OK


class TimestampOracle:
    """Maelstrom's ``lin-tso``: ``ts`` -> ``ts_ok {ts}``, from 0 up by one. ``rng`` is taken so that
    every service is built alike; this one makes no choice."""

    name: ClassVar[str] = "lin-tso"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._next_ts = 0

    def handle(self, src: str, body: Body, now_ns: int) -> Body | None:
        if body.get("type") != "ts":
            return answer(unknown_type(self.name, body.get("type"), ("ts",)), body)
        ts = self._next_ts
        self._next_ts += 1
        return answer({"type": "ts_ok", "ts": ts}, body)
