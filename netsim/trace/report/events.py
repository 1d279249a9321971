"""The report's event table: its section, and the first ``max_table_events`` events as an embedded JSON block.

The data is embedded with ``<``, ``>`` and ``&`` written as ``\\u`` escapes and turned into DOM text by
the page's script (``textContent``, never ``innerHTML``), so a node named ``<script>`` is shown, not run.
"""

from __future__ import annotations

from typing import Any

import orjson

from netsim.trace.records import compact_json, cut, format_address, is_int
from netsim.trace.report.analysis import ReportBuild
from netsim.trace.report.markup import as_dict, section

# Fields the event table shows in columns of their own; every other field goes into "details".
TABLE_COLUMNS = ("ts_ns", "node", "event", "peer", "msg_type", "msg_id", "nbytes")


def event_details(event: dict[str, Any]) -> str:
    """Every field of an event the table has no column for, as ``key=value`` pairs."""
    parts: list[str] = []
    for key, value in event.items():
        if key in TABLE_COLUMNS:
            continue
        if key in ("sockname", "peername"):
            text = format_address(value)
        elif isinstance(value, str):
            text = value
        else:
            text = compact_json(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)


# The table's controls and its empty body, which the page's script fills from the data block.
CONTROLS = (
    '<div class="controls">'
    '<input type="search" id="events-search" aria-label="Filter events"'
    ' placeholder="Filter events: node, type, msg id, address, error…">'
    '<select id="events-node" aria-label="Recorded by node"><option value="">all nodes</option></select>'
    '<select id="events-kind" aria-label="Event kind"><option value="">all event kinds</option></select>'
    '<button type="button" id="events-clear">Clear</button>'
    "</div>"
    '<p class="note" id="events-count">Loading events…</p>'
)
TABLE = (
    '<div class="scroll"><table id="events-table"><thead><tr>'
    '<th class="num">t (ms)</th><th>node</th><th>event</th><th>peer</th><th>msg type</th>'
    '<th>msg id</th><th class="num">bytes</th><th>details</th>'
    '</tr></thead><tbody id="events-body"></tbody></table></div>'
    '<div class="more" id="events-more" hidden><button type="button" id="events-more-button">'
    'Show 1,000 more</button><button type="button" id="events-all-button">Show all</button></div>'
    '<noscript><p class="callout warn">The event table needs JavaScript.</p></noscript>'
)


class EventTable:
    """The event table, filled in the report's pass over the trace: ``add_all`` each batch of events,
    then ``section()``. It keeps the first ``max_table_events`` events as rows and counts the rest."""

    def __init__(self, build: ReportBuild, max_table_events: int) -> None:
        self.build = build
        self.max_table_events = max_table_events
        self.names: dict[str, int] = {}
        self.kinds: dict[str, int] = {}
        # The topology's order first, so that the node filter lists nodes as the topology does.
        header_nodes = as_dict(build.header.get("topology")).get("nodes")
        for node in header_nodes if isinstance(header_nodes, list) else []:
            if isinstance(node, str):
                self.names.setdefault(node, len(self.names))
        self.rows: list[list[Any]] = []
        self.total = 0
        self.start = build.start_ts_ns

    def add_all(self, events: list[dict[str, Any]]) -> None:
        """Take these events, the next ones of the trace."""
        self.total += len(events)
        room = self.max_table_events - len(self.rows)
        if room <= 0:
            return
        names, kinds, rows = self.names, self.kinds, self.rows
        for event in events[:room]:
            if self.start is None:
                self.start = event["ts_ns"]
            node = names.setdefault(event["node"], len(names))
            kind = kinds.setdefault(event["event"], len(kinds))
            peer_name = event.get("peer")
            peer = names.setdefault(peer_name, len(names)) if isinstance(peer_name, str) else -1
            msg_type = event.get("msg_type")
            msg_id = event.get("msg_id")
            nbytes = event.get("nbytes")
            rows.append(
                [
                    (event["ts_ns"] - self.start) // 1000,
                    node,
                    kind,
                    peer,
                    msg_type if isinstance(msg_type, str) else None,
                    msg_id if isinstance(msg_id, str) else None,
                    nbytes if is_int(nbytes) else None,
                    cut(event_details(event), 2000),
                ]
            )

    def section(self) -> tuple[str, str]:
        """The event table's section and its data block: the rows as JSON."""
        build, rows, total, max_table_events = self.build, self.rows, self.total, self.max_table_events
        build.events_total = total
        build.events_in_table = len(rows)
        payload = orjson.dumps({"nodes": list(self.names), "kinds": list(self.kinds), "rows": rows})
        # JSON only has "<", ">" and "&" inside strings, where \u escapes mean the same: no "</script>",
        # "<!--" or "<script" can end or confuse the data block.
        payload = payload.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")
        data_block = f'<script type="application/json" id="events-data">{payload.decode()}</script>'
        if total > len(rows):
            coverage = (
                f'<p class="callout warn">This table holds the first {len(rows):,} of {total:,} events '
                f"(--max-events {max_table_events:,}). Every other section covers the whole trace.</p>"
            )
        else:
            coverage = (
                f'<p class="note">All {total:,} events. Times are milliseconds since the run started.</p>'
            )
        return section("events", "Events", coverage + CONTROLS + TABLE), data_block
