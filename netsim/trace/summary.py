"""What happened in a run, in one streaming pass over its trace: counts per node, per link and direction.

``summarize_trace`` reads events through ``TraceReader`` and keeps only counters, so memory grows with
the number of nodes, links and distinct error texts, never with the number of events. The node and link
counters, and how loss is counted, are ``netsim.trace.traffic``'s (shared with ``trace_stats`` and the
export); this module adds the counts of events and error texts, and the summary's shape of it all.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter
from typing import Any

from netsim.trace.field_types import names_wrong_field_types
from netsim.trace.reader import TraceReader, cyclic_gc_paused, resolve_trace_path
from netsim.trace.records import str_or_none
from netsim.trace.schema import errors_of, header_start_ts_ns

# LINK_SEPARATOR and link_key are this module's API too.
from netsim.trace.traffic import LINK_SEPARATOR as LINK_SEPARATOR
from netsim.trace.traffic import DirectionTraffic, LinkTraffic, NodeTraffic, TrafficCounter, seconds_between
from netsim.trace.traffic import link_key as link_key

# Error events are grouped by the start of their text; addresses and byte offsets come later in a line.
ERROR_TEXT_CHARS = 60
FIRST_ERRORS_KEPT = 5
# Distinct error texts counted one by one; beyond this they share one bucket, to bound memory.
MAX_ERROR_TEXTS = 100
OTHER_ERRORS = "(other error texts)"
NO_ERROR_TEXT = "(no error text)"

# The summary reports a link direction as the counter keeps it.
DirectionStats = DirectionTraffic

# The events that count errors (``errors_of``); the rest only count.
ERROR_EVENTS = frozenset({"error", "stop"})
_EVENT = itemgetter("event")
_TS_NS = itemgetter("ts_ns")


@dataclass(slots=True)
class NodeStats(NodeTraffic):
    """One node's traffic: messages are send/sendto and recv/recvfrom events."""

    def to_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """The node as ``netsim trace summary --json`` prints it: its counts, no times or rates."""
        return {"node": self.node, **self.counts()}


@dataclass(slots=True)
class LinkStats(LinkTraffic):
    """One undirected link ``a -- b`` (a < b) and its two directions (``in_topology`` as in the counter)."""

    def direction(self, source: str) -> DirectionStats:
        return self.a_to_b if source == self.a else self.b_to_a

    def to_dict(self) -> dict[str, Any]:
        return {**self.names(), "directions": [self.a_to_b.to_dict(), self.b_to_a.to_dict()]}


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """The result of ``summarize_trace``; ``to_dict()`` is what ``netsim trace summary --json`` prints."""

    path: str
    run_id: str | None
    schema: str
    netsim_version: str | None
    topology: str | None
    app: str | None
    transport: str | None
    seed: Any
    start_ts_ns: int | None
    events: int
    event_counts: dict[str, int]
    first_ts_ns: int | None
    last_ts_ns: int | None
    nodes: dict[str, NodeTraffic]
    links: dict[str, LinkTraffic]
    errors: int
    error_counts: dict[str, int]
    first_errors: list[dict[str, Any]]
    messages_without_peer: int
    skipped_lines: int

    def _seconds_into_run(self, ts_ns: int | None) -> float | None:
        return seconds_between(self.start_ts_ns, ts_ns)

    @property
    def first_s(self) -> float | None:
        """Seconds from the run's start (header ``start_ts_ns``) to the first event."""
        return self._seconds_into_run(self.first_ts_ns)

    @property
    def last_s(self) -> float | None:
        """Seconds from the run's start to the last event."""
        return self._seconds_into_run(self.last_ts_ns)

    @property
    def duration_s(self) -> float | None:
        """Seconds from the first event to the last."""
        return seconds_between(self.first_ts_ns, self.last_ts_ns)

    def totals(self) -> dict[str, int]:
        directions = [d for link in self.links.values() for d in (link.a_to_b, link.b_to_a)]
        return {
            "nodes": len(self.nodes),
            "links": len(self.links),
            "messages_sent": sum(n.messages_sent for n in self.nodes.values()),
            "messages_received": sum(n.messages_received for n in self.nodes.values()),
            "bytes_sent": sum(n.bytes_sent for n in self.nodes.values()),
            "bytes_received": sum(n.bytes_received for n in self.nodes.values()),
            "lost": sum(d.lost for d in directions),
            "dropped": sum(d.dropped for d in directions),
            "errors": self.errors,
            "messages_without_peer": self.messages_without_peer,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "run_id": self.run_id,
            "schema": self.schema,
            "netsim_version": self.netsim_version,
            "topology": self.topology,
            "app": self.app,
            "transport": self.transport,
            "seed": self.seed,
            "events": self.events,
            "event_counts": dict(self.event_counts),
            "start_ts_ns": self.start_ts_ns,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "first_s": self.first_s,
            "last_s": self.last_s,
            "duration_s": self.duration_s,
            # NodeStats.to_dict and LinkStats.to_dict, spelled out: the report's summary shares the
            # counter of its pass, whose nodes and links are plain NodeTraffic and LinkTraffic.
            "nodes": {name: {"node": stats.node, **stats.counts()} for name, stats in self.nodes.items()},
            "links": {
                key: {**link.names(), "directions": [link.a_to_b.to_dict(), link.b_to_a.to_dict()]}
                for key, link in self.links.items()
            },
            "totals": self.totals(),
            "errors": {
                "count": self.errors,
                "by_text": [{"text": text, "count": count} for text, count in self.error_counts.items()],
                "first": list(self.first_errors),
            },
            "skipped_lines": self.skipped_lines,
        }


class SummaryCounter:
    """``summarize_trace``'s pass: feed it the events of a trace in order (``add_all``, as often as
    needed), then ask for the ``summary()``. ``netsim trace report`` feeds it batches of events from the
    one pass it makes for all its sections, and hands it the ``TrafficCounter`` that pass feeds: the
    summary then counts its events and errors only, and its nodes and links are that counter's."""

    def __init__(self, header: dict[str, Any], traffic: TrafficCounter | None = None) -> None:
        self._header = header
        self._counts_traffic = traffic is None
        self.counter = (
            TrafficCounter(header, node_type=NodeStats, link_type=LinkStats) if traffic is None else traffic
        )
        self.event_counts: Counter[str] = Counter()
        self.error_counts: Counter[str] = Counter()
        self.first_errors: list[dict[str, Any]] = []
        self.first_ts_ns: int | None = None
        self.last_ts_ns: int | None = None
        self.events = 0
        self.errors = 0

    def add_all(self, records: Sequence[dict[str, Any]]) -> None:
        """Count these events (records from ``TraceReader``), the next ones of the trace."""
        if not records:
            return
        if self._counts_traffic:
            add = self.counter.add
            for record in records:
                add(record)
        # What is counted per event is counted per batch, in C: the kinds by Counter.update, the span by
        # min and max (traces are sorted, but the earliest and the latest keep a hand-edited one honest).
        kinds = list(map(_EVENT, records))
        self.event_counts.update(kinds)
        self.events += len(records)
        stamps = list(map(_TS_NS, records))
        earliest, latest = min(stamps), max(stamps)
        if self.first_ts_ns is None or earliest < self.first_ts_ns:
            self.first_ts_ns = earliest
        if self.last_ts_ns is None or latest > self.last_ts_ns:
            self.last_ts_ns = latest
        error_counts, first_errors = self.error_counts, self.first_errors
        for record in compress(records, map(ERROR_EVENTS.__contains__, kinds)):
            self.errors += errors_of(record)
            if record["event"] == "stop":
                continue
            text = record.get("error")
            text = text[:ERROR_TEXT_CHARS] if isinstance(text, str) and text else NO_ERROR_TEXT
            if text not in error_counts and len(error_counts) >= MAX_ERROR_TEXTS:
                text = OTHER_ERRORS
            error_counts[text] += 1
            if len(first_errors) < FIRST_ERRORS_KEPT:
                first_errors.append(record)

    def summary(self, path: str, skipped_lines: int) -> TraceSummary:
        """What the events added so far make: the summary of the trace at ``path``."""
        header = self._header
        topology = header.get("topology")
        return TraceSummary(
            path=path,
            run_id=str_or_none(header.get("run_id")),
            schema=header["schema"],
            netsim_version=str_or_none(header.get("netsim_version")),
            topology=str_or_none(topology.get("name")) if isinstance(topology, dict) else None,
            app=str_or_none(header.get("app")),
            transport=str_or_none(header.get("transport")),
            seed=header.get("seed"),
            start_ts_ns=header_start_ts_ns(header),
            events=self.events,
            event_counts=dict(self.event_counts.most_common()),
            first_ts_ns=self.first_ts_ns,
            last_ts_ns=self.last_ts_ns,
            nodes=self.counter.nodes,
            links=self.counter.links,
            errors=self.errors,
            error_counts=dict(self.error_counts.most_common()),
            first_errors=self.first_errors,
            messages_without_peer=self.counter.messages_without_peer,
            skipped_lines=skipped_lines,
        )


@names_wrong_field_types
def summarize_trace(run_or_trace: str | os.PathLike[str], *, strict: bool = True) -> TraceSummary:
    """Summarize a run directory's or trace file's trace in one streaming pass.

    ``strict=False`` skips malformed lines instead of raising ``TraceFormatError``; either way the
    number of skipped lines is in ``skipped_lines``.
    """
    # Batches of records stay alive while they are counted: the collector would walk them, and the
    # counts, at every collection, for nothing (a pass makes no reference cycles).
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader, cyclic_gc_paused():
        counter = SummaryCounter(reader.header)
        for batch, _skipped_before in reader.batches():
            counter.add_all(batch)
        return counter.summary(str(reader.path), reader.skipped_count)
