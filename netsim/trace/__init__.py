"""Traces: the ``netsim-trace/1`` schema, reading and merging trace files, and summarizing a run.

Every name here is imported on first use (PEP 562), so that importing a module of this package
(``netsim.trace.outputs``, say, for the CLI's help) does not load the reader and the summary too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from netsim.trace.merge import merge_node_traces
    from netsim.trace.reader import (
        TraceReader,
        iter_events,
        read_header,
        resolve_trace_path,
    )
    from netsim.trace.schema import SCHEMA
    from netsim.trace.summary import TraceSummary, summarize_trace

# Public name -> the module that defines it.
_HOMES: dict[str, str] = {
    "SCHEMA": "netsim.trace.schema",
    "TraceSummary": "netsim.trace.summary",
    "summarize_trace": "netsim.trace.summary",
    "merge_node_traces": "netsim.trace.merge",
    **dict.fromkeys(
        ("TraceReader", "iter_events", "read_header", "resolve_trace_path"), "netsim.trace.reader"
    ),
}

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


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals(), __all__)
