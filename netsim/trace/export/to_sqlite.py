"""The SQLite export: tables events, nodes, links and meta in one new database file.

``meta`` (key, value) holds the header's keys, values as text (JSON for non-strings). Rows go in
with ``executemany``, a run of rows of one width (``_insert_events``) at a time, inside one transaction,
with the journal and fsync off (the file is written under a temporary name and renamed into place at the
end, so a failed export never leaves a half-written database under the requested name); the indexes are
built after the rows, which is faster than maintaining them row by row, with ``INDEX_SORT_THREADS``
threads helping each sort (the only part of the export that can use the second core once the rows are
in). Memory: one chunk of rows plus the node and link counters.

A trace of ``SPLIT_MIN_BYTES`` or more is exported by two processes, one per half of the file, so that
both cores work (``_SecondHalf``): a forked child writes the events of the second half, numbered on from
the lines before it, into a database of its own next to the target and stores its counts there as JSON;
this process writes the first half meanwhile, then copies the child's rows in with one ``INSERT ...
SELECT`` (SQLite's own loop, several times faster than binding rows from Python; when the first half had
as many events as lines, the ids are already right and SQLite copies the rows without decoding them) and
adds the child's counts to its own (``TrafficCounter.merge``). The child reports nothing else: if it
fails for any reason (a malformed line in strict mode, say, or a kill), this process reads the second
half itself, so the export ends exactly as a one-process export would, with the same error naming the
same line. Without ``os.fork``, or when the caller runs other threads (fork copies only the calling
thread, so a lock another one holds would stay held in the child), the export runs in one process.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from netsim.trace.export.rows import (
    CHUNK_ROWS,
    EVENT_COLUMNS,
    HEAD_WIDTH,
    LINK_COLUMNS,
    NODE_COLUMNS,
    TAIL_COLUMNS,
    ExportResult,
    event_rows,
    link_table_rows,
    node_table_rows,
    read_origin_ns,
    refuse_existing,
    writing,
)
from netsim.trace.field_types import names_wrong_field_types
from netsim.trace.helper_process import fork_helper, kill_and_reap, may_fork
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.traffic import TrafficCounter

# The two-process export (``_SecondHalf``) for traces of at least this size; below it a fork costs more
# than it saves.
SPLIT_MIN_BYTES = 8 << 20

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
# Who, which message (the send-receive join), when. Each index costs 0.4-0.9 s of a 1,000,000-event
# export, where a full scan of the table takes about 0.1-0.15 s, so the other columns go without: an
# index on ``peer`` saves little over the node index for the link queries (``node = ? AND peer = ?``),
# and one on ``event``, a column of a dozen values, only pays for the rare values; without ANALYZE's
# statistics SQLite trusts it anyway and picks it over the node index for ``node = ? AND event = ?``,
# which is then four times slower.
INDEX_COLUMNS: tuple[str, ...] = ("node", "msg_id", "ts_ns")
# Helper threads for SQLite's sorter while it builds an index (PRAGMA threads): about 10% off the
# index build of a 1,000,000-event trace on two cores; more threads than cores gain nothing.
INDEX_SORT_THREADS = 2
# sqlite3 binds int, float, str and bytearray directly but sends anything else, None included, through
# its adapter lookup, which for None ends in a failed __conform__ lookup that raises and catches an
# AttributeError: ~0.4 us per absent field, and a row has about six. An adapter registered for NoneType
# is found by the first dict lookup; it returns None, which binds as NULL just as before.
_NONE_ADAPTER_KEY = (type(None), sqlite3.PrepareProtocol)
# The second half's counts, in its own database.
_HALF_STATE_SQL = "CREATE TABLE half_state (state TEXT)"


def _create_tables(connection: sqlite3.Connection, script: str) -> None:
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.executescript(script)


def _insert_events(connection: sqlite3.Connection, rows: Iterator[tuple[Any, ...]]) -> int:
    """Insert the rows of ``event_rows`` into ``events``, in order; returns how many.

    Each run of rows of one width goes in with one ``executemany`` of the statement for that width; a
    run of message events is typically tens of rows long, and a call costs about two rows' binding.
    """
    values = ["?"] * len(EVENT_COLUMNS)
    head_values = values[:HEAD_WIDTH] + ["NULL"] * len(TAIL_COLUMNS)
    statements = {
        len(values): f"INSERT INTO events VALUES ({', '.join(values)})",
        HEAD_WIDTH: f"INSERT INTO events VALUES ({', '.join(head_values)})",
    }
    insert = connection.executemany
    count = 0
    run: list[tuple[Any, ...]] = []
    width = 0
    with _none_adapted_to_null():
        for row in rows:
            if len(row) != width or len(run) >= CHUNK_ROWS:
                if run:
                    insert(statements[width], run)
                    count += len(run)
                run = []
                width = len(row)
            run.append(row)
        if run:
            insert(statements[width], run)
            count += len(run)
    return count


@contextlib.contextmanager
def _none_adapted_to_null() -> Iterator[None]:
    """Register the NoneType adapter of ``_NONE_ADAPTER_KEY`` (returning None: NULL, as without it) for
    the block, and put back whatever was registered before."""
    adapters = sqlite3.adapters
    previous = adapters.get(_NONE_ADAPTER_KEY)
    adapters[_NONE_ADAPTER_KEY] = {}.get
    try:
        yield
    finally:
        if previous is None:
            adapters.pop(_NONE_ADAPTER_KEY, None)
        else:
            adapters[_NONE_ADAPTER_KEY] = previous


def _export_half(reader: TraceReader, start: int, path: Path, origin_ns: int) -> None:
    """The child's work: the events from byte ``start`` on into a new database ``path``, and its first id,
    its counter's state and the lines it skipped into ``half_state``.

    The ids start at the number of lines between the header and ``start``, plus one: the ids they get in
    the whole export unless the first half has lines that are not events (skipped by a lenient export).
    """
    counter = TrafficCounter(reader.header)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        _create_tables(connection, _SCHEMA_SQL + _HALF_STATE_SQL)
        connection.execute("BEGIN")
        first_id = reader.line_number(start) - 1
        _insert_events(connection, event_rows(reader.events(start), counter, origin_ns, first_id))
        state = {"first_id": first_id, "counter": counter.state(), "skipped_count": reader.skipped_count}
        connection.execute("INSERT INTO half_state VALUES (?)", (orjson.dumps(state).decode(),))
        connection.execute("COMMIT")
    finally:
        connection.close()


class _SecondHalf:
    """A forked child exporting the events from byte ``start`` on into ``path`` (``_export_half``).

    ``join()`` waits for it and says whether it succeeded; ``close()`` (also on leaving the ``with``
    block) kills it if it still runs, reaps it and removes its database.
    """

    def __init__(self, reader: TraceReader, start: int, path: Path, origin_ns: int) -> None:
        self.start = start
        self.path = path
        path.unlink(missing_ok=True)  # left behind by a killed export
        pid = fork_helper()
        if pid == 0:  # the child: never returns into the caller's code
            status = 1
            try:
                _export_half(reader, start, path, origin_ns)
                status = 0
            except BaseException:  # noqa: BLE001, S110 - the parent reads this half again and reports
                pass
            finally:
                os._exit(status)
        self._pid: int | None = pid

    def __enter__(self) -> _SecondHalf:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def join(self) -> bool:
        """Wait for the child; True if it wrote its half."""
        assert self._pid is not None
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        return os.waitstatus_to_exitcode(status) == 0

    def close(self) -> None:
        if self._pid is not None:
            kill_and_reap(self._pid)
            self._pid = None
        self.path.unlink(missing_ok=True)


def _second_half(reader: TraceReader, temporary: Path, origin_ns: int) -> _SecondHalf | None:
    """A child exporting the second half of ``reader``'s trace, if the trace is big enough and fork is
    safe; None to export it all in this process."""
    size = reader.path.stat().st_size
    if not may_fork() or size < SPLIT_MIN_BYTES:
        return None
    start = reader.line_start(size // 2)
    if start >= size:
        return None
    with contextlib.suppress(OSError):  # no process to spare: one process will do
        return _SecondHalf(reader, start, temporary.with_name(temporary.name + "-2"), origin_ns)
    return None


def _merge_half(
    connection: sqlite3.Connection, half: _SecondHalf, first_id: int
) -> tuple[int, dict[str, Any]]:
    """Copy the child's events in after the first ``first_id - 1``; returns their count and its state."""
    connection.execute("ATTACH DATABASE ? AS half", (str(half.path),))
    try:
        connection.execute("BEGIN")
        (state_text,) = connection.execute("SELECT state FROM half.half_state").fetchone()
        state = orjson.loads(state_text)
        if state["first_id"] == first_id:
            # Same schema, no expression, no ORDER BY: SQLite copies the stored rows as they are (its
            # "transfer optimization"), about twice as fast as decoding and encoding each one.
            cursor = connection.execute("INSERT INTO events SELECT * FROM half.events")
        else:
            columns = ", ".join(EVENT_COLUMNS[1:])
            cursor = connection.execute(
                f"INSERT INTO events SELECT id + ?, {columns} FROM half.events ORDER BY id",
                (first_id - state["first_id"],),
            )
        count = cursor.rowcount
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.execute("DETACH DATABASE half")
    return count, state


@names_wrong_field_types
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
    refuse_existing([out], overwrite)
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader, writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        # A fixed name next to the target (not mkstemp, whose 0600 mode would stick to the database); one
        # left behind by a killed export is simply replaced.
        temporary = out.with_name(f".{out.name}.partial")
        temporary.unlink(missing_ok=True)
        try:
            origin_ns = read_origin_ns(reader)
            # Forked before the database is opened, so that the child holds no SQLite handle.
            with contextlib.ExitStack() as cleanup:
                half = _second_half(reader, temporary, origin_ns)
                if half is not None:
                    cleanup.enter_context(half)
                counter = TrafficCounter(reader.header)
                connection = sqlite3.connect(temporary, isolation_level=None)
                cleanup.callback(connection.close)
                _create_tables(connection, _SCHEMA_SQL)
                connection.execute("BEGIN")
                connection.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        (key, value if isinstance(value, str) else orjson.dumps(value).decode())
                        for key, value in reader.header.items()
                    ],
                )
                first_end = None if half is None else half.start
                records = reader.events(end=first_end)
                events = _insert_events(connection, event_rows(records, counter, origin_ns))
                skipped_count = reader.skipped_count
                connection.execute("COMMIT")
                if half is not None:
                    if half.join():
                        count, state = _merge_half(connection, half, events + 1)
                        events += count
                        counter.merge(state["counter"])
                        skipped_count += state["skipped_count"]
                    else:
                        # Whatever stopped the child, reading its half here ends the export as one
                        # process would: with the same rows, or the same error naming the same line.
                        connection.execute("BEGIN")
                        rows = event_rows(reader.events(half.start), counter, origin_ns, events + 1)
                        events += _insert_events(connection, rows)
                        skipped_count += reader.skipped_count
                        connection.execute("COMMIT")
                    half.close()
                node_rows, link_rows = node_table_rows(counter), link_table_rows(counter)
                connection.execute("BEGIN")
                connection.executemany(
                    f"INSERT INTO nodes VALUES ({', '.join('?' * len(NODE_COLUMNS))})", node_rows
                )
                connection.executemany(
                    f"INSERT INTO links VALUES ({', '.join('?' * len(LINK_COLUMNS))})", link_rows
                )
                connection.execute(f"PRAGMA threads={INDEX_SORT_THREADS}")
                for column in INDEX_COLUMNS:
                    connection.execute(f"CREATE INDEX events_{column} ON events({column})")
                connection.execute("COMMIT")
            os.replace(temporary, out)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return ExportResult("sqlite", (out,), events, len(node_rows), len(link_rows), skipped_count)
