"""Messages per node per time bucket, counted one message at a time: the timeline of stats and plot.

``TimelineCounter`` keeps, per node, a sparse count of the messages it sent and received in each bucket
of ``width_ns`` from ``origin_ns``; ``Timeline`` is its dense result. A timeline of a default width
(``TimelineCounter.for_trace`` without ``bucket_s``) doubles its width, merging pairs of buckets,
whenever it would pass ``DEFAULT_BUCKETS``, so that memory stays bounded on any trace; a width the
caller chose is kept, up to ``MAX_BUCKETS`` buckets. ``nice_at_least`` picks the round widths an axis
shows: 1, 2 or 5 (and, for the stats, 2.5) times a power of ten.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netsim.errors import OptionError
from netsim.trace.reader import peek_last_ts_ns

# The default timeline has at most this many buckets (and at least half as many on a sorted trace).
DEFAULT_BUCKETS = 100
# A caller's bucket_s may not make more buckets than this: the timeline is returned as lists.
MAX_BUCKETS = 100_000
# Default width when the span is unknown before the pass; it doubles as the timeline grows.
FALLBACK_WIDTH_NS = 1_000
MIN_DEFAULT_WIDTH_NS = 1_000
# Widths the default picks from, times a power of ten: round numbers on an axis.
NICE_STEPS: tuple[float, ...] = (1.0, 2.0, 2.5, 5.0)
ONE_TWO_FIVE: tuple[float, ...] = (1.0, 2.0, 5.0)


def nice_at_least(minimum: float, steps: tuple[float, ...] = ONE_TWO_FIVE) -> int:
    """The smallest whole number ``step x 10^k`` (k >= 0) that is at least ``minimum``."""
    scale = 1
    while True:
        for step in steps:
            value = step * scale
            if value >= minimum and value == int(value):
                return int(value)
        scale *= 10


def nice_width_ns(span_ns: int, intervals: int = DEFAULT_BUCKETS - 1) -> int:
    """The smallest width of 1, 2, 2.5 or 5 x 10^k ns that cuts ``span_ns`` into at most ``intervals``."""
    return nice_at_least(max(1, -(-span_ns // intervals)), NICE_STEPS)


def _last_ts_ns_or_none(path: Path) -> int | None:
    try:
        return peek_last_ts_ns(path)
    except OSError:
        return None  # the width starts small and doubles instead


class TimelineCounter:
    """Messages sent and received per node per bucket; bucket ``i`` is [origin + i*w, origin + (i+1)*w)."""

    def __init__(self, origin_ns: int, width_ns: int, *, fixed: bool) -> None:
        self.origin_ns = origin_ns
        self.width_ns = width_ns
        # A caller's width is never changed; the default one doubles instead of passing the bucket cap.
        self.fixed = fixed
        self.low = 0
        self.high = 0
        self.sent: dict[str, dict[int, int]] = {}
        self.received: dict[str, dict[int, int]] = {}

    @classmethod
    def for_trace(
        cls, path: Path, header_start_ns: int | None, first_ts_ns: int, bucket_s: float | None
    ) -> TimelineCounter:
        """The timeline of the trace at ``path`` whose first event is at ``first_ts_ns``: ``bucket_s``
        wide, or by default 50 to 100 buckets over the span the end of the file gives."""
        # Align bucket edges on the run's start, so that they fall on round seconds into the run.
        anchor = (
            header_start_ns if header_start_ns is not None and header_start_ns <= first_ts_ns else first_ts_ns
        )
        if bucket_s is not None:
            width_ns = max(1, round(bucket_s * 1e9))
            fixed = True
        else:
            last_ts_ns = _last_ts_ns_or_none(path)
            if last_ts_ns is None or last_ts_ns < first_ts_ns:
                width_ns = FALLBACK_WIDTH_NS
            else:
                width_ns = max(MIN_DEFAULT_WIDTH_NS, nice_width_ns(last_ts_ns - first_ts_ns))
            fixed = False
        origin_ns = anchor + (first_ts_ns - anchor) // width_ns * width_ns
        timeline = cls(origin_ns, width_ns, fixed=fixed)
        if fixed:
            # Refuse a hopeless --bucket before the pass rather than after it.
            last_ts_ns = _last_ts_ns_or_none(path)
            if last_ts_ns is not None:
                timeline.index(last_ts_ns)
        return timeline

    def index(self, ts_ns: int) -> int:
        index = (ts_ns - self.origin_ns) // self.width_ns
        if index > self.high or index < self.low:
            self.low, self.high = min(self.low, index), max(self.high, index)
            self._fit()
            index = (ts_ns - self.origin_ns) // self.width_ns
        return index

    def count(self, node: str, ts_ns: int, *, sent: bool) -> None:
        """Count one message the node sent (``sent``) or received at ``ts_ns``."""
        per_node = self.sent if sent else self.received
        index = self.index(ts_ns)
        buckets = per_node.get(node)
        if buckets is None:
            buckets = per_node[node] = {}
        buckets[index] = buckets.get(index, 0) + 1

    def _fit(self) -> None:
        cap = MAX_BUCKETS if self.fixed else DEFAULT_BUCKETS
        while self.high - self.low + 1 > cap:
            if self.fixed:
                raise OptionError(
                    f"--bucket {self.width_ns / 1e9:g} s makes more than {MAX_BUCKETS:,} buckets over this "
                    "trace's span",
                    hint="choose a larger --bucket, or leave it out for 50-100 buckets",
                )
            # floor(floor(x / w) / 2) == floor(x / 2w): halving every index merges pairs of buckets exactly.
            self.width_ns *= 2
            self.low //= 2
            self.high //= 2
            for per_node in (self.sent, self.received):
                for name, buckets in per_node.items():
                    merged: dict[int, int] = {}
                    for index, count in buckets.items():
                        merged[index // 2] = merged.get(index // 2, 0) + count
                    per_node[name] = merged

    def result(self, node_names: Iterable[str], last_ts_ns: int) -> Timeline:
        """The dense timeline of ``node_names``, from the first bucket counted to ``last_ts_ns``'s."""
        self.index(last_ts_ns)  # the timeline covers the whole trace, quiet end included
        count = self.high - self.low + 1
        names = list(node_names)

        def dense(buckets: dict[int, int] | None) -> list[int]:
            row = [0] * count
            for index, value in (buckets or {}).items():
                row[index - self.low] = value
            return row

        sent = {name: dense(self.sent.get(name)) for name in names}
        received = {name: dense(self.received.get(name)) for name in names}
        return Timeline(
            bucket_ns=self.width_ns,
            origin_ts_ns=self.origin_ns + self.low * self.width_ns,
            buckets=count,
            sent=sent,
            received=received,
        )

    def sent_total(self, last_ts_ns: int) -> list[int]:
        """Messages sent by any node per bucket, over ``result``'s buckets: ``result(...).total_sent()``
        without a dense row per node (5,000 nodes x 2,000 buckets would be 10 million counts)."""
        self.index(last_ts_ns)
        total = [0] * (self.high - self.low + 1)
        for buckets in self.sent.values():
            for index, value in buckets.items():
                total[index - self.low] += value
        return total


@dataclass(frozen=True, slots=True)
class Timeline:
    """Messages each node sent and received per bucket of ``bucket_ns``, from ``origin_ts_ns``."""

    bucket_ns: int
    origin_ts_ns: int
    buckets: int
    sent: dict[str, list[int]]
    received: dict[str, list[int]]

    @property
    def bucket_s(self) -> float:
        return self.bucket_ns / 1e9

    def messages(self, node: str) -> list[int]:
        """Messages the node sent or received, per bucket."""
        return [s + r for s, r in zip(self.sent[node], self.received[node], strict=True)]

    def total(self) -> list[int]:
        """Messages sent or received by any node, per bucket."""
        return self._column_sums(self.messages(node) for node in self.sent)

    def total_sent(self) -> list[int]:
        """Messages sent by any node, per bucket."""
        return self._column_sums(self.sent.values())

    def _column_sums(self, rows: Iterable[list[int]]) -> list[int]:
        total = [0] * self.buckets
        for row in rows:
            if len(row) == len(total):
                # One C loop per row instead of one Python step per bucket: 5,000 nodes make it count.
                total = list(map(operator.add, total, row))
                continue
            for index, value in enumerate(row):
                total[index] += value
        return total

    def to_dict(self, start_ts_ns: int | None = None) -> dict[str, Any]:
        origin = self.origin_ts_ns if start_ts_ns is None else self.origin_ts_ns - start_ts_ns
        return {
            "bucket_s": self.bucket_s,
            "bucket_ns": self.bucket_ns,
            "buckets": self.buckets,
            "origin_ts_ns": self.origin_ts_ns,
            "origin_s": origin / 1e9 if start_ts_ns is not None else None,
            "nodes": {
                node: {
                    "sent": self.sent[node],
                    "received": self.received[node],
                    "messages_per_s": [count / self.bucket_s for count in self.messages(node)],
                }
                for node in self.sent
            },
            "total": self.total(),
        }
