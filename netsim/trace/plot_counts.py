"""What the plot draws, counted in one streaming pass: messages per link, per node and per time bucket.

``count_traffic`` (or a ``PlotCounter`` fed the events, as the report's one pass does) keeps only
counters (``TrafficCounter``'s and ``TimelineCounter``'s): messages and bytes per link, messages per
node, and messages sent per fixed time bucket (in total and, for small runs, per node). The bucket size
is decided before the pass, from the header's ``start_ts_ns`` and the ``ts_ns`` of the last line, read by
seeking near the end of the file. No matplotlib here: ``netsim.trace.plot`` draws what this counts, and
the report counts it before it needs a picture.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netsim.errors import InputError
from netsim.trace.reader import TraceReader, peek_last_ts_ns, resolve_trace_path
from netsim.trace.records import is_control
from netsim.trace.schema import SEND_EVENTS, header_node_names, header_start_ts_ns
from netsim.trace.timeline import TimelineCounter, nice_at_least
from netsim.trace.traffic import MESSAGE_EVENTS, TrafficCounter

# About this many time buckets between the run's start and its last event: fine enough that the part of
# a run with traffic (often a small fraction of it) still has many; the plot merges them to draw.
TARGET_BUCKETS = 2000
# The trace may run past the end the peek found (an unsorted, hand-made file): the bucket list grows,
# up to this many, and later events share the last bucket.
MAX_BUCKETS = 20_000
MIN_BUCKET_NS = 1_000
# Per-node lines in the time plot only for runs this small; beyond, one line for the total.
MAX_SERIES_NODES = 8

Pair = tuple[str, str]


@dataclass(slots=True)
class Traffic:
    """What ``count_traffic`` counted; every count is of sends (``send``/``sendto``) unless it says so.

    ``links`` are undirected, keyed by the two node names sorted. ``sent_per_bucket[i]`` counts the
    messages sent in ``[start_ts_ns + i * bucket_ns, start_ts_ns + (i + 1) * bucket_ns)``;
    ``node_sent_per_bucket`` is the same per sending node, or None when the run has more than
    ``MAX_SERIES_NODES`` nodes.
    """

    start_ts_ns: int
    bucket_ns: int
    link_messages: dict[Pair, int] = field(default_factory=dict)
    link_bytes: dict[Pair, int] = field(default_factory=dict)
    node_sent: dict[str, int] = field(default_factory=dict)
    node_received: dict[str, int] = field(default_factory=dict)
    sent_per_bucket: list[int] = field(default_factory=list)
    node_sent_per_bucket: dict[str, list[int]] | None = None
    messages: int = 0
    control_messages: int = 0
    messages_without_peer: int = 0
    first_send_ts_ns: int | None = None
    last_send_ts_ns: int | None = None
    skipped_lines: int = 0

    def handled(self, node: str) -> int:
        """Messages the node sent plus messages it received."""
        return self.node_sent.get(node, 0) + self.node_received.get(node, 0)


def last_ts_ns(path: str | os.PathLike[str]) -> int | None:
    """The ``ts_ns`` of the last event line, read by seeking near the end (None if none is found there).

    A peek, not a validation: the streaming pass through ``TraceReader`` still checks every line.
    """
    try:
        return peek_last_ts_ns(path)
    except OSError as error:
        raise InputError(f"{path}: cannot read trace: {error.strerror or error}") from None


def bucket_size_ns(start_ts_ns: int, end_ts_ns: int | None) -> int:
    """A round bucket size that cuts the run into about ``TARGET_BUCKETS`` buckets."""
    span = (end_ts_ns - start_ts_ns) if end_ts_ns is not None else 0
    if span <= 0:
        span = 1_000_000_000  # nothing to go by: one second
    return nice_at_least(max(float(MIN_BUCKET_NS), span / TARGET_BUCKETS))


class PlotCounter:
    """``count_traffic``'s pass over the trace at ``path``: feed it the trace's events in order
    (``add_all``, as often as needed), then ask for the ``traffic()``. ``netsim trace report`` feeds it
    batches of events from the one pass it makes for all its sections.

    Raises ``InputError`` when the end of the file cannot be read (the bucket size comes from it).
    """

    def __init__(self, header: dict[str, Any], path: Path, *, include_control: bool = False) -> None:
        self._header = header
        self._include_control = include_control
        self._start = header_start_ts_ns(header)
        self._end = last_ts_ns(path)
        self.counter = TrafficCounter(header)
        # Made at the first event, which stands in for a start the header does not give.
        self._timeline: TimelineCounter | None = None
        self.first_send_ts_ns: int | None = None
        self.last_send_ts_ns: int | None = None
        self.control_messages = 0

    def _timeline_from(self, first_ts_ns: int | None) -> TimelineCounter:
        if self._start is None:
            # A header without a start: the first event stands in for it.
            self._start = first_ts_ns if first_ts_ns is not None else 0
        self._timeline = TimelineCounter(self._start, bucket_size_ns(self._start, self._end), fixed=True)
        return self._timeline

    def add_all(self, records: Iterable[dict[str, Any]]) -> None:
        """Count these events (records from ``TraceReader``), the next ones of the trace."""
        include_control, add = self._include_control, self.counter.add
        timeline = self._timeline
        first_send_ts_ns, last_send_ts_ns = self.first_send_ts_ns, self.last_send_ts_ns
        control_messages = 0
        start = last_bucket_ns = 0
        if timeline is not None:
            start, last_bucket_ns = timeline.origin_ns, self._last_bucket_ns(timeline)
        for record in records:
            if timeline is None:
                timeline = self._timeline_from(record["ts_ns"])
                start, last_bucket_ns = timeline.origin_ns, self._last_bucket_ns(timeline)
            kind = record["event"]
            if kind not in MESSAGE_EVENTS:
                continue
            sending = kind in SEND_EVENTS
            if not include_control and is_control(record.get("msg_type")):
                if sending:
                    control_messages += 1
                continue
            add(record)
            if sending:
                ts_ns: int = record["ts_ns"]
                if first_send_ts_ns is None or ts_ns < first_send_ts_ns:
                    first_send_ts_ns = ts_ns
                if last_send_ts_ns is None or ts_ns > last_send_ts_ns:
                    last_send_ts_ns = ts_ns
                timeline.count(record["node"], min(max(ts_ns, start), last_bucket_ns), sent=True)
        self.first_send_ts_ns, self.last_send_ts_ns = first_send_ts_ns, last_send_ts_ns
        self.control_messages += control_messages

    @staticmethod
    def _last_bucket_ns(timeline: TimelineCounter) -> int:
        # Sends before the start share the first bucket; sends past MAX_BUCKETS (an unsorted,
        # hand-made trace that runs on past the end the peek found) share the last one.
        return timeline.origin_ns + (MAX_BUCKETS - 1) * timeline.width_ns

    def traffic(self, skipped_lines: int) -> Traffic:
        """What the events added so far make: the traffic the plot draws."""
        timeline = self._timeline or self._timeline_from(None)
        start, bucket_ns, end, counter = timeline.origin_ns, timeline.width_ns, self._end, self.counter
        # At least the buckets up to the end the peek found, so that a quiet end is drawn as quiet.
        peeked_buckets = 1 if end is None else max(1, min(MAX_BUCKETS, (end - start) // bucket_ns + 1))
        last_bucket_start = start + (peeked_buckets - 1) * bucket_ns
        nodes = counter.nodes.values()
        links = [link for link in counter.links.values() if link.messages_sent]
        messages = sum(node.messages_sent for node in nodes)
        small = (
            len(header_node_names(self._header)) <= MAX_SERIES_NODES
            and len(timeline.sent) <= MAX_SERIES_NODES
        )
        # Dense rows per node only where they are drawn: for every node of a big run they would be
        # nodes x buckets counts (10 million for 5,000 nodes), to be added up into one row.
        per_bucket = timeline.result(list(timeline.sent) if small else [], last_bucket_start)
        return Traffic(
            start_ts_ns=start,
            bucket_ns=bucket_ns,
            link_messages={(link.a, link.b): link.messages_sent for link in links},
            link_bytes={(link.a, link.b): link.bytes_sent for link in links},
            node_sent={node.node: node.messages_sent for node in nodes if node.messages_sent},
            node_received={node.node: node.messages_received for node in nodes if node.messages_received},
            sent_per_bucket=timeline.sent_total(last_bucket_start),
            node_sent_per_bucket=per_bucket.sent if small else None,
            messages=messages,
            control_messages=self.control_messages,
            messages_without_peer=messages - sum(link.messages_sent for link in links),
            first_send_ts_ns=self.first_send_ts_ns,
            last_send_ts_ns=self.last_send_ts_ns,
            skipped_lines=skipped_lines,
        )


def count_traffic(
    run_or_trace: str | os.PathLike[str], *, include_control: bool = False, strict: bool = True
) -> Traffic:
    """Count messages per link, per node and per time bucket in one streaming pass over the trace.

    Links and buckets count sends (what was offered to the network, lost or not); ``node_received``
    counts receives. Messages of type ``netsim.*`` are counted only in ``control_messages`` unless
    ``include_control``. The counting is ``TrafficCounter``'s (per node and link) and
    ``TimelineCounter``'s (per bucket), fed the messages the plot shows.
    """
    path = resolve_trace_path(run_or_trace)
    with TraceReader(path, strict=strict) as reader:
        counter = PlotCounter(reader.header, path, include_control=include_control)
        counter.add_all(reader)
        return counter.traffic(reader.skipped_count)
