"""The message payload codec: exact bytes, decoding rules and every error, without framing."""

from __future__ import annotations

import dataclasses
import datetime
import math

import orjson
import pytest

from netsim.errors import CodecError
from netsim.wire import (
    LAMPORT_MAX,
    LENGTH_PREFIX,
    MAX_FRAME_BYTES,
    PREFIX_SIZE,
    Message,
    codec,
    decode_datagram,
    decode_message,
    encode_datagram,
    encode_frame,
    encode_message,
    frame,
)

PING = Message("a", "b", "a:1", "ping", {"n": 1})
PING_PAYLOAD = b'{"src":"a","dst":"b","id":"a:1","type":"ping","body":{"n":1},"lamport":0}'


# --- exact bytes -------------------------------------------------------------------------------------


def test_golden_frame_bytes() -> None:
    assert encode_frame(PING) == b"\x00\x00\x00\x49" + PING_PAYLOAD
    assert len(PING_PAYLOAD) == 0x49


def test_golden_payload_with_reply_and_clock() -> None:
    pong = Message("b", "a", "b:1", "pong", None, in_reply_to="a:1", lamport=3)
    assert encode_message(pong) == (
        b'{"src":"b","dst":"a","id":"b:1","type":"pong","body":null,"lamport":3,"in_reply_to":"a:1"}'
    )


def test_decode_hand_written_payload() -> None:
    payload = b'{ "type": "pong", "id": "b:1", "src": "b", "dst": "a",\n "in_reply_to": "a:1", "lamport": 3 }'
    assert decode_message(payload) == Message("b", "a", "b:1", "pong", None, "a:1", 3)


def test_decode_hand_written_payload_non_ascii() -> None:
    payload = '{"src":"n\u00e9","dst":"\u8282\u70b9","id":"x","type":"t","body":["\U0001f600"]}'.encode()
    assert decode_message(payload) == Message("n\u00e9", "\u8282\u70b9", "x", "t", ["\U0001f600"])


def test_decoded_message_is_a_plain_immutable_message() -> None:
    message = decode_message(PING_PAYLOAD)
    assert type(message) is Message
    assert message == PING
    assert repr(message) == repr(PING)
    with pytest.raises(AttributeError):
        message.src = "z"  # type: ignore[misc]
    assert message._replace(body="other") == Message(PING.src, PING.dst, PING.id, PING.type, "other", None, 0)
    keyed = Message("a", "b", "a:1", "ping", "hashable body")
    assert hash(decode_message(encode_message(keyed))) == hash(keyed)


def test_frame_prefix_and_constants() -> None:
    assert PREFIX_SIZE == LENGTH_PREFIX.size == 4
    assert MAX_FRAME_BYTES == 16 * 1024 * 1024
    assert frame(b"") == b"\x00\x00\x00\x00"
    assert frame(b"x" * 258) == b"\x00\x00\x01\x02" + b"x" * 258


def test_frame_rejects_oversized_payload() -> None:
    assert len(frame(b"x" * MAX_FRAME_BYTES)) == MAX_FRAME_BYTES + PREFIX_SIZE
    with pytest.raises(CodecError, match="exceeds the frame limit"):
        frame(b"x" * (MAX_FRAME_BYTES + 1))


def test_datagram_is_the_bare_payload() -> None:
    assert encode_datagram(PING) == PING_PAYLOAD
    assert decode_datagram(PING_PAYLOAD) == PING
    assert decode_datagram(bytearray(PING_PAYLOAD)) == PING
    assert decode_datagram(memoryview(PING_PAYLOAD)) == PING
    with pytest.raises(CodecError, match="invalid JSON at byte 0"):
        decode_datagram(encode_frame(PING))  # a stream frame sent as a datagram


# --- decoding rules ----------------------------------------------------------------------------------


def test_body_defaults_to_none_and_lamport_to_zero() -> None:
    assert decode_message(b'{"src":"a","dst":"b","id":"1","type":"t"}') == Message("a", "b", "1", "t")


def test_null_body_and_reply() -> None:
    payload = b'{"src":"a","dst":"b","id":"1","type":"t","body":null,"in_reply_to":null}'
    assert decode_message(payload) == Message("a", "b", "1", "t")


def test_unknown_keys_are_ignored() -> None:
    payload = b'{"src":"a","dst":"b","id":"1","type":"t","v":2,"trace":{"x":[1]},"lamport":7}'
    assert decode_message(payload) == Message("a", "b", "1", "t", lamport=7)


@pytest.mark.parametrize(
    "body",
    [
        None,
        True,
        False,
        0,
        -1,
        2**63 - 1,
        -(2**63),
        2**64 - 1,
        1.5,
        -0.0,
        1e308,
        "",
        "text",
        [],
        {},
        [1, [2]],
    ],
)
def test_json_bodies_round_trip(body: object) -> None:
    message = Message("a", "b", "a:1", "t", body)
    assert decode_message(encode_message(message)) == message


def test_largest_lamport_round_trips() -> None:
    message = Message("a", "b", "a:1", "t", lamport=LAMPORT_MAX)
    assert decode_message(encode_message(message)).lamport == LAMPORT_MAX == 2**62


@pytest.mark.parametrize("lamport", [2**62 + 1, 2**63 - 1, 2**63, 2**64 - 1])
def test_a_lamport_beyond_the_cap_is_refused_both_ways(lamport: int) -> None:
    payload = b'{"src":"a","dst":"b","id":"1","type":"t","lamport":%d}' % lamport
    with pytest.raises(CodecError, match=r"^field 'lamport' must be at most 2\*\*62, got "):
        decode_message(payload)
    with pytest.raises(CodecError, match=r"must be at most 2\*\*62"):
        encode_message(Message("a", "b", "a:1", "t", lamport=lamport))


def test_nan_and_infinity_encode_as_null() -> None:
    message = Message("a", "b", "a:1", "t", [math.nan, math.inf, -math.inf])
    assert decode_message(encode_message(message)).body == [None, None, None]


def test_tuples_encode_as_lists() -> None:
    assert decode_message(encode_message(Message("a", "b", "a:1", "t", (1, 2)))).body == [1, 2]


# --- decoding errors ---------------------------------------------------------------------------------


def envelope(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"src": "a", "dst": "b", "id": "a:1", "type": "t"}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not ...}


def as_json(fields: dict[str, object]) -> bytes:
    return orjson.dumps(fields)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "invalid JSON at byte 0"),
        (b'{"src":', "invalid JSON at byte 7"),
        (b'{"src" "a"}', "invalid JSON at byte 7"),
        (b'["\xc3\xa9"] x', "invalid JSON at byte 7"),  # orjson counts characters; we report bytes
        (PING_PAYLOAD + b"x", f"invalid JSON at byte {len(PING_PAYLOAD)}"),
        (b"\xff", "invalid UTF-8 at byte 0"),
        (b'{"src":"\xc3\x28"}', "invalid UTF-8 at byte 8"),
        (b'{"src":"\xed\xa0\x80"}', "invalid UTF-8 at byte 8"),  # an encoded surrogate
        (b"[" * 5000, "invalid JSON"),  # deeper than orjson's nesting limit
        (b"[]", "a message must be a JSON object, got array"),
        (b'"ping"', "a message must be a JSON object, got string"),
        (b"1", "a message must be a JSON object, got integer"),
        (b"null", "a message must be a JSON object, got null"),
    ],
)
def test_decode_rejects_bad_json(payload: bytes, reason: str) -> None:
    with pytest.raises(CodecError) as excinfo:
        decode_message(payload)
    assert str(excinfo.value).startswith(reason)


@pytest.mark.parametrize("name", ["src", "dst", "id", "type"])
def test_decode_rejects_missing_field(name: str) -> None:
    with pytest.raises(CodecError, match=f"^missing field '{name}'$"):
        decode_message(as_json(envelope(**{name: ...})))


@pytest.mark.parametrize("name", ["src", "dst", "id", "type"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "must be a string, got null"),
        (1, "must be a string, got integer"),
        (1.5, "must be a string, got number"),
        (True, "must be a string, got boolean"),
        (["a"], "must be a string, got array"),
        ({"a": 1}, "must be a string, got object"),
        ("", "must not be empty"),
    ],
)
def test_decode_rejects_mistyped_field(name: str, value: object, reason: str) -> None:
    with pytest.raises(CodecError, match=f"^field '{name}' {reason}$"):
        decode_message(as_json(envelope(**{name: value})))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (5, "must be a string or null, got integer"),
        (["a:1"], "must be a string or null, got array"),
        ("", "must not be empty"),
    ],
)
def test_decode_rejects_bad_in_reply_to(value: object, reason: str) -> None:
    with pytest.raises(CodecError, match=f"^field 'in_reply_to' {reason}"):
        decode_message(as_json(envelope(in_reply_to=value)))


@pytest.mark.parametrize(
    ("json_value", "reason"),
    [
        (b"-1", "got -1"),
        (b"true", "got boolean"),
        (b"false", "got boolean"),
        (b"null", "got null"),
        (b"1.0", "got number"),
        (b'"3"', "got string"),
        (b"18446744073709551616", "got number"),  # 2**64: orjson reads it as a float
    ],
)
def test_decode_rejects_bad_lamport(json_value: bytes, reason: str) -> None:
    payload = b'{"src":"a","dst":"b","id":"1","type":"t","lamport":' + json_value + b"}"
    with pytest.raises(CodecError, match=f"^field 'lamport' must be a non-negative integer, {reason}$"):
        decode_message(payload)


@pytest.mark.parametrize("payload", [None, 5, 1.5, object(), ["a"]])
def test_decode_rejects_non_bytes_with_codec_error(payload: object) -> None:
    with pytest.raises(CodecError, match="payload must be bytes"):
        decode_message(payload)  # type: ignore[arg-type]


# --- encoding errors ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({1, 2}, "Type is not JSON serializable: set"),
        ({"nested": [frozenset()]}, "Type is not JSON serializable: frozenset"),
        (object(), "Type is not JSON serializable: object"),
        (b"raw", "Type is not JSON serializable: bytes"),
        (Point(1), "Type is not JSON serializable: Point"),
        (datetime.date(2024, 1, 1), "Type is not JSON serializable: date"),
        (2**64, "Integer exceeds 64-bit range"),
        (-(2**63) - 1, "Integer exceeds 64-bit range"),
        ({1: "a"}, "Dict key must be str"),
        ("\ud800", "str is not valid UTF-8"),
    ],
)
def test_encode_rejects_unserializable_body(body: object, reason: str) -> None:
    with pytest.raises(CodecError) as excinfo:
        encode_message(Message("a", "b", "a:7", "gossip", body))
    text = str(excinfo.value)
    assert text.startswith("cannot encode message of type 'gossip' (id 'a:7'): body is not JSON-serializable")
    assert reason in text
    assert excinfo.value.hint is not None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"src": ""}, "field 'src' must not be empty"),
        ({"dst": 3}, "field 'dst' must be a string, got integer"),
        ({"id": None}, "field 'id' must be a string, got null"),
        ({"in_reply_to": ""}, "field 'in_reply_to' must not be empty"),
        ({"in_reply_to": 4}, "field 'in_reply_to' must be a string or null, got integer"),
        ({"lamport": -1}, "field 'lamport' must be a non-negative integer, got -1"),
        ({"lamport": True}, "field 'lamport' must be a non-negative integer, got boolean"),
        ({"lamport": 1.0}, "field 'lamport' must be a non-negative integer, got number"),
        ({"lamport": 2**62 + 1}, "field 'lamport' must be at most 2**62"),
    ],
)
def test_encode_rejects_bad_envelope(fields: dict[str, object], reason: str) -> None:
    message = Message("a", "b", "a:1", "ping")._replace(**fields)
    with pytest.raises(CodecError, match=r"^cannot encode message of type 'ping': ") as excinfo:
        encode_message(message)
    assert reason in str(excinfo.value)


def test_encode_names_a_message_without_a_usable_type() -> None:
    with pytest.raises(
        CodecError, match="^cannot encode message: field 'type' must be a string, got integer"
    ):
        encode_message(Message("a", "b", "a:1", 7))  # type: ignore[arg-type]


def test_encode_frame_rejects_oversized_message() -> None:
    with pytest.raises(CodecError, match="exceeds the frame limit"):
        encode_frame(Message("a", "b", "a:1", "bulk", "x" * MAX_FRAME_BYTES))


def test_the_msgspec_envelope_has_the_fields_of_message_in_its_order() -> None:
    # decode_message builds a Message from the envelope's values in field order.
    assert codec._Envelope.__struct_fields__ == Message._fields
