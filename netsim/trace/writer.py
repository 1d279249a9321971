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

    def message_records(self, event: str, base: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Two records of one kind of message event on one socket: without and with ``in_reply_to``.

        The hot paths fill in ``ts_ns``, ``nbytes``, ``msg_id``, ``msg_type`` and ``lamport`` (and
        ``in_reply_to``) and write the same dict again for every message: building a new record
        costs as much as encoding it. Assigning to a key a dict already holds keeps its place, so
        every record comes out in the same field order.
        """
        plain = {
            "ts_ns": 0,
            "node": self.node,
            "event": event,
            **base,
            "nbytes": 0,
            "msg_id": "",
            "msg_type": "",
            "lamport": 0,
        }
        return plain, {**plain, "in_reply_to": ""}

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
