"""The shaper of one direction of one link: pure decisions, no sockets, no clock of its own.

For each message the node is about to send, ``decide(now_ns, nbytes)`` says whether it is dropped
(and why) or when each copy leaves the sender's socket. The node holds delayed messages in its event
loop's timer queue and calls ``released(nbytes)`` as each copy goes to the kernel, so the queue
limit counts what is really waiting. Every random choice comes from the shaper's own
``random.Random``, seeded from the run's seed and the link direction, and every message draws the
same bits (``DRAW_BITS``, one call: five 32-bit draws for loss, jitter, reorder, duplicate and the
duplicate's jitter), so two runs with the same seed drop and duplicate the same messages, and changing
one setting does not shift the others' decisions.

A link whose conditions delay nothing (no latency, jitter, bandwidth, reordering or duplication: loss
and queue limits only) is ``instant``: while nothing of it is held, ``admit`` decides a message with
the same draws as ``decide`` and no bookkeeping, since the message goes straight to the kernel.
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


# Each message's randomness: five 32-bit words, drawn with one call.
WORD_BITS = 32
DRAW_BITS = 5 * WORD_BITS
_WORD = (1 << WORD_BITS) - 1
_WORD_SCALE = 1.0 / (1 << WORD_BITS)


def _below(probability: float) -> int:
    """The word values under which an event of ``probability`` happens (0 never, 2**32 always)."""
    return round(probability * (1 << WORD_BITS))


class LinkShaper:
    def __init__(self, conditions: Conditions, *, seed: str, ordered: bool) -> None:
        """``ordered``: a stream or seqpacket link, whose messages must leave in the order sent."""
        self.ordered = ordered
        self.rng = random.Random(seed)
        # A message's draw: draw(DRAW_BITS), once per message sent, whatever the conditions, so that each
        # message keeps its own bits (a link that gains loss drops the same messages in every run).
        self.draw = self.rng.getrandbits
        self._block_reasons: list[str] = []  # DROP_PARTITION / DROP_LINK_DOWN while a fault holds
        # True while admit() cannot drop anything (no loss, no fault, no queue that refuses): the caller
        # then takes the message's draw itself and skips admit.
        self.admits_all = False
        self.waiting_messages = 0
        self.waiting_bytes = 0
        self._wire_free_ns = 0  # when the link finishes serializing what it has taken so far
        self._last_release_ns = 0
        self.conditions = conditions

    @property
    def conditions(self) -> Conditions:
        return self._conditions

    @conditions.setter
    def conditions(self, conditions: Conditions) -> None:
        self._conditions = conditions
        self._loss_below = _below(conditions.loss)
        self._reorder_below = _below(conditions.reorder)
        self._duplicate_below = _below(conditions.duplicate)
        # admit() runs with nothing waiting, where only an empty queue or a message larger than the whole
        # byte limit is refused: a limit that cannot refuse then is not checked per message.
        self._queue_limited = conditions.queue_messages == 0 or conditions.queue_bytes is not None
        self.instant = (
            conditions.latency_ns == 0
            and conditions.jitter_ns == 0
            and conditions.bandwidth_bps is None
            and not conditions.reorder
            and not conditions.duplicate
        )
        self._update_admits_all()

    def _update_admits_all(self) -> None:
        self.admits_all = not self._block_reasons and self._loss_below == 0 and not self._queue_limited

    def admit(self, nbytes: int) -> str | None:
        """For an ``instant`` link with nothing held: why the message is dropped, or None if it goes to
        the kernel now. Draws what ``decide`` draws; counts nothing as waiting, as nothing waits."""
        bits = self.draw(DRAW_BITS)
        if self._block_reasons or (bits & _WORD) < self._loss_below or self._queue_limited:
            return self._drop_reason(bits, nbytes)
        return None

    def _drop_reason(self, bits: int, nbytes: int) -> str | None:
        """Why a message with these draws is dropped before any delay: a fault, loss, or a full queue."""
        if self._block_reasons:
            return self._block_reasons[0]
        if (bits & _WORD) < self._loss_below:
            return DROP_LOSS
        c = self._conditions
        if (c.queue_messages is not None and self.waiting_messages >= c.queue_messages) or (
            c.queue_bytes is not None and self.waiting_bytes + nbytes > c.queue_bytes
        ):
            return DROP_QUEUE
        return None

    def decide(self, now_ns: int, nbytes: int) -> Verdict:
        # The same bits whatever is configured: decisions stay aligned across runs and settings.
        bits = self.draw(DRAW_BITS)
        drop = self._drop_reason(bits, nbytes)
        if drop is not None:
            return _DROPPED[drop]
        c = self._conditions
        jitter_draw = ((bits >> WORD_BITS) & _WORD) * _WORD_SCALE
        reorder_word = (bits >> 2 * WORD_BITS) & _WORD
        duplicate_word = (bits >> 3 * WORD_BITS) & _WORD
        duplicate_jitter_draw = (bits >> 4 * WORD_BITS) * _WORD_SCALE

        start_ns = now_ns
        if c.bandwidth_bps is not None:
            # Messages queue behind each other for the wire, then propagate.
            start_ns = max(now_ns, self._wire_free_ns) + round(nbytes * 8 / c.bandwidth_bps * 1e9)
            self._wire_free_ns = start_ns
        release_ns = start_ns + c.latency_ns + self._jitter(jitter_draw)
        reordered = False
        if reorder_word < self._reorder_below:
            # Held back by one more latency (at least 1 ms) so that later messages overtake it.
            release_ns += max(c.latency_ns, 1_000_000)
            reordered = True
        if self.ordered:
            release_ns = max(release_ns, self._last_release_ns)
        self._last_release_ns = max(self._last_release_ns, release_ns)
        releases = (release_ns,)
        if duplicate_word < self._duplicate_below:
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
        self._update_admits_all()

    def unblock(self, reason: str) -> None:
        if reason in self._block_reasons:
            self._block_reasons.remove(reason)
        self._update_admits_all()

    def released(self, nbytes: int) -> None:
        """One copy left the shaper for the kernel (or was discarded)."""
        self.waiting_messages -= 1
        self.waiting_bytes -= nbytes

    def _jitter(self, draw: float) -> int:
        jitter = self._conditions.jitter_ns
        if not jitter:
            return 0
        # Uniform in [-jitter, +jitter], never below zero total delay.
        return max(-self._conditions.latency_ns, round((2 * draw - 1) * jitter))
