"""The report's stats section, rendered from ``TraceStats.to_dict()``, whatever subset of keys it has.

The parts this page knows (latency, app round trips, nodes, message types, the timeline) get tables of
their own; any other key is shown as generic tables, so that a figure the stats add later still reaches
the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netsim.trace.records import compact_json, cut
from netsim.trace.report.analysis import Fed, ReportBuild, analysis_html
from netsim.trace.report.calls import calls_html
from netsim.trace.report.markup import (
    MAX_TABLE_ROWS,
    as_dict,
    busiest,
    busiest_note,
    byte_size,
    card,
    escape,
    nanoseconds,
    number,
    seconds,
    section,
    table,
)

if TYPE_CHECKING:
    from netsim.trace.stats import StatsCounter
    from netsim.trace.traffic import TrafficCounter

# Longest text a table cell shows from an analysis' dict before it is cut (app data can be anything).
MAX_CELL_CHARS = 300

# The timeline heat map shows this many nodes, the busiest, so that a big topology keeps the page small.
MAX_TIMELINE_NODES = 100
# Where the tables cut to the MAX_TABLE_ROWS busiest rows send the reader for all of them.
STATS_COMMAND = "netsim trace stats RUN --json"


def _scalar_cell(value: Any) -> tuple[str, bool]:
    """(HTML, numeric?) for one value of an analysis' dict."""
    if value is None:
        return "-", True
    if isinstance(value, bool):
        return escape("yes" if value else "no"), False
    if isinstance(value, int | float):
        return number(value), True
    if isinstance(value, str):
        return escape(cut(value, MAX_CELL_CHARS)), False
    return f'<span class="mono">{escape(cut(compact_json(value), MAX_CELL_CHARS))}</span>', False


def _records_table(records: list[tuple[str | None, dict[str, Any]]], first_column: str | None) -> str:
    """A table of dict records (rows), one column per key seen; nested values shown as JSON."""
    columns: list[str] = []
    for _, record in records:
        for key in record:
            if key not in columns:
                columns.append(key)
    numeric = {
        key: all(
            isinstance(record.get(key), int | float | None) and not isinstance(record.get(key), bool)
            for _, record in records
        )
        for key in columns
    }
    header: list[tuple[str, bool]] = [(escape(first_column), False)] if first_column is not None else []
    header += [(escape(key.replace("_", " ")), numeric[key]) for key in columns]
    rows = []
    for name, record in records:
        row = [escape(name)] if first_column is not None else []
        for key in columns:
            html_text, _ = _scalar_cell(record.get(key)) if key in record else ("", False)
            row.append(html_text)
        rows.append(row)
    return table(header, rows)


def _generic_html(value: Any, key_label: str = "name") -> str:
    """Render any JSON-like value as tables: dict of records, list of records, or key/value pairs."""
    if isinstance(value, dict):
        if value and all(isinstance(item, dict) for item in value.values()):
            return _records_table([(str(key), item) for key, item in value.items()], key_label)
        scalars = {key: item for key, item in value.items() if not isinstance(item, dict | list)}
        nested = {key: item for key, item in value.items() if isinstance(item, dict | list)}
        parts = []
        if scalars:
            rows = []
            for key, item in scalars.items():
                cell, is_num = _scalar_cell(item)
                rows.append(
                    [
                        escape(str(key).replace("_", " ")),
                        f'<span style="float:right">{cell}</span>' if is_num else cell,
                    ]
                )
            parts.append(table([("field", False), ("value", False)], rows, scroll=False))
        for key, item in nested.items():
            parts.append(f"<h3>{escape(str(key).replace('_', ' '))}</h3>{_generic_html(item)}")
        return "".join(parts) or '<p class="note">(empty)</p>'
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return _records_table([(None, item) for item in value], None)
        if not value:
            return '<p class="note">(none)</p>'
        return f'<p class="mono">{escape(cut(compact_json(value), 2000))}</p>'
    cell, _ = _scalar_cell(value)
    return f"<p>{cell}</p>"


LATENCY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("mean", "mean_ns"),
    ("min", "min_ns"),
    ("p50", "p50_ns"),
    ("p90", "p90_ns"),
    ("p99", "p99_ns"),
    ("max", "max_ns"),
)


def _latency(value_ns: Any) -> str:
    return "-" if value_ns is None else nanoseconds(value_ns)


def _latency_table(groups: list[tuple[str, str, dict[str, Any]]], first_column: str) -> str:
    """Rows of (group label, name, LatencyStats dict): count and percentiles, times in ns/µs/ms/s."""
    columns = [(escape(first_column), False), ("", False), ("count", True)]
    columns += [(label, True) for label, _ in LATENCY_COLUMNS]
    rows = []
    for label, name, latency in groups:
        row = [f'<span class="muted">{escape(label)}</span>', escape(name), number(latency.get("count"))]
        row += [_latency(latency.get(key)) for _, key in LATENCY_COLUMNS]
        rows.append(row)
    return table(columns, rows)


def _timeline_html(timeline: dict[str, Any]) -> str:
    """A heat map: one row per node (the busiest MAX_TIMELINE_NODES), one cell per bucket."""
    nodes = as_dict(timeline.get("nodes"))
    bucket_s = timeline.get("bucket_s")
    origin_s = timeline.get("origin_s")
    if not nodes or not isinstance(bucket_s, int | float) or bucket_s <= 0:
        return '<p class="note">(no timeline)</p>'
    origin_s = origin_s if isinstance(origin_s, int | float) else 0.0

    def counts(per_node: dict[str, Any]) -> list[int]:
        sent = per_node.get("sent") if isinstance(per_node.get("sent"), list) else []
        received = per_node.get("received") if isinstance(per_node.get("received"), list) else []
        width = max(len(sent), len(received))
        sent = sent + [0] * (width - len(sent))
        received = received + [0] * (width - len(received))
        return [int(a) + int(b) for a, b in zip(sent, received, strict=True)]

    per_node = {str(name): counts(as_dict(value)) for name, value in nodes.items()}
    ranked = sorted(per_node, key=lambda name: -sum(per_node[name]))
    shown = set(ranked[:MAX_TIMELINE_NODES])
    buckets = max((len(row) for row in per_node.values()), default=0)
    peak = max((max(row, default=0) for row in per_node.values()), default=0) or 1
    tick_every = max(1, -(-buckets // 10))
    head = ["<th>node</th>"]
    for index in range(0, buckets, tick_every):
        span = min(tick_every, buckets - index)
        head.append(f'<th class="tick" colspan="{span}">{origin_s + index * bucket_s:.3g} s</th>')
    rows = []
    for name, row in per_node.items():
        if name not in shown:
            continue
        cells = [f'<td class="name mono">{escape(name)}</td>']
        for index, count in enumerate(row):
            if count:
                alpha = 0.12 + 0.88 * count / peak
                start = origin_s + index * bucket_s
                cells.append(
                    f'<td class="cell" style="background:rgba(9,105,218,{alpha:.2f})" '
                    f'title="{escape(name)} · {start:.4g} s: {count} messages"></td>'
                )
            else:
                cells.append('<td class="cell"></td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = (
        f'<p class="note">Messages sent + received per node per {bucket_s * 1000:.4g} ms bucket, '
        f"seconds into the run; darker is busier (peak {peak:,} in one bucket). "
        "Hover a cell for its count.</p>"
    )
    if len(per_node) > len(shown):
        note += f'<p class="note">The {len(shown):,} busiest of {len(per_node):,} nodes.</p>'
    table = (
        f'<table class="heat"><thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    return f'{note}<div class="scroll">{table}</div>'


def _stats_html(stats: dict[str, Any]) -> str:
    """The parts of ``TraceStats.to_dict()`` this page knows, then any other key as generic tables."""
    known = {"nodes", "links", "message_types", "latency", "app_rtt", "timeline", "calls"}
    parts: list[str] = []
    latency = as_dict(stats.get("latency"))
    overall = as_dict(latency.get("overall"))
    if latency:
        cards = [card("messages matched", number(latency.get("matched")))]
        cards += [
            card(f"{name} one-way", _latency(overall.get(f"{name}_ns")))
            for name in ("p50", "p90", "p99", "max")
        ]
        for key, label in (
            ("unmatched_sends", "sends never received"),
            ("unmatched_receives", "receives without send"),
            ("messages_without_msg_id", "messages without msg_id"),
        ):
            if latency.get(key):
                cards.append(card(label, number(latency.get(key)), "warn"))
        parts.append(f'<h3>One-way latency</h3><div class="cards">{"".join(cards)}</div>')
        groups: list[tuple[str, str, dict[str, Any]]] = [("all", "all messages", overall)]
        groups += [
            ("type", str(name), as_dict(item)) for name, item in as_dict(latency.get("by_type")).items()
        ]
        directions = [
            ("direction", str(name), as_dict(item))
            for name, item in as_dict(latency.get("by_direction")).items()
            if as_dict(item).get("count")
        ]
        shown = busiest(directions, _count)
        groups += shown
        parts.append(
            '<p class="note">Receive time minus send time of each message, matched by msg_id; percentiles '
            "are nearest-rank (values that happened).</p>"
            + busiest_note(len(shown), len(directions), "link directions", STATS_COMMAND)
            + _latency_table(groups, "group")
        )
    calls = as_dict(stats.get("calls"))
    if calls:
        parts.append(calls_html(calls, _latency_table, _latency, STATS_COMMAND))
    app_rtt = as_dict(stats.get("app_rtt"))
    if app_rtt:
        groups = [("all", "all nodes", as_dict(app_rtt.get("overall")))]
        by_node = [
            ("node", str(name), as_dict(item)) for name, item in as_dict(app_rtt.get("by_node")).items()
        ]
        shown = busiest(by_node, _count)
        groups += shown
        parts.append(
            "<h3>App round trips</h3>"
            '<p class="note">Round trips the app measured itself (<code>app</code> events with '
            '<code>"kind": "rtt"</code>), per measuring node.</p>'
            + busiest_note(len(shown), len(by_node), "measuring nodes", STATS_COMMAND)
            + _latency_table(groups, "group")
        )
    nodes = as_dict(stats.get("nodes"))
    if nodes:
        rows = []
        shown_nodes = busiest(list(nodes.items()), lambda entry: _handled(as_dict(entry[1])))
        for name, item in shown_nodes:
            node = as_dict(item)
            rates = as_dict(node.get("per_s_active"))
            rows.append(
                [
                    escape(name),
                    escape(node.get("app") or "-"),
                    escape(seconds(node.get("active_s"))),
                    number(node.get("messages_sent")),
                    number(node.get("messages_received")),
                    _rate(rates.get("messages_sent")),
                    _rate(rates.get("messages_received")),
                    _rate(rates.get("bytes_sent"), "B/s"),
                    _rate(rates.get("bytes_received"), "B/s"),
                ]
            )
        columns = [("node", False), ("app", False), ("active", True), ("msgs sent", True)]
        columns += [
            ("msgs recv", True),
            ("sent /s", True),
            ("recv /s", True),
            ("out /s", True),
            ("in /s", True),
        ]
        parts.append(
            "<h3>Nodes</h3>"
            '<p class="note">Rates over each node\'s active span, from its first event to its last.</p>'
            + busiest_note(len(shown_nodes), len(nodes), "nodes", STATS_COMMAND)
            + table(columns, rows)
        )
    message_types = as_dict(stats.get("message_types"))
    if message_types:
        rows = [
            [
                escape(name),
                number(as_dict(item).get("messages_sent")),
                number(as_dict(item).get("messages_received")),
                escape(byte_size(as_dict(item).get("bytes_sent"))),
                escape(byte_size(as_dict(item).get("bytes_received"))),
            ]
            for name, item in message_types.items()
        ]
        columns = [("message type", False), ("sent", True), ("received", True)]
        columns += [("bytes sent", True), ("bytes received", True)]
        parts.append("<h3>Message types</h3>" + table(columns, rows))
    timeline = as_dict(stats.get("timeline"))
    if timeline:
        parts.append("<h3>Timeline</h3>" + _timeline_html(timeline))
    others = {
        key: value
        for key, value in stats.items()
        if key not in known and isinstance(value, dict | list) and value
    }
    if others:
        parts.append("<h3>Other figures</h3>" + _generic_html(others))
    return "\n".join(parts) if parts else _generic_html(stats)


def _count(group: tuple[str, str, dict[str, Any]]) -> int | float:
    """How many values a latency group holds (anything else in its place counts as none)."""
    count = group[2].get("count")
    return count if isinstance(count, int | float) and not isinstance(count, bool) else 0


def _handled(node: dict[str, Any]) -> int | float:
    """Messages a node of the stats sent and received."""
    values = (node.get("messages_sent"), node.get("messages_received"))
    return sum(v for v in values if isinstance(v, int | float) and not isinstance(v, bool))


def _rate(value: Any, unit: str = "") -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    text = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    if unit == "B/s":
        return escape(byte_size(int(round(value)))) + "/s"
    return text


def stats_fed(build: ReportBuild, traffic: TrafficCounter) -> Fed[StatsCounter]:
    """The stats' counter, to feed in the report's pass, which feeds ``traffic`` for it."""

    def start() -> StatsCounter:
        from netsim.trace.stats import StatsCounter  # here, not above: see analysis_html

        return StatsCounter(build.header, build.trace_path, traffic=traffic)

    return Fed(start, lambda counter, events, _skipped_before: counter.add_all(events))


def stats_section(build: ReportBuild, fed: Fed[StatsCounter]) -> str:
    return section(
        "stats", "Stats", analysis_html(build, "stats", lambda build: _trace_stats_html(build, fed))
    )


def _trace_stats_html(build: ReportBuild, fed: Fed[StatsCounter]) -> str:
    # Latency percentiles of the link directions the page shows, the busiest, and no others.
    stats = fed.take().stats(str(build.trace_path), build.skipped_lines, busiest_directions=MAX_TABLE_ROWS)
    # The page shows link directions by their latency, and the timeline's counts as a heat map: its
    # rows as they are, without the rates and copies of Timeline.to_dict.
    figures = stats.to_dict(links=False, timeline=False)
    timeline = stats.timeline
    if timeline is not None:
        figures["timeline"] = {
            "bucket_s": timeline.bucket_s,
            "origin_s": None
            if stats.start_ts_ns is None
            else (timeline.origin_ts_ns - stats.start_ts_ns) / 1e9,
            "nodes": {
                node: {"sent": timeline.sent[node], "received": timeline.received[node]}
                for node in timeline.sent
            },
        }
    else:
        figures["timeline"] = None
    return _stats_html(figures)
