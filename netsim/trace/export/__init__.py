"""Exporting a trace to SQLite or CSV, in one streaming pass, for SQL, spreadsheets and dataframes.

Both exports write the same three tables:

* ``events``: one row per event, in trace order. ``id`` numbers the events from 1; ``t_s`` is seconds
  into the run (``ts_ns - start_ts_ns``; from the first event when the header has no ``start_ts_ns``);
  ``sockname`` and ``peername`` are text: ``"host:port"`` for AF_INET, ``"[host]:port"`` for AF_INET6,
  the path for AF_UNIX; ``data`` is the app's JSON object as text; ``extra`` holds, as a JSON object,
  every field without a column of its own (``delay_ns``, ``fault``, a call's ``args``, any field the
  schema does not know; NULL when there is none), so nothing in the trace is lost.
* ``nodes``: one row per node, header order first, with its app and the counts of
  ``netsim trace summary``.
* ``links``: one row per undirected link ``a -- b`` (names sorted), with its transport and both
  directions' counts.

SQLite adds ``meta`` (key, value), the header's keys. Three modules, one job each: ``rows`` makes the
rows both write, ``to_csv`` writes the CSV files (spreadsheet-safe), ``to_sqlite`` the database (in two
processes for a large trace).
"""

from __future__ import annotations

from netsim.trace.export.rows import (
    EVENT_COLUMNS,
    LINK_COLUMNS,
    NODE_COLUMNS,
    TAIL_COLUMNS,
    ExportResult,
    format_address,
)
from netsim.trace.export.to_csv import CSV_FILES, export_csv
from netsim.trace.export.to_sqlite import INDEX_COLUMNS, export_sqlite

__all__ = [
    "CSV_FILES",
    "EVENT_COLUMNS",
    "INDEX_COLUMNS",
    "LINK_COLUMNS",
    "NODE_COLUMNS",
    "TAIL_COLUMNS",
    "ExportResult",
    "export_csv",
    "export_sqlite",
    "format_address",
]
