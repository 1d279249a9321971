"""Finishing a run directory: one merged ``trace.jsonl`` and ``summary.json`` from the nodes' parts.

``netsim.run`` finishes every run this way, however it ended: done, quiet, duration, a failure, a stop
signal, or an error inside the launcher. The one ending it cannot see is its own SIGKILL: its nodes
then end by themselves and flush their trace parts (``netsim.runtime.lifeline``), and
``recover_run`` (``netsim runs recover RUN_DIR``) finishes the directory from those parts and the
header written before any node started.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from netsim.errors import InputError
from netsim.runs.layout import HEADER_PART_NAME, NODE_DIR_NAME, PART_GLOB, SUMMARY_FILE_NAME, TRACE_FILE_NAME
from netsim.runs.summary import RunSummary, TopologyRef, write_summary
from netsim.trace.merge import merge_node_traces
from netsim.trace.summary import summarize_trace

# How a run ended when its launcher died before it could say: only ``recover_run`` writes this.
LAUNCHER_DIED = "launcher-died"


def write_header_part(node_dir: Path, header: dict[str, Any]) -> None:
    """Keep the trace header on disk before any node starts, for a recovery after a launcher's SIGKILL.

    One line, as the first line of a trace: the trace tools read it as a trace with no events yet.
    """
    (node_dir / HEADER_PART_NAME).write_bytes(orjson.dumps(header) + b"\n")


def merge_parts(run_dir: Path, header: dict[str, Any]) -> list[str]:
    """Merge the part files under ``nodes/`` into ``trace.jsonl``, remove them; returns warnings.

    One part per node process (a restarted node writes a new one), plus the launcher's fault events.
    A part truncated by a killed process loses its last line only, and the warning says so.
    """
    node_dir = run_dir / NODE_DIR_NAME
    parts = sorted(node_dir.glob(PART_GLOB))
    skipped_lines: list[tuple[Path, int, str]] = []
    merge_node_traces(
        [part for part in parts if part.exists()], header, run_dir / TRACE_FILE_NAME, skipped=skipped_lines
    )
    for part in parts:
        part.unlink(missing_ok=True)
    (node_dir / HEADER_PART_NAME).unlink(missing_ok=True)
    return [f"{path.name}:{line}: {reason} (dropped from the trace)" for path, line, reason in skipped_lines]


def traffic_totals(run_dir: Path) -> dict[str, Any]:
    """The summary's counts, read from the merged trace (every message on the wire)."""
    # The totals alone: to_dict() would build a dict per node, link and link direction (some 80,000 for
    # 5,000 nodes) only to read six numbers.
    trace_summary = summarize_trace(run_dir / TRACE_FILE_NAME)
    totals = trace_summary.totals()
    return {
        "messages_sent": totals["messages_sent"],
        "messages_received": totals["messages_received"],
        "bytes_sent": totals["bytes_sent"],
        "bytes_received": totals["bytes_received"],
        "errors": totals["errors"],
        "events": trace_summary.events,
    }


def what_ran(run_dir: Path, header: dict[str, Any]) -> dict[str, Any]:
    """The summary's first fields, the same for every run however it ended: read from its header."""
    topology = header.get("topology") if isinstance(header.get("topology"), dict) else {}
    return {
        "run_id": header.get("run_id", run_dir.name),
        "run_dir": str(run_dir),
        "trace": str(run_dir / TRACE_FILE_NAME),
        "topology": TopologyRef(name=topology.get("name"), source=topology.get("source")),
        "app": header.get("app"),
        "transport": header.get("transport"),
        "seed": header.get("seed"),
        "nodes": len(topology.get("nodes") or []),
        "links": len(topology.get("links") or []),
    }


def recover_run(run_dir: str | os.PathLike[str]) -> RunSummary:
    """Finish a run whose launcher died: merge its parts, write a summary that says so; return it.

    Raises InputError when ``run_dir`` is not such a run (finished already, or not a run at all).
    """
    path = Path(run_dir)
    header_path = path / NODE_DIR_NAME / HEADER_PART_NAME
    if (path / SUMMARY_FILE_NAME).exists():
        raise InputError(f"{path}: the run is finished (it has {SUMMARY_FILE_NAME}); nothing to recover")
    if not header_path.is_file():
        raise InputError(
            f"{path}: not a run directory whose launcher died: no {NODE_DIR_NAME}/{HEADER_PART_NAME}",
            hint="pass a directory that `netsim run` wrote (see `netsim runs list`)",
        )
    try:
        header = orjson.loads(header_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise InputError(f"{header_path}: cannot read the run's header: {error}") from None
    if not isinstance(header, dict):
        raise InputError(f"{header_path}: the run's header is not a JSON object")
    try:
        warnings = merge_parts(path, header)
    except ValueError as error:
        raise InputError(f"{header_path}: {error}") from None
    summary = RunSummary(
        **what_ran(path, header),
        **traffic_totals(path),
        exit_status="failed",
        ended_by=LAUNCHER_DIED,
        signal=None,
        node_failures=[],
        faults=[],
        started_at=header.get("started_at"),
        netsim_version=header.get("netsim_version"),
        warnings=[
            "recovered by `netsim runs recover`: the launcher died before it finished the run; each node "
            "flushed its trace part when it noticed, so the last moments of the run may be missing",
            *_over_hosts_warning(header),
            *warnings,
        ],
    )
    write_summary(path, summary)
    return summary


def _over_hosts_warning(header: dict[str, Any]) -> list[str]:
    if not isinstance(header.get("cluster"), dict):
        return []
    return [
        "a run over many hosts: its nodes' trace parts were on their hosts, and their agents took them "
        "away when the launcher died; only what the launcher's machine kept is here (docs/cluster.md)"
    ]
