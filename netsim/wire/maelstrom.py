"""Maelstrom's node protocol, as a program on a netsim node speaks it: pure, bytes in and out.

A program reads messages on its stdin and writes messages on its stdout, one JSON object per line:
``{"src": "n1", "dest": "n2", "body": {"type": "echo", "msg_id": 1, ...}}``. The body has a ``type``,
may have an integer ``msg_id``, and a reply names the request's ``msg_id`` in ``in_reply_to``
(https://github.com/jepsen-io/maelstrom/blob/main/doc/protocol.md). netsim starts the conversation
with ``init`` (``node_id``, ``node_ids``) and waits for ``init_ok``.

``LineDecoder`` cuts what a program writes into lines, and cuts off any line longer than its limit;
``parse_line`` turns a line into a ``ProgramMessage`` or a ``LineError`` that says what is wrong with
it, quoting the line's first bytes; ``encode_line`` writes a message for a program's stdin. Nothing
here touches a pipe: ``netsim.runtime.program`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

# Maelstrom's error codes (doc/protocol.md#errors): name, and whether the error is definite (the
# operation certainly did not happen) or not (it may have happened).
ERROR_CODES: dict[int, tuple[str, bool]] = {
    0: ("timeout", False),
    1: ("node-not-found", True),
    10: ("not-supported", True),
    11: ("temporarily-unavailable", True),
    12: ("malformed-request", True),
    13: ("crash", False),
    14: ("abort", True),
    20: ("key-does-not-exist", True),
    21: ("key-already-exists", True),
    22: ("precondition-failed", True),
    30: ("txn-conflict", True),
}
NODE_NOT_FOUND = 1

# How much of a bad line an error quotes.
QUOTED_BYTES = 80


class ProgramMessage(NamedTuple):
    """A valid message a program wrote: ``body`` is a dict with a string ``type``."""

    src: str
    dest: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return self.body["type"]

    @property
    def msg_id(self) -> int | None:
        return self.body.get("msg_id")


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that is not a valid message: why, and its first bytes (for the trace)."""

    reason: str
    first_bytes: bytes

    def describe(self) -> str:
        quoted = self.first_bytes.decode("utf-8", "backslashreplace")
        return f"{self.reason}: {quoted!r}"


class LineDecoder:
    """Cuts a byte stream into lines of at most ``max_line_bytes`` (the newline not counted).

    A longer line is not kept whole: ``feed`` returns a ``LineError`` quoting its start in its place
    and skips the rest of it, up to and including its newline.
    """

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        # What a too-long line's error quotes: the same however the line arrived in pieces.
        self._quoted = min(QUOTED_BYTES, max_line_bytes + 1)
        self._buffer = bytearray()
        self._skipping = False  # inside a line already reported as too long

    def feed(self, data: bytes) -> list[bytes | LineError]:
        out: list[bytes | LineError] = []
        buffer = self._buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            elif end - start > self.max_line_bytes:
                out.append(_too_long(bytes(buffer[start : start + self._quoted]), self.max_line_bytes))
            else:
                out.append(bytes(buffer[start:end]))
            start = end + 1
        del buffer[:start]
        if len(buffer) > self.max_line_bytes:
            if not self._skipping:
                out.append(_too_long(bytes(buffer[: self._quoted]), self.max_line_bytes))
                self._skipping = True
            buffer.clear()
        return out

    @property
    def pending(self) -> bytes:
        """What came after the last newline: a line the program has not finished (or never will)."""
        return bytes(self._buffer)


def _too_long(first_bytes: bytes, limit: int) -> LineError:
    return LineError(f"line longer than {limit} bytes", first_bytes)


def parse_line(line: bytes, default_src: str) -> ProgramMessage | LineError | None:
    """The message on ``line`` (no newline), a ``LineError``, or None for a blank line.

    ``default_src`` stands in for a missing ``src`` (a program may leave it out; every other field is
    checked). A ``src`` other than the program's own node is kept as written: the receiver sees it.
    """
    stripped = line.strip()
    if not stripped:
        return None
    first = stripped[:QUOTED_BYTES]
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return LineError("not JSON", first)
    if not isinstance(value, dict):
        return LineError("not a JSON object", first)
    dest = value.get("dest")
    if not isinstance(dest, str) or not dest:
        return LineError("no dest (a node id string)", first)
    src = value.get("src", default_src)
    if not isinstance(src, str) or not src:
        return LineError("src is not a node id string", first)
    body = value.get("body")
    if not isinstance(body, dict):
        return LineError("no body (a JSON object)", first)
    if not isinstance(body.get("type"), str) or not body["type"]:
        return LineError("the body has no type (a string)", first)
    for key in ("msg_id", "in_reply_to"):
        if key in body and body[key] is not None and not _is_int(body[key]):
            return LineError(f"the body's {key} is not an integer", first)
    return ProgramMessage(src, dest, body)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def encode_line(src: str, dest: str, body: Any) -> bytes:
    """One message as a line for a program's stdin."""
    return orjson.dumps({"src": src, "dest": dest, "body": body}, option=orjson.OPT_APPEND_NEWLINE)


def init_body(msg_id: int, node_id: str, node_ids: list[str]) -> dict[str, Any]:
    return {"type": "init", "msg_id": msg_id, "node_id": node_id, "node_ids": node_ids}


def error_body(code: int, text: str, in_reply_to: int | None) -> dict[str, Any]:
    """An ``error`` reply (``in_reply_to`` left out when the request had no ``msg_id``)."""
    body: dict[str, Any] = {"type": "error", "code": code, "text": text}
    if in_reply_to is not None:
        body["in_reply_to"] = in_reply_to
    return body
