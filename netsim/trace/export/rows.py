"""The rows both exports write: the columns of the events, nodes and links tables, one row per event
(``event_rows``, streaming), per node and per link (from a ``TrafficCounter``), and what both do around
the files (refusing to overwrite, one error for a failed write).
"""

from __future__ import annotations

import contextlib
import operator
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from netsim.errors import InputError
from netsim.trace.reader import TraceReader
from netsim.trace.records import format_address as readable_address
from netsim.trace.schema import (
    MESSAGE_FIELDS,
    REQUIRED_EVENT_FIELDS,
    header_start_ts_ns,
)
from netsim.trace.traffic import TrafficCounter

# Rows each writer takes from ``event_rows`` at a time.
CHUNK_ROWS = 10_000
# Formatted addresses ``event_rows`` remembers before it starts afresh (a trace has one per socket).
MAX_CACHED_ADDRESSES = 100_000

EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "ts_ns",
    "t_s",
    "node",
    "event",
    *MESSAGE_FIELDS,
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
# The columns that only errors, app events and the like fill in; a row of ``event_rows`` leaves them out
# when they are all absent. Binding an absent value costs SQLite as much as binding a string.
TAIL_COLUMNS: tuple[str, ...] = ("error", "reason", "role", "data", "extra")
HEAD_WIDTH = len(EVENT_COLUMNS) - len(TAIL_COLUMNS)
ABSENT_TAIL = (None,) * len(TAIL_COLUMNS)

# The fields with a column of their own; every other one (delay_ns, attempt, fault, a call's fields, a
# hand-edited trace's own) goes into ``extra``, so that nothing of an event is lost.
_KNOWN_FIELDS = frozenset(REQUIRED_EVENT_FIELDS) | (frozenset(EVENT_COLUMNS) - {"id", "t_s", "extra"})
# Columns that hold one field's value as it is (when it is a JSON scalar): every event column but the
# row's own (id, t_s), the required fields, the addresses (formatted) and the JSON objects.
_SCALAR_FIELDS: tuple[str, ...] = tuple(
    column
    for column in EVENT_COLUMNS
    if column not in {"id", "t_s", *REQUIRED_EVENT_FIELDS, "sockname", "peername", "data", "extra"}
)  # transport, peer, nbytes, msg_id, msg_type, in_reply_to, lamport, error, reason, role
# The nodes table's columns are ``NodeTraffic``'s fields, but for the first one's name.
_NODE_ROW = operator.attrgetter("node", *NODE_COLUMNS[1:])
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
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
    """A sockname or peername as a cell's text (``netsim.trace.records.format_address``): ``"h:p"``,
    ``"[::1]:p"``, JSON for an odd value; but None stays None (an empty cell, NULL) and a path, the empty
    name of an unnamed AF_UNIX socket included, stays exactly as the kernel gave it."""
    if address is None or type(address) is str:
        return address
    return readable_address(address)


def _scalar(value: Any) -> Any:
    # A hand-edited trace may hold an object where a string belongs; keep it, as JSON text.
    if value is None or isinstance(value, (str, int, float)):
        return value
    return orjson.dumps(value).decode()


def read_origin_ns(reader: TraceReader) -> int:
    """What ``t_s`` counts from: the header's ``start_ts_ns``, else the first event's ``ts_ns`` (0 if
    there is none)."""
    start_ts_ns = header_start_ts_ns(reader.header)
    if start_ts_ns is not None:
        return start_ts_ns
    events = reader.events()
    try:
        first = next(events, None)
    finally:
        events.close()  # type: ignore[attr-defined]
    return 0 if first is None else first["ts_ns"]


def event_rows(
    records: Iterable[dict[str, Any]],
    counter: TrafficCounter,
    origin_ns: int,
    first_id: int = 1,
) -> Iterator[tuple[Any, ...]]:
    """One row per event (``EVENT_COLUMNS``), numbered from ``first_id``, counting each into ``counter``.

    An absent field is None: an empty cell in CSV, NULL in SQLite. A row whose ``TAIL_COLUMNS`` would all
    be None (every message event's) stops before them, so that SQLite binds 14 values, not 19.
    """
    add = counter.add
    only_known_fields = _KNOWN_FIELDS.issuperset
    only_plain_types = _PLAIN_TYPES.issuperset
    dumps = orjson.dumps
    addresses: dict[tuple[Any, ...], str] = {}

    def address_text(address: Any) -> str | None:
        # A trace has one address per socket: each is formatted once. Only [str host, int port, ...]
        # lists are remembered, because the key is the items and 1 == 1.0 == True while "h:1", "h:1.0"
        # and "h:True" differ.
        if (
            type(address) is list
            and len(address) >= 2
            and type(address[0]) is str
            and type(address[1]) is int
        ):
            key = tuple(address)
            text = addresses.get(key)
            if text is None:
                if len(addresses) >= MAX_CACHED_ADDRESSES:
                    addresses.clear()
                text = addresses[key] = format_address(address)
            return text
        return format_address(address)

    for event_id, record in enumerate(records, start=first_id):
        add(record)
        ts_ns = record["ts_ns"]
        get = record.get
        # The per-event hot path: plain gets, then one check in C that every scalar is a scalar.
        scalars = tuple(map(get, _SCALAR_FIELDS))
        if not only_plain_types(map(type, scalars)):
            scalars = tuple(map(_scalar, scalars))
        transport, peer, nbytes, msg_id, msg_type, in_reply_to, lamport, error, reason, role = scalars
        sockname = get("sockname")
        peername = get("peername")
        data = get("data")
        row = (
            event_id,
            ts_ns,
            (ts_ns - origin_ns) / 1e9,
            record["node"],
            record["event"],
            transport,
            None if sockname is None else address_text(sockname),
            None if peername is None else address_text(peername),
            peer,
            nbytes,
            msg_id,
            msg_type,
            in_reply_to,
            lamport,
        )
        if error is None and reason is None and role is None and data is None and only_known_fields(record):
            yield row
        else:
            yield (
                *row,
                error,
                reason,
                role,
                None if data is None else dumps(data).decode(),
                None
                if only_known_fields(record)
                else dumps(
                    {key: value for key, value in record.items() if key not in _KNOWN_FIELDS}
                ).decode(),
            )


def node_table_rows(counter: TrafficCounter) -> list[tuple[Any, ...]]:
    return [_NODE_ROW(node) for node in counter.nodes.values()]


def link_table_rows(counter: TrafficCounter) -> list[tuple[Any, ...]]:
    rows = []
    for key, link in counter.links.items():
        row: list[Any] = [key, link.a, link.b, link.transport, int(link.in_topology)]
        for d in link.directions:
            row += [d.messages_sent, d.messages_received, d.lost, d.bytes_sent, d.bytes_received]
        rows.append(tuple(row))
    return rows


def chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextlib.contextmanager
def writing(target: Path) -> Iterator[None]:
    """Turn a failure to write ``target`` into one ``InputError`` naming it (a trace error passes through)."""
    try:
        yield
    except OverflowError as error:
        # SQLite's INTEGER is 64-bit; JSON's integers are not.
        raise InputError(f"{target}: cannot export: {error}", hint=OVERFLOW_HINT) from None
    except (OSError, sqlite3.Error) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise InputError(f"{target}: cannot write: {reason}", hint=WRITE_HINT) from None


def refuse_existing(paths: list[Path], overwrite: bool) -> None:
    existing = [path for path in paths if path.exists() or path.is_symlink()]
    if existing and not overwrite:
        raise InputError(f"{existing[0]}: already exists", hint=FORCE_HINT)
    for path in existing:
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not a file", hint="choose another name")
        # A file is written beside its name and renamed into place: that would replace a device, a
        # FIFO or a symbolic link itself (and whatever it stood for) with a file.
        if path.is_symlink() or not path.is_file():
            raise InputError(
                f"{path}: is not a regular file (a device, a FIFO or a symbolic link): not replaced",
                hint="choose a file name",
            )
