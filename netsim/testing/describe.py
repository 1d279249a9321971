"""A finished run told in a few lines, for a test's output: how it ended, the seed that replays it, each
node that failed with the end of its log, and where the run directory is.

The assertion helpers put it under their message, and the pytest plugin in a failed test's report.
"""

from __future__ import annotations

import os
from pathlib import Path

import netsim
from netsim.launch.result import Run

# A failed node's log is shown by its last lines: where a Python traceback ends, with its cause.
LOG_TAIL_LINES = 12
# Each of those lines at most this long (a program may print megabytes without a newline).
LOG_LINE_CHARACTERS = 500
# The failed nodes shown with their logs; the others are named on one line (a run where every node of
# a 20-node grid fails would fill a screen per test otherwise).
NODES_SHOWN = 3
# How much of a log's end is read for them: a traceback of any sane depth, without reading the log.
LOG_TAIL_BYTES = 32 * 1024
TRACEBACK_HEADER = "Traceback (most recent call last):"
# A traceback's frames inside netsim (the event loop that called the app) say nothing to the app's
# author: they are left out, and the app's own frames and the error stay.
NETSIM_FRAME = f'  File "{Path(netsim.__file__).parent}{os.sep}'


def describe_run(run: Run, *, log_lines: int = LOG_TAIL_LINES) -> str:
    """Several lines: the run's id, outcome and ending, seed and traffic; each failed node with its exit
    code, error and the last ``log_lines`` lines of its log; a workload's verdict; the run directory."""
    summary = run.summary
    outcome = "ok" if run.exit_code == 0 else f"failed (exit code {run.exit_code})"
    ended = summary.ended_by + (f" ({summary.signal})" if summary.signal else "")
    lines = [
        f"run {summary.run_id}: {outcome}, ended by {ended}; seed {summary.seed}, {summary.nodes} nodes, "
        f"{summary.traffic}"
    ]
    failures = summary.node_failures
    for failure in failures[:NODES_SHOWN]:
        who = "the run" if failure.name is None else f"node {failure.name!r}"
        lines.append(f"  {who} failed (exit code {failure.exit_code}): {_shortened(failure.error)}")
        log = failure.log if isinstance(failure.log, str) else None
        tail = _log_tail(Path(log), log_lines) if log else []
        if tail:
            lines.append(f"    the end of its log, {log}:")
            lines += [f"      {_shortened(line)}" for line in tail]
    if len(failures) > NODES_SHOWN:
        rest = [failure.name for failure in failures[NODES_SHOWN:] if failure.name is not None]
        names = ", ".join(rest[:20]) + (f", ... ({len(rest) - 20} more)" if len(rest) > 20 else "")
        lines.append(
            f"  and {len(failures) - NODES_SHOWN} more failed: {names} (run.summary.node_failures lists all)"
        )
    workload = summary.workload
    if isinstance(workload, dict):
        verdict = {True: "valid", False: "invalid"}.get(workload.get("valid"), "validity unknown")
        explanation = workload.get("explanation")
        because = f": {explanation}" if explanation else ""
        lines.append(f"  workload {workload.get('workload')}: the history is {verdict}{because}")
    lines.append(f"  run directory: {run.run_dir}")
    return "\n".join(lines)


def _shortened(line: str) -> str:
    if len(line) <= LOG_LINE_CHARACTERS:
        return line
    return f"{line[:LOG_LINE_CHARACTERS]} [... {len(line) - LOG_LINE_CHARACTERS:,} more characters]"


def _log_tail(path: Path, count: int) -> list[str]:
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(0, size - LOG_TAIL_BYTES))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if TRACEBACK_HEADER in lines:
        start = len(lines) - 1 - lines[::-1].index(TRACEBACK_HEADER)
        lines = lines[:start] + _without_netsim_frames(lines[start:])
    return lines[-count:] if count > 0 else []


def _without_netsim_frames(traceback: list[str]) -> list[str]:
    """A traceback's lines less the frames in netsim's own files (a frame: its ``File`` line and the
    more indented source lines under it); the header, the app's frames and the error stay."""
    kept: list[str] = []
    skipping = False
    for line in traceback:
        if line.startswith('  File "'):
            skipping = line.startswith(NETSIM_FRAME)
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return kept
