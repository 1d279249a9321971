"""The types a trace's known fields must have (docs/trace-format.md), for finding the line that broke
an analysis.

The reader checks only what every event has (``ts_ns``, ``node``, ``event``): checking every field of
every line would cost the 1M-event goals about a second. The trace tools take the other fields at
their word, so a hand-edited or hostile trace (a ``peer`` that is a list, a ``sock`` that is a string)
can make one of them raise. When one does, the command looks for the first line whose fields do not
have their types (``first_malformed``) and reports it as any malformed line is reported: the file, the
line, the field.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson

from netsim.errors import TraceFormatError
from netsim.trace.schema import HEADER_TYPE

F = TypeVar("F", bound=Callable[..., Any])

# What a trace tool raises on a field of a type it does not expect.
FIELD_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError)
HINT = "fix or remove that line (docs/trace-format.md gives each field's type)"

# Field -> the JSON types it may have (bool is not an integer here).
_STRING = (str,)
_INTEGER = (int,)
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(
        (
            "node",
            "event",
            "transport",
            "peer",
            "msg_id",
            "msg_type",
            "in_reply_to",
            "role",
            "error",
            "reason",
            "fault",
            "call",
            "digest",
            "preview",
            "errno",
        ),
        _STRING,
    ),
    **dict.fromkeys(
        ("ts_ns", "nbytes", "lamport", "delay_ns", "attempt", "suppressed", "sock", "offset", "start_ns"),
        _INTEGER,
    ),
    "args": (dict,),
}
ADDRESS_FIELDS = ("sockname", "peername")


def record_problem(record: Any) -> str | None:
    """Why ``record`` (a parsed event line) has a field of the wrong type, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    for field, value in record.items():
        allowed = FIELD_TYPES.get(field)
        if allowed is not None and (type(value) not in allowed):
            return f"field {field!r} must be {_kind(allowed)}, found {_json_type(value)}"
    for field in ADDRESS_FIELDS:
        if field in record and not _is_address(record[field]):
            found = _json_type(record[field])
            return f"field {field!r} must be an address ([host, port, ...] or a path), found {found}"
    return None


def header_problem(header: Any) -> str | None:
    """Why a header's topology (what the tools read of it) is not as netsim writes it, or None."""
    topology = header.get("topology") if isinstance(header, dict) else None
    if topology is None:
        return None
    if not isinstance(topology, dict):
        return f"the header's 'topology' must be an object, found {_json_type(topology)}"
    nodes = topology.get("nodes", [])
    if not isinstance(nodes, list) or not all(type(name) is str for name in nodes):
        return "the header's topology 'nodes' must be a list of node names"
    links = topology.get("links", [])
    if not isinstance(links, list) or not all(
        isinstance(link, list) and len(link) >= 2 and all(type(end) is str for end in link) for link in links
    ):
        return "the header's topology 'links' must be a list of [a, b, transport] lists"
    return None


def first_malformed(path: str | Path) -> tuple[int, str] | None:
    """The first line of the trace at ``path`` whose fields do not have their types, and why."""
    for line_no, raw in _lines(Path(path)):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue  # the reader reports these itself
        if line_no == 1:
            problem = (
                header_problem(record)
                if isinstance(record, dict) and record.get("type") == HEADER_TYPE
                else None
            )
        else:
            problem = record_problem(record)
        if problem is not None:
            return line_no, problem
    return None


def malformed_trace_error(run_or_trace: str | os.PathLike[str] | None) -> TraceFormatError | None:
    """The error that names the first line of wrongly typed fields of a trace, if it has one."""
    from netsim.trace.reader import resolve_trace_path

    if run_or_trace is None:
        return None
    try:
        path = resolve_trace_path(run_or_trace)
        found = first_malformed(path)
    except (OSError, TraceFormatError):
        return None
    return None if found is None else TraceFormatError(str(path), found[0], found[1], hint=HINT)


@contextlib.contextmanager
def naming_wrong_field_types(run_or_trace: str | os.PathLike[str] | None) -> Iterator[None]:
    """An analysis of ``run_or_trace`` inside this block that raises on a field's type raises instead
    the ``TraceFormatError`` that names the line and the field; a real bug goes on as it is."""
    try:
        yield
    except FIELD_ERRORS:
        error = malformed_trace_error(run_or_trace)
        if error is None:
            raise
        raise error from None


def names_wrong_field_types(function: F) -> F:
    """``naming_wrong_field_types`` around an analysis whose first argument is the trace."""

    @functools.wraps(function)
    def wrapper(run_or_trace: Any, *args: Any, **kwargs: Any) -> Any:
        with naming_wrong_field_types(run_or_trace):
            return function(run_or_trace, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as file:
        yield from enumerate(file, 1)


def _is_address(value: Any) -> bool:
    if value is None or type(value) is str:
        return True
    return type(value) is list and len(value) >= 2 and type(value[0]) is str and type(value[1]) is int


def _kind(allowed: tuple[type, ...]) -> str:
    return " or ".join({str: "a string", int: "an integer", dict: "an object"}[kind] for kind in allowed)


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


_JSON_TYPES = {
    type(None): "null",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}
