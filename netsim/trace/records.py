"""Small readers and formatters for trace record fields, shared by every trace tool.

A trace may be hand-edited or cut short, so a field can hold anything; these helpers say once how a
tool treats a value of the wrong type.
"""

from __future__ import annotations

from typing import Any

import orjson

from netsim.vocabulary import CONTROL_TYPE_PREFIX

ELLIPSIS = "\u2026"


def is_int(value: Any) -> bool:
    """True for an integer field's value; ``true`` is a bool, not a count, though bool is an int."""
    return isinstance(value, int) and not isinstance(value, bool)


def int_or_none(value: Any) -> int | None:
    """An integer field's value, or None; ``true`` is a bool, not a count, though bool is an int."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_or_none(value: Any) -> str | None:
    """A text field's value, or None."""
    return value if isinstance(value, str) else None


def is_control(msg_type: Any) -> bool:
    """True for a message type netsim sends itself (``netsim.hello``), which tools hide by default."""
    return isinstance(msg_type, str) and msg_type.startswith(CONTROL_TYPE_PREFIX)


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, the last an ellipsis where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def format_address(address: Any) -> str:
    """A sockname or peername as people write it: ``host:port``, ``[v6 host]:port``, an AF_UNIX
    path, ``""`` for an unnamed AF_UNIX socket, and JSON text for anything no kernel returns."""
    if type(address) is list and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if isinstance(host, str) and ":" in host else f"{host}:{port}"
    if address == "":
        return '""'
    if type(address) is str:
        return address
    try:
        return orjson.dumps(address).decode()
    except TypeError:
        return str(address)


def compact_json(value: Any) -> str:
    """A field's value as one line of JSON (``[1,{"a":null}]``), or ``str()`` of what JSON cannot hold."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return str(value)


def format_share(value: Any) -> str:
    """A fraction as a percentage with one decimal (``0.846`` -> ``84.6 %``); ``-`` for no number."""
    return "-" if not isinstance(value, (int, float)) else f"{100 * value:.1f} %"


def format_ms(value: Any) -> str:
    """Milliseconds with one decimal and thousands separators; ``-`` for no number."""
    return "-" if not isinstance(value, (int, float)) else f"{value:,.1f} ms"
