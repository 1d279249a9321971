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
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import Any

from netsim.errors import InputError
from netsim.trace.reader import TraceReader, cyclic_gc_paused, peek_last_ts_ns, resolve_trace_path
from netsim.trace.schema import SEND_EVENTS, header_node_names, header_start_ts_ns
from netsim.trace.timeline import TimelineCounter, nice_at_least
from netsim.trace.traffic import MESSAGE_EVENTS, LinkTraffic, TrafficCounter
from netsim.vocabulary import CONTROL_TYPE_PREFIX

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
# The one row a big run's timeline counts every node's sends in.
ALL_NODES = "(all nodes)"
_EVENT = itemgetter("event")


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

    def to_data(self) -> dict[str, Any]:
        """JSON-ready data that ``from_data`` makes the same ``Traffic`` of, dict orders kept (the order
        links are drawn in). Links are ``[a, b, count]`` rows, since JSON keys are strings."""
        return {
            **{name: getattr(self, name) for name in _PLAIN_FIELDS},
            "link_messages": [[a, b, count] for (a, b), count in self.link_messages.items()],
            "link_bytes": [[a, b, count] for (a, b), count in self.link_bytes.items()],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Traffic:
        """The ``Traffic`` that ``to_data`` gave ``data`` for; ValueError for data of another shape."""
        try:
            traffic = cls(
                **{name: data[name] for name in _PLAIN_FIELDS},
                link_messages={(a, b): count for a, b, count in data["link_messages"]},
                link_bytes={(a, b): count for a, b, count in data["link_bytes"]},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not the data of a Traffic: {error}") from None
        return traffic


# Traffic's fields that JSON holds as they are.
_PLAIN_FIELDS = (
    "start_ts_ns",
    "bucket_ns",
    "node_sent",
    "node_received",
    "sent_per_bucket",
    "node_sent_per_bucket",
    "messages",
    "control_messages",
    "messages_without_peer",
    "first_send_ts_ns",
    "last_send_ts_ns",
    "skipped_lines",
)


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
    (``add_all``, as often as needed), then ask for the ``traffic()``.

    ``netsim trace report`` feeds it batches of events from the one pass it makes for all its sections,
    and hands it the ``TrafficCounter`` that pass feeds (``traffic``), which counts every message: the
    plot then counts netsim's own messages apart (``control``), when it hides them, and shows the
    difference.

    Raises ``InputError`` when the end of the file cannot be read (the bucket size comes from it).
    """

    def __init__(
        self,
        header: dict[str, Any],
        path: Path,
        *,
        include_control: bool = False,
        traffic: TrafficCounter | None = None,
    ) -> None:
        self._header = header
        self._include_control = include_control
        self._start = header_start_ts_ns(header)
        self._end = last_ts_ns(path)
        # The messages the plot shows, counted here; or every message, counted by the caller.
        self._shared = traffic is not None
        self.counter = TrafficCounter(header) if traffic is None else traffic
        # netsim's own messages, to take away from a shared counter's (with a counter of its own, the plot
        # never counts them).
        self.control = TrafficCounter(header) if traffic is not None else TrafficCounter({})
        # A big run's timeline counts every node's sends as one: its rows per node are never drawn.
        self._per_node = len(header_node_names(header)) <= MAX_SERIES_NODES
        # Made at the first event, which stands in for a start the header does not give.
        self._timeline: TimelineCounter | None = None
        self.first_send_ts_ns: int | None = None
        self.last_send_ts_ns: int | None = None
        self.control_messages = 0
        self._events = 0
        # With a shared counter: links outside the topology that a control message made, each with the
        # number of the first event of a message the plot shows on it (None before one): where the
        # plot's own counter would have made it. See ``_links``.
        self._made_by_control: dict[tuple[str, str], int | None] = {}

    def _timeline_from(self, first_ts_ns: int | None) -> TimelineCounter:
        if self._start is None:
            # A header without a start: the first event stands in for it.
            self._start = first_ts_ns if first_ts_ns is not None else 0
        self._timeline = TimelineCounter(self._start, bucket_size_ns(self._start, self._end), fixed=True)
        return self._timeline

    def add_all(self, records: Sequence[dict[str, Any]]) -> None:
        """Count these events (records from ``TraceReader``), the next ones of the trace."""
        if not records:
            return
        timeline = self._timeline or self._timeline_from(records[0]["ts_ns"])
        hide_control, shared = not self._include_control, self._shared
        add, add_control = self.counter.add, self.control.add
        made_by_control, created_at = self._made_by_control, self.counter.created_at
        first_send_ts_ns, last_send_ts_ns = self.first_send_ts_ns, self.last_send_ts_ns
        control_messages = 0
        per_node = self._per_node
        # TimelineCounter.count, inline: the plot's width is fixed, and sends outside its buckets share
        # the first or the last one.
        start, last_bucket_ns = timeline.origin_ns, self._last_bucket_ns(timeline)
        width_ns, low, high, sent = timeline.width_ns, timeline.low, timeline.high, timeline.sent
        first_index = self._events + 1
        self._events += len(records)
        messages = map(MESSAGE_EVENTS.__contains__, map(_EVENT, records))
        for index, record in compress(enumerate(records, first_index), messages):
            sending = record["event"] in SEND_EVENTS
            if hide_control:
                msg_type = record.get("msg_type")
                if type(msg_type) is str and msg_type.startswith(CONTROL_TYPE_PREFIX):
                    if sending:
                        control_messages += 1
                    if shared:
                        add_control(record)
                        if created_at:
                            self._control_made(record, index)
                    continue
            if not shared:
                add(record)
            elif made_by_control:
                self._shown_on(record, index)
            if sending:
                ts_ns: int = record["ts_ns"]
                if first_send_ts_ns is None or ts_ns < first_send_ts_ns:
                    first_send_ts_ns = ts_ns
                if last_send_ts_ns is None or ts_ns > last_send_ts_ns:
                    last_send_ts_ns = ts_ns
                bucket_ts_ns = min(max(ts_ns, start), last_bucket_ns)
                bucket = (bucket_ts_ns - start) // width_ns
                if bucket > high or bucket < low:
                    bucket = timeline.index(bucket_ts_ns)
                    low, high = timeline.low, timeline.high
                node = record["node"] if per_node else ALL_NODES
                buckets = sent.get(node)
                if buckets is None:
                    buckets = sent[node] = {}
                buckets[bucket] = buckets.get(bucket, 0) + 1
        self.first_send_ts_ns, self.last_send_ts_ns = first_send_ts_ns, last_send_ts_ns
        self.control_messages += control_messages

    def _control_made(self, record: dict[str, Any], index: int) -> None:
        """Note the link outside the topology that this control message, event ``index``, made in the
        shared counter."""
        peer = record.get("peer")
        if type(peer) is str:
            pair = _pair(record["node"], peer)
            if self.counter.created_at.get(pair) == index:
                self._made_by_control[pair] = None

    def _shown_on(self, record: dict[str, Any], index: int) -> None:
        """Note event ``index``, a message the plot shows, on a link a control message made."""
        peer = record.get("peer")
        if type(peer) is str:
            pair = _pair(record["node"], peer)
            if pair in self._made_by_control and self._made_by_control[pair] is None:
                self._made_by_control[pair] = index

    def _links(self) -> list[tuple[LinkTraffic, int, int]]:
        """(link, messages sent, bytes sent) of each link a message the plot shows was sent on, in the order
        the plot's own counter, fed those messages only, would have made them."""
        counter = self.counter
        if not self._shared or self._include_control:
            links = counter.links.values()
            return [(link, link.messages_sent, link.bytes_sent) for link in links if link.messages_sent]
        control_links, made_by_control = self.control.links, self._made_by_control
        shown: list[tuple[int, LinkTraffic, int, int]] = []
        for key, link in counter.links.items():
            control = control_links.get(key)
            messages_sent = link.messages_sent - (control.messages_sent if control is not None else 0)
            if not messages_sent:
                continue
            pair = (link.a, link.b)
            made = 0 if link.in_topology else counter.created_at.get(pair, 0)
            shown_from = made_by_control.get(pair)
            if shown_from is not None:
                made = shown_from
            bytes_sent = link.bytes_sent - (control.bytes_sent if control is not None else 0)
            shown.append((made, link, messages_sent, bytes_sent))
        shown.sort(key=lambda entry: entry[0])
        return [(link, messages_sent, bytes_sent) for _, link, messages_sent, bytes_sent in shown]

    @staticmethod
    def _last_bucket_ns(timeline: TimelineCounter) -> int:
        # Sends before the start share the first bucket; sends past MAX_BUCKETS (an unsorted,
        # hand-made trace that runs on past the end the peek found) share the last one.
        return timeline.origin_ns + (MAX_BUCKETS - 1) * timeline.width_ns

    def _node_messages(self) -> tuple[dict[str, int], dict[str, int]]:
        """(messages sent, messages received) per node, of those the plot shows, for the nodes with any.

        From a shared counter, a node outside the topology may come in another place of these dicts than
        from the plot's own; nothing the plot draws depends on their order."""
        nodes = self.counter.nodes.values()
        if not self._shared or self._include_control:
            sent = {node.node: node.messages_sent for node in nodes if node.messages_sent}
            received = {node.node: node.messages_received for node in nodes if node.messages_received}
            return sent, received
        control = self.control.nodes
        sent, received = {}, {}
        for node in nodes:
            hidden = control.get(node.node)
            messages_sent = node.messages_sent - (hidden.messages_sent if hidden is not None else 0)
            if messages_sent:
                sent[node.node] = messages_sent
            messages_received = node.messages_received - (
                hidden.messages_received if hidden is not None else 0
            )
            if messages_received:
                received[node.node] = messages_received
        return sent, received

    def traffic(self, skipped_lines: int) -> Traffic:
        """What the events added so far make: the traffic the plot draws."""
        timeline = self._timeline or self._timeline_from(None)
        start, bucket_ns, end = timeline.origin_ns, timeline.width_ns, self._end
        # At least the buckets up to the end the peek found, so that a quiet end is drawn as quiet.
        peeked_buckets = 1 if end is None else max(1, min(MAX_BUCKETS, (end - start) // bucket_ns + 1))
        last_bucket_start = start + (peeked_buckets - 1) * bucket_ns
        links = self._links()
        node_sent, node_received = self._node_messages()
        messages = sum(node_sent.values())
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
            link_messages={(link.a, link.b): messages_sent for link, messages_sent, _ in links},
            link_bytes={(link.a, link.b): bytes_sent for link, _, bytes_sent in links},
            node_sent=node_sent,
            node_received=node_received,
            sent_per_bucket=timeline.sent_total(last_bucket_start),
            node_sent_per_bucket=per_bucket.sent if small else None,
            messages=messages,
            control_messages=self.control_messages,
            messages_without_peer=messages - sum(messages_sent for _, messages_sent, _ in links),
            first_send_ts_ns=self.first_send_ts_ns,
            last_send_ts_ns=self.last_send_ts_ns,
            skipped_lines=skipped_lines,
        )


def _pair(node: str, peer: str) -> tuple[str, str]:
    """The two ends of the link between ``node`` and ``peer``, as ``TrafficCounter`` names it (sorted)."""
    return (node, peer) if node <= peer else (peer, node)


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
    # Batches of records stay alive while they are counted: the collector would walk them, and the
    # counts, at every collection, for nothing (a pass makes no reference cycles).
    with TraceReader(path, strict=strict) as reader, cyclic_gc_paused():
        counter = PlotCounter(reader.header, path, include_control=include_control)
        for batch, _skipped_before in reader.batches():
            counter.add_all(batch)
        return counter.traffic(reader.skipped_count)
