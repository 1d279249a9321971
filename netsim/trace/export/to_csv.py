"""The CSV export: ``events.csv``, ``nodes.csv`` and ``links.csv``, each with a header row.

CSV files are for spreadsheets too, which run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return as a formula (OWASP's "CSV injection"): in all three files, every text cell that starts
with one of those characters gets a leading ``'`` (``_spreadsheet_safe``), so that a node named
``=cmd|' /C calc'!A0`` shows as text. That covers names, addresses (an AF_UNIX path too), message
fields and the ``data`` and ``extra`` JSON text; numbers, negative ones included, stay numbers. A
program that wants the exact text reads the SQLite export (or the trace), whose values are never
changed.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from netsim.errors import InputError
from netsim.trace.export.rows import (
    ABSENT_TAIL,
    CHUNK_ROWS,
    EVENT_COLUMNS,
    HEAD_WIDTH,
    LINK_COLUMNS,
    NODE_COLUMNS,
    ExportResult,
    chunks,
    event_rows,
    link_table_rows,
    node_table_rows,
    read_origin_ns,
    refuse_existing,
    writing,
)
from netsim.trace.field_types import names_wrong_field_types
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.traffic import TrafficCounter

CSV_FILES: tuple[str, ...] = ("events.csv", "nodes.csv", "links.csv")
CSV_BUFFER_BYTES = 1 << 20
# First characters that make a spreadsheet read a CSV cell as a formula (OWASP, "CSV injection").
FORMULA_STARTS = frozenset("=+-@\t\r")


def _spreadsheet_safe(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """``row`` for a CSV file: a text cell that starts with one of ``FORMULA_STARTS`` gets a leading
    ``'``, so that a spreadsheet shows it instead of running it; other cells stay as they are."""
    for cell in row:
        # Most rows have no such cell: they are checked, not copied.
        if type(cell) is str and cell[:1] in FORMULA_STARTS:
            return tuple(["'" + c if type(c) is str and c[:1] in FORMULA_STARTS else c for c in row])
    return row


@names_wrong_field_types
def export_csv(
    run_or_trace: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    strict: bool = True,
    overwrite: bool = False,
) -> ExportResult:
    """Write ``events.csv``, ``nodes.csv`` and ``links.csv`` (with a header row each) into ``out_dir``.

    Empty cells are absent fields. A text cell that a spreadsheet would run as a formula starts with
    ``'`` (``_spreadsheet_safe``). Refuses to replace existing files unless ``overwrite=True``.
    """
    directory = Path(out_dir)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: not a directory", hint="pass a directory for the CSV files")
    paths = [directory / name for name in CSV_FILES]
    refuse_existing(paths, overwrite)
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader, writing(directory):
        directory.mkdir(parents=True, exist_ok=True)
        temporaries = [path.with_name(f".{path.name}.partial") for path in paths]
        try:
            counter = TrafficCounter(reader.header)
            events = 0
            with open(temporaries[0], "w", newline="", encoding="utf-8", buffering=CSV_BUFFER_BYTES) as file:
                writer = csv.writer(file)
                writer.writerow(EVENT_COLUMNS)
                rows = event_rows(reader, counter, read_origin_ns(reader))
                for chunk in chunks(rows, CHUNK_ROWS):
                    writer.writerows(
                        _spreadsheet_safe(row if len(row) > HEAD_WIDTH else row + ABSENT_TAIL)
                        for row in chunk
                    )
                    events += len(chunk)
            node_rows, link_rows = node_table_rows(counter), link_table_rows(counter)
            for temporary, columns, rows in (
                (temporaries[1], NODE_COLUMNS, node_rows),
                (temporaries[2], LINK_COLUMNS, link_rows),
            ):
                with open(temporary, "w", newline="", encoding="utf-8") as file:
                    writer = csv.writer(file)
                    writer.writerow(columns)
                    writer.writerows(map(_spreadsheet_safe, rows))
            for temporary, path in zip(temporaries, paths, strict=True):
                os.replace(temporary, path)
        except BaseException:
            for temporary in temporaries:
                temporary.unlink(missing_ok=True)
            raise
        return ExportResult("csv", tuple(paths), events, len(node_rows), len(link_rows), reader.skipped_count)
