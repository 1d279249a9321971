"""FrameDecoder, h11 style: every input whole, byte by byte and followed by garbage."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from netsim.errors import CodecError, OptionError
from netsim.wire import (
    LENGTH_PREFIX,
    MAX_FRAME_BYTES,
    PREFIX_SIZE,
    FrameDecoder,
    Message,
    decode_frames,
    encode_frame,
    frame,
)

MESSAGES = [
    Message("a", "b", "a:1", "ping", {"n": 1}),
    Message("b", "a", "b:1", "pong", None, in_reply_to="a:1", lamport=2),
    Message("n\u00e9", "\u8282\u70b9", "x:1", "data", ["\U0001f600", 1.5, True, None, {"k": []}], lamport=9),
    Message("a", "b", "a:2", "empty-body", ""),
]
STREAM = b"".join(encode_frame(message) for message in MESSAGES)


def whole(data: bytes) -> list[bytes]:
    return [data]


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[index : index + 1] for index in range(len(data))]


def in_sevens(data: bytes) -> list[bytes]:
    return [data[index : index + 7] for index in range(0, len(data), 7)]


SPLITS: list[Callable[[bytes], list[bytes]]] = [whole, byte_by_byte, in_sevens]

Item = tuple[Message, int]


def one_by_one(decoder: FrameDecoder, into: list[Item]) -> None:
    while (item := decoder.next_frame()) is not None:
        into.append(item)


def all_at_once(decoder: FrameDecoder, into: list[Item]) -> None:
    while items := decoder.next_frames():
        into.extend(items)


READERS: list[Callable[[FrameDecoder, list[Item]], None]] = [one_by_one, all_at_once]


def run(
    chunks: Iterable[bytes | bytearray | memoryview],
    decoder: FrameDecoder | None = None,
    read: Callable[[FrameDecoder, list[Item]], None] = one_by_one,
) -> tuple[list[Message], list[int], CodecError | None]:
    """Feed chunks as a socket loop would, then EOF; the messages, their wire sizes, and any error."""
    decoder = decoder if decoder is not None else FrameDecoder()
    items: list[Item] = []
    error = None
    try:
        for chunk in chunks:
            decoder.feed(chunk)
            read(decoder, items)
        decoder.close()
    except CodecError as raised:
        error = raised
    return [message for message, _ in items], [size for _, size in items], error


# --- good input, three ways --------------------------------------------------------------------------


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("split", SPLITS)
def test_stream_decodes(split: Callable[[bytes], list[bytes]], read: Callable[..., None]) -> None:
    messages, sizes, error = run(split(STREAM), read=read)
    assert error is None
    assert messages == MESSAGES
    assert sizes == [len(encode_frame(message)) for message in MESSAGES]
    assert sum(sizes) == len(STREAM)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_feed_accepts_any_bytes_like(wrap: Callable[[bytes], bytes | bytearray | memoryview]) -> None:
    messages, _, error = run([wrap(chunk) for chunk in in_sevens(STREAM)])
    assert error is None
    assert messages == MESSAGES


def test_decode_frames() -> None:
    assert decode_frames(STREAM) == MESSAGES
    assert decode_frames(b"") == []
    with pytest.raises(CodecError, match="truncated frame"):
        decode_frames(STREAM[:-1])


def test_decode_hand_written_frames() -> None:
    data = (
        b'\x00\x00\x00\x2a{"src":"a","dst":"b","id":"1","type":"hi"}'
        + b'\x00\x00\x00\x29{"type":"t","id":"2","dst":"a","src":"b"}'
    )
    assert decode_frames(data) == [Message("a", "b", "1", "hi"), Message("b", "a", "2", "t")]


# --- trailing garbage, three ways: the good frames come out, then the error ---------------------------

GARBAGE = {
    "oversized prefix": (LENGTH_PREFIX.pack(MAX_FRAME_BYTES + 1), "announces 16777217 payload bytes"),
    "oversized prefix and bytes": (b"\xff\xff\xff\xffhello", "announces 4294967295 payload bytes"),
    "http request": (b"GET / HTTP/1.1\r\n\r\n", "announces 1195725856 payload bytes"),
    "invalid JSON": (frame(b'{"src":'), "invalid JSON at byte 7"),
    "invalid UTF-8": (frame(b'{"src":"\xff"}'), "invalid UTF-8 at byte 8"),
    "empty payload": (frame(b""), "invalid JSON at byte 0"),
    "not an object": (frame(b"[1,2]"), "a message must be a JSON object, got array"),
    "missing field": (frame(b'{"src":"a","dst":"b","id":"1"}'), "missing field 'type'"),
    "negative lamport": (frame(b'{"src":"a","dst":"b","id":"1","type":"t","lamport":-3}'), "got -3"),
    "truncated prefix": (b"\x00\x00", "truncated frame: 2 bytes buffered at EOF"),
    "truncated payload": (encode_frame(MESSAGES[0])[:-1], "truncated frame: 76 bytes buffered at EOF"),
    "prefix only": (LENGTH_PREFIX.pack(10), "truncated frame: 4 bytes buffered at EOF"),
}


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("garbage_name", sorted(GARBAGE))
def test_trailing_garbage(
    split: Callable[[bytes], list[bytes]], garbage_name: str, read: Callable[..., None]
) -> None:
    garbage, reason = GARBAGE[garbage_name]
    decoder = FrameDecoder()
    messages, _, error = run(split(STREAM + garbage), decoder, read)
    assert messages == MESSAGES
    assert error is not None
    assert reason in str(error)
    # The decoder is now unusable: every call says so, with the original reason.
    for call in (lambda: decoder.feed(b"x"), decoder.next_frame, decoder.next_frames, decoder.close):
        with pytest.raises(CodecError, match="unusable after an earlier error") as excinfo:
            call()
        assert reason in str(excinfo.value)


def test_error_names_the_stream_offset() -> None:
    with pytest.raises(CodecError, match=f"^frame at stream byte {len(STREAM)}: invalid JSON at byte 0"):
        decode_frames(STREAM + frame(b"x"))


def test_next_frames_returns_the_good_frames_then_raises() -> None:
    decoder = FrameDecoder()
    decoder.feed(STREAM + frame(b"x") + STREAM)
    items = decoder.next_frames()
    assert items == [(message, len(encode_frame(message))) for message in MESSAGES]
    # What is left is the bad frame and everything after it: a node traces that many bytes.
    assert decoder.buffered == len(frame(b"x")) + len(STREAM)
    with pytest.raises(CodecError, match=f"^frame at stream byte {len(STREAM)}: invalid JSON at byte 0"):
        decoder.next_frames()
    with pytest.raises(CodecError, match="unusable after an earlier error"):
        decoder.next_frames()


def test_next_frames_raises_at_once_when_no_frame_precedes_the_error() -> None:
    decoder = FrameDecoder(max_frame_bytes=10)
    decoder.feed(LENGTH_PREFIX.pack(11))
    with pytest.raises(CodecError, match="^frame at stream byte 0 announces 11 payload bytes"):
        decoder.next_frames()
    assert decoder.buffered == PREFIX_SIZE


def test_next_frames_names_the_offset_within_a_read() -> None:
    decoder = FrameDecoder(max_frame_bytes=200)
    decoder.feed(STREAM)
    assert len(decoder.next_frames()) == len(MESSAGES)
    decoder.feed(encode_frame(MESSAGES[0]) + LENGTH_PREFIX.pack(201))
    assert decoder.next_frames() == [(MESSAGES[0], len(encode_frame(MESSAGES[0])))]
    offset = len(STREAM) + len(encode_frame(MESSAGES[0]))
    with pytest.raises(CodecError, match=f"^frame at stream byte {offset} announces 201 payload bytes"):
        decoder.next_frames()


# --- each framing error on its own -------------------------------------------------------------------


def test_oversized_prefix_raises_with_only_the_prefix_fed() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.feed(LENGTH_PREFIX.pack(101))
    with pytest.raises(
        CodecError, match="announces 101 payload bytes, more than the limit of 100"
    ) as excinfo:
        decoder.next_frame()
    assert excinfo.value.hint is not None


def test_oversized_prefix_default_limit() -> None:
    decoder = FrameDecoder()
    decoder.feed(LENGTH_PREFIX.pack(MAX_FRAME_BYTES + 1))
    with pytest.raises(CodecError, match=f"more than the limit of {MAX_FRAME_BYTES}"):
        decoder.next_frame()


def test_prefix_at_the_limit_waits_for_the_payload() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.feed(LENGTH_PREFIX.pack(100))
    assert decoder.next_frame() is None
    assert decoder.buffered == PREFIX_SIZE


def test_truncated_prefix_at_eof() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x00\x00")
    assert decoder.next_frame() is None
    with pytest.raises(CodecError, match="^truncated frame: 3 bytes buffered at EOF, inside a 4-byte length"):
        decoder.close()


def test_truncated_frame_at_eof() -> None:
    decoder = FrameDecoder()
    decoder.feed(LENGTH_PREFIX.pack(20) + b'{"src"')
    assert decoder.next_frame() is None
    with pytest.raises(
        CodecError, match="^truncated frame: 10 bytes buffered at EOF, .* announces 20 payload bytes"
    ):
        decoder.close()


def test_oversized_prefix_at_eof() -> None:
    decoder = FrameDecoder(max_frame_bytes=10)
    decoder.feed(LENGTH_PREFIX.pack(11))
    with pytest.raises(CodecError, match="more than the limit of 10"):
        decoder.close()


def test_invalid_max_frame_bytes() -> None:
    for bad in (0, -1, 2**32, True, 1.5, "100"):
        with pytest.raises(OptionError, match="max_frame_bytes"):
            FrameDecoder(max_frame_bytes=bad)  # type: ignore[arg-type]


# --- state and buffering -----------------------------------------------------------------------------


def test_next_frame_waits_for_bytes() -> None:
    decoder = FrameDecoder()
    assert decoder.next_frame() is None
    data = encode_frame(MESSAGES[0])
    for index in range(len(data) - 1):
        decoder.feed(data[index : index + 1])
        assert decoder.next_frame() is None
        assert decoder.buffered == index + 1
    decoder.feed(data[-1:])
    assert decoder.next_frame() == (MESSAGES[0], len(data))
    assert decoder.buffered == 0
    assert decoder.next_frame() is None


def test_clean_eof() -> None:
    decoder = FrameDecoder()
    decoder.close()
    decoder.close()  # idempotent
    with pytest.raises(CodecError, match="after close"):
        decoder.feed(b"\x00")


def test_close_keeps_complete_frames_for_next_frame() -> None:
    decoder = FrameDecoder()
    decoder.feed(STREAM)
    assert decoder.next_frame() == (MESSAGES[0], len(encode_frame(MESSAGES[0])))
    decoder.close()  # the rest are whole frames, not a truncation
    rest = []
    while (item := decoder.next_frame()) is not None:
        rest.append(item[0])
    assert rest == MESSAGES[1:]
    assert decoder.buffered == 0


@pytest.mark.parametrize("read", READERS)
def test_buffer_is_compacted_across_many_frames(read: Callable[..., None]) -> None:
    # Frames straddle chunk boundaries while the consumed prefix grows past the compaction threshold.
    messages = [Message("a", "b", f"a:{index}", "bulk", "x" * (index % 300)) for index in range(3000)]
    stream = b"".join(encode_frame(message) for message in messages)
    decoder = FrameDecoder()
    decoded, sizes, error = run(
        (stream[index : index + 4093] for index in range(0, len(stream), 4093)), decoder, read
    )
    assert error is None
    assert decoded == messages
    assert sum(sizes) == len(stream)
    assert decoder.buffered == 0


def test_large_frames() -> None:
    messages = [Message("a", "b", f"a:{index}", "bulk", "y" * 200_000) for index in range(5)]
    stream = b"".join(encode_frame(message) for message in messages)
    decoded, _, error = run(stream[index : index + 65536] for index in range(0, len(stream), 65536))
    assert error is None
    assert decoded == messages
