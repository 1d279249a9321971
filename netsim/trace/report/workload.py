"""The report's workload section, for a run with ``--workload``: the verdict, the operations' outcomes
and latencies, latency over time and a timeline of every client's operations.

It reads ``results.json`` and ``history.jsonl`` beside the trace (a trace without them has no such
section). The two pictures are inline SVG drawn here, like the diagram's: a point per operation, its
latency against its invocation time; and a lane per client, a bar per operation from invocation to
completion. Green is ok, red fail, amber info (timed out or indefinite). A history of more than
``MAX_DRAWN_OPS`` operations is drawn from an even sample of them (the page says so); the counts are
always of all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from netsim.runs.layout import HISTORY_FILE_NAME, RESULTS_FILE_NAME
from netsim.trace.records import format_ms, format_share
from netsim.trace.report.markup import card, escape, number, section, table

MAX_DRAWN_OPS = 5_000
WIDTH, PLOT_HEIGHT, LANE_HEIGHT, MARGIN = 900, 220, 14, 48
COLOURS = {"ok": "#2e7d32", "fail": "#c62828", "info": "#f9a825"}


def workload_section(trace_path: Path) -> str:
    """The section's HTML, or "" for a run without a workload."""
    run_dir = trace_path.parent
    results_path = run_dir / RESULTS_FILE_NAME
    if not results_path.is_file():
        return ""
    try:
        results = orjson.loads(results_path.read_bytes())
        ops = _operations(run_dir / HISTORY_FILE_NAME)
    except (OSError, orjson.JSONDecodeError) as error:
        return section("workload", "Workload", f"<p>The workload's files cannot be read: {escape(error)}</p>")
    if not isinstance(results, dict):
        return ""
    return section("workload", f"Workload: {results.get('workload', '?')}", _body(results, ops))


def _operations(path: Path) -> list[dict[str, Any]]:
    """One dict per completed operation: process, f, outcome, invoke and complete times, final."""
    ops: list[dict[str, Any]] = []
    if not path.is_file():
        return ops
    invoked: dict[str, dict[str, Any]] = {}
    with open(path, "rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("time_ns"), int):
                continue
            process = str(record.get("process"))
            if record.get("type") == "invoke":
                invoked[process] = record
            elif process in invoked:
                start = invoked.pop(process)
                ops.append(
                    {
                        "process": process,
                        "f": str(start.get("f")),
                        "type": str(record.get("type")),
                        "invoke_ns": start["time_ns"],
                        "complete_ns": record["time_ns"],
                        "final": bool(start.get("final")),
                    }
                )
    return ops


def _body(results: dict[str, Any], ops: list[dict[str, Any]]) -> str:
    valid = results.get("valid")
    verdict = {True: ("valid", "ok"), False: ("invalid", "bad")}.get(valid, ("unknown", "warn"))
    stats = results.get("stats") if isinstance(results.get("stats"), dict) else {}
    latency = stats.get("latency_ms") if isinstance(stats.get("latency_ms"), dict) else {}
    cards = "".join(
        [
            card("verdict", escape(verdict[0]), verdict[1]),
            card("operations", number(results.get("ops"))),
            card("ok / fail / info", " / ".join(number(stats.get(key, 0)) for key in ("ok", "fail", "info"))),
            card("availability", format_share(stats.get("availability"))),
            card(
                "latency p50 / p99 / max",
                " / ".join(format_ms(latency.get(key)) for key in ("p50", "p99", "max")),
            ),
            card(
                "msgs-per-op", "-" if results.get("msgs_per_op") is None else f"{results['msgs_per_op']:.2f}"
            ),
        ]
    )
    parts = [f'<div class="cards">{cards}</div>']
    if results.get("explanation"):
        parts.append(f"<p><strong>Why:</strong> {escape(results['explanation'])}</p>")
    checkers = results.get("checkers") if isinstance(results.get("checkers"), dict) else {}
    rows = [
        [escape(name), escape(str(verdict_of.get("valid"))), escape(verdict_of.get("explanation") or "")]
        for name, verdict_of in checkers.items()
        if isinstance(verdict_of, dict)
    ]
    if rows:
        parts.append(
            table([("checker", False), ("valid", False), ("explanation", False)], rows, scroll=False)
        )
    if ops:
        drawn = ops if len(ops) <= MAX_DRAWN_OPS else ops[:: -(-len(ops) // MAX_DRAWN_OPS)]
        if len(drawn) < len(ops):
            parts.append(
                f"<p>Drawn: {number(len(drawn))} of {number(len(ops))} operations, evenly spaced.</p>"
            )
        start = min(op["invoke_ns"] for op in ops)
        end = max(op["complete_ns"] for op in ops)
        parts.append("<h3>Latency over time</h3>" + _latency_plot(drawn, start, end))
        parts.append("<h3>Operations by client</h3>" + _timeline(drawn, start, end))
        parts.append(_legend())
    return "\n".join(parts)


def _x(ns: int, start: int, end: int) -> float:
    return MARGIN + (WIDTH - 2 * MARGIN) * (ns - start) / max(1, end - start)


def _latency_plot(ops: list[dict[str, Any]], start: int, end: int) -> str:
    latencies = [(op["complete_ns"] - op["invoke_ns"]) / 1e6 for op in ops]
    top = max(latencies) or 1.0
    points = []
    for op, latency in zip(ops, latencies, strict=True):
        x = _x(op["invoke_ns"], start, end)
        y = PLOT_HEIGHT - MARGIN / 2 - (PLOT_HEIGHT - MARGIN) * latency / top
        points.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{COLOURS.get(op["type"], "#555")}">'
            f"<title>{escape(op['process'])} {escape(op['f'])} {escape(op['type'])}: "
            f"{latency:.2f} ms</title></circle>"
        )
    axis = (
        f'<text x="4" y="14" font-size="11">{top:,.1f} ms</text>'
        f'<text x="4" y="{PLOT_HEIGHT - 8}" font-size="11">0</text>'
        f'<text x="{WIDTH - MARGIN}" y="{PLOT_HEIGHT - 8}" font-size="11" text-anchor="end">'
        f"{(end - start) / 1e9:.2f} s</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{PLOT_HEIGHT}" role="img" '
        f'aria-label="operation latency over time">{axis}{"".join(points)}</svg>'
    )


def _timeline(ops: list[dict[str, Any]], start: int, end: int) -> str:
    processes = sorted({op["process"] for op in ops}, key=lambda name: (len(name), name))
    lane = {name: index for index, name in enumerate(processes)}
    height = LANE_HEIGHT * len(processes) + MARGIN / 2
    bars = [
        f'<text x="4" y="{index * LANE_HEIGHT + 11}" font-size="11">{escape(name)}</text>'
        for name, index in lane.items()
    ]
    for op in ops:
        x0, x1 = _x(op["invoke_ns"], start, end), _x(op["complete_ns"], start, end)
        y = lane[op["process"]] * LANE_HEIGHT + 2
        outline = ' stroke="#000" stroke-width="0.5"' if op["final"] else ""
        bars.append(
            f'<rect x="{x0:.1f}" y="{y}" width="{max(1.0, x1 - x0):.1f}" height="{LANE_HEIGHT - 4}" '
            f'fill="{COLOURS.get(op["type"], "#555")}"{outline}>'
            f"<title>{escape(op['process'])} {escape(op['f'])} {escape(op['type'])}"
            f"{' (final read)' if op['final'] else ''}</title></rect>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" role="img" '
        f'aria-label="operations by client over time">{"".join(bars)}</svg>'
    )


def _legend() -> str:
    items = " ".join(
        f'<span style="color:{colour}">&#9632;</span> {escape(name)}' for name, colour in COLOURS.items()
    )
    return f"<p>{items}; outlined: final reads.</p>"
