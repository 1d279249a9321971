"""``lww-kv``: an eventually consistent key-value store whose replicas agree, after a delay, on the last
write.

The store is ``replicas`` copies (3 by default). Each request goes to one replica the rng picks,
afresh for every request:

- ``write`` is taken by its replica at once, and reaches every other replica ``convergence_ns``
  later (100 ms by default).
- ``read`` returns the key's value at its replica: the last of the writes that replica has, "last"
  meaning the latest taken (by ``now_ns``, then by arrival for writes taken at the same time). A key
  no write has reached yet at that replica does not exist there (error 20).
- ``cas`` compares ``from`` with its replica's value, as a read would, and when equal (or when the
  key is missing there and ``create_if_not_exists`` is true) writes ``to`` as a write taken by that
  replica. It is not atomic across replicas: two clients' cas from the same value can both succeed
  on two replicas, and once both have spread the later one wins; a cas may also fail on a replica
  that has not seen the value another replica already holds.

So what may be stale is any read, and a cas's comparison: at ``now_ns`` they may miss the writes other
replicas took in the last ``convergence_ns`` (never older ones), and two reads in a row, even by one
client, may go back in time when they hit different replicas. Each replica's own view only moves
forward. Once ``convergence_ns`` has passed since the last write to a key, every replica returns
that write. ``convergence_ns=0`` makes the store linearizable.

Time comes from the host as ``now_ns``; a ``now_ns`` older than one seen before is taken as that
one, so the store's time never goes back.

Memory: each key keeps its last write that every replica has, and the writes of the last
``convergence_ns``.
"""

from __future__ import annotations

import random
from collections import deque
from typing import ClassVar, NamedTuple

from netsim.workloads.services.requests import (
    ABSENT,
    CAS_OK,
    WRITE_OK,
    Body,
    KeyValueService,
    KvRequest,
    Stored,
    cas_refusal,
    read_reply,
)

DEFAULT_REPLICAS = 3
DEFAULT_CONVERGENCE_NS = 100_000_000


class _Write(NamedTuple):
    taken_ns: int
    replica: int
    value: Stored


class LastWriteWinsKV(KeyValueService):
    """Maelstrom's ``lww-kv``; ``rng`` picks the replica each request goes to."""

    name: ClassVar[str] = "lww-kv"

    def __init__(
        self,
        rng: random.Random,
        replicas: int = DEFAULT_REPLICAS,
        convergence_ns: int = DEFAULT_CONVERGENCE_NS,
    ) -> None:
        if replicas < 1:
            raise ValueError(f"replicas must be 1 or more, not {replicas}")
        if convergence_ns < 0:
            raise ValueError(f"convergence_ns must be 0 or more, not {convergence_ns}")
        self.rng = rng
        self.replicas = replicas
        self.convergence_ns = convergence_ns
        self._now_ns: int | None = None
        # Each key's writes, in the order they were taken (which is the order of last-write-wins).
        self._writes: dict[str, list[_Write]] = {}
        # The writes not yet known to every replica, oldest first: (taken_ns, key).
        self._spreading: deque[tuple[int, str]] = deque()

    def apply(self, src: str, request: KvRequest, now_ns: int) -> Body:
        if self._now_ns is None or now_ns > self._now_ns:
            self._now_ns = now_ns
        now_ns = self._now_ns
        self._forget_before(now_ns - self.convergence_ns)
        replica = self.rng.randrange(self.replicas)
        if request.op == "write":
            self._take(request.key_id, _Write(now_ns, replica, request.value))
            return WRITE_OK
        current = self.value_at(replica, request.key_id, now_ns)
        if request.op == "read":
            return read_reply(request, current)
        refusal = cas_refusal(request, current)
        if refusal is not None:
            return refusal
        self._take(request.key_id, _Write(now_ns, replica, request.value))
        return CAS_OK

    def value_at(self, replica: int, key_id: str, now_ns: int) -> Stored:
        """What ``replica`` holds for a key (by its canonical JSON) at ``now_ns`` (ABSENT: nothing)."""
        spread_by = now_ns - self.convergence_ns  # a write taken by then is on every replica
        for write in reversed(self._writes.get(key_id, ())):
            if write.replica == replica or write.taken_ns <= spread_by:
                return write.value
        return ABSENT

    def _take(self, key_id: str, write: _Write) -> None:
        self._writes.setdefault(key_id, []).append(write)
        self._spreading.append((write.taken_ns, key_id))

    def _forget_before(self, spread_by: int) -> None:
        """Drops the writes every replica has replaced: older than the last one taken by ``spread_by``."""
        spreading = self._spreading
        while spreading and spreading[0][0] <= spread_by:
            writes = self._writes[spreading.popleft()[1]]
            spread = 0
            while spread + 1 < len(writes) and writes[spread + 1].taken_ns <= spread_by:
                spread += 1
            del writes[:spread]

    def retained_writes(self) -> int:
        """How many writes the store holds, over all keys (for tests of its memory bound)."""
        return sum(len(writes) for writes in self._writes.values())
