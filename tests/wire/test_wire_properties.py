"""Properties of the codec: every message round-trips, and no input raises anything but CodecError."""

from __future__ import annotations

import json
from itertools import pairwise

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsim.errors import CodecError
from netsim.wire import (
    LENGTH_PREFIX,
    FrameDecoder,
    Message,
    codec,
    decode_datagram,
    decode_message,
    encode_datagram,
    encode_frame,
    encode_message,
)

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
NAMES = st.text(min_size=1, max_size=16)
MESSAGES = st.builds(
    Message,
    src=NAMES,
    dst=NAMES,
    id=NAMES,
    type=NAMES,
    body=JSON_VALUES,
    in_reply_to=st.none() | NAMES,
    lamport=st.integers(min_value=0, max_value=2**62),
)
ENVELOPE_KEYS = st.sampled_from(["src", "dst", "id", "type", "body", "in_reply_to", "lamport", "other"])


def split_points(data: st.DataObject, length: int) -> list[int]:
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=length), max_size=20))
    return sorted({0, length, *cuts})


def drain(decoder: FrameDecoder) -> list[Message]:
    messages = []
    while (item := decoder.next_frame()) is not None:
        messages.append(item[0])
    return messages


@given(MESSAGES)
def test_message_round_trips(message: Message) -> None:
    assert decode_message(encode_message(message)) == message
    assert decode_datagram(encode_datagram(message)) == message


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MESSAGES, max_size=8), st.data())
def test_stream_round_trips_in_any_chunking(messages: list[Message], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(message) for message in messages)
    cuts = split_points(data, len(stream))
    all_at_once = data.draw(st.booleans(), label="next_frames")
    decoder = FrameDecoder()
    decoded: list[Message] = []
    wire_bytes = 0
    for start, end in pairwise(cuts):
        decoder.feed(memoryview(stream)[start:end])
        items = decoder.next_frames() if all_at_once else iter(decoder.next_frame, None)
        for message, size in items:
            decoded.append(message)
            wire_bytes += size
    decoder.close()
    assert decoded == messages
    assert wire_bytes == len(stream)
    assert decoder.buffered == 0


@given(st.binary(max_size=200))
def test_random_payload_raises_only_codec_error(payload: bytes) -> None:
    try:
        message = decode_message(payload)
    except CodecError:
        return
    assert decode_message(encode_message(message)) == message


@given(st.dictionaries(ENVELOPE_KEYS, JSON_VALUES, max_size=8) | JSON_VALUES)
def test_random_json_raises_only_codec_error(value: object) -> None:
    # Structurally plausible payloads reach the field validation instead of stopping at the JSON parser.
    try:
        message = decode_message(orjson.dumps(value))
    except CodecError:
        return
    assert decode_message(encode_message(message)) == message


@given(MESSAGES, st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_corrupted_payload_raises_only_codec_error(message: Message, position: int, value: int) -> None:
    payload = bytearray(encode_message(message))
    payload[position % len(payload)] = value
    try:
        decoded = decode_message(payload)
    except CodecError:
        return
    assert decode_message(encode_message(decoded)) == decoded


@given(
    st.lists(
        st.binary(max_size=40)
        | st.binary(max_size=40).map(lambda payload: LENGTH_PREFIX.pack(len(payload)) + payload),
        max_size=6,
    ),
    st.data(),
)
def test_random_stream_raises_only_codec_error(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    cuts = split_points(data, len(stream))
    decoder = FrameDecoder(max_frame_bytes=data.draw(st.sampled_from([64, 2**24])))
    try:
        for start, end in pairwise(cuts):
            decoder.feed(stream[start:end])
            drain(decoder)
        decoder.close()
        drain(decoder)
    except CodecError:
        # Once failed, it stays failed, and still only with CodecError.
        for call in (decoder.next_frame, decoder.close):
            try:
                call()
            except CodecError:
                continue
            raise AssertionError(f"{call.__name__} succeeded after an error") from None


# -- the msgspec path agrees with the checked path ---------------------------------------------------------
# decode_message parses with msgspec and hands anything msgspec refuses to _decode_checked (orjson and the
# checks in Python). Both must give the same message, or the same error, for any payload.


def decoded_either_way(payload: bytes | bytearray) -> tuple[object, object]:
    def outcome(decode: object) -> object:
        try:
            return ("message", decode(payload))  # type: ignore[operator]
        except CodecError as error:
            return ("error", str(error))

    return outcome(decode_message), outcome(codec._decode_checked)


ENVELOPE_VALUES = (
    JSON_VALUES
    | st.sampled_from(["", "a", 0, -1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, True, 1.0, None])
    | st.integers(min_value=-(2**70), max_value=2**70)
)


@settings(max_examples=500)
@given(st.dictionaries(ENVELOPE_KEYS, ENVELOPE_VALUES, max_size=8), MESSAGES)
def test_both_paths_agree_on_envelopes(fields: dict[str, object], message: Message) -> None:
    # A valid message with some fields replaced by values of any type, or left out.
    envelope = orjson.loads(encode_message(message))
    for key, value in fields.items():
        if key == "body":
            continue  # a body integer beyond 64 bits is the one documented difference
        envelope[key] = value
    payload = json_bytes(envelope)
    fast, checked = decoded_either_way(payload)
    assert fast == checked


@given(MESSAGES, st.integers(min_value=0), st.integers(min_value=0, max_value=255), st.booleans())
def test_both_paths_agree_on_corrupted_payloads(
    message: Message, position: int, value: int, cut: bool
) -> None:
    payload = bytearray(encode_message(message))
    if cut:
        del payload[position % len(payload) :]
    else:
        payload[position % len(payload)] = value
    fast, checked = decoded_either_way(payload)
    assert fast == checked


@given(st.binary(max_size=200))
def test_both_paths_agree_on_random_bytes(payload: bytes) -> None:
    fast, checked = decoded_either_way(payload)
    assert fast == checked


def json_bytes(value: object) -> bytes:
    """JSON text for ``value``, integers of any size included (orjson refuses those beyond 64 bits)."""

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8", "surrogatepass"
    )


def test_where_the_paths_differ_and_where_they_hand_over() -> None:
    envelope = b'{"src":"a","dst":"b","id":"a:1","type":"t","body":%b,"lamport":%d}'
    # The one difference: a body integer beyond 64 bits stays an int (orjson would make it a float).
    assert (
        decode_message(envelope % (b"123456789012345678901234567890", 0)).body
        == 123456789012345678901234567890
    )
    # Both paths take clocks up to 2**62 and refuse the next one, and far larger ones.
    assert decode_message(envelope % (b"null", 2**62)).lamport == 2**62
    for beyond in (2**62 + 1, 2**64 - 1, 2**64):
        try:
            decode_message(envelope % (b"null", beyond))
        except CodecError as error:
            assert "lamport" in str(error)
        else:
            raise AssertionError(f"a clock of {beyond} was accepted")
    # An unknown key takes the checked path, which ignores it.
    with_unknown = b'{"src":"a","dst":"b","id":"a:1","type":"t","later":[1,2]}'
    assert decode_message(with_unknown) == Message("a", "b", "a:1", "t")


# What an app may pass to ctx.send as a type, body or in_reply_to, good or bad.
APP_VALUES = st.none() | st.text(max_size=8) | st.integers() | st.booleans() | st.just(b"raw") | JSON_VALUES


@given(
    st.text(max_size=8),
    st.text(max_size=8),
    APP_VALUES,
    APP_VALUES | st.sets(st.integers(), max_size=2),
    APP_VALUES,
    st.integers(min_value=0, max_value=2**65),
)
def test_the_node_encoder_agrees_with_encode_envelope(
    src: str, dst: str, msg_type: object, body: object, in_reply_to: object, lamport: int
) -> None:
    """encode_from_node checks less (the node made src, dst, id and lamport), and answers the same."""

    def outcome(encode):
        try:
            return encode(src, dst, "n:1", msg_type, body, in_reply_to, lamport)
        except CodecError as error:
            return ("CodecError", str(error))

    assert outcome(codec.encode_from_node) == outcome(codec.encode_envelope)


def _decoded_one_by_one(payloads: list[bytes]) -> list[Message] | str:
    try:
        return [decode_message(payload) for payload in payloads]
    except CodecError as error:
        return str(error)


@given(
    st.lists(
        MESSAGES.map(encode_message) | st.binary(max_size=40) | JSON_VALUES.map(orjson.dumps), max_size=6
    )
)
def test_a_reads_payloads_decode_together_as_they_do_one_by_one(payloads: list[bytes]) -> None:
    """``decode_messages`` (one read's payloads at once) is ``decode_message`` of each, errors included."""
    expected = _decoded_one_by_one(payloads)
    try:
        together: list[Message] | str = codec.decode_messages(payloads)
    except CodecError as error:
        together = str(error)
    assert together == expected
