"""A node's trace file: one JSON object per line, buffered, flushed on exit and on crash."""

from __future__ import annotations

import os
from typing import Any

import orjson

from netsim.clock import now_ns

WRITE_BUFFER_BYTES = 1 << 20
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
        """Write a record built by the caller (the per-message fast path): ts_ns, node, event first."""
        self._write(_dumps(record, option=_NEWLINE))
        self.unflushed = True

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()
        self.unflushed = False

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class MessageRecords:
    """Writes the records of one kind of message event on one socket: ``base`` fields plus the message's.

    A node writes one of these for every message it sends or receives, so the record is not built
    each time: two dicts (without and with ``in_reply_to``) are made once and refilled, because
    building a record cost as much as encoding it. Assigning to a key a dict already holds keeps its
    place, so every record comes out in the same field order.
    """

    __slots__ = ("_plain", "_reply", "_write", "_writer")

    def __init__(self, writer: TraceWriter, event: str, base: dict[str, Any]) -> None:
        self._plain: dict[str, Any] = {
            "ts_ns": 0,
            "node": writer.node,
            "event": event,
            **base,
            "nbytes": 0,
            "msg_id": "",
            "msg_type": "",
            "lamport": 0,
        }
        self._reply: dict[str, Any] = {**self._plain, "in_reply_to": ""}
        # TraceWriter.write's two lines, inlined: a call costs as much as either of them.
        self._writer = writer
        self._write = writer._write

    def write(
        self, ts_ns: int, nbytes: int, msg_id: str, msg_type: str, lamport: int, in_reply_to: str | None
    ) -> None:
        if in_reply_to is None:
            record = self._plain
        else:
            record = self._reply
            record["in_reply_to"] = in_reply_to
        record["ts_ns"] = ts_ns
        record["nbytes"] = nbytes
        record["msg_id"] = msg_id
        record["msg_type"] = msg_type
        record["lamport"] = lamport
        self._write(_dumps(record, option=_NEWLINE))
        self._writer.unflushed = True
