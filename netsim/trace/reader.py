"""Reading ``netsim-trace/1`` files: the one module that opens, validates and streams traces.

Everything that analyses a trace (summary, the CLI, a user's notebook) goes through ``TraceReader``,
so the malformed-line policy lives in one place:

* line 1 must be a JSON header with ``"type": "header"`` and ``"schema": "netsim-trace/1"``, otherwise
  ``TraceFormatError(path, 1, ...)``; an empty file is a ``TraceFormatError`` too;
* a last line with no trailing newline that is not valid JSON is what a crashed writer leaves behind:
  it is skipped, logged and recorded in ``skipped_lines``, in strict and lenient mode alike;
* any other malformed line (invalid JSON, not an object, a required field missing or of the wrong type)
  raises ``TraceFormatError`` naming file and line; with ``strict=False`` it is skipped and recorded.

The file is read in binary with a large buffer and each line parsed with ``orjson``: one line at a
time when iterating, a list of lines at a time for ``batches``. ``netsim.trace.merge`` is the
writer-side counterpart, which merges a run's part files into one trace.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import weakref
from collections.abc import Generator, Iterable, Iterator
from itertools import compress, islice, repeat
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from netsim.errors import InputError, TraceFormatError
from netsim.runs.layout import TRACE_FILE_NAME
from netsim.trace.records import is_int
from netsim.trace.schema import HEADER_TYPE, SCHEMA

log = logging.getLogger(__name__)
# Skips are counted on the reader (and reported by the CLI); logging shows them only if the caller
# configures it, instead of Python's last-resort handler printing raw lines to stderr.
log.addHandler(logging.NullHandler())

# Events a trace tool's counter is fed at a time (``TraceReader.batches``), and each analysis of the
# report's one pass: few enough that a batch of records (some 300 KB) stays in a core's 1 MiB L2 cache
# while one counter after another walks it (1,000 at a time made trace_stats a third slower than one at a
# time, and the report 10 % slower than 250 at a time), enough that a call per batch costs nothing.
BATCH_EVENTS = 250
# Big enough that a trace is read in few system calls.
READ_BUFFER_BYTES = 1 << 20
# skipped_lines keeps this many entries; skipped_count keeps counting past it, so a garbage file read
# with strict=False cannot grow the list without bound.
MAX_RECORDED_SKIPS = 1000
# How much of an offending line an error message quotes.
QUOTE_CHARS = 60
# How much of a trace's end peek_last_ts_ns reads.
TAIL_PEEK_BYTES = 1 << 16

RUN_PATH_HINT = "pass a run directory like runs/<run-id> or a trace.jsonl file"
LENIENT_HINT = (
    "fix or delete the line, or read with strict=False (netsim trace summary --lenient) "
    "to skip malformed lines"
)


def resolve_trace_path(run_or_trace: str | os.PathLike[str]) -> Path:
    """The trace file for a run directory (``<dir>/trace.jsonl``) or a trace file given directly."""
    path = Path(run_or_trace)
    if path.is_dir():
        trace_path = path / TRACE_FILE_NAME
        if trace_path.is_file():
            return trace_path
        raise InputError(f"{path}: no {TRACE_FILE_NAME} in this directory", hint=RUN_PATH_HINT)
    if path.is_file():
        return path
    if path.exists():
        raise InputError(f"{path}: not a regular file or directory", hint=RUN_PATH_HINT)
    raise InputError(f"{path}: no such file or directory", hint=RUN_PATH_HINT)


def quote_line(raw: bytes) -> str:
    """A line as an error message quotes it: decoded, without its newline, cut at QUOTE_CHARS."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return repr(text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "...")


def _event_problem(record: Any) -> str | None:
    """Why a parsed line is not a valid event record, or None if it is one."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    if not is_int(record.get("ts_ns")):
        return "missing or non-integer field 'ts_ns'" if "ts_ns" in record else "missing field 'ts_ns'"
    for name in ("node", "event"):
        if name not in record:
            return f"missing field {name!r}"
        if not isinstance(record[name], str):
            return f"field {name!r} must be a string, found {type(record[name]).__name__}"
    return None


def _parse_header(path: Path, raw: bytes) -> dict[str, Any]:
    if not raw:
        raise TraceFormatError(str(path), 1, "not a netsim trace: the file is empty", hint=RUN_PATH_HINT)
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise TraceFormatError(
            str(path),
            1,
            f"not a netsim trace: line 1 is not JSON ({error}): {quote_line(raw)}",
            hint=RUN_PATH_HINT,
        ) from None
    if not isinstance(header, dict) or header.get("type") != HEADER_TYPE:
        raise TraceFormatError(
            str(path),
            1,
            f'not a netsim trace: line 1 is not a {{"type": "{HEADER_TYPE}"}} record',
            hint=RUN_PATH_HINT,
        )
    found = header.get("schema")
    if found != SCHEMA:
        raise TraceFormatError(
            str(path),
            1,
            f"unsupported trace schema {found!r}: this netsim reads {SCHEMA!r}",
            hint="read the trace with the netsim version that wrote it (see the header's netsim_version)",
        )
    return header


class TraceReader:
    """A ``netsim-trace/1`` file: ``.header`` on open, events streamed by iterating.

    ``TraceReader(path)`` takes a trace file (use ``resolve_trace_path`` for run directories) and reads
    and validates the header. Each ``iter(reader)`` opens the file afresh and streams events from the
    first one; its file closes when the iteration ends or is dropped, or when the reader is closed
    (``close()`` or the end of a ``with`` block), so ``list(TraceReader(path))`` leaks nothing.
    ``skipped_lines`` (at most ``MAX_RECORDED_SKIPS`` entries) and ``skipped_count`` describe the latest
    iteration.
    """

    def __init__(self, path: str | os.PathLike[str], *, strict: bool = True) -> None:
        self.path = Path(path)
        self.strict = strict
        self.skipped_lines: list[tuple[int, str]] = []
        self.skipped_count = 0
        self._closed = False
        self._line_numbers: dict[int, int] = {}
        self._iterations: weakref.WeakSet[Generator[dict[str, Any], None, None]] = weakref.WeakSet()
        with self._open() as file:
            self._header_line = file.readline()
        self.header: dict[str, Any] = _parse_header(self.path, self._header_line)

    def _open(self) -> IO[bytes]:
        try:
            return open(self.path, "rb", buffering=READ_BUFFER_BYTES)
        except OSError as error:
            raise InputError(
                f"{self.path}: cannot open trace: {error.strerror or error}", hint=RUN_PATH_HINT
            ) from None

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every iteration still running (closing its file); the reader cannot iterate again."""
        self._closed = True
        for iteration in list(self._iterations):
            iteration.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.events()

    def events(
        self, start: int | None = None, end: int | None = None, *, nodes: Iterable[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The events of the lines that begin at byte ``start`` or later and before byte ``end``.

        ``start`` must be the first byte of a line after the header (``line_start``) and defaults to the
        first event; ``end`` defaults to the end of the file. Errors name the line in the whole file.

        ``nodes`` keeps the events of these nodes only. A strict reader then skips, without parsing it,
        each complete line whose bytes show for certain that its node is another one (``node_of_line``):
        such a line is not checked, so this is for a trace that was read through once already, as the
        diagram's pass over its lanes' events is.
        """
        if self._closed:
            raise ValueError(f"{self.path}: the trace reader is closed")
        iteration = self._events(start, end, None if nodes is None else frozenset(nodes))
        self._iterations.add(iteration)
        return iteration

    def batches(self, size: int = BATCH_EVENTS) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """The events, in lists of up to ``size``, each with the number of lines skipped before its first
        event. A list ends where a line is skipped, so that the number holds for every event in it (what
        a check that names lines needs). The same events, checked the same way, as iterating.

        Lines are parsed a list at a time (``orjson.loads`` mapped over them) and checked with one pass
        in C per field, where a list of valid events, all but always, goes no further: iterating costs a
        generator step and the checks in Python per event (reading a 1,000,000-event trace in batches
        took 1.16-1.18 s that way, 0.97-1.05 s this way).
        A list with a line that is not a valid event is read again line by line, as iterating reads it.
        """
        if self._closed:
            raise ValueError(f"{self.path}: the trace reader is closed")
        iteration = self._batches(size)
        self._iterations.add(iteration)
        return iteration

    def line_start(self, offset: int) -> int:
        """The byte offset of the first event line that begins at ``offset`` or later (the file's size
        if none does): where ``events`` can split the trace."""
        offset = max(offset, len(self._header_line))
        with self._open() as file:
            file.seek(offset - 1)
            if file.read(1) != b"\n":
                file.readline()
            return file.tell()

    def line_number(self, offset: int) -> int:
        """The number, from 1, of the line that begins at byte ``offset`` (a ``line_start``): one more
        than the newlines before it. Counted once per offset, then remembered."""
        number = self._line_numbers.get(offset)
        if number is None:
            number = 1
            with self._open() as file:
                remaining = offset
                while remaining > 0:
                    chunk = file.read(min(remaining, READ_BUFFER_BYTES))
                    if not chunk:
                        break
                    number += chunk.count(b"\n")
                    remaining -= len(chunk)
            self._line_numbers[offset] = number
        return number

    def records_at(self, lines: Iterable[int]) -> dict[int, Any]:
        """The parsed JSON of each of these lines (numbered from 1, the header's included) that is in the
        file and parses, read afresh: for a tool that kept only the line number of an event it may
        name at the end (verify's sends never received), instead of the event itself."""
        wanted = set(lines)
        found: dict[int, Any] = {}
        if not wanted:
            return found
        last = max(wanted)
        with self._open() as file:
            for line_no, raw in enumerate(file, start=1):
                if line_no in wanted:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        found[line_no] = orjson.loads(raw)
                if line_no >= last:
                    break
        return found

    def _skip(self, line_no: int, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped_lines) < MAX_RECORDED_SKIPS:
            self.skipped_lines.append((line_no, reason))

    def _events(
        self, start: int | None, end: int | None, nodes: frozenset[str] | None
    ) -> Generator[dict[str, Any], None, None]:
        self.skipped_lines = []
        self.skipped_count = 0
        with self._open() as file:
            if file.readline() != self._header_line:
                # Replaced (say, by a merge renaming a new trace into place) since the header was read.
                raise TraceFormatError(str(self.path), 1, "the trace changed since its header was read")
            line_no = 1
            if start is not None and start > file.tell():
                # Errors name the line in the whole file.
                line_no = self.line_number(start) - 1
                file.seek(start)
            lines: Iterator[bytes] = file if end is None else _lines_before(file, end - file.tell())
            # The wanted nodes as their lines spell them: a JSON string without escapes is its UTF-8.
            wanted = None if nodes is None or not self.strict else {name.encode() for name in nodes}
            numbered = (
                enumerate(lines, line_no + 1) if wanted is None else _maybe_wanted(lines, wanted, line_no + 1)
            )
            for line_no, raw in numbered:
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    record = None
                # Fast path for the valid record; `type(...) is int` also rules out bool.
                if not (
                    type(record) is dict
                    and type(record.get("ts_ns")) is int
                    and type(record.get("node")) is str
                    and type(record.get("event")) is str
                ):
                    record = self._checked(raw, line_no)  # the event after all, or skipped, or raised
                    if record is None:
                        continue
                if nodes is None or record["node"] in nodes:
                    yield record

    def _batches(self, size: int) -> Generator[tuple[list[dict[str, Any]], int], None, None]:
        self.skipped_lines = []
        self.skipped_count = 0
        loads = orjson.loads
        with self._open() as file:
            if file.readline() != self._header_line:
                # Replaced (say, by a merge renaming a new trace into place) since the header was read.
                raise TraceFormatError(str(self.path), 1, "the trace changed since its header was read")
            line_no = 1
            while lines := list(islice(file, size)):
                try:
                    records = list(map(loads, lines))
                except orjson.JSONDecodeError:
                    pass
                else:
                    if _all_events(records):
                        yield records, self.skipped_count
                        line_no += len(lines)
                        continue
                batch: list[dict[str, Any]] = []
                skipped = self.skipped_count
                for raw in lines:
                    line_no += 1
                    record = self._checked(raw, line_no)
                    if record is not None:
                        batch.append(record)
                    elif batch:
                        yield batch, skipped
                        batch, skipped = [], self.skipped_count
                    else:
                        skipped = self.skipped_count
                if batch:
                    yield batch, skipped

    def _checked(self, raw: bytes, line_no: int) -> dict[str, Any] | None:
        """The event of one line; None when the line is skipped (recorded), and an error when strict."""
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            if not raw.endswith(b"\n"):
                # Only the last line can lack its newline: a writer that died mid-line.
                reason = f"truncated last line (no trailing newline, not JSON): {quote_line(raw)}"
                log.warning("%s:%d: skipped %s", self.path, line_no, reason)
                self._skip(line_no, reason)
                return None
            problem = f"invalid JSON ({error}): {quote_line(raw)}"
        else:
            problem = _event_problem(record)
            if problem is None:
                return record  # type: ignore[no-any-return]
        if self.strict:
            raise TraceFormatError(str(self.path), line_no, problem, hint=LENIENT_HINT)
        log.debug("%s:%d: skipped %s", self.path, line_no, problem)
        self._skip(line_no, problem)
        return None


_TS_NS, _NODE, _EVENT = itemgetter("ts_ns"), itemgetter("node"), itemgetter("event")
_DICT, _INT, _STR = frozenset({dict}), frozenset({int}), frozenset({str})


def _all_events(records: list[Any]) -> bool:
    """Whether every one of ``records`` is a valid event (as ``_event_problem`` sees it), checked field
    by field over the list in C; ``bool`` is a type of its own here, so a ``ts_ns`` of true fails."""
    if set(map(type, records)) != _DICT:
        return not records
    try:
        return (
            set(map(type, map(_TS_NS, records))) == _INT
            and set(map(type, map(_NODE, records))) == _STR
            and set(map(type, map(_EVENT, records))) == _STR
        )
    except KeyError:
        return False


# Lines read at a time to find those of a few nodes (``_maybe_wanted``): some 200 KB of a flood's trace.
NODE_BLOCK_LINES = 1000
# The node field of an event line as netsim writes it (in lines without a backslash).
_NODE_FIELD = re.compile(rb'"node":"([^"\n]*)"')
_ONCE = {1}
# After the key "node" of an event line: the colon and the opening quote of its value, spaced or not.
_NODE_VALUE = re.compile(rb'\s*:\s*"')


def node_of_line(raw: bytes) -> bytes | None:
    """The node of an event line, as the bytes of its name, when the line's bytes show it for certain
    without parsing it; None when only parsing can tell.

    Certain means: a complete line, no backslash (so every JSON string in it is spelled as its UTF-8
    bytes, and none hides an escaped quote), and the token ``"node"`` in it once, which in a valid event
    is then its top-level key (a second one, as a key of ``data`` or as a value, makes it uncertain).
    """
    if not raw.endswith(b"\n") or b"\\" in raw or raw.count(b'"node"') != 1:
        return None
    at = raw.find(b'"node"') + 6
    if raw.startswith(b':"', at):
        start = at + 2
    else:
        value = _NODE_VALUE.match(raw, at)
        if value is None:
            return None
        start = value.end()
    end = raw.find(b'"', start)
    return raw[start:end] if end >= 0 else None


def _maybe_wanted(
    lines: Iterator[bytes], wanted: set[bytes], first_line_no: int
) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of each of ``lines`` that may be an event of a ``wanted`` node: all but those
    whose bytes show for certain that their node is another (``node_of_line``).

    Looked at ``NODE_BLOCK_LINES`` lines at a time: where every line of a block is certain in the shape
    netsim writes (ending in a newline, no backslash in the block, the token ``"node"`` once per line,
    followed by ``:"``), one regex search reads the block's nodes and the wanted lines are picked in C;
    any other block is looked at line by line. Reading a line's node in Python was 0.8 s of the
    1.0 s the report's diagram takes over a 1,000,000-event flood for its 30 lanes.
    """
    line_no = first_line_no
    while block := list(islice(lines, NODE_BLOCK_LINES)):
        numbered = zip(range(line_no, line_no + len(block)), block, strict=True)
        line_no += len(block)
        joined = b"".join(block)
        names: list[bytes] = []
        if (
            block[-1].endswith(b"\n")
            and b"\\" not in joined
            and set(map(bytes.count, block, repeat(b'"node"'))) == _ONCE
        ):
            # The token once per line: the regex finds it once per line when it is a node field.
            names = _NODE_FIELD.findall(joined)
        if len(names) == len(block):
            yield from compress(numbered, map(wanted.__contains__, names))
            continue
        for number, raw in numbered:
            node = node_of_line(raw)
            if node is None or node in wanted:
                yield number, raw


def _lines_before(file: IO[bytes], limit: int) -> Iterator[bytes]:
    """The lines of ``file`` that begin within the next ``limit`` bytes."""
    if limit <= 0:
        return
    for raw in file:
        yield raw
        limit -= len(raw)
        if limit <= 0:
            return


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a pass over a trace; its state is restored afterwards.

    A pass makes no reference cycles (records are plain dicts, counters keep no references back), so a
    collection during it frees nothing; but each full collection walks every object the pass keeps, and
    for a 5,000-node run that is hundreds of thousands (nodes, links, connections, messages in flight):
    1.5-2 s of the report's 6-8 s pass. Reference counting frees what the pass drops, as before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def batches_between_skips(
    reader: TraceReader, size: int = BATCH_EVENTS
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """The events of ``reader`` in lists of up to ``size``, each with the number of lines the reader had
    skipped before its first event. A list ends where the reader skips a line, so that the number holds
    for every event in it (what a check that names lines needs): ``reader.batches(size)``."""
    return reader.batches(size)


def iter_events(run_or_trace: str | os.PathLike[str], *, strict: bool = True) -> Iterator[dict[str, Any]]:
    """Every event of a run directory's or trace file's trace, streamed; the file closes at the end."""
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader:
        yield from reader


def read_header(run_or_trace: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated header of a run directory's or trace file's trace."""
    with TraceReader(resolve_trace_path(run_or_trace)) as reader:
        return reader.header


def peek_last_ts_ns(path: str | os.PathLike[str]) -> int | None:
    """The ``ts_ns`` of the last event line, read by seeking near the file's end (None if none is there).

    A peek, not a reader: it sizes a timeline before the streaming pass, which still checks every line
    through ``TraceReader``. Raises ``OSError`` when the file cannot be read.
    """
    with open(path, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - TAIL_PEEK_BYTES))
        tail = file.read()
    lines = tail.splitlines()
    if size > TAIL_PEEK_BYTES and lines:
        lines = lines[1:]  # the seek probably cut the first line of the peek
    for raw in reversed(lines):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("type") != HEADER_TYPE and is_int(record.get("ts_ns")):
            return record["ts_ns"]
    return None
