"""What the services share: reading a request body, the reply bodies, and keys and values compared as
JSON.

A request body is Maelstrom's (https://github.com/jepsen-io/maelstrom/blob/main/doc/services.md):
``read {key}``, ``write {key, value}``, ``cas {key, from, to, create_if_not_exists?}``, ``ts``. A reply
lists ``type`` first, then its fields, then ``in_reply_to`` (the request's ``msg_id``); a request
without a ``msg_id`` still takes effect but gets no reply. ``parse_kv_request`` turns a body into a
``KvRequest`` or the error reply it deserves; ``KeyValueService`` is the frame each key-value store
fills in with its ``apply``.
"""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from netsim.wire.maelstrom import error_body

# Maelstrom's error codes the services answer with (netsim.wire.maelstrom.ERROR_CODES names them all).
NOT_SUPPORTED = 10
MALFORMED_REQUEST = 12
KEY_DOES_NOT_EXIST = 20
PRECONDITION_FAILED = 22

# How many characters of a key or value an error's text quotes.
QUOTED_CHARS = 80

Body = dict[str, Any]
KV_TYPES: tuple[str, ...] = ("read", "write", "cas")


class Service(Protocol):
    """A service node's logic: the reply to one request body, or None when the request had no
    ``msg_id``. ``now_ns`` is the host's clock; a service never reads one of its own."""

    name: ClassVar[str]

    def handle(self, src: str, body: Body, now_ns: int) -> Body | None: ...


class _Absent(enum.Enum):
    ABSENT = "absent"


# What a store holds for a key that does not exist (a key may hold JSON null, so None will not do).
ABSENT = _Absent.ABSENT
Stored = Any  # a JSON value, or ABSENT


def canonical_json(value: Any) -> str:
    """``value`` as one string that is the same for equal JSON values: object keys sorted, no spaces,
    and a float that is a whole number written as the integer (``1.0`` is ``1``; ``true`` stays
    ``true``). Keys are stored by it and ``cas`` compares ``from`` with it."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(_whole_floats_as_ints(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _whole_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _whole_floats_as_ints(item) for key, item in value.items()}
    return value


def quote(value: Any) -> str:
    """A JSON value for an error's text, cut to ``QUOTED_CHARS``."""
    text = canonical_json(value)
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 3] + "..."


@dataclass(frozen=True, slots=True)
class KvRequest:
    """A well-formed ``read``, ``write`` or ``cas``. ``key_id`` is the key's ``canonical_json``;
    ``value`` is a write's value or a cas's ``to``; ``expected`` a cas's ``from``; ``create`` a cas's
    ``create_if_not_exists``."""

    op: Literal["read", "write", "cas"]
    key: Any
    key_id: str
    value: Any = None
    expected: Any = None
    create: bool = False


def parse_kv_request(service: str, body: Body) -> KvRequest | Body:
    """The request in ``body``, or the error reply (no ``in_reply_to`` yet) for a body that is not
    one: 10 for a type the store does not answer, 12 for a field missing or of the wrong kind."""
    kind = body.get("type")
    if kind not in KV_TYPES:
        return unknown_type(service, kind, KV_TYPES)
    needed = {"read": ("key",), "write": ("key", "value"), "cas": ("key", "from", "to")}[kind]
    for field in needed:
        if field not in body:
            return error_body(MALFORMED_REQUEST, f'{kind} request without "{field}"', None)
    key = body["key"]
    if kind == "read":
        return KvRequest("read", key, canonical_json(key))
    if kind == "write":
        return KvRequest("write", key, canonical_json(key), value=body["value"])
    create = body.get("create_if_not_exists")
    if create is not None and not isinstance(create, bool):
        text = f"cas request: create_if_not_exists is {quote(create)}, not true or false"
        return error_body(MALFORMED_REQUEST, text, None)
    return KvRequest(
        "cas", key, canonical_json(key), value=body["to"], expected=body["from"], create=create is True
    )


def unknown_type(service: str, kind: Any, supported: tuple[str, ...]) -> Body:
    """The error for a body whose ``type`` the service does not answer: 12 when it is not a string
    at all, 10 otherwise."""
    if not isinstance(kind, str):
        return error_body(MALFORMED_REQUEST, "the body has no type (a string)", None)
    names = ", ".join(supported)
    return error_body(NOT_SUPPORTED, f"{service} does not support {quote(kind)} (it answers {names})", None)


def read_reply(request: KvRequest, current: Stored) -> Body:
    """What a read of ``current`` answers: its value, or 20 when the key does not exist."""
    if current is ABSENT:
        return missing_key(request)
    return {"type": "read_ok", "value": current}


def cas_refusal(request: KvRequest, current: Stored) -> Body | None:
    """The error a cas gets against ``current``, or None when it applies (``current`` equals
    ``from``, or the key is missing and ``create_if_not_exists`` is true)."""
    if current is ABSENT:
        return None if request.create else missing_key(request)
    if canonical_json(current) != canonical_json(request.expected):
        text = f"current value of key {quote(request.key)} is {quote(current)}, not {quote(request.expected)}"
        return error_body(PRECONDITION_FAILED, text, None)
    return None


def missing_key(request: KvRequest) -> Body:
    return error_body(KEY_DOES_NOT_EXIST, f"key {quote(request.key)} does not exist", None)


WRITE_OK: Body = {"type": "write_ok"}
CAS_OK: Body = {"type": "cas_ok"}


def answer(reply: Body, request_body: Body) -> Body | None:
    """``reply`` addressed to the request (``in_reply_to`` its ``msg_id``), or None without one."""
    msg_id = request_body.get("msg_id")
    if msg_id is None:
        return None
    return {**reply, "in_reply_to": msg_id}


class KeyValueService(ABC):
    """A key-value store answering ``read``, ``write`` and ``cas``: ``handle`` reads the body and
    answers errors; the store's ``apply`` decides what a well-formed request sees and changes."""

    name: ClassVar[str]

    def handle(self, src: str, body: Body, now_ns: int) -> Body | None:
        try:
            request = parse_kv_request(self.name, body)
            reply = self.apply(src, request, now_ns) if isinstance(request, KvRequest) else request
        except RecursionError:
            # Only comparing keys or values as JSON recurses, and a store compares before it changes.
            reply = error_body(MALFORMED_REQUEST, f"{body.get('type')} request nested too deeply", None)
        return answer(reply, body)

    @abstractmethod
    def apply(self, src: str, request: KvRequest, now_ns: int) -> Body:
        """The reply (without ``in_reply_to``) to a well-formed request, after applying it."""
