"""The sans-I/O message codec: one message to its JSON payload and back, with no socket in sight.

How payloads ride a transport (a length prefix on streams, one per datagram) is ``netsim.wire.framing``.

Payload
    One message is one compact UTF-8 JSON object, written by orjson, keys in this order::

        {"src":"a","dst":"b","id":"a:1","type":"ping","body":{"n":1},"lamport":0}

    ``in_reply_to`` follows ``lamport`` only when it is not None. ``body`` is any JSON value.

Decoding rules
    Strict about the envelope: the payload is a JSON object; ``src``, ``dst``, ``id`` and ``type`` are
    non-empty strings; ``in_reply_to`` is absent, null or a non-empty string; ``lamport`` is absent (0) or
    a non-negative integer (not a boolean, at most ``LAMPORT_MAX`` = 2**62). ``body`` may be any JSON
    value and defaults to None. Lenient about the future: unknown keys are ignored, so a newer sender may
    add envelope fields without breaking older receivers. msgspec parses and checks a valid envelope
    (``_Envelope``); whatever it refuses is parsed again by orjson and checked in Python
    (``_decode_checked``), which accepts what these rules accept and names the problem with the rest. The
    two agree on every payload but one kind: an integer beyond 64 bits in a body arrives as an exact int,
    where orjson would make it a float.

Encoding rules
    ``encode_message`` checks the envelope by the same rules, so whatever it writes decodes. The body must be
    JSON-native: dict with str keys, list, str, int within 64 bits, float, bool, None. Sets, tuples-as-keys,
    dataclasses, datetimes, bytes, arbitrary objects and larger ints raise :class:`CodecError`. Caveats of
    orjson that do not round-trip: NaN and infinities are written as ``null``; tuples become lists; enum
    members, UUIDs and subclasses of dict/list/str/int/float are written as their plain JSON value.

Errors
    Every problem with bytes, whatever they are, raises :class:`~netsim.errors.CodecError` and nothing
    else; after one, the connection that sent the bytes is closed. No eval, pickle or repr on received bytes.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import msgspec.structs
import orjson

from netsim.errors import CodecError
from netsim.wire.message import Message

__all__ = [
    "LAMPORT_MAX",
    "decode_message",
    "decode_messages",
    "encode_envelope",
    "encode_from_node",
    "encode_message",
]

# The largest Lamport clock a message may carry. A node's clock is the largest it has seen plus its own
# events, and it lands in the trace's signed 64-bit field (SQLite's too): capping what a message may
# carry at 2**62 leaves 2**62 events of room, more than any run has, so no forged clock can push a node
# past what the trace holds. A run's clocks count its events, so a real message never comes near it.
LAMPORT_MAX = 2**62
# Make orjson reject dataclasses and datetimes instead of silently turning them into objects and strings.
_DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_BODY_HINT = "a body holds only dict (str keys), list, str, int (64-bit), float, bool and None"

_dumps = orjson.dumps
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_JSONEncodeError = orjson.JSONEncodeError

# Message is a named tuple: building it through tuple.__new__ skips the generated __new__'s argument
# handling, which would cost as much again as the tuple itself.
_new_tuple = tuple.__new__
_NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


_JSON_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _envelope_problem(fields: Any) -> str:
    """Say what is wrong with a decoded payload (or an envelope about to be encoded); slow path only."""
    if type(fields) is not dict:
        return f"a message must be a JSON object, got {_json_type(fields)}"
    for name in ("src", "dst", "id", "type"):
        if name not in fields:
            return f"missing field {name!r}"
        value = fields[name]
        if not isinstance(value, str):
            return f"field {name!r} must be a string, got {_json_type(value)}"
        if not value:
            return f"field {name!r} must not be empty"
    in_reply_to = fields.get("in_reply_to")
    if in_reply_to is not None:
        if not isinstance(in_reply_to, str):
            return f"field 'in_reply_to' must be a string or null, got {_json_type(in_reply_to)}"
        if not in_reply_to:
            return "field 'in_reply_to' must not be empty (use null for no reply)"
    lamport = fields.get("lamport", 0)
    if type(lamport) is not int:
        return f"field 'lamport' must be a non-negative integer, got {_json_type(lamport)}"
    if lamport < 0:
        return f"field 'lamport' must be a non-negative integer, got {lamport}"
    if lamport > LAMPORT_MAX:
        return f"field 'lamport' must be at most 2**62, got {lamport}"
    return "invalid message"  # unreachable when called on a payload the fast path rejected


def _json_problem(payload: Any, error: orjson.JSONDecodeError) -> str:
    """Turn orjson's complaint into a reason with a byte offset (orjson counts characters)."""
    if isinstance(payload, str):
        text = payload
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as utf8_error:
            return f"invalid UTF-8 at byte {utf8_error.start}"
    else:
        return f"payload must be bytes, got {type(payload).__name__}"
    reason = getattr(error, "msg", None) or str(error)
    byte_offset = len(text[: error.pos].encode("utf-8", "surrogatepass"))
    return f"invalid JSON at byte {byte_offset}: {reason}"


def encode_message(message: Message) -> bytes:
    """The compact UTF-8 JSON payload of ``message``; raises CodecError for a bad envelope or body."""
    return encode_envelope(
        message.src, message.dst, message.id, message.type, message.body, message.in_reply_to, message.lamport
    )


def encode_envelope(
    src: str, dst: str, msg_id: str, msg_type: str, body: Any, in_reply_to: str | None, lamport: int
) -> bytes:
    """``encode_message`` for a message given field by field: the send path builds no Message object."""
    if not (
        isinstance(src, str)
        and src
        and isinstance(dst, str)
        and dst
        and isinstance(msg_id, str)
        and msg_id
        and isinstance(msg_type, str)
        and msg_type
        and type(lamport) is int
        and 0 <= lamport <= LAMPORT_MAX
        and (in_reply_to is None or (isinstance(in_reply_to, str) and in_reply_to))
    ):
        envelope = {
            "src": src,
            "dst": dst,
            "id": msg_id,
            "type": msg_type,
            "in_reply_to": in_reply_to,
            "lamport": lamport,
        }
        raise CodecError(f"cannot encode {_describe(msg_type)}: {_envelope_problem(envelope)}")
    fields = {
        "src": src,
        "dst": dst,
        "id": msg_id,
        "type": msg_type,
        "body": body,
        "lamport": lamport,
    }
    if in_reply_to is not None:
        fields["in_reply_to"] = in_reply_to
    try:
        return _dumps(fields, option=_DUMPS_OPTIONS)
    except _JSONEncodeError as error:
        # The envelope was checked above, so whatever orjson rejects is in the body.
        raise CodecError(
            f"cannot encode {_describe(msg_type)} (id {msg_id!r}): body is not JSON-serializable: {error}",
            hint=_BODY_HINT,
        ) from error


def encode_from_node(
    src: str, dst: str, msg_id: str, msg_type: str, body: Any, in_reply_to: str | None, lamport: int
) -> bytes:
    """``encode_envelope`` for a node's own sends: the type, body and in_reply_to come from the app and
    are checked as there; the node made the rest, so its names (str) need only be non-empty and its
    clock (an int) in range. Raises what ``encode_envelope`` raises."""
    if not (
        src
        and dst
        and isinstance(msg_type, str)
        and msg_type
        and in_reply_to is None
        and lamport <= LAMPORT_MAX
    ):
        # A reply, or something to refuse: the full path (this one is every plain send's).
        return encode_envelope(src, dst, msg_id, msg_type, body, in_reply_to, lamport)
    try:
        return _dumps(
            {"src": src, "dst": dst, "id": msg_id, "type": msg_type, "body": body, "lamport": lamport},
            option=_DUMPS_OPTIONS,
        )
    except _JSONEncodeError:
        return encode_envelope(src, dst, msg_id, msg_type, body, in_reply_to, lamport)  # says why


def _describe(msg_type: Any) -> str:
    if isinstance(msg_type, str) and msg_type:
        return f"message of type {msg_type[:80]!r}"
    return "message"


class _Envelope(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """The decoding rules as a msgspec type, so that parsing and checking are one pass in C.

    Unknown keys are refused here (and accepted by the checked path) because msgspec skips an unknown
    key's value without checking its bytes, where orjson refuses invalid UTF-8 anywhere.
    """

    src: _NonEmpty
    dst: _NonEmpty
    id: _NonEmpty
    type: _NonEmpty
    body: Any = None
    in_reply_to: _NonEmpty | None = None
    lamport: Annotated[int, msgspec.Meta(ge=0, le=LAMPORT_MAX)] = 0


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_envelope_values = msgspec.structs.astuple


def decode_message(payload: bytes | bytearray | memoryview) -> Message:
    """Parse and validate one payload; raises CodecError, and only CodecError, for anything invalid.

    msgspec parses and checks a valid envelope in one pass, at about half the cost of ``orjson.loads``
    and the checks in Python. Anything it refuses goes to ``_decode_checked``, which accepts what the
    decoding rules accept and says exactly what is wrong with the rest.
    """
    try:
        envelope = _decode_envelope(payload)
    except Exception:  # noqa: BLE001 - msgspec's errors, UnicodeDecodeError, RecursionError: whatever it is
        return _decode_checked(payload)
    # _Envelope's fields are Message's, in Message's order.
    return _new_tuple(Message, _envelope_values(envelope))


def decode_messages(payloads: list[bytes] | list[bytearray]) -> list[Message]:
    """``decode_message`` of every payload, oldest first: what one read of a socket brought.

    Every payload msgspec takes is decoded in one comprehension, with no Python call per message;
    otherwise each goes through ``decode_message``, and the first CodecError is raised (a caller that
    keeps the messages before a bad payload then decodes them one by one).
    """
    try:
        return [_new_tuple(Message, _envelope_values(_decode_envelope(payload))) for payload in payloads]
    except Exception:  # noqa: BLE001 - as in decode_message: the one-by-one path decides
        return [decode_message(payload) for payload in payloads]


def _decode_checked(payload: bytes | bytearray | memoryview) -> Message:
    """``decode_message`` by orjson and checks in Python: the reference the msgspec path agrees with."""
    try:
        fields = _loads(payload)
    except _JSONDecodeError as error:
        raise CodecError(_json_problem(payload, error)) from None
    if type(fields) is dict:
        get = fields.get
        src = get("src")
        dst = get("dst")
        msg_id = get("id")
        msg_type = get("type")
        in_reply_to = get("in_reply_to")
        lamport = get("lamport", 0)
        # orjson only produces exact str/int (ints above 2**64 - 1 come back as floats).
        if (
            type(src) is str
            and src
            and type(dst) is str
            and dst
            and type(msg_id) is str
            and msg_id
            and type(msg_type) is str
            and msg_type
            and type(lamport) is int
            and 0 <= lamport <= LAMPORT_MAX
            and (in_reply_to is None or (type(in_reply_to) is str and in_reply_to))
        ):
            return _new_tuple(Message, (src, dst, msg_id, msg_type, get("body"), in_reply_to, lamport))
    raise CodecError(_envelope_problem(fields))
