"""``seq-kv``: a sequentially consistent key-value store, as Maelstrom's: writes in one order that every
client agrees on, reads that may lag behind it but never go back.

The store is a sequence of states: S0 is empty, and each write, and each cas that applies, makes the
next state from the latest one. Each client (a request's ``src``) has a *floor*: the newest state it
has been shown, 0 until its first request.

- ``write`` and ``cas`` act on the latest state (a cas compares ``from`` with the key's value there)
  and raise the client's floor to the latest state: the one they made, or the one a refused cas saw.
- ``read`` shows the client one state between its floor and the latest: the rng picks, uniformly,
  one of the key's *versions* those states hold (the value the key had in the floor's state, then each
  value written to it since, "does not exist" counting as a version before its first write), and the
  floor rises to the state that wrote the picked version, if that is newer.
- Only the last ``history_writes`` writes (to any key) can be read past: a floor older than
  ``latest - history_writes`` is taken as that. ``history_writes=0`` makes the store linearizable.

So what may be stale is a read, and only a read: it may miss writes other clients made after its
floor, at most the last ``history_writes`` writes. It never misses the client's own writes and cas
(they are at or below its floor), and never goes back behind anything the client has read: the floor
spans all keys, so once a client has read a value, every later read of any key shows a state at least
as new as the one that value came from. Placing each operation at its state (a read at the state it
was shown, after the write that made that state) gives one total order that keeps every client's own
order: that is sequential consistency.

Memory: each key keeps its versions newer than ``latest - history_writes`` plus the one in effect
then; in all, one value per key plus at most ``history_writes`` older ones.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import deque
from typing import ClassVar

from netsim.workloads.services.requests import (
    ABSENT,
    CAS_OK,
    WRITE_OK,
    Body,
    KeyValueService,
    KvRequest,
    Stored,
    cas_refusal,
    missing_key,
    read_reply,
)

DEFAULT_HISTORY_WRITES = 32  # Maelstrom keeps 32 states


class _Versions:
    """One key's versions, oldest first: ``values[i]`` is its value from state ``states[i]`` on."""

    __slots__ = ("states", "values")

    def __init__(self) -> None:
        self.states: list[int] = [0]
        self.values: list[Stored] = [ABSENT]


class SequentialKV(KeyValueService):
    """Maelstrom's ``seq-kv``; ``rng`` picks the version each read returns."""

    name: ClassVar[str] = "seq-kv"

    def __init__(self, rng: random.Random, history_writes: int = DEFAULT_HISTORY_WRITES) -> None:
        if history_writes < 0:
            raise ValueError(f"history_writes must be 0 or more, not {history_writes}")
        self.rng = rng
        self.history_writes = history_writes
        self._latest = 0  # the latest state's number
        self._keys: dict[str, _Versions] = {}  # by the key's canonical JSON
        self._floors: dict[str, int] = {}  # by client
        # The writes whose older versions are still kept, oldest first: (state, key).
        self._recent_writes: deque[tuple[int, str]] = deque()

    @property
    def latest_state(self) -> int:
        return self._latest

    @property
    def horizon(self) -> int:
        """The oldest state a read may still be shown."""
        return max(0, self._latest - self.history_writes)

    def floor(self, src: str) -> int:
        """The oldest state ``src``'s next read may be shown."""
        return max(self._floors.get(src, 0), self.horizon)

    def apply(self, src: str, request: KvRequest, now_ns: int) -> Body:
        versions = self._keys.get(request.key_id)
        if request.op == "read":
            if versions is None:  # never written: absent in every state
                return missing_key(request)
            return self._read(src, request, versions)
        current = ABSENT if versions is None else versions.values[-1]
        if request.op == "cas":
            refusal = cas_refusal(request, current)
            if refusal is not None:
                self._floors[src] = self._latest
                return refusal
        self._write(request.key_id, request.value)
        self._floors[src] = self._latest
        return WRITE_OK if request.op == "write" else CAS_OK

    def _read(self, src: str, request: KvRequest, versions: _Versions) -> Body:
        floor = self.floor(src)
        oldest = bisect_right(versions.states, floor) - 1  # the version in effect at the floor
        newest = len(versions.states) - 1
        picked = newest if oldest == newest else self.rng.randint(oldest, newest)
        self._floors[src] = max(floor, versions.states[picked])
        return read_reply(request, versions.values[picked])

    def _write(self, key_id: str, value: Stored) -> None:
        self._latest += 1
        versions = self._keys.get(key_id)
        if versions is None:
            versions = self._keys[key_id] = _Versions()
        versions.states.append(self._latest)
        versions.values.append(value)
        self._recent_writes.append((self._latest, key_id))
        self._forget_before(self.horizon)

    def _forget_before(self, horizon: int) -> None:
        """Drops the versions no read can be shown any more: those replaced at or before ``horizon``."""
        recent = self._recent_writes
        while recent and recent[0][0] <= horizon:
            versions = self._keys[recent.popleft()[1]]
            in_effect = bisect_right(versions.states, horizon) - 1
            if in_effect > 0:
                del versions.states[:in_effect]
                del versions.values[:in_effect]

    def retained_versions(self) -> int:
        """How many versions the store holds, over all keys (for tests of its memory bound)."""
        return sum(len(versions.states) for versions in self._keys.values())
