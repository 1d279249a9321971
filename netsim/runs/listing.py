"""Listing runs: what ran in each run directory under ``runs/``, when, and how it ended.

``list_runs`` reads each run directory's ``summary.json``. A run without one (interrupted before the
launcher wrote it) is listed as ``incomplete`` with what its trace header says, or, if it has no trace
either, what its ``topology.json`` and its name say. Neither file is ever read past its first line or
its few kilobytes, so listing is fast however large the traces are.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from netsim.errors import InputError, NetsimError
from netsim.runs.layout import (
    DEFAULT_RUNS_DIR,
    HEADER_PART_NAME,
    NODE_DIR_NAME,
    RUN_ID_TIME_FORMAT,
    SUMMARY_FILE_NAME,
    TOPOLOGY_FILE_NAME,
    TRACE_FILE_NAME,
)
from netsim.trace.reader import read_header

INCOMPLETE = "incomplete"
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run directory. ``messages`` is the number of messages sent, None when unknown (no summary).

    ``status`` is summary.json's ``exit_status`` (``ok``, ``failed``), ``incomplete`` when the run has
    no summary.json, or ``unreadable`` when its files cannot be parsed (``problem`` says why).
    """

    run_id: str
    run_dir: Path
    started_at: str | None
    topology: str | None
    app: str | None
    nodes: int | None
    messages: int | None
    status: str
    ended_by: str | None = None
    problem: str | None = None

    @property
    def started(self) -> datetime.datetime | None:
        """``started_at`` as an aware datetime, or the time in the run id (local time) if it has none."""
        if self.started_at:
            try:
                started = datetime.datetime.fromisoformat(self.started_at)
            except ValueError:
                started = None
            if started is not None:
                return started if started.tzinfo else started.astimezone()
        try:
            return datetime.datetime.strptime(self.run_id[:15], RUN_ID_TIME_FORMAT).astimezone()
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "started_at": self.started_at,
            "topology": self.topology,
            "app": self.app,
            "nodes": self.nodes,
            "messages": self.messages,
            "status": self.status,
            "ended_by": self.ended_by,
            "problem": self.problem,
        }


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _from_summary(run_dir: Path, summary_path: Path) -> RunInfo:
    try:
        summary = orjson.loads(summary_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        return _unreadable(run_dir, f"{summary_path.name}: {error}")
    if not isinstance(summary, dict):
        return _unreadable(run_dir, f"{summary_path.name}: not a JSON object")
    topology = summary.get("topology")
    return RunInfo(
        run_id=_str(summary.get("run_id")) or run_dir.name,
        run_dir=run_dir,
        started_at=_str(summary.get("started_at")),
        topology=_str(topology.get("name")) if isinstance(topology, dict) else _str(topology),
        app=_str(summary.get("app")),
        nodes=_int(summary.get("nodes")),
        messages=_int(summary.get("messages_sent")),
        status=_str(summary.get("exit_status")) or "unknown",
        ended_by=_str(summary.get("ended_by")),
    )


def _from_trace_header(run_dir: Path, trace_path: Path, *, recoverable: bool = False) -> RunInfo:
    """A run without a summary: its merged trace's header, or (``recoverable``) the header its launcher
    wrote before the nodes started, when it died before merging their trace parts."""
    try:
        header = read_header(trace_path)
    except NetsimError as error:
        return _unreadable(run_dir, error.message)
    topology = header.get("topology")
    nodes = topology.get("nodes") if isinstance(topology, dict) else None
    return RunInfo(
        run_id=_str(header.get("run_id")) or run_dir.name,
        run_dir=run_dir,
        started_at=_str(header.get("started_at")),
        topology=_str(topology.get("name")) if isinstance(topology, dict) else None,
        app=_str(header.get("app")),
        nodes=len(nodes) if isinstance(nodes, list) else None,
        messages=None,
        status=INCOMPLETE,
        problem=(
            f"its launcher died before finishing it; `netsim runs recover {run_dir}` merges its trace"
            if recoverable
            else None
        ),
    )


def _from_topology(run_dir: Path, topology_path: Path) -> RunInfo:
    """A run stopped before its trace was merged: its topology.json and its name are all there is."""
    name = nodes = None
    try:
        topology = orjson.loads(topology_path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        topology = None
    if isinstance(topology, dict):
        name = _str(topology.get("name"))
        nodes = len(topology["nodes"]) if isinstance(topology.get("nodes"), list) else None
    return RunInfo(
        run_id=run_dir.name,
        run_dir=run_dir,
        started_at=None,
        topology=name,
        app=None,
        nodes=nodes,
        messages=None,
        status=INCOMPLETE,
    )


def _unreadable(run_dir: Path, problem: str) -> RunInfo:
    return RunInfo(
        run_id=run_dir.name,
        run_dir=run_dir,
        started_at=None,
        topology=None,
        app=None,
        nodes=None,
        messages=None,
        status=UNREADABLE,
        problem=problem,
    )


def read_run(run_dir: str | os.PathLike[str]) -> RunInfo | None:
    """What a run directory holds, or None if it is not a run directory (no summary, trace or topology)."""
    path = Path(run_dir)
    if (path / SUMMARY_FILE_NAME).is_file():
        return _from_summary(path, path / SUMMARY_FILE_NAME)
    if (path / TRACE_FILE_NAME).is_file():
        return _from_trace_header(path, path / TRACE_FILE_NAME)
    if (path / NODE_DIR_NAME / HEADER_PART_NAME).is_file():
        return _from_trace_header(path, path / NODE_DIR_NAME / HEADER_PART_NAME, recoverable=True)
    if (path / TOPOLOGY_FILE_NAME).is_file() and (path / NODE_DIR_NAME).is_dir():
        return _from_topology(path, path / TOPOLOGY_FILE_NAME)
    return None


def _newest_first_key(info: RunInfo) -> tuple[float, str]:
    started = info.started
    if started is not None:
        timestamp = started.timestamp()
    else:
        try:
            timestamp = info.run_dir.stat().st_mtime
        except OSError:
            timestamp = 0.0
    return (timestamp, info.run_id)


def list_runs(directory: str | os.PathLike[str] = DEFAULT_RUNS_DIR) -> list[RunInfo]:
    """Every run in ``directory`` (what ``netsim run --out`` wrote to), newest first.

    Subdirectories that are not runs are left out. A missing directory is an ``InputError``.
    """
    path = Path(directory)
    if not path.exists():
        raise InputError(
            f"{path}: no such directory",
            hint="runs are listed from where `netsim run --out DIR` wrote them (runs/ by default); "
            "pass that directory",
        )
    if not path.is_dir():
        raise InputError(f"{path}: not a directory", hint="pass the directory that holds the run directories")
    try:
        children = sorted(child for child in path.iterdir() if child.is_dir())
    except OSError as error:
        raise InputError(f"{path}: cannot list the directory: {error.strerror or error}") from None
    runs = [info for info in map(read_run, children) if info is not None]
    runs.sort(key=_newest_first_key, reverse=True)
    return runs
