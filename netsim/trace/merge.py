"""Merging a run's part files into its trace: the writer-side counterpart of ``netsim.trace.reader``.

``merge_node_traces`` k-way merges the per-node part files into one sorted trace, copying event lines as
they are and expanding batch lines. It holds at most ``MERGE_FAN_IN`` part files open at once: a run
with more parts (one per node, so 5,000 for 5,000 nodes) is merged in groups, each into a sorted run
file next to the trace, and the run files are merged in turn, so that open descriptors and read buffers
stay bounded whatever the node count. ``part_events`` reads one part file as events.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from netsim.errors import TraceFormatError
from netsim.trace.reader import READ_BUFFER_BYTES, quote_line
from netsim.trace.schema import BATCH_ROW_FIELDS, HEADER_TYPE, SCHEMA

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

# The read buffer of each file a merge holds open; small, as a merge holds up to MERGE_FAN_IN of them.
MERGE_PART_BUFFER_BYTES = 1 << 16
# The most part files (or run files) one merge holds open at once. Each costs a descriptor, a read buffer
# and the parsed batch line it is expanding (up to BATCH_ROWS rows): 128 of them cost a few MiB, where
# 5,000 cost hundreds, and a k-way merge of 5,000 streams is slower than two rounds of ~70.
MERGE_FAN_IN = 128


def _part_lines(
    part: Path, part_index: int, file: IO[bytes], skipped: list[tuple[Path, int, str]]
) -> Iterator[tuple[int, int, int, int, bytes]]:
    """(ts_ns, part index, line number, row, line) for each event of one sorted part file.

    An event line is passed on as it is (row 0); each row of a batch line (``netsim.trace.writer``)
    becomes the line of the record it stands for, as ``TraceWriter.write`` would have written it.
    """
    # One generator for both kinds of line, and plain type checks: this runs once per event of the run
    # (a batch line of one row, which most are in a flood, costs no generator of its own).
    dumps = orjson.dumps
    previous_ts_ns: int | None = None
    for line_no, raw in enumerate(file, start=1):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            if not raw.endswith(b"\n"):
                reason = f"truncated last line (no trailing newline, not JSON): {quote_line(raw)}"
                log.warning("%s:%d: skipped %s", part, line_no, reason)
                skipped.append((part, line_no, reason))
                continue
            raise TraceFormatError(str(part), line_no, f"invalid JSON ({error}): {quote_line(raw)}") from None
        ts_ns = record.get("ts_ns") if type(record) is dict else None
        if type(ts_ns) is int:
            if previous_ts_ns is not None and ts_ns < previous_ts_ns:
                raise _unsorted(part, line_no, ts_ns, previous_ts_ns)
            previous_ts_ns = ts_ns
            yield ts_ns, part_index, line_no, 0, raw if raw.endswith(b"\n") else raw + b"\n"
            continue
        if ts_ns is not None or type(record) is not dict or "batch" not in record or "ts_ns" in record:
            raise TraceFormatError(str(part), line_no, "expected a JSON object with an integer 'ts_ns'")
        shared = record["batch"]
        rows = record.get("rows")
        if type(shared) is not dict or type(rows) is not list:
            raise TraceFormatError(str(part), line_no, 'a batch line is {"batch": {...}, "rows": [...]}')
        for row_index, row in enumerate(rows):
            if not (type(row) is list and len(row) == len(BATCH_ROW_FIELDS) and type(row[0]) is int):
                raise TraceFormatError(
                    str(part),
                    line_no,
                    f"a batch row is [{', '.join(BATCH_ROW_FIELDS)}], got {quote_line(dumps(row))}",
                )
            ts_ns, nbytes, msg_id, msg_type, lamport, in_reply_to = row
            if previous_ts_ns is not None and ts_ns < previous_ts_ns:
                raise _unsorted(part, line_no, ts_ns, previous_ts_ns)
            previous_ts_ns = ts_ns
            event = {
                "ts_ns": ts_ns,
                **shared,
                "nbytes": nbytes,
                "msg_id": msg_id,
                "msg_type": msg_type,
                "lamport": lamport,
            }
            if in_reply_to is not None:
                event["in_reply_to"] = in_reply_to
            yield ts_ns, part_index, line_no, row_index, dumps(event, option=orjson.OPT_APPEND_NEWLINE)


def _unsorted(part: Path, line_no: int, ts_ns: int, previous_ts_ns: int) -> TraceFormatError:
    # The merge relies on each part being sorted; an unsorted part would silently unsort the trace.
    return TraceFormatError(
        str(part),
        line_no,
        f"ts_ns {ts_ns} is earlier than the event before ({previous_ts_ns})",
        hint="part files must be sorted by ts_ns, as one node's tracer writes them",
    )


def part_events(part: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The events of one node's part file, batch rows expanded: what the merge takes from it, parsed.

    For a look at a run whose launcher never merged its parts; a truncated last line is skipped.
    """
    path = Path(part)
    with open(path, "rb", buffering=MERGE_PART_BUFFER_BYTES) as file:
        for _ts_ns, _part_index, _line_no, _row, line in _part_lines(path, 0, file, []):
            yield orjson.loads(line)


def merge_node_traces(
    parts: list[Path],
    header: dict[str, Any],
    out: Path,
    *,
    skipped: list[tuple[Path, int, str]] | None = None,
) -> int:
    """Write ``header`` then the events of every part file, merged by ts_ns, to ``out``; return the count.

    Each part is one node's trace, already sorted by ts_ns. Ties are broken by part index, line number
    and row, so the merge is deterministic. Event lines are copied byte for byte; batch lines are
    expanded into the lines of their records (``netsim.trace.writer``). A
    part's truncated last line (its node crashed mid-write) is skipped, logged and appended to
    ``skipped`` as (part, line number, reason) if a list is given. The trace is written next to ``out``
    and renamed into place, so a reader never sees a half-merged file.

    More than ``MERGE_FAN_IN`` parts are merged in groups of consecutive parts, each into a run file
    next to ``out`` (its lines prefixed with their ts_ns), and the run files are then merged, in more
    rounds if there are more than ``MERGE_FAN_IN`` of them; the run files are removed at the end. The
    trace is the same, byte for byte: runs hold consecutive parts in order, so breaking a tie by run and
    then by position in the run is breaking it by part, line and row. Only the order of the ``skipped``
    entries may differ (group by group).
    """
    if not isinstance(header, dict) or header.get("type") != HEADER_TYPE or header.get("schema") != SCHEMA:
        raise ValueError(f'header must be a dict with "type": "{HEADER_TYPE}" and "schema": "{SCHEMA}"')
    skipped_lines = skipped if skipped is not None else []
    temporary = out.with_name(out.name + ".merging")
    run_files: list[Path] = []
    count = 0
    try:
        with contextlib.ExitStack() as files:
            if len(parts) <= MERGE_FAN_IN:
                lines = _merged_parts(files, parts, 0, skipped_lines)
            else:
                lines = _merged_runs(files, _merge_in_rounds(parts, out, run_files, skipped_lines))
            with open(temporary, "wb", buffering=READ_BUFFER_BYTES) as sink:
                sink.write(orjson.dumps(header) + b"\n")
                # (ts_ns, part or run index, line number, row) is unique, so the lines are never compared.
                for _ts_ns, _index, _line_no, _row, raw in lines:
                    sink.write(raw)
                    count += 1
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        for run_file in run_files:
            run_file.unlink(missing_ok=True)
    return count


MergeLine = tuple[int, int, int, int, bytes]


def _merged_parts(
    files: contextlib.ExitStack, parts: list[Path], first_index: int, skipped: list[tuple[Path, int, str]]
) -> Iterator[MergeLine]:
    """The lines of ``parts`` merged, each keyed by (ts_ns, part index, line number, row); ``parts[0]``
    is part ``first_index`` of the whole merge. The files close with ``files``."""
    streams = []
    for index, part in enumerate(parts, start=first_index):
        file = files.enter_context(open(part, "rb", buffering=MERGE_PART_BUFFER_BYTES))  # noqa: SIM115
        streams.append(_part_lines(part, index, file, skipped))
    return heapq.merge(*streams)


def _merged_runs(files: contextlib.ExitStack, runs: list[Path]) -> Iterator[MergeLine]:
    """The lines of the run files ``runs`` merged, keyed by (ts_ns, run index, line number, 0)."""
    streams = []
    for index, run in enumerate(runs):
        file = files.enter_context(open(run, "rb", buffering=MERGE_PART_BUFFER_BYTES))  # noqa: SIM115
        streams.append(_run_lines(index, file))
    return heapq.merge(*streams)


def _run_lines(run_index: int, file: IO[bytes]) -> Iterator[MergeLine]:
    for line_no, keyed in enumerate(file):
        ts_ns, _, raw = keyed.partition(b" ")
        yield int(ts_ns), run_index, line_no, 0, raw


def _write_run(lines: Iterator[MergeLine], out: Path, run_files: list[Path]) -> Path:
    """Write ``lines`` as a run file next to ``out``: each line as merged, after its ts_ns and a space."""
    run = out.with_name(f"{out.name}.merging.{len(run_files)}")
    run_files.append(run)
    with open(run, "wb", buffering=READ_BUFFER_BYTES) as sink:
        write = sink.write
        for ts_ns, _index, _line_no, _row, raw in lines:
            write(b"%d %b" % (ts_ns, raw))
    return run


def _groups(items: list[Path]) -> list[list[Path]]:
    """``items`` cut into as few runs of consecutive items as MERGE_FAN_IN allows, of near-equal sizes."""
    count = -(-len(items) // MERGE_FAN_IN)
    size = -(-len(items) // count)
    return [items[start : start + size] for start in range(0, len(items), size)]


def _merge_in_rounds(
    parts: list[Path], out: Path, run_files: list[Path], skipped: list[tuple[Path, int, str]]
) -> list[Path]:
    """Merge groups of ``parts`` into run files, then groups of run files, until at most MERGE_FAN_IN
    are left; returns those, in order. Every run file made is listed in ``run_files``."""
    runs: list[Path] = []
    first_index = 0
    for group in _groups(parts):
        with contextlib.ExitStack() as files:
            runs.append(_write_run(_merged_parts(files, group, first_index, skipped), out, run_files))
        first_index += len(group)
    while len(runs) > MERGE_FAN_IN:
        merged: list[Path] = []
        for group in _groups(runs):
            with contextlib.ExitStack() as files:
                merged.append(_write_run(_merged_runs(files, group), out, run_files))
            for run in group:
                run.unlink()
        runs = merged
    return runs
