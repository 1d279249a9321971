"""Traces: the ``netsim-trace/1`` schema, reading and merging trace files, and summarizing a run."""

from __future__ import annotations

from netsim.trace.reader import (
    TraceReader,
    iter_events,
    merge_node_traces,
    read_header,
    resolve_trace_path,
)
from netsim.trace.schema import SCHEMA
from netsim.trace.summary import TraceSummary, summarize_trace

__all__ = [
    "SCHEMA",
    "TraceReader",
    "TraceSummary",
    "iter_events",
    "merge_node_traces",
    "read_header",
    "resolve_trace_path",
    "summarize_trace",
]
