"""The shaper of one direction of one link: pure decisions, no sockets, no clock of its own.

For each message the node is about to send, ``decide(now_ns, nbytes)`` says whether it is dropped
(and why) or when each copy leaves the sender's socket. The node holds delayed messages in its event
loop's timer queue and calls ``released(nbytes)`` as each copy goes to the kernel, so the queue
limit counts what is really waiting. Every random choice comes from the shaper's own
``random.Random``, seeded from the run's seed and the link direction, and every message draws the
same number of values, so two runs with the same seed drop and duplicate the same messages.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from netsim.shaping.conditions import Conditions

DROP_LOSS = "loss"
DROP_QUEUE = "queue"
DROP_PARTITION = "partition"
DROP_LINK_DOWN = "link-down"


class Verdict(NamedTuple):
    """What happens to one message: dropped (``drop`` is the reason) or sent at ``release_ns`` times.

    ``release_ns`` has two entries when the message is duplicated, and ``delay_ns`` is the delay of
    the first copy (what the trace's ``delay`` event reports). A named tuple, made on the send path
    of every shaped message: a frozen dataclass cost about a microsecond more per message.
    """

    drop: str | None
    release_ns: tuple[int, ...] = ()
    delay_ns: int = 0
    reordered: bool = False

    @property
    def duplicated(self) -> bool:
        return len(self.release_ns) > 1


def _passed(release_ns: tuple[int, ...], delay_ns: int, reordered: bool) -> Verdict:
    # tuple.__new__ skips the generated __new__'s argument handling: the hot path's constructor.
    return tuple.__new__(Verdict, (None, release_ns, delay_ns, reordered))  # type: ignore[return-value]


_DROPPED = {reason: Verdict(reason) for reason in (DROP_LOSS, DROP_QUEUE, DROP_PARTITION, DROP_LINK_DOWN)}


class LinkShaper:
    def __init__(self, conditions: Conditions, *, seed: str, ordered: bool) -> None:
        """``ordered``: a stream or seqpacket link, whose messages must leave in the order sent."""
        self.conditions = conditions
        self.ordered = ordered
        self.rng = random.Random(seed)
        self._block_reasons: list[str] = []  # DROP_PARTITION / DROP_LINK_DOWN while a fault holds
        self.waiting_messages = 0
        self.waiting_bytes = 0
        self._wire_free_ns = 0  # when the link finishes serializing what it has taken so far
        self._last_release_ns = 0

    def decide(self, now_ns: int, nbytes: int) -> Verdict:
        c = self.conditions
        rng = self.rng
        # Always five draws, whatever is configured: decisions stay aligned across runs and settings.
        loss_draw, jitter_draw, reorder_draw, duplicate_draw, duplicate_jitter_draw = (
            rng.random(),
            rng.random(),
            rng.random(),
            rng.random(),
            rng.random(),
        )
        if self._block_reasons:
            return _DROPPED[self._block_reasons[0]]
        if loss_draw < c.loss:
            return _DROPPED[DROP_LOSS]
        if (c.queue_messages is not None and self.waiting_messages >= c.queue_messages) or (
            c.queue_bytes is not None and self.waiting_bytes + nbytes > c.queue_bytes
        ):
            return _DROPPED[DROP_QUEUE]

        start_ns = now_ns
        if c.bandwidth_bps is not None:
            # Messages queue behind each other for the wire, then propagate.
            start_ns = max(now_ns, self._wire_free_ns) + round(nbytes * 8 / c.bandwidth_bps * 1e9)
            self._wire_free_ns = start_ns
        release_ns = start_ns + c.latency_ns + self._jitter(jitter_draw)
        reordered = False
        if c.reorder and reorder_draw < c.reorder:
            # Held back by one more latency (at least 1 ms) so that later messages overtake it.
            release_ns += max(c.latency_ns, 1_000_000)
            reordered = True
        if self.ordered:
            release_ns = max(release_ns, self._last_release_ns)
        self._last_release_ns = max(self._last_release_ns, release_ns)
        releases = (release_ns,)
        if c.duplicate and duplicate_draw < c.duplicate:
            second = release_ns + self._jitter(duplicate_jitter_draw)
            if self.ordered:
                second = max(second, release_ns)
            releases = (release_ns, second)
        copies = len(releases)
        self.waiting_messages += copies
        self.waiting_bytes += nbytes * copies
        return _passed(releases, release_ns - now_ns, reordered)

    @property
    def blocked(self) -> str | None:
        """Why the link drops everything now (the first fault still holding), or None."""
        return self._block_reasons[0] if self._block_reasons else None

    def block(self, reason: str) -> None:
        if reason not in self._block_reasons:
            self._block_reasons.append(reason)

    def unblock(self, reason: str) -> None:
        if reason in self._block_reasons:
            self._block_reasons.remove(reason)

    def released(self, nbytes: int) -> None:
        """One copy left the shaper for the kernel (or was discarded)."""
        self.waiting_messages -= 1
        self.waiting_bytes -= nbytes

    def _jitter(self, draw: float) -> int:
        jitter = self.conditions.jitter_ns
        if not jitter:
            return 0
        # Uniform in [-jitter, +jitter], never below zero total delay.
        return max(-self.conditions.latency_ns, round((2 * draw - 1) * jitter))
