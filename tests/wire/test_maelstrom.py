"""Maelstrom's line protocol, pure (``netsim.wire.maelstrom``): every input whole, byte by byte, and
followed by garbage; and random bytes that never raise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netsim.wire.maelstrom import (
    ERROR_CODES,
    LineDecoder,
    LineError,
    ProgramMessage,
    encode_line,
    error_body,
    init_body,
    parse_line,
)

ECHO = b'{"src": "n1", "dest": "n2", "body": {"type": "echo", "msg_id": 1, "echo": "hi"}}'


def lines_of(decoder: LineDecoder, data: bytes, *, byte_by_byte: bool = False) -> list[bytes | LineError]:
    if not byte_by_byte:
        return decoder.feed(data)
    out: list[bytes | LineError] = []
    for index in range(len(data)):
        out += decoder.feed(data[index : index + 1])
    return out


def test_lines_whole_and_byte_by_byte() -> None:
    data = ECHO + b"\n" + b"second\n" + b"\n"
    for byte_by_byte in (False, True):
        decoder = LineDecoder(1000)
        assert lines_of(decoder, data, byte_by_byte=byte_by_byte) == [ECHO, b"second", b""]
        assert decoder.pending == b""


def test_an_unfinished_line_waits_for_its_newline() -> None:
    decoder = LineDecoder(1000)
    assert decoder.feed(ECHO[:10]) == []
    assert decoder.pending == ECHO[:10]
    assert decoder.feed(ECHO[10:] + b"\ntrailing") == [ECHO]
    assert decoder.pending == b"trailing"


def test_a_line_over_the_limit_is_reported_once_and_skipped_whole_byte_by_byte_too() -> None:
    long_line = b"x" * 100
    data = b"ok\n" + long_line + b"\nafter\n"
    for byte_by_byte in (False, True):
        out = lines_of(LineDecoder(50), data, byte_by_byte=byte_by_byte)
        assert out[0] == b"ok" and out[2] == b"after" and len(out) == 3
        assert out[1] == LineError("line longer than 50 bytes", b"x" * 51)
    # Exactly at the limit is a line.
    assert LineDecoder(5).feed(b"12345\n") == [b"12345"]


def test_parse_a_message_and_its_fields() -> None:
    message = parse_line(ECHO, "n1")
    assert message == ProgramMessage("n1", "n2", {"type": "echo", "msg_id": 1, "echo": "hi"})
    assert isinstance(message, ProgramMessage) and message.type == "echo" and message.msg_id == 1
    # A program may leave src out: the node's own id stands in.
    assert parse_line(b'{"dest": "n2", "body": {"type": "x"}}', "n1") == ProgramMessage(
        "n1", "n2", {"type": "x"}
    )
    assert parse_line(b"  \r", "n1") is None


def test_each_way_a_line_is_not_a_message_is_named() -> None:
    cases = {
        b"hello": "not JSON",
        b"[1]": "not a JSON object",
        b'{"body": {"type": "x"}}': "no dest (a node id string)",
        b'{"dest": 3, "body": {"type": "x"}}': "no dest (a node id string)",
        b'{"dest": "n2", "src": 1, "body": {"type": "x"}}': "src is not a node id string",
        b'{"dest": "n2", "body": "x"}': "no body (a JSON object)",
        b'{"dest": "n2", "body": {"msg_id": 1}}': "the body has no type (a string)",
        b'{"dest": "n2", "body": {"type": "x", "msg_id": "1"}}': "the body's msg_id is not an integer",
        b'{"dest": "n2", "body": {"type": "x", "in_reply_to": true}}': (
            "the body's in_reply_to is not an integer"
        ),
        ECHO + b" garbage": "not JSON",
    }
    for line, reason in cases.items():
        error = parse_line(line, "n1")
        assert isinstance(error, LineError) and error.reason == reason, line
        assert error.first_bytes == line[:80]
    assert parse_line(b"\xff\xfe", "n1") == LineError("not JSON", b"\xff\xfe")
    assert LineError("not JSON", b"\xff").describe() == "not JSON: '\\\\xff'"


def test_encode_line_round_trips_and_bodies_are_maelstroms() -> None:
    body = {"type": "echo", "msg_id": 7, "echo": "é"}
    line = encode_line("n1", "n2", body)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_line(line[:-1], "zz") == ProgramMessage("n1", "n2", body)
    assert init_body(1, "n1", ["n1", "n2"]) == {
        "type": "init",
        "msg_id": 1,
        "node_id": "n1",
        "node_ids": ["n1", "n2"],
    }
    assert error_body(1, "gone", 4) == {"type": "error", "code": 1, "text": "gone", "in_reply_to": 4}
    assert "in_reply_to" not in error_body(1, "gone", None)
    assert ERROR_CODES[1] == ("node-not-found", True) and ERROR_CODES[0] == ("timeout", False)


message_bodies = st.fixed_dictionaries(
    {"type": st.text(min_size=1, max_size=10)},
    optional={"msg_id": st.integers(0, 2**53), "in_reply_to": st.integers(0, 2**53), "value": st.text()},
)


@given(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8), message_bodies)
def test_any_message_survives_encode_then_decode(src: str, dest: str, body: dict) -> None:
    line = encode_line(src, dest, body)
    [decoded] = LineDecoder(1 << 20).feed(line)
    assert parse_line(decoded, "other") == ProgramMessage(src, dest, body)


@given(st.binary(max_size=300), st.integers(1, 64))
def test_random_bytes_never_raise(data: bytes, limit: int) -> None:
    for line in LineDecoder(limit).feed(data):
        if isinstance(line, bytes):
            assert isinstance(parse_line(line, "n1"), (ProgramMessage, LineError, type(None)))
            assert len(line) <= limit
