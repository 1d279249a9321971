"""Exporting a trace to SQLite or CSV, in one streaming pass, for SQL, spreadsheets and dataframes.

Both exports write the same three tables:

* ``events``: one row per event, in trace order. ``id`` numbers the events from 1; ``t_s`` is seconds
  into the run (``ts_ns - start_ts_ns``; from the first event when the header has no ``start_ts_ns``);
  ``sockname`` and ``peername`` are text: ``"host:port"`` for AF_INET, ``"[host]:port"`` for AF_INET6,
  the path for AF_UNIX; ``data`` is the app's JSON object as text; ``extra`` holds, as a JSON object,
  any field the schema does not know (NULL when there is none), so nothing in the trace is lost.
* ``nodes``: one row per node, header order first, with its app and the counts of
  ``netsim trace summary``.
* ``links``: one row per undirected link ``a -- b`` (names sorted), with its transport and both
  directions' counts.

SQLite adds ``meta`` (key, value): the header's keys, values as text (JSON for non-strings). Rows go in
with ``executemany`` in chunks of ``CHUNK_ROWS`` inside one transaction, with the journal and fsync off
(the file is written under a temporary name and renamed into place at the end, so a failed export never
leaves a half-written database under the requested name); the indexes are built after the rows, which
is faster than maintaining them row by row. Memory: one chunk of rows plus the node and link counters.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from netsim.errors import InputError
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.schema import OPTIONAL_EVENT_FIELDS, REQUIRED_EVENT_FIELDS
from netsim.trace.stats import TrafficCounter

CHUNK_ROWS = 10_000
CSV_BUFFER_BYTES = 1 << 20

EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "ts_ns",
    "t_s",
    "node",
    "event",
    "transport",
    "sockname",
    "peername",
    "peer",
    "nbytes",
    "msg_id",
    "msg_type",
    "in_reply_to",
    "lamport",
    "error",
    "reason",
    "role",
    "data",
    "extra",
)
NODE_COLUMNS: tuple[str, ...] = (
    "name",
    "app",
    "events",
    "messages_sent",
    "messages_received",
    "bytes_sent",
    "bytes_received",
    "errors",
    "first_ts_ns",
    "last_ts_ns",
)
LINK_COLUMNS: tuple[str, ...] = (
    "link",
    "a",
    "b",
    "transport",
    "in_topology",
    "a_to_b_sent",
    "a_to_b_received",
    "a_to_b_lost",
    "a_to_b_bytes_sent",
    "a_to_b_bytes_received",
    "b_to_a_sent",
    "b_to_a_received",
    "b_to_a_lost",
    "b_to_a_bytes_sent",
    "b_to_a_bytes_received",
)
CSV_FILES: tuple[str, ...] = ("events.csv", "nodes.csv", "links.csv")

_SCHEMA_SQL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    t_s REAL,
    node TEXT NOT NULL,
    event TEXT NOT NULL,
    transport TEXT,
    sockname TEXT,
    peername TEXT,
    peer TEXT,
    nbytes INTEGER,
    msg_id TEXT,
    msg_type TEXT,
    in_reply_to TEXT,
    lamport INTEGER,
    error TEXT,
    reason TEXT,
    role TEXT,
    data TEXT,
    extra TEXT
);
CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    app TEXT,
    events INTEGER,
    messages_sent INTEGER,
    messages_received INTEGER,
    bytes_sent INTEGER,
    bytes_received INTEGER,
    errors INTEGER,
    first_ts_ns INTEGER,
    last_ts_ns INTEGER
);
CREATE TABLE links (
    link TEXT PRIMARY KEY,
    a TEXT,
    b TEXT,
    transport TEXT,
    in_topology INTEGER,
    a_to_b_sent INTEGER,
    a_to_b_received INTEGER,
    a_to_b_lost INTEGER,
    a_to_b_bytes_sent INTEGER,
    a_to_b_bytes_received INTEGER,
    b_to_a_sent INTEGER,
    b_to_a_received INTEGER,
    b_to_a_lost INTEGER,
    b_to_a_bytes_sent INTEGER,
    b_to_a_bytes_received INTEGER
);
"""
INDEX_COLUMNS: tuple[str, ...] = ("node", "msg_id", "event", "ts_ns", "peer")

_KNOWN_FIELDS = frozenset(REQUIRED_EVENT_FIELDS) | frozenset(OPTIONAL_EVENT_FIELDS)
# Columns that hold one field's value as it is (when it is a JSON scalar).
_SCALAR_FIELDS: tuple[str, ...] = (
    "transport",
    "peer",
    "nbytes",
    "msg_id",
    "msg_type",
    "in_reply_to",
    "lamport",
    "error",
    "reason",
    "role",
)
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
# What an absent field is bound as in SQLite, turned into NULL by NULLIF(?, x'') in the INSERT. Binding
# None takes sqlite3's adaptation path (a tuple, a dict lookup and two attribute lookups per value, ~0.4
# us); an empty bytearray is bound directly, as an empty blob, and no JSON value is ever a blob.
_SQL_MISSING = bytearray()
# Columns that can be absent: every one but id, ts_ns, t_s, node and event.
_OPTIONAL_COLUMNS = frozenset(EVENT_COLUMNS[5:])
FORCE_HINT = "pass --force (overwrite=True) to replace it, or choose another name"
WRITE_HINT = "choose a path in a directory you can write to, with room for the export"
OVERFLOW_HINT = "an integer field of some event is outside -2**63..2**63-1; fix the trace, or export --csv"


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: the files, and how many events, nodes and links went into them."""

    format: str
    paths: tuple[Path, ...]
    events: int
    nodes: int
    links: int
    skipped_lines: int

    @property
    def bytes_written(self) -> int:
        return sum(path.stat().st_size for path in self.paths if path.exists())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "paths": [str(path) for path in self.paths],
            "events": self.events,
            "nodes": self.nodes,
            "links": self.links,
            "skipped_lines": self.skipped_lines,
            "bytes": self.bytes_written,
        }


def format_address(address: Any) -> str | None:
    """``["h", p]`` -> ``"h:p"``; ``["::1", p, flow, scope]`` -> ``"[::1]:p"``; a path stays as it is."""
    if address is None or type(address) is str:
        return address
    if type(address) is list and len(address) >= 2:
        host, port = address[0], address[1]
        if len(address) == 2 and type(host) is str and ":" not in host:
            return f"{host}:{port}"
        return f"[{host}]:{port}"
    return orjson.dumps(address).decode()


def _scalar(value: Any) -> Any:
    # A hand-edited trace may hold an object where a string belongs; keep it, as JSON text.
    if value is None or isinstance(value, (str, int, float)):
        return value
    return orjson.dumps(value).decode()


def _event_rows(
    reader: TraceReader, counter: TrafficCounter, missing: Any = None
) -> Iterator[tuple[Any, ...]]:
    """One row per event (``EVENT_COLUMNS``), counting each into ``counter`` on the way.

    An absent field becomes ``missing``: None for CSV (an empty cell), ``_SQL_MISSING`` for SQLite.
    """
    start_ts_ns = reader.header.get("start_ts_ns")
    origin_ns = start_ts_ns if type(start_ts_ns) is int else None
    add = counter.add
    only_known_fields = _KNOWN_FIELDS.issuperset
    only_plain_types = (_PLAIN_TYPES | {type(missing)}).issuperset
    missing_scalars = (missing,) * len(_SCALAR_FIELDS)
    dumps = orjson.dumps
    for event_id, record in enumerate(reader, start=1):
        add(record)
        ts_ns = record["ts_ns"]
        if origin_ns is None:
            origin_ns = ts_ns
        get = record.get
        # The per-event hot path: plain gets, then one check in C that every scalar is a scalar.
        scalars = tuple(map(get, _SCALAR_FIELDS, missing_scalars))
        if not only_plain_types(map(type, scalars)):
            scalars = tuple(map(_scalar, scalars))
        transport, peer, nbytes, msg_id, msg_type, in_reply_to, lamport, error, reason, role = scalars
        sockname = get("sockname")
        peername = get("peername")
        data = get("data")
        yield (
            event_id,
            ts_ns,
            (ts_ns - origin_ns) / 1e9,
            record["node"],
            record["event"],
            transport,
            missing if sockname is None else format_address(sockname),
            missing if peername is None else format_address(peername),
            peer,
            nbytes,
            msg_id,
            msg_type,
            in_reply_to,
            lamport,
            error,
            reason,
            role,
            missing if data is None else dumps(data).decode(),
            missing
            if only_known_fields(record)
            else dumps({key: value for key, value in record.items() if key not in _KNOWN_FIELDS}).decode(),
        )


def _node_rows(counter: TrafficCounter) -> list[tuple[Any, ...]]:
    return [
        (
            n.node,
            n.app,
            n.events,
            n.messages_sent,
            n.messages_received,
            n.bytes_sent,
            n.bytes_received,
            n.errors,
            n.first_ts_ns,
            n.last_ts_ns,
        )
        for n in counter.nodes.values()
    ]


def _link_rows(counter: TrafficCounter) -> list[tuple[Any, ...]]:
    rows = []
    for key, link in counter.links.items():
        row: list[Any] = [key, link.a, link.b, link.transport, int(link.in_topology)]
        for d in link.directions:
            row += [d.messages_sent, d.messages_received, d.lost, d.bytes_sent, d.bytes_received]
        rows.append(tuple(row))
    return rows


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextlib.contextmanager
def _writing(target: Path) -> Iterator[None]:
    """Turn a failure to write ``target`` into one ``InputError`` naming it (a trace error passes through)."""
    try:
        yield
    except OverflowError as error:
        # SQLite's INTEGER is 64-bit; JSON's integers are not.
        raise InputError(f"{target}: cannot export: {error}", hint=OVERFLOW_HINT) from None
    except (OSError, sqlite3.Error) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise InputError(f"{target}: cannot write: {reason}", hint=WRITE_HINT) from None


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    existing = [path for path in paths if path.exists()]
    if existing and not overwrite:
        raise InputError(f"{existing[0]}: already exists", hint=FORCE_HINT)
    for path in existing:
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not a file", hint="choose another name")


def export_sqlite(
    run_or_trace: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    strict: bool = True,
    overwrite: bool = False,
) -> ExportResult:
    """Write the trace to a new SQLite database ``out_path``: tables events, nodes, links and meta.

    Refuses to replace an existing file unless ``overwrite=True``. ``strict=False`` skips malformed
    lines (counted in ``skipped_lines``) instead of raising ``TraceFormatError``.
    """
    out = Path(out_path)
    _refuse_existing([out], overwrite)
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader, _writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        # A fixed name next to the target (not mkstemp, whose 0600 mode would stick to the database); one
        # left behind by a killed export is simply replaced.
        temporary = out.with_name(f".{out.name}.partial")
        temporary.unlink(missing_ok=True)
        try:
            counter = TrafficCounter(reader.header)
            events = 0
            connection = sqlite3.connect(temporary, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=OFF")
                connection.execute("PRAGMA synchronous=OFF")
                connection.executescript(_SCHEMA_SQL)
                connection.execute("BEGIN")
                connection.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        (key, value if isinstance(value, str) else orjson.dumps(value).decode())
                        for key, value in reader.header.items()
                    ],
                )
                placeholders = ("NULLIF(?, x'')" if c in _OPTIONAL_COLUMNS else "?" for c in EVENT_COLUMNS)
                insert = f"INSERT INTO events VALUES ({', '.join(placeholders)})"
                for chunk in _chunks(_event_rows(reader, counter, _SQL_MISSING), CHUNK_ROWS):
                    connection.executemany(insert, chunk)
                    events += len(chunk)
                node_rows, link_rows = _node_rows(counter), _link_rows(counter)
                connection.executemany(
                    f"INSERT INTO nodes VALUES ({', '.join('?' * len(NODE_COLUMNS))})", node_rows
                )
                connection.executemany(
                    f"INSERT INTO links VALUES ({', '.join('?' * len(LINK_COLUMNS))})", link_rows
                )
                for column in INDEX_COLUMNS:
                    connection.execute(f"CREATE INDEX events_{column} ON events({column})")
                connection.execute("COMMIT")
            finally:
                connection.close()
            os.replace(temporary, out)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return ExportResult("sqlite", (out,), events, len(node_rows), len(link_rows), reader.skipped_count)


def export_csv(
    run_or_trace: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    strict: bool = True,
    overwrite: bool = False,
) -> ExportResult:
    """Write ``events.csv``, ``nodes.csv`` and ``links.csv`` (with a header row each) into ``out_dir``.

    Empty cells are absent fields. Refuses to replace existing files unless ``overwrite=True``.
    """
    directory = Path(out_dir)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: not a directory", hint="pass a directory for the CSV files")
    paths = [directory / name for name in CSV_FILES]
    _refuse_existing(paths, overwrite)
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader, _writing(directory):
        directory.mkdir(parents=True, exist_ok=True)
        temporaries = [path.with_name(f".{path.name}.partial") for path in paths]
        try:
            counter = TrafficCounter(reader.header)
            events = 0
            with open(temporaries[0], "w", newline="", encoding="utf-8", buffering=CSV_BUFFER_BYTES) as file:
                writer = csv.writer(file)
                writer.writerow(EVENT_COLUMNS)
                for chunk in _chunks(_event_rows(reader, counter), CHUNK_ROWS):
                    writer.writerows(chunk)
                    events += len(chunk)
            node_rows, link_rows = _node_rows(counter), _link_rows(counter)
            for temporary, columns, rows in (
                (temporaries[1], NODE_COLUMNS, node_rows),
                (temporaries[2], LINK_COLUMNS, link_rows),
            ):
                with open(temporary, "w", newline="", encoding="utf-8") as file:
                    writer = csv.writer(file)
                    writer.writerow(columns)
                    writer.writerows(rows)
            for temporary, path in zip(temporaries, paths, strict=True):
                os.replace(temporary, path)
        except BaseException:
            for temporary in temporaries:
                temporary.unlink(missing_ok=True)
            raise
        return ExportResult("csv", tuple(paths), events, len(node_rows), len(link_rows), reader.skipped_count)
