"""The host link's frames and proofs, byte by byte (netsim.launch.cluster.hostlink is pure)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsim.errors import CodecError
from netsim.launch.cluster import hostlink
from netsim.launch.cluster.hostlink import ClockCorrection, ClockSample, Frame, FrameDecoder

KEY = bytes(range(32))


def test_control_frame_bytes() -> None:
    data = hostlink.encode_control("clock", asked_ns=5)
    body = b'{"kind":"clock","asked_ns":5}'
    assert data == struct.pack("!IB", len(body) + 1, hostlink.CONTROL) + body
    assert FrameDecoder().feed(data) == [Frame(hostlink.CONTROL, {"kind": "clock", "asked_ns": 5})]


def test_node_and_eof_frames_carry_the_index() -> None:
    data = hostlink.encode_node(7, b"\x00\x00\x00\x02{}") + hostlink.encode_node_eof(7)
    assert data[:5] == struct.pack("!IB", 4 + 6 + 1, hostlink.NODE)
    assert data[5:9] == b"\x00\x00\x00\x07"
    assert FrameDecoder().feed(data) == [
        Frame(hostlink.NODE, 7, b"\x00\x00\x00\x02{}"),
        Frame(hostlink.NODE_EOF, 7, b""),
    ]


def test_file_frame_names_its_file() -> None:
    data = hostlink.encode_file("3.trace.jsonl", b"line\n")
    assert data[5:7] == struct.pack("!H", len("3.trace.jsonl"))
    assert FrameDecoder().feed(data) == [Frame(hostlink.FILE, "3.trace.jsonl", b"line\n")]


@given(st.lists(st.binary(max_size=40), max_size=6), st.integers(min_value=1, max_value=13))
def test_frames_split_anywhere_decode_the_same(chunks: list[bytes], step: int) -> None:
    stream = b"".join(hostlink.encode_node(index, chunk) for index, chunk in enumerate(chunks))
    decoder = FrameDecoder()
    frames = []
    for at in range(0, len(stream), step):
        frames += decoder.feed(stream[at : at + step])
    assert frames == [Frame(hostlink.NODE, index, chunk) for index, chunk in enumerate(chunks)]
    assert not decoder.partial


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (struct.pack("!IB", 0, 1), "frame of 0 bytes"),
        (struct.pack("!IB", 5000, 1), "frame of 5000 bytes"),
        (struct.pack("!IB", 3, 1) + b"{]", "not JSON"),
        (struct.pack("!IB", 3, 1) + b"[]", "object with a kind"),
        (struct.pack("!IB", 3, 2) + b"ab", "without its node index"),
        (struct.pack("!IB", 6, 3) + b"\x00\x00\x00\x01x", "without its node index"),
        (struct.pack("!IB", 4, 4) + b"\x00\x09a", "cut inside its name"),
        (struct.pack("!IB", 5, 4) + b"\x00\x02\xff\xfe", "not UTF-8"),
        (struct.pack("!IB", 1, 9), "unknown kind 9"),
    ],
)
def test_bad_frames_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(CodecError, match=problem):
        FrameDecoder(limit=hostlink.HELLO_LIMIT_BYTES).feed(data)


def test_proofs_bind_role_host_and_both_nonces() -> None:
    good = hostlink.proof(KEY, "agent", "h1", "aa", "bb")
    assert hostlink.proves(KEY, good, "agent", "h1", "aa", "bb")
    assert not hostlink.proves(KEY, good, "launcher", "h1", "aa", "bb")
    assert not hostlink.proves(KEY, good, "agent", "h2", "aa", "bb")
    assert not hostlink.proves(KEY, good, "agent", "h1", "ab", "bb")
    assert not hostlink.proves(bytes(32), good, "agent", "h1", "aa", "bb")
    assert not hostlink.proves(KEY, None, "agent", "h1", "aa", "bb")
    assert len(good) == 64


def test_clock_sample_offset_and_error() -> None:
    # Asked at 1000, answered at 1100 (launcher clock); the host read 5050 in between.
    sample = ClockSample(asked_ns=1000, host_ns=5050, answered_ns=1100)
    assert sample.offset_ns == 4000
    assert sample.error_ns == 50
    best = hostlink.best_sample([ClockSample(0, 10, 300), sample, ClockSample(0, 10, 200)])
    assert best is sample


def test_clock_correction_follows_the_drift_between_start_and_end() -> None:
    start = ClockSample(asked_ns=0, host_ns=1_000, answered_ns=0)  # host ahead by 1000
    end = ClockSample(asked_ns=10_000, host_ns=13_000, answered_ns=10_000)  # ahead by 3000
    correction = ClockCorrection(start, end)
    assert correction.to_launcher(1_000) == 0
    assert correction.to_launcher(13_000) == 10_000
    assert correction.to_launcher(7_000) == 5_000  # halfway: ahead by 2000
    assert ClockCorrection(start).to_launcher(1_500) == 500
    assert correction.to_json()["clock_offset_end_ns"] == 3000
