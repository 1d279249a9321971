"""The HTML report of one run: every analysis of its trace on one self-contained page.

``write_report`` reads a run directory (or a trace file) and writes one HTML file that opens with no
network access: CSS and JS are inline, the plot is a ``data:`` PNG, the message diagram an inline SVG,
and a Content-Security-Policy forbids loading anything else. The page shows the run's header and
outcome (``summary.json``), the summary, the verify checks, the stats, the plot, the diagram and a
searchable table of the first ``max_table_events`` events.

Every text that comes from the trace is escaped here with ``html.escape``, and the event table's data
is embedded as JSON with ``<`` written as ``\\u003c`` and turned into DOM text by the page's script
(``textContent``, never ``innerHTML``), so a node named ``<script>`` is shown, not run.

The analyses (verify, stats, diagram, plot) live in their own modules and are imported when the report
is built. A section whose module is missing says "not available"; a section whose analysis fails shows
the error; either way the rest of the report is still written, and ``ReportResult`` lists both.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import importlib
import importlib.resources
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from netsim.errors import InputError, OptionError
from netsim.trace.outputs import DEFAULT_MAX_TABLE_EVENTS, REPORT_FILE_NAME
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.summary import TraceSummary, summarize_trace

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

SUMMARY_FILE_NAME = "summary.json"
TEMPLATE_NAME = "report_template.html"
# Fields the event table shows in columns of their own; every other field goes into "details".
TABLE_COLUMNS = ("ts_ns", "node", "event", "peer", "msg_type", "msg_id", "nbytes")
# Examples listed under a failed verify check; the verifier may keep more.
MAX_EXAMPLES_SHOWN = 5
# Longest text a table cell shows from an analysis' dict before it is cut (app data can be anything).
MAX_CELL_CHARS = 300
# The timeline heat map shows this many nodes, the busiest, so that a big topology keeps the page small.
MAX_TIMELINE_NODES = 100
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_XML_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What ``write_report`` wrote: the file, its size, the table's coverage and any missing section.

    ``unavailable`` maps a section to why its analysis module could not be imported; ``failed`` maps a
    section to the error its analysis raised. Both sections still appear on the page, saying so.
    """

    path: Path
    size_bytes: int
    events_total: int
    events_in_table: int
    unavailable: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def table_truncated(self) -> bool:
        return self.events_in_table < self.events_total


@dataclass(slots=True)
class _Build:
    """State shared by the section renderers of one report."""

    run_or_trace: str | os.PathLike[str]
    trace_path: Path
    header: dict[str, Any]
    start_ts_ns: int | None
    unavailable: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    events_total: int = 0
    events_in_table: int = 0


# --- small formatting helpers --------------------------------------------------------------------


def _e(value: Any) -> str:
    """Escape any value as HTML text (quotes too, so the result is safe in attributes)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> str:
    if _is_int(value):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.6f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else f"{value:.3e}"
    return "-" if value is None else _e(value)


def _cut(text: str, limit: int = MAX_CELL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact_json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return str(value)


def _address(value: Any) -> str:
    """A sockname/peername as people write it: host:port, [v6]:port, or the AF_UNIX path."""
    if isinstance(value, list) and len(value) >= 2 and isinstance(value[0], str):
        host, port = value[0], value[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(value, str):
        return value or "''"
    return _compact_json(value)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.3f} s"


def _nanoseconds(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return _e(value)
    if abs(value) >= 1e9:
        return f"{value / 1e9:.3f} s"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3f} ms"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f} µs"
    return f"{value:.0f} ns"


def _bytes(value: Any) -> str:
    """A byte count for people (plain text: callers escape it)."""
    if not _is_int(value):
        return "-" if value is None else str(value)
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def _event_details(event: dict[str, Any]) -> str:
    """Every field of an event the table has no column for, as ``key=value`` pairs."""
    parts: list[str] = []
    for key, value in event.items():
        if key in TABLE_COLUMNS:
            continue
        if key in ("sockname", "peername"):
            text = _address(value)
        elif isinstance(value, str):
            text = value
        else:
            text = _compact_json(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _event_line(event: dict[str, Any], start_ts_ns: int | None) -> str:
    """One plain-text line for an event (the verify examples): format_event's if it exists."""
    try:
        from netsim.trace.events import format_event
    except ImportError:
        format_event = None
    if format_event is not None and start_ts_ns is not None:
        try:
            return str(format_event(event, start_ts_ns))
        except Exception:  # an example the formatter does not expect is still shown below
            log.debug("format_event failed on %r", event, exc_info=True)
    ts_ns = event.get("ts_ns")
    when = f"+{(ts_ns - start_ts_ns) / 1e6:.3f} ms" if _is_int(ts_ns) and start_ts_ns is not None else "?"
    who = str(event.get("node", "?"))
    kind = str(event.get("event", "?"))
    peer = event.get("peer")
    arrow = ""
    if isinstance(peer, str):
        arrow = f" → {peer}" if kind in ("send", "sendto", "connect") else f" ← {peer}"
    rest = " ".join(
        f"{key}={_address(value) if key in ('sockname', 'peername') else value}"
        for key, value in event.items()
        if key in ("msg_type", "msg_id", "nbytes", "lamport", "in_reply_to", "error", "reason", "transport")
    )
    return f"{when}  {who}  {kind}{arrow}  {rest}".rstrip()


def _table(
    columns: list[tuple[str, bool]], rows: Iterable[list[str]], *, scroll: bool = True, table_id: str = ""
) -> str:
    """An HTML table; ``columns`` are (escaped header, numeric?) and each row's cells are already HTML."""
    numeric = [is_num for _, is_num in columns]
    head = "".join(
        f'<th class="num">{name}</th>' if is_num else f"<th>{name}</th>" for name, is_num in columns
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{cell}</td>' if is_num else f'<td class="name">{cell}</td>'
            for cell, is_num in zip(row, numeric, strict=False)
        )
        body.append(f"<tr>{cells}</tr>")
    attributes = f' id="{table_id}"' if table_id else ""
    table = f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{table}</div>' if scroll else table


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>\n{body}\n</section>'


def _not_available(build: _Build, key: str, module: str, error: ImportError) -> str:
    reason = f"{module} could not be imported: {error}"
    build.unavailable[key] = reason
    return f'<p class="callout"><span class="badge na">not available</span> {_e(reason)}</p>'


def _failed(build: _Build, key: str, error: Exception) -> str:
    reason = f"{type(error).__name__}: {error}"
    build.failed[key] = reason
    log.warning("report section %s failed", key, exc_info=True)
    return f'<p class="callout bad"><span class="badge bad">failed</span> {_e(reason)}</p>'


def _run_analysis(
    build: _Build, key: str, module: str, name: str, render: Callable[[Callable[..., Any]], str]
) -> str:
    """Import ``module.name`` and hand it to ``render``; a missing module or a failure becomes a note.

    The trace has already been read in full (summary and event table) by then, so an error here is the
    analysis' own, and costs its section only.
    """
    try:
        imported = importlib.import_module(module)
        function = getattr(imported, name)
    except (ImportError, AttributeError) as error:
        missing = error if isinstance(error, ImportError) else ImportError(str(error))
        return _not_available(build, key, module, missing)
    try:
        return render(function)
    except Exception as error:  # a bug in one analysis must not cost the user the whole report
        return _failed(build, key, error)


# --- sections ------------------------------------------------------------------------------------


def _read_run_summary(trace_path: Path, run_id: Any) -> dict[str, Any] | None:
    """The run's summary.json next to the trace, if it is there, readable and about this run."""
    path = trace_path.parent / SUMMARY_FILE_NAME
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or (data.get("run_id") not in (None, run_id)):
        return None
    return data


def _started_at(value: Any) -> str:
    if not isinstance(value, str):
        return "-"
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _header_section(build: _Build, run_summary: dict[str, Any] | None) -> str:
    header = build.header
    topology = header.get("topology") if isinstance(header.get("topology"), dict) else {}
    nodes = topology.get("nodes") if isinstance(topology.get("nodes"), list) else []
    links = topology.get("links") if isinstance(topology.get("links"), list) else []
    topology_text = str(topology.get("name", "-"))
    if topology.get("source") not in (None, topology.get("name")):
        topology_text += f" ({topology.get('source')})"
    status = '<span class="badge na">no summary.json</span>'
    if run_summary is not None:
        exit_status = run_summary.get("exit_status")
        css = "ok" if exit_status == "ok" else "bad"
        ended_by = run_summary.get("ended_by")
        status = f'<span class="badge {css}">{_e(exit_status or "unknown")}</span>'
        if ended_by:
            status += f' <span class="muted">ended by {_e(ended_by)}</span>'
    rows: list[tuple[str, str]] = [
        ("status", status),
        (
            "topology",
            f"{_e(topology_text)} <span class='muted'>· {len(nodes)} nodes, {len(links)} links</span>",
        ),
        ("app", _e(header.get("app", "-"))),
        ("transport", _e(header.get("transport", "-"))),
        ("seed", _e(header.get("seed", "-"))),
        ("started", _e(_started_at(header.get("started_at")))),
        ("netsim", _e(header.get("netsim_version", "-"))),
        ("trace", f'<span class="mono">{_e(build.trace_path)}</span>'),
    ]
    if run_summary is not None:
        timing = run_summary.get("timing")
        if isinstance(timing, dict):
            rows.append(
                (
                    "timing",
                    _e(
                        " · ".join(
                            f"{name.removesuffix('_s')} {_seconds(value)}"
                            for name, value in timing.items()
                            if isinstance(value, int | float)
                        )
                    ),
                )
            )
    meta = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    notes = []
    if run_summary is not None:
        for failure in run_summary.get("node_failures") or []:
            notes.append(
                f'<div class="callout bad">node failure: {_e(_cut(_compact_json(failure), 2000))}</div>'
            )
        for warning in run_summary.get("warnings") or []:
            notes.append(f'<div class="callout warn">warning: {_e(_cut(str(warning), 2000))}</div>')
    run_id = header.get("run_id", "(no run id)")
    return f'<header id="top"><h1>{_e(run_id)}</h1><dl class="meta">{meta}</dl>{"".join(notes)}</header>'


def _summary_section(summary: TraceSummary) -> str:
    totals = summary.totals()

    def card(label: str, value: str, css: str = "") -> str:
        return (
            f'<div class="card {css}"><div class="value">{value}</div>'
            f'<div class="label">{_e(label)}</div></div>'
        )

    cards = [
        card("events", _number(summary.events)),
        card("duration", _e(_seconds(summary.duration_s))),
        card("nodes", _number(totals["nodes"])),
        card("links", _number(totals["links"])),
        card("messages sent", _number(totals["messages_sent"])),
        card("messages received", _number(totals["messages_received"])),
        card("bytes sent", _e(_bytes(totals["bytes_sent"]))),
        card("bytes received", _e(_bytes(totals["bytes_received"]))),
        card("lost", _number(totals["lost"]), "warn" if totals["lost"] else ""),
        card("errors", _number(totals["errors"]), "bad" if totals["errors"] else ""),
    ]
    if totals["messages_without_peer"]:
        cards.append(card("messages without peer", _number(totals["messages_without_peer"]), "warn"))
    if summary.skipped_lines:
        cards.append(card("skipped lines", _number(summary.skipped_lines), "warn"))
    parts = [f'<div class="cards">{"".join(cards)}</div>']
    node_rows = [
        [
            _e(stats.node),
            _number(stats.events),
            _number(stats.messages_sent),
            _number(stats.messages_received),
            _e(_bytes(stats.bytes_sent)),
            _e(_bytes(stats.bytes_received)),
            _number(stats.errors),
        ]
        for stats in summary.nodes.values()
    ]
    node_columns = [("node", False), ("events", True), ("msgs sent", True), ("msgs recv", True)]
    node_columns += [("bytes sent", True), ("bytes recv", True), ("errors", True)]
    parts.append("<h3>Nodes</h3>" + _table(node_columns, node_rows))
    link_rows = []
    for link in summary.links.values():
        transport = _e(link.transport or "-")
        if not link.in_topology:
            transport += ' <span class="badge warn">not in topology</span>'
        for direction in (link.a_to_b, link.b_to_a):
            lost = _number(direction.lost)
            link_rows.append(
                [
                    f"{_e(direction.source)} → {_e(direction.destination)}",
                    transport,
                    _number(direction.messages_sent),
                    _number(direction.messages_received),
                    f'<span class="badge warn">{lost}</span>' if direction.lost else lost,
                    _e(_bytes(direction.bytes_sent)),
                    _e(_bytes(direction.bytes_received)),
                ]
            )
    link_columns = [("direction", False), ("transport", False), ("sent", True), ("received", True)]
    link_columns += [("lost", True), ("bytes out", True), ("bytes in", True)]
    parts.append("<h3>Links, per direction</h3>" + _table(link_columns, link_rows))
    kinds = _table(
        [("event", False), ("count", True)],
        ([_e(kind), _number(count)] for kind, count in summary.event_counts.items()),
        scroll=False,
    )
    parts.append(f'<h3>Events by kind</h3><div class="narrow">{kinds}</div>')
    if summary.error_counts:
        errors = _table(
            [("count", True), ("error (first characters)", False)],
            ([_number(count), _e(text)] for text, count in summary.error_counts.items()),
        )
        parts.append(f"<h3>Errors</h3>{errors}")
    return _section("summary", "Summary", "\n".join(parts))


def _example_html(example: Any, start_ts_ns: int | None, problem: Any = None) -> str:
    if isinstance(example, dict) and "event" in example and "node" in example:
        text = _event_line(example, start_ts_ns)
    elif isinstance(example, dict | list):
        text = _compact_json(example)
    else:
        text = str(example)
    why = f'<div class="problem">{_e(_cut(str(problem), 1000))}</div>' if problem else ""
    return f"<li>{why}{_e(_cut(text, 2000))}</li>"


def _count_text(value: Any) -> str:
    """A figure a verify check reports besides its failures: a number, a {name: n} dict or a list."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {_count_text(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return _number(value)


def _verify_section(build: _Build) -> str:
    def render(verify_trace: Callable[..., Any]) -> str:
        report = verify_trace(build.run_or_trace)
        checks = list(report.checks)
        passed = sum(1 for check in checks if check.passed)
        css = "ok" if report.ok else "bad"
        verdict = (
            "all checks passed" if report.ok else f"{len(checks) - passed} of {len(checks)} checks failed"
        )
        head = (
            "<table><thead><tr><th>check</th><th>description</th><th>result</th>"
            '<th class="num">checked</th><th class="num">failures</th></tr></thead><tbody>'
        )
        rows = []
        for check in checks:
            badge = (
                '<span class="badge ok">pass</span>'
                if check.passed
                else '<span class="badge bad">FAIL</span>'
            )
            counts = getattr(check, "counts", None)
            extra = ""
            if isinstance(counts, dict) and counts:
                figures = "; ".join(
                    f"{str(key).replace('_', ' ')}: {_count_text(value)}"
                    for key, value in counts.items()
                    if value not in ({}, [], None)
                )
                extra = f'<div class="note">{_e(_cut(figures, 1000))}</div>' if figures else ""
            rows.append(
                f'<tr><td class="mono nowrap">{_e(check.name)}</td><td>{_e(check.description)}{extra}</td>'
                f'<td>{badge}</td><td class="num">{_number(check.checked)}</td>'
                f'<td class="num">{_number(check.failures)}</td></tr>'
            )
            examples = list(check.examples or [])
            if not check.passed and examples:
                problems = list(getattr(check, "problems", None) or [])
                items = "".join(
                    _example_html(
                        example, build.start_ts_ns, problems[index] if index < len(problems) else None
                    )
                    for index, example in enumerate(examples[:MAX_EXAMPLES_SHOWN])
                )
                more = ""
                if _is_int(check.failures) and check.failures > min(len(examples), MAX_EXAMPLES_SHOWN):
                    shown = min(len(examples), MAX_EXAMPLES_SHOWN)
                    more = f'<p class="note">first {shown} of {check.failures:,}</p>'
                rows.append(
                    f'<tr class="detail"><td></td><td colspan="4"><span class="note">first offending events'
                    f'</span><ul class="examples">{items}</ul>{more}</td></tr>'
                )
        table = f'<div class="scroll">{head}{"".join(rows)}</tbody></table></div>'
        return (
            f'<p><span class="badge {css}">{"PASS" if report.ok else "FAIL"}</span> {_e(verdict)}</p>{table}'
        )

    body = _run_analysis(build, "verify", "netsim.trace.verify", "verify_trace", render)
    return _section("verify", "Verify", body)


# --- stats: rendered from TraceStats.to_dict(), whatever subset of keys it has ---------------------


def _scalar_cell(value: Any) -> tuple[str, bool]:
    """(HTML, numeric?) for one value of an analysis' dict."""
    if value is None:
        return "-", True
    if isinstance(value, bool):
        return _e("yes" if value else "no"), False
    if isinstance(value, int | float):
        return _number(value), True
    if isinstance(value, str):
        return _e(_cut(value)), False
    return f'<span class="mono">{_e(_cut(_compact_json(value)))}</span>', False


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
    header: list[tuple[str, bool]] = [(_e(first_column), False)] if first_column is not None else []
    header += [(_e(key.replace("_", " ")), numeric[key]) for key in columns]
    rows = []
    for name, record in records:
        row = [_e(name)] if first_column is not None else []
        for key in columns:
            html_text, _ = _scalar_cell(record.get(key)) if key in record else ("", False)
            row.append(html_text)
        rows.append(row)
    return _table(header, rows)


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
                        _e(str(key).replace("_", " ")),
                        f'<span style="float:right">{cell}</span>' if is_num else cell,
                    ]
                )
            parts.append(_table([("field", False), ("value", False)], rows, scroll=False))
        for key, item in nested.items():
            parts.append(f"<h3>{_e(str(key).replace('_', ' '))}</h3>{_generic_html(item)}")
        return "".join(parts) or '<p class="note">(empty)</p>'
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return _records_table([(None, item) for item in value], None)
        if not value:
            return '<p class="note">(none)</p>'
        return f'<p class="mono">{_e(_cut(_compact_json(value), 2000))}</p>'
    cell, _ = _scalar_cell(value)
    return f"<p>{cell}</p>"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


LATENCY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("mean", "mean_ns"),
    ("min", "min_ns"),
    ("p50", "p50_ns"),
    ("p90", "p90_ns"),
    ("p99", "p99_ns"),
    ("max", "max_ns"),
)


def _latency_table(groups: list[tuple[str, str, dict[str, Any]]], first_column: str) -> str:
    """Rows of (group label, name, LatencyStats dict): count and percentiles, times in ns/µs/ms/s."""
    columns = [(_e(first_column), False), ("", False), ("count", True)]
    columns += [(label, True) for label, _ in LATENCY_COLUMNS]
    rows = []
    for label, name, latency in groups:
        row = [f'<span class="muted">{_e(label)}</span>', _e(name), _number(latency.get("count"))]
        row += [
            _nanoseconds(latency.get(key)) if latency.get(key) is not None else "-"
            for _, key in LATENCY_COLUMNS
        ]
        rows.append(row)
    return _table(columns, rows)


def _timeline_html(timeline: dict[str, Any]) -> str:
    """A heat map: one row per node (the busiest MAX_TIMELINE_NODES), one cell per bucket."""
    nodes = _dict(timeline.get("nodes"))
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

    per_node = {str(name): counts(_dict(value)) for name, value in nodes.items()}
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
        cells = [f'<td class="name mono">{_e(name)}</td>']
        for index, count in enumerate(row):
            if count:
                alpha = 0.12 + 0.88 * count / peak
                start = origin_s + index * bucket_s
                cells.append(
                    f'<td class="cell" style="background:rgba(9,105,218,{alpha:.2f})" '
                    f'title="{_e(name)} · {start:.4g} s: {count} messages"></td>'
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
    known = {"nodes", "links", "message_types", "latency", "app_rtt", "timeline"}
    parts: list[str] = []
    latency = _dict(stats.get("latency"))
    overall = _dict(latency.get("overall"))
    if latency:

        def card(label: str, value: str, css: str = "") -> str:
            return (
                f'<div class="card {css}"><div class="value">{value}</div>'
                f'<div class="label">{_e(label)}</div></div>'
            )

        cards = [
            card("messages matched", _number(latency.get("matched"))),
            card(
                "p50 one-way",
                _nanoseconds(overall.get("p50_ns")) if overall.get("p50_ns") is not None else "-",
            ),
            card(
                "p90 one-way",
                _nanoseconds(overall.get("p90_ns")) if overall.get("p90_ns") is not None else "-",
            ),
            card(
                "p99 one-way",
                _nanoseconds(overall.get("p99_ns")) if overall.get("p99_ns") is not None else "-",
            ),
            card(
                "max one-way",
                _nanoseconds(overall.get("max_ns")) if overall.get("max_ns") is not None else "-",
            ),
        ]
        for key, label in (
            ("unmatched_sends", "sends never received"),
            ("unmatched_receives", "receives without send"),
            ("messages_without_msg_id", "messages without msg_id"),
        ):
            if latency.get(key):
                cards.append(card(label, _number(latency.get(key)), "warn"))
        parts.append(f'<h3>One-way latency</h3><div class="cards">{"".join(cards)}</div>')
        groups: list[tuple[str, str, dict[str, Any]]] = [("all", "all messages", overall)]
        groups += [("type", str(name), _dict(item)) for name, item in _dict(latency.get("by_type")).items()]
        groups += [
            ("direction", str(name), _dict(item))
            for name, item in _dict(latency.get("by_direction")).items()
            if _dict(item).get("count")
        ]
        parts.append(
            '<p class="note">Receive time minus send time of each message, matched by msg_id; percentiles '
            "are nearest-rank (values that happened).</p>" + _latency_table(groups, "group")
        )
    app_rtt = _dict(stats.get("app_rtt"))
    if app_rtt:
        groups = [("all", "all nodes", _dict(app_rtt.get("overall")))]
        groups += [("node", str(name), _dict(item)) for name, item in _dict(app_rtt.get("by_node")).items()]
        parts.append(
            "<h3>App round trips</h3>"
            '<p class="note">Round trips the app measured itself (<code>app</code> events with '
            '<code>"kind": "rtt"</code>), per measuring node.</p>' + _latency_table(groups, "group")
        )
    nodes = _dict(stats.get("nodes"))
    if nodes:
        rows = []
        for name, item in nodes.items():
            node = _dict(item)
            rates = _dict(node.get("per_s_active"))
            rows.append(
                [
                    _e(name),
                    _e(node.get("app") or "-"),
                    _e(_seconds(node.get("active_s"))),
                    _number(node.get("messages_sent")),
                    _number(node.get("messages_received")),
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
            + _table(columns, rows)
        )
    message_types = _dict(stats.get("message_types"))
    if message_types:
        rows = [
            [
                _e(name),
                _number(_dict(item).get("messages_sent")),
                _number(_dict(item).get("messages_received")),
                _e(_bytes(_dict(item).get("bytes_sent"))),
                _e(_bytes(_dict(item).get("bytes_received"))),
            ]
            for name, item in message_types.items()
        ]
        columns = [("message type", False), ("sent", True), ("received", True)]
        columns += [("bytes sent", True), ("bytes received", True)]
        parts.append("<h3>Message types</h3>" + _table(columns, rows))
    timeline = _dict(stats.get("timeline"))
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


def _rate(value: Any, unit: str = "") -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    text = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    if unit == "B/s":
        return _e(_bytes(int(round(value)))) + "/s"
    return text


def _stats_section(build: _Build) -> str:
    def render(trace_stats: Callable[..., Any]) -> str:
        return _stats_html(trace_stats(build.run_or_trace).to_dict())

    body = _run_analysis(build, "stats", "netsim.trace.stats", "trace_stats", render)
    return _section("stats", "Stats", body)


def _plot_section(build: _Build) -> str:
    def render(render_plot_png: Callable[..., Any]) -> str:
        png = render_plot_png(build.run_or_trace)
        if not isinstance(png, bytes | bytearray) or not png.startswith(b"\x89PNG"):
            raise ValueError("render_plot_png did not return PNG bytes")
        data = base64.b64encode(png).decode("ascii")
        return (
            f'<figure><img alt="topology and messages over time" src="data:image/png;base64,{data}"></figure>'
        )

    body = _run_analysis(build, "plot", "netsim.trace.plot", "render_plot_png", render)
    return _section("topology", "Topology and messages over time", body)


def _diagram_section(build: _Build) -> str:
    def render(render_diagram: Callable[..., Any]) -> str:
        diagram = render_diagram(build.run_or_trace)
        svg = _XML_PROLOG.sub("", str(diagram.svg), count=1)
        if not svg.lstrip().startswith("<svg"):
            raise ValueError("render_diagram did not return an SVG document")
        note_text = getattr(diagram, "note", "") or ""
        left_out = getattr(diagram, "left_out", None)
        if not note_text and isinstance(left_out, dict) and left_out:
            note_text = "not drawn: " + "; ".join(
                f"{_dict(entry).get('count', '?')} {name}" for name, entry in left_out.items()
            )
        note = f'<p class="note">{_e(_cut(str(note_text), 2000))}</p>' if note_text else ""
        return f'{note}<div class="diagram">{svg}</div>'

    body = _run_analysis(build, "diagram", "netsim.trace.diagram", "render_diagram", render)
    return _section("diagram", "Message diagram", body)


def _events_section(build: _Build, reader: TraceReader, max_table_events: int) -> tuple[str, str]:
    """The event table's section and its data block: the first ``max_table_events`` events as JSON."""
    names: dict[str, int] = {}
    kinds: dict[str, int] = {}
    # The topology's order first, so that the node filter lists nodes as the topology does.
    header_nodes = _dict(build.header.get("topology")).get("nodes")
    for node in header_nodes if isinstance(header_nodes, list) else []:
        if isinstance(node, str):
            names.setdefault(node, len(names))
    rows: list[list[Any]] = []
    total = 0
    start = build.start_ts_ns
    for event in reader:
        total += 1
        if len(rows) >= max_table_events:
            continue
        if start is None:
            start = event["ts_ns"]
        node = names.setdefault(event["node"], len(names))
        kind = kinds.setdefault(event["event"], len(kinds))
        peer_name = event.get("peer")
        peer = names.setdefault(peer_name, len(names)) if isinstance(peer_name, str) else -1
        msg_type = event.get("msg_type")
        msg_id = event.get("msg_id")
        nbytes = event.get("nbytes")
        rows.append(
            [
                (event["ts_ns"] - start) // 1000,
                node,
                kind,
                peer,
                msg_type if isinstance(msg_type, str) else None,
                msg_id if isinstance(msg_id, str) else None,
                nbytes if _is_int(nbytes) else None,
                _cut(_event_details(event), 2000),
            ]
        )
    build.events_total = total
    build.events_in_table = len(rows)
    payload = orjson.dumps({"nodes": list(names), "kinds": list(kinds), "rows": rows})
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
        coverage = f'<p class="note">All {total:,} events. Times are milliseconds since the run started.</p>'
    controls = (
        '<div class="controls">'
        '<input type="search" id="events-search" aria-label="Filter events"'
        ' placeholder="Filter events: node, type, msg id, address, error…">'
        '<select id="events-node" aria-label="Recorded by node"><option value="">all nodes</option></select>'
        '<select id="events-kind" aria-label="Event kind"><option value="">all event kinds</option></select>'
        '<button type="button" id="events-clear">Clear</button>'
        "</div>"
        '<p class="note" id="events-count">Loading events…</p>'
    )
    table = (
        '<div class="scroll"><table id="events-table"><thead><tr>'
        '<th class="num">t (ms)</th><th>node</th><th>event</th><th>peer</th><th>msg type</th>'
        '<th>msg id</th><th class="num">bytes</th><th>details</th>'
        '</tr></thead><tbody id="events-body"></tbody></table></div>'
        '<div class="more" id="events-more" hidden><button type="button" id="events-more-button">'
        'Show 1,000 more</button><button type="button" id="events-all-button">Show all</button></div>'
        '<noscript><p class="callout warn">The event table needs JavaScript.</p></noscript>'
    )
    return _section("events", "Events", coverage + controls + table), data_block


# --- the page ------------------------------------------------------------------------------------


def _template() -> str:
    return importlib.resources.files("netsim.trace").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")


def _content_security_policy(template: str) -> str:
    """Allow only the template's own inline script (by hash), inline styles and data: images."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _SCRIPT.findall(template)
    )
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def _build(run_or_trace: str | os.PathLike[str], max_table_events: int) -> tuple[str, _Build]:
    if not _is_int(max_table_events) or max_table_events < 0:
        raise OptionError(f"--max-events must be a whole number >= 0, got {max_table_events!r}")
    trace_path = resolve_trace_path(run_or_trace)
    with TraceReader(trace_path) as reader:
        header = reader.header
        start_ts_ns = header.get("start_ts_ns") if _is_int(header.get("start_ts_ns")) else None
        build = _Build(run_or_trace, trace_path, header, start_ts_ns)
        summary = summarize_trace(trace_path)
        events_html, events_data = _events_section(build, reader, max_table_events)
    run_summary = _read_run_summary(trace_path, header.get("run_id"))
    sections = {
        "header": _header_section(build, run_summary),
        "summary": _summary_section(summary),
        "verify": _verify_section(build),
        "stats": _stats_section(build),
        "plot": _plot_section(build),
        "diagram": _diagram_section(build),
        "events": events_html,
        "events_data": events_data,
    }
    template = _template()
    values = {
        **sections,
        # Ours alone and free of '"': unescaped quotes keep it readable in the page source.
        "csp": html.escape(_content_security_policy(template), quote=False),
        "title": _e(f"netsim report: {header.get('run_id', trace_path)}"),
        "netsim_version": _e(header.get("netsim_version", "")),
        "trace_path": _e(trace_path),
    }
    # One pass, so text inserted for one placeholder is never scanned for another.
    page = _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    return page, build


def render_report(
    run_or_trace: str | os.PathLike[str], *, max_table_events: int = DEFAULT_MAX_TABLE_EVENTS
) -> str:
    """The report of a run directory or trace file, as one self-contained HTML page."""
    page, _ = _build(run_or_trace, max_table_events)
    return page


def default_report_path(run_or_trace: str | os.PathLike[str]) -> Path:
    """Where a run's report goes when no file is named: report.html next to its trace."""
    return resolve_trace_path(run_or_trace).parent / REPORT_FILE_NAME


def write_report(
    run_or_trace: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    max_table_events: int = DEFAULT_MAX_TABLE_EVENTS,
) -> ReportResult:
    """Write the report of a run directory or trace file to ``out_path`` (a directory gets report.html).

    The file is written next to its final name and renamed into place, so a browser that reloads it
    never sees half a page.
    """
    page, build = _build(run_or_trace, max_table_events)
    target = Path(out_path)
    if target.is_dir():
        target = target / REPORT_FILE_NAME
    data = page.encode("utf-8")
    temporary = target.with_name(target.name + ".writing")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InputError(
            f"{target}: cannot write the report: {error.strerror or error}",
            hint="choose another output file with -o",
        ) from None
    return ReportResult(
        path=target,
        size_bytes=len(data),
        events_total=build.events_total,
        events_in_table=build.events_in_table,
        unavailable=dict(build.unavailable),
        failed=dict(build.failed),
    )
