"""The report's top: the run's header (topology, app, seed, start) and its outcome from ``summary.json``."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import orjson

from netsim.runs.layout import SUMMARY_FILE_NAME
from netsim.trace.records import compact_json, cut
from netsim.trace.report.analysis import ReportBuild
from netsim.trace.report.markup import escape, seconds


def read_run_summary(trace_path: Path, run_id: Any) -> dict[str, Any] | None:
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


def header_html(build: ReportBuild, run_summary: dict[str, Any] | None) -> str:
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
        status = f'<span class="badge {css}">{escape(exit_status or "unknown")}</span>'
        if ended_by:
            status += f' <span class="muted">ended by {escape(ended_by)}</span>'
    rows: list[tuple[str, str]] = [
        ("status", status),
        (
            "topology",
            f"{escape(topology_text)} <span class='muted'>· {len(nodes)} nodes, {len(links)} links</span>",
        ),
        ("app", escape(header.get("app", "-"))),
        ("transport", escape(header.get("transport", "-"))),
        ("seed", escape(header.get("seed", "-"))),
        ("started", escape(_started_at(header.get("started_at")))),
        ("netsim", escape(header.get("netsim_version", "-"))),
        ("trace", f'<span class="mono">{escape(build.trace_path)}</span>'),
    ]
    if run_summary is not None:
        timing = run_summary.get("timing")
        if isinstance(timing, dict):
            rows.append(
                (
                    "timing",
                    escape(
                        " · ".join(
                            f"{name.removesuffix('_s')} {seconds(value)}"
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
                f'<div class="callout bad">node failure: {escape(cut(compact_json(failure), 2000))}</div>'
            )
        for warning in run_summary.get("warnings") or []:
            notes.append(f'<div class="callout warn">warning: {escape(cut(str(warning), 2000))}</div>')
    run_id = header.get("run_id", "(no run id)")
    return f'<header id="top"><h1>{escape(run_id)}</h1><dl class="meta">{meta}</dl>{"".join(notes)}</header>'
