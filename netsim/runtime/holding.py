"""Messages a shaped link holds back: the release queue a node's event loop serves like its timers."""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True, slots=True)
class HeldMessage:
    release_ns: int
    sequence: int
    peer: str = field(compare=False)
    payload: bytes = field(compare=False)
    outgoing: Any = field(compare=False)
    wire_bytes: int = field(compare=False)


class ReleaseQueue:
    """A heap of held messages by release time (ties keep send order), with a count per peer."""

    def __init__(self) -> None:
        self._heap: list[HeldMessage] = []
        self._sequence = 0
        self.held_per_peer: Counter[str] = Counter()

    def __bool__(self) -> bool:
        return bool(self._heap)

    def hold(self, release_ns: int, peer: str, payload: bytes, outgoing: Any, wire_bytes: int) -> None:
        self._sequence += 1
        heapq.heappush(
            self._heap, HeldMessage(release_ns, self._sequence, peer, payload, outgoing, wire_bytes)
        )
        self.held_per_peer[peer] += 1

    @property
    def next_release_ns(self) -> int | None:
        return self._heap[0].release_ns if self._heap else None

    def pop_due(self, now_ns: int) -> list[HeldMessage]:
        due = []
        heap = self._heap
        while heap and heap[0].release_ns <= now_ns:
            held = heapq.heappop(heap)
            self.held_per_peer[held.peer] -= 1
            due.append(held)
        return due

    def pop_all(self) -> list[HeldMessage]:
        """Everything still held, in release order (the run is ending: cut the delays short)."""
        return self.pop_due(2**63)
