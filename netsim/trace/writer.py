"""A node's trace file (a part of the run's trace): buffered, flushed on exit and on crash.

A part file is JSON Lines with two kinds of line, in the order the node wrote them:

* an event: one record of the trace as it is (``{"ts_ns": ..., "node": ..., "event": ..., ...}``);
* a batch of message events of one kind on one socket (``MessageRecords``): the fields they share, once,
  and one row per message, ``{"batch": {"node": ..., "event": ..., "transport": ..., ...}, "rows":
  [[ts_ns, nbytes, msg_id, msg_type, lamport, in_reply_to], ...]}`` (``in_reply_to`` null when absent).

``netsim.trace.reader.merge_node_traces`` expands each row into the record it stands for, byte for byte
the line ``TraceWriter.write`` would have written for it, so the merged trace holds events only. A node
writes one message record per message sent or received; as a row it costs a tuple and a share of one
``orjson.dumps`` per batch, where a line of its own cost a dict and a ``dumps`` each, and a part of
message events is about a fifth the size (the shared fields are written once per batch).
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from netsim.clock import now_ns

WRITE_BUFFER_BYTES = 1 << 20
# A batch line is written once it holds this many rows (``extend`` may take it a little past): enough
# to spread one dumps over many messages, few enough that a line truncated by a killed node loses little.
BATCH_ROWS = 256
_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


class TraceWriter:
    """Appends event records for one node; fields that do not apply are left out, never null."""

    def __init__(self, path: str | os.PathLike[str], node: str) -> None:
        self.path = os.fspath(path)
        self.node = node
        self._file = open(self.path, "ab", buffering=WRITE_BUFFER_BYTES)  # noqa: SIM115 - closed in close()
        self.unflushed = False
        self._write = self._file.write
        # The message records whose rows are not written yet: they go out before any other line, so
        # that the file stays in the order of the calls (and so of ts_ns).
        self.pending: MessageRecords | None = None

    def event(self, event: str, *, ts_ns: int | None = None, node: str | None = None, **fields: Any) -> None:
        """Write one record; ``ts_ns`` defaults to now (a send passes the time just before its syscall).

        ``node`` defaults to the writer's node (the launcher writes fault events on behalf of nodes).
        """
        record = {
            "ts_ns": now_ns() if ts_ns is None else ts_ns,
            "node": self.node if node is None else node,
            "event": event,
        }
        for key, value in fields.items():
            if value is not None:
                record[key] = value
        self.write(record)

    def message_records(self, event: str, base: dict[str, Any]) -> MessageRecords:
        """The writer of one kind of message event (``send``, ``recv``...) on one socket."""
        return MessageRecords(self, event, base)

    def write(self, record: dict[str, Any]) -> None:
        """Write a record built by the caller: ts_ns, node, event first."""
        self.write_pending()
        self._write(_dumps(record, option=_NEWLINE))
        self.unflushed = True

    def write_pending(self) -> None:
        """Write the rows of the message records that have some waiting, if any do."""
        if self.pending is not None:
            self.pending.write_rows()

    def flush(self) -> None:
        if not self._file.closed:
            self.write_pending()
            self._file.flush()
        self.unflushed = False

    def close(self) -> None:
        if not self._file.closed:
            self.write_pending()
            self._file.close()


class MessageRecords:
    """Writes the records of one kind of message event on one socket: ``fields`` plus each message's.

    Records are kept as rows and written as one batch line (see the module docstring) when another kind
    of line is written, when ``BATCH_ROWS`` or more have gathered, and when the writer flushes or closes: the
    node flushes at least every ``TRACE_FLUSH_INTERVAL_NS``, on exit and on a crash.

    A path that writes one row per message (a packet channel's sends) may append the row itself, as
    ``write`` does, and save the call: ``if records.writer.pending is not records: records.begin()``,
    then ``records.rows.append(row)`` and ``records.write_rows()`` once there are ``BATCH_ROWS``.
    """

    __slots__ = ("_batch", "_write", "rows", "writer")

    def __init__(self, writer: TraceWriter, event: str, base: dict[str, Any]) -> None:
        self.writer = writer
        self._write = writer._write
        self.rows: list[tuple[int, int, str, str, int, str | None]] = []
        shared = {"node": writer.node, "event": event, **base}
        self._batch: dict[str, Any] = {"batch": shared, "rows": self.rows}

    def write(
        self, ts_ns: int, nbytes: int, msg_id: str, msg_type: str, lamport: int, in_reply_to: str | None
    ) -> None:
        if self.writer.pending is not self:
            self.begin()
        rows = self.rows
        rows.append((ts_ns, nbytes, msg_id, msg_type, lamport, in_reply_to))
        if len(rows) >= BATCH_ROWS:
            self.write_rows()

    def extend(self, rows: list[tuple[int, int, str, str, int, str | None]]) -> None:
        """``write`` for many messages at once: rows as ``write`` takes its arguments, built by the caller."""
        if self.writer.pending is not self:
            self.begin()
        own = self.rows
        own += rows
        if len(own) >= BATCH_ROWS:
            self.write_rows()

    def begin(self) -> None:
        """These records' rows come next in the file: write the rows another kind has waiting first.

        Rows wait only while their records are the writer's ``pending`` ones, and every flush writes
        those first, so the writer has unflushed lines from here until its next flush.
        """
        writer = self.writer
        writer.write_pending()
        writer.pending = self
        writer.unflushed = True

    def write_rows(self) -> None:
        """Write the rows gathered so far as one batch line."""
        if self.rows:
            self._write(_dumps(self._batch, option=_NEWLINE))
            self.rows.clear()
        self.writer.pending = None
