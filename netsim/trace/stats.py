"""Traffic statistics of a run in one streaming pass: rates, one-way latency percentiles, a timeline.

``trace_stats`` reads events through ``TraceReader`` and keeps, per node and per link direction, counters
(``netsim.trace.traffic``'s, as the summary and export do), the latencies it has matched and a small
per-node timeline. Memory grows with the nodes, the links, the messages in flight (sent and not yet
received, which includes lost datagrams until the end) and the timeline's buckets, plus 8 bytes per
matched message and group, never with the trace's events as such.

Decisions, so that the figures can be read without the code:

* **Latency** is one-way: a receive's ``ts_ns`` minus the moment its app sent it, matched by ``msg_id``:
  its send's ``ts_ns``, or, when a shaped link held the message (latency, bandwidth, a partition), its
  ``delay`` event's, so that a link's latency is in it as the app saw it; every node stamps the same
  ``CLOCK_MONOTONIC``, so the difference is exact. A receive read before its send (equal
  ``ts_ns``, the merge put the receiver's part first) waits for it. Each matched latency is appended to a
  compact ``array('q')`` (8 bytes) for its direction, its message type and the whole run, and each group is
  sorted once at the end: percentiles are exact at any size (500,000 messages cost 12 MB of arrays plus
  one transient list while a group is sorted). A percentile is the **nearest rank**: the smallest
  observed value with at least p % of the values at or below it, so p50/p90/p99 are always latencies
  that happened, never interpolations.
* **Rates** are per second over two spans: the node's (or link's) *active span*, from its first to its
  last event (message, for a link), and the *run*, from the trace's first event to its last. A span of
  zero gives no rate (``None``).
* **Timeline** counts the messages each node sent and received per bucket of ``bucket_s``. To pick a
  default in one pass, ``trace_stats`` first reads the **last event line from the end of the file** (a
  seek and one 64 KiB read, O(1)): the span is known before the first event is counted, and the width is
  the smallest of 1, 2, 2.5 and 5 x 10^k ns that cuts it into at most 99 intervals, which gives 50 to 100
  buckets. Buckets are aligned on the run's start (``start_ts_ns``), so bucket edges are round numbers of
  seconds into the run. If the end of the file cannot be read (say, one huge or broken last line) or the
  trace is not sorted, the default width starts small and doubles, merging pairs of buckets, whenever
  the timeline would exceed 100 buckets: memory stays bounded either way. A ``bucket_s`` given by the
  caller is used as is, up to ``MAX_BUCKETS`` buckets.
* **Socket programs' calls** (``call`` events) are paired by byte range and by datagram digest
  (``netsim.trace.call_stats``): their one-way latency per direction, from the moment a send began to
  the moment the receive that took its bytes returned, one per (send, receive) pair, and the bytes and
  datagrams that did not arrive, under ``calls``, present only in a trace with ``call`` events. Their
  bytes count per node and link (``netsim.trace.traffic``); they are not messages.
* **App round trips**: ``app`` events whose ``data`` has ``"kind": "rtt"`` and an integer ``rtt_ns`` (what
  the echo app records) are summarised like latencies, overall and per measuring node.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import Any

from netsim.errors import OptionError
from netsim.trace.call_stats import CallPairCounter
from netsim.trace.field_types import names_wrong_field_types
from netsim.trace.reader import TraceReader, cyclic_gc_paused, resolve_trace_path
from netsim.trace.records import str_or_none
from netsim.trace.schema import SEND_EVENTS, header_start_ts_ns

# The timeline is this module's API too (the CLI imports Timeline from here).
from netsim.trace.timeline import Timeline as Timeline
from netsim.trace.timeline import TimelineCounter
from netsim.trace.timeline import nice_width_ns as nice_width_ns

# The node and link counters live in netsim.trace.traffic; they are this module's API too (export
# imports TrafficCounter from here).
from netsim.trace.traffic import DIRECTION_SEPARATOR as DIRECTION_SEPARATOR
from netsim.trace.traffic import (
    MESSAGE_EVENTS,
    LinkTraffic,
    NodeTraffic,
    TrafficCounter,
    rates_per_second,
    seconds_between,
)
from netsim.trace.traffic import DirectionTraffic as DirectionTraffic

PERCENTILES: tuple[int, ...] = (50, 90, 99)
NO_MSG_TYPE = "(none)"

# The events the stats look at one by one; the others only count, per batch.
_COUNTED_EVENTS = MESSAGE_EVENTS | {"app", "call", "drop", "delay"}
# What the pairing of programs' calls looks at: their calls, and the drops of their datagrams.
_CALL_EVENTS = frozenset({"call", "drop"})
_EVENT = itemgetter("event")
_TS_NS = itemgetter("ts_ns")


# -- latency ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Count, mean and nearest-rank percentiles of a group of durations, in nanoseconds."""

    count: int
    mean_ns: float | None
    min_ns: int | None
    p50_ns: int | None
    p90_ns: int | None
    p99_ns: int | None
    max_ns: int | None

    @classmethod
    def of(cls, values_ns: Iterable[int]) -> LatencyStats:
        ordered = sorted(values_ns)
        count = len(ordered)
        if not count:
            return cls(0, None, None, None, None, None, None)

        def rank(percent: int) -> int:
            # Nearest rank, in integers: the ceil(p * n / 100)-th smallest value.
            return ordered[max(0, -(-percent * count // 100) - 1)]

        p50, p90, p99 = (rank(p) for p in PERCENTILES)
        return cls(count, sum(ordered) / count, ordered[0], p50, p90, p99, ordered[-1])

    @classmethod
    def count_only(cls, count: int) -> LatencyStats:
        """A group's count without its figures (``TraceStats`` of a report: see ``StatsCounter.stats``)."""
        return cls(count, None, None, None, None, None, None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean_ns": self.mean_ns,
            "min_ns": self.min_ns,
            "p50_ns": self.p50_ns,
            "p90_ns": self.p90_ns,
            "p99_ns": self.p99_ns,
            "max_ns": self.max_ns,
        }


@dataclass(slots=True)
class MessageTypeStats:
    """Messages of one ``msg_type``: counts, bytes and their latencies."""

    msg_type: str
    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))


# -- the result -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TraceStats:
    """The result of ``trace_stats``; ``to_dict()`` is what ``netsim trace stats --json`` prints."""

    path: str
    run_id: str | None
    topology: str | None
    app: str | None
    transport: str | None
    start_ts_ns: int | None
    events: int
    first_ts_ns: int | None
    last_ts_ns: int | None
    nodes: dict[str, NodeTraffic]
    links: dict[str, LinkTraffic]
    message_types: dict[str, MessageTypeStats]
    latency: LatencyStats
    latency_by_direction: dict[str, LatencyStats]
    latency_by_type: dict[str, LatencyStats]
    matched: int
    unmatched_sends: int
    unmatched_receives: int
    messages_without_msg_id: int
    messages_without_peer: int
    app_rtt: LatencyStats | None
    app_rtt_by_node: dict[str, LatencyStats]
    timeline: Timeline | None
    skipped_lines: int
    # The figures of socket programs' calls (``calls_figures``); None in a trace without call events.
    calls: dict[str, Any] | None = None

    @property
    def span_s(self) -> float | None:
        """Seconds from the trace's first event to its last: the span of the "per run" rates."""
        return seconds_between(self.first_ts_ns, self.last_ts_ns)

    def _into_run(self, ts_ns: int | None) -> float | None:
        return seconds_between(self.start_ts_ns, ts_ns)

    def to_dict(self, *, links: bool = True, timeline: bool = True) -> dict[str, Any]:
        """What ``netsim trace stats --json`` prints. ``links=False`` leaves out the per-link figures
        (the report, which shows link directions by their latency, has no use for them: for 5,000 nodes
        they are 25,000 dicts of rates); ``timeline=False`` the timeline (the report draws its heat map
        from ``timeline`` itself: as a dict, 5,000 nodes' rows are half a million numbers more)."""
        figures = self._to_dict(self._links_dict() if links else None, timeline)
        if not timeline:
            del figures["timeline"]
        if self.calls is not None:
            figures["calls"] = self.calls
        return figures

    def _links_dict(self) -> dict[str, Any]:
        span_s = self.span_s
        links: dict[str, Any] = {}
        for key, link in self.links.items():
            directions = []
            for direction in link.directions:
                directions.append(
                    {
                        **direction.to_dict(),
                        "per_s_run": rates_per_second(direction, span_s),
                        "latency": self.latency_by_direction[direction.key].to_dict(),
                    }
                )
            links[key] = {
                **link.names(),
                "messages_sent": link.messages_sent,
                "messages_received": link.messages_received,
                "bytes_sent": link.bytes_sent,
                "bytes_received": link.bytes_received,
                "lost": link.lost,
                "active_s": link.active_s,
                "per_s_active": rates_per_second(link, link.active_s),
                "per_s_run": rates_per_second(link, span_s),
                "directions": directions,
            }
        return links

    def _to_dict(self, links: dict[str, Any] | None, timeline: bool) -> dict[str, Any]:
        span_s = self.span_s
        figures = {
            "path": self.path,
            "run_id": self.run_id,
            "topology": self.topology,
            "app": self.app,
            "transport": self.transport,
            "start_ts_ns": self.start_ts_ns,
            "events": self.events,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "first_s": self._into_run(self.first_ts_ns),
            "last_s": self._into_run(self.last_ts_ns),
            "span_s": span_s,
            "nodes": {name: stats.to_dict(span_s) for name, stats in self.nodes.items()},
            "links": links,
            "message_types": {
                name: {
                    "messages_sent": stats.messages_sent,
                    "messages_received": stats.messages_received,
                    "bytes_sent": stats.bytes_sent,
                    "bytes_received": stats.bytes_received,
                }
                for name, stats in self.message_types.items()
            },
            "latency": {
                "matched": self.matched,
                "unmatched_sends": self.unmatched_sends,
                "unmatched_receives": self.unmatched_receives,
                "messages_without_msg_id": self.messages_without_msg_id,
                "overall": self.latency.to_dict(),
                "by_direction": {key: stats.to_dict() for key, stats in self.latency_by_direction.items()},
                "by_type": {key: stats.to_dict() for key, stats in self.latency_by_type.items()},
            },
            "messages_without_peer": self.messages_without_peer,
            "app_rtt": None
            if self.app_rtt is None
            else {
                "overall": self.app_rtt.to_dict(),
                "by_node": {node: stats.to_dict() for node, stats in self.app_rtt_by_node.items()},
            },
            "timeline": None
            if self.timeline is None or not timeline
            else self.timeline.to_dict(self.start_ts_ns),
            "skipped_lines": self.skipped_lines,
        }
        if links is None:
            del figures["links"]
        return figures


class StatsCounter:
    """``trace_stats``'s pass: feed it the events of the trace at ``path`` in order (``add_all``, as often as
    needed), then ask for the ``stats()``. ``bucket_s`` is ``trace_stats``'s, checked already.

    ``netsim trace report`` feeds it batches of events from the one pass it makes for all its sections,
    and hands it the ``TrafficCounter`` that pass feeds (``traffic``), which the summary and the plot
    share: the stats then count what is theirs only (message types, latencies, the timeline)."""

    def __init__(
        self,
        header: dict[str, Any],
        path: Path,
        bucket_s: float | None = None,
        traffic: TrafficCounter | None = None,
    ) -> None:
        self._header = header
        self._path = path
        self._bucket_s = bucket_s
        self.start_ts_ns = header_start_ts_ns(header)
        self._counts_traffic = traffic is None
        self.counter = TrafficCounter(header) if traffic is None else traffic
        self.message_types: dict[str, MessageTypeStats] = {}
        self.overall = array("q")
        # msg_id -> (send ts_ns, sender, message type); and receives read before their send.
        self.in_flight: dict[str, tuple[int, str, MessageTypeStats]] = {}
        # msg_id -> when its app sent it, for messages a shaped link holds (their delay event) until sent.
        self.held_since: dict[str, int] = {}
        self.early_receives: dict[str, tuple[int, str]] = {}
        self.rtt_by_node: dict[str, array[int]] = {}
        # Made at the first call or drop event: a trace without them costs nothing more.
        self.calls: CallPairCounter | None = None
        self.events = self.without_msg_id = 0
        self.first_ts_ns: int | None = None
        self.last_ts_ns: int | None = None
        # Made at the first event: its ts_ns places the buckets.
        self.timeline: TimelineCounter | None = None
        # Links between a sender and a receiver that no event had named as peers of each other yet when
        # a message between them was matched (its receive named another peer, or none): (the number of
        # that event, the link). See ``_direction``.
        self._latency_links: dict[tuple[str, str], tuple[int, LinkTraffic]] = {}

    def add_all(self, records: Sequence[dict[str, Any]]) -> None:
        """Count these events (records from ``TraceReader``), the next ones of the trace."""
        if not records:
            return
        counter, counting = self.counter, self._counts_traffic
        stamps = list(map(_TS_NS, records))
        earliest, latest = min(stamps), max(stamps)
        if self.first_ts_ns is None or self.last_ts_ns is None:
            self.first_ts_ns, self.last_ts_ns = earliest, latest
            self.timeline = TimelineCounter.for_trace(self._path, self.start_ts_ns, stamps[0], self._bucket_s)
        else:
            self.first_ts_ns, self.last_ts_ns = min(earliest, self.first_ts_ns), max(latest, self.last_ts_ns)
        kinds = map(_EVENT, records)
        first_index = self.events + 1  # the number of the batch's first event in the trace, from 1
        self.events += len(records)
        # The per-message loop of the stats: what it updates is local until the end.
        directions, created_at = counter.directions, counter.created_at
        message_types, overall = self.message_types, self.overall
        in_flight, early_receives, rtt_by_node = self.in_flight, self.early_receives, self.rtt_by_node
        held_since = self.held_since
        without_msg_id = self.without_msg_id
        timeline = self.timeline
        assert timeline is not None
        # TimelineCounter.count, inline: the bucket's index, and the slow path only when it is a new one
        # at either end (the timeline may then double its width).
        origin_ns, width_ns, low, high = timeline.origin_ns, timeline.width_ns, timeline.low, timeline.high
        timeline_sent, timeline_received = timeline.sent, timeline.received
        counted_events = _COUNTED_EVENTS
        positions: dict[int, int] | None = None  # id(record) -> its place in records, when needed
        if counting:
            # Each event counted as it comes, while its record is at hand: every one, into the counter.
            selected: Iterable[dict[str, Any]] = records
            add = counter.add
        else:
            selected = compress(records, map(counted_events.__contains__, kinds))
        for record in selected:
            kind = record["event"]
            if counting:
                add(record)
                if kind not in counted_events:
                    continue
            node: str = record["node"]
            if kind == "app":
                data = record.get("data")
                if type(data) is dict and data.get("kind") == "rtt" and type(data.get("rtt_ns")) is int:
                    rtts = rtt_by_node.get(node)
                    if rtts is None:
                        rtts = rtt_by_node[node] = array("q")
                    rtts.append(data["rtt_ns"])
                continue
            if kind == "delay":
                held_id = record.get("msg_id")
                if type(held_id) is str and held_id not in held_since:
                    held_since[held_id] = record["ts_ns"]
                continue
            if kind in _CALL_EVENTS:
                if held_since and kind == "drop":
                    held_since.pop(record.get("msg_id"), None)  # type: ignore[arg-type]
                calls = self.calls
                if calls is None:
                    calls = self.calls = CallPairCounter()
                calls.add(record)
                continue
            ts_ns: int = record["ts_ns"]
            nbytes = record.get("nbytes")
            if type(nbytes) is not int:
                nbytes = 0
            msg_type = record.get("msg_type")
            type_key = msg_type if type(msg_type) is str else NO_MSG_TYPE
            type_stats = message_types.get(type_key)
            if type_stats is None:
                type_stats = message_types[type_key] = MessageTypeStats(type_key)
            sending = kind in SEND_EVENTS
            if sending:
                type_stats.messages_sent += 1
                type_stats.bytes_sent += nbytes
                per_node = timeline_sent
            else:
                type_stats.messages_received += 1
                type_stats.bytes_received += nbytes
                per_node = timeline_received
            bucket = (ts_ns - origin_ns) // width_ns
            if bucket > high or bucket < low:
                bucket = timeline.index(ts_ns)
                width_ns, low, high = timeline.width_ns, timeline.low, timeline.high
            buckets = per_node.get(node)
            if buckets is None:
                buckets = per_node[node] = {}
            buckets[bucket] = buckets.get(bucket, 0) + 1
            msg_id = record.get("msg_id")
            if type(msg_id) is not str:
                without_msg_id += 1
                continue
            if sending:
                sent_at = held_since.pop(msg_id, ts_ns) if held_since else ts_ns
                early = early_receives.pop(msg_id, None) if early_receives else None
                if early is None:
                    in_flight[msg_id] = (sent_at, node, type_stats)
                    continue
                latency = early[0] - sent_at
                sender, receiver = node, early[1]
            else:
                sent = in_flight.pop(msg_id, None)
                if sent is None:
                    early_receives[msg_id] = (ts_ns, node)
                    continue
                latency = ts_ns - sent[0]
                sender, receiver, type_stats = sent[1], node, sent[2]
            # The direction the message really took, from node to node, whatever `peer` says.
            direction = directions.get((sender, receiver))
            if direction is None or created_at:
                # The event's number: the counter's count, if it is counting as this loop goes.
                if counting:
                    index = counter.added
                else:
                    if positions is None:
                        positions = {id(each): position for position, each in enumerate(records)}
                    index = first_index + positions[id(record)]
                direction = self._direction(sender, receiver, index)
            direction.latencies_ns.append(latency)
            type_stats.latencies_ns.append(latency)
            overall.append(latency)
        self.without_msg_id = without_msg_id

    def _direction(self, sender: str, receiver: str, index: int) -> DirectionTraffic:
        """The direction ``sender -> receiver`` of a message matched at event ``index``, as a counter fed
        one event at a time, and asked for it then, would hold it.

        The counter has been fed the whole batch by now, and may have made the link between the two at a
        later event of it (or never, when no event names them as peers of each other). A counter fed one
        event at a time would make the link here instead, without a transport, and count the later events
        into it: the link is kept aside (``_latency_links``) and ``stats()`` puts it where it belongs.
        """
        first, second = (sender, receiver) if sender <= receiver else (receiver, sender)
        made = self.counter.created_at.get((first, second))
        found = self.counter.directions.get((sender, receiver))
        if found is not None and (made is None or made <= index):
            return found
        kept = self._latency_links.get((first, second))
        if kept is None:
            kept = self._latency_links[(first, second)] = (index, LinkTraffic(first, second, None, False))
        link = kept[1]
        # The direction TrafficCounter._link files under (sender, receiver), the second one when a = b.
        return link.b_to_a if (sender, receiver) == (link.b, link.a) else link.a_to_b

    def _links(self) -> dict[str, LinkTraffic]:
        """The counter's links, with those ``_direction`` kept aside in their place: what a counter fed one
        event at a time, and asked for each matched message's direction as it went, would hold."""
        counter = self.counter
        if not self._latency_links:
            return counter.links
        # (the number of the event that made the link, made by the counter before matching, the link)
        ordered: list[tuple[int, int, LinkTraffic]] = []
        kept_aside = dict(self._latency_links)
        for link in counter.links.values():
            made = 0 if link.in_topology else counter.created_at.get((link.a, link.b), 0)
            kept = kept_aside.pop((link.a, link.b), None)
            if kept is None:
                ordered.append((made, 0, link))
                continue
            # Made here at a matched message before any event named the two as peers: the counter's
            # counts, both sides' latencies, and no transport.
            index, merged = kept
            for mine, counted in zip(merged.directions, link.directions, strict=True):
                mine.messages_sent, mine.bytes_sent = counted.messages_sent, counted.bytes_sent
                mine.messages_received = counted.messages_received
                mine.bytes_received = counted.bytes_received
                mine.first_ts_ns, mine.last_ts_ns = counted.first_ts_ns, counted.last_ts_ns
                mine.latencies_ns.extend(counted.latencies_ns)
            ordered.append((index, 1, merged))
        ordered += [(index, 1, link) for index, link in kept_aside.values()]
        ordered.sort(key=lambda entry: entry[:2])
        return {link.key: link for _, _, link in ordered}

    def stats(self, path: str, skipped_lines: int, *, busiest_directions: int | None = None) -> TraceStats:
        """What the events added so far make: the stats of the trace at ``path``.

        ``busiest_directions``: the percentiles of only that many link directions, those with the most
        matched messages (the earlier one of a tie); every other direction's ``LatencyStats`` has its count
        alone. The report, which shows no more of them, sorts 1,000 groups of latencies instead of 50,000.
        """
        header, counter, message_types = self._header, self.counter, self.message_types
        links = self._links()
        full: set[int] | None = None  # the directions whose figures are worked out; None for all
        if busiest_directions is not None:
            # By key, as latency_by_direction holds them (a link of a node to itself has one for both).
            by_key = {direction.key: direction for link in links.values() for direction in link.directions}
            ranked = [direction for direction in by_key.values() if direction.latencies_ns]
            ranked.sort(key=lambda direction: -len(direction.latencies_ns))  # stable: ties keep order
            full = {id(direction) for direction in ranked[:busiest_directions]}
            del by_key, ranked
        latency_by_direction: dict[str, LatencyStats] = {}
        for link in links.values():
            for direction in link.directions:
                latencies = direction.latencies_ns
                if full is None or id(direction) in full:
                    latency_by_direction[direction.key] = LatencyStats.of(latencies)
                else:
                    latency_by_direction[direction.key] = LatencyStats.count_only(len(latencies))
        all_rtts = array("q")
        for rtts in self.rtt_by_node.values():
            all_rtts.extend(rtts)
        topology = header.get("topology")
        timeline, last_ts_ns = self.timeline, self.last_ts_ns
        return TraceStats(
            path=path,
            run_id=str_or_none(header.get("run_id")),
            topology=str_or_none(topology.get("name")) if isinstance(topology, dict) else None,
            app=str_or_none(header.get("app")),
            transport=str_or_none(header.get("transport")),
            start_ts_ns=self.start_ts_ns,
            events=self.events,
            first_ts_ns=self.first_ts_ns,
            last_ts_ns=last_ts_ns,
            nodes=counter.nodes,
            links=links,
            message_types=message_types,
            latency=LatencyStats.of(self.overall),
            latency_by_direction=latency_by_direction,
            latency_by_type={name: LatencyStats.of(t.latencies_ns) for name, t in message_types.items()},
            matched=len(self.overall),
            unmatched_sends=len(self.in_flight),
            unmatched_receives=len(self.early_receives),
            messages_without_msg_id=self.without_msg_id,
            messages_without_peer=counter.messages_without_peer,
            app_rtt=LatencyStats.of(all_rtts) if all_rtts else None,
            app_rtt_by_node={node: LatencyStats.of(rtts) for node, rtts in self.rtt_by_node.items()},
            timeline=None
            if timeline is None or last_ts_ns is None
            else timeline.result(counter.nodes, last_ts_ns),
            skipped_lines=skipped_lines,
            calls=None if self.calls is None or not self.calls.calls else calls_figures(self.calls),
        )


def calls_figures(calls: CallPairCounter) -> dict[str, Any]:
    """What ``trace stats --json`` prints under ``calls``: the pairs of the programs' calls, their bytes,
    what did not arrive, and one-way latency overall and per direction (``sender -> receiver``)."""
    calls.finish()
    return {
        "calls": calls.calls,
        "pairs": calls.stream_pairs + calls.datagram_pairs,
        "stream_pairs": calls.stream_pairs,
        "datagram_pairs": calls.datagram_pairs,
        "bytes_paired": calls.bytes_paired,
        "bytes_unreceived": calls.bytes_unreceived,
        "bytes_unsent": calls.bytes_unsent,
        "datagrams_lost": calls.datagrams_lost,
        "datagrams_dropped": calls.datagrams_dropped,
        "datagrams_unsent": calls.datagrams_unsent,
        "latency": {
            "overall": LatencyStats.of(calls.overall).to_dict(),
            "by_direction": {
                direction.key: {
                    "pairs": direction.pairs,
                    "bytes": direction.bytes_paired,
                    "datagrams": direction.datagrams,
                    "latency": LatencyStats.of(direction.latencies_ns).to_dict(),
                }
                for direction in calls.directions.values()
            },
        },
    }


def check_bucket_s(bucket_s: float | None) -> None:
    """Refuse a timeline bucket that is not a positive number of seconds."""
    if bucket_s is not None and not (bucket_s > 0 and math.isfinite(bucket_s)):
        raise OptionError(f"--bucket must be a positive number of seconds, got {bucket_s}")


@names_wrong_field_types
def trace_stats(
    run_or_trace: str | os.PathLike[str], *, bucket_s: float | None = None, strict: bool = True
) -> TraceStats:
    """Rates, one-way latency percentiles and a per-node timeline, in one streaming pass.

    ``bucket_s`` sets the timeline's bucket width in seconds (default: 50-100 buckets over the trace).
    ``strict=False`` skips malformed lines instead of raising ``TraceFormatError``; either way the
    number of skipped lines is in ``skipped_lines``.
    """
    check_bucket_s(bucket_s)
    # Batches of records stay alive while they are counted: the collector would walk them, and the
    # counts, at every collection, for nothing (a pass makes no reference cycles).
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader, cyclic_gc_paused():
        counter = StatsCounter(reader.header, reader.path, bucket_s)
        for batch, _skipped_before in reader.batches():
            counter.add_all(batch)
        return counter.stats(str(reader.path), reader.skipped_count)
