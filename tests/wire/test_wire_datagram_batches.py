"""Which datagrams one segmented send carries, and how a coalesced read splits: sizes and bytes only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsim.wire.datagram_batches import MAX_SEGMENTS, batch_length, split_segments

UDP_MAX = 65507


def length(sizes: list[int], *, max_bytes: int = UDP_MAX, max_segment: int = UDP_MAX) -> int:
    return batch_length(iter(sizes), max_bytes=max_bytes, max_segment=max_segment)


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([], 0),
        ([100], 1),
        ([100, 100, 100], 3),
        # Only the last segment may be shorter: a shorter one ends the run, with it.
        ([100, 100, 40, 100], 3),
        ([100, 40], 2),
        # A longer one starts a run of its own.
        ([100, 100, 101, 101], 2),
        ([40, 100], 1),
        ([100] * (MAX_SEGMENTS + 5), MAX_SEGMENTS),
        ([100] * MAX_SEGMENTS + [40], MAX_SEGMENTS),
    ],
)
def test_a_run_is_equal_sizes_with_a_shorter_last(sizes: list[int], expected: int) -> None:
    assert length(sizes) == expected


def test_a_run_stops_before_the_udp_payload_limit() -> None:
    assert length([1000] * 64, max_bytes=5000) == 5
    assert length([1000] * 4 + [999], max_bytes=5000) == 5
    assert length([1000] * 4 + [999], max_bytes=4998) == 4
    # One datagram always goes, whatever its size: the limit is on what a run adds.
    assert length([9000, 9000], max_bytes=5000) == 1


def test_a_datagram_above_the_refused_size_goes_alone() -> None:
    assert length([1500, 1500, 1500], max_segment=1499) == 1
    assert length([1499, 1499, 1500], max_segment=1499) == 2
    assert length([1500, 1500], max_segment=0) == 1


def test_sizes_are_read_only_as_far_as_the_run_goes() -> None:
    read = []

    def sizes():
        for size in [100, 100, 50, 100, 100]:
            read.append(size)
            yield size

    assert batch_length(sizes(), max_bytes=UDP_MAX, max_segment=UDP_MAX) == 3
    assert read == [100, 100, 50]


def test_a_coalesced_read_splits_at_the_segment_size_byte_by_byte() -> None:
    data = b"aaaa" + b"bbbb" + b"cc"
    assert split_segments(data, 4) == [b"aaaa", b"bbbb", b"cc"]
    assert split_segments(b"aaaabbbb", 4) == [b"aaaa", b"bbbb"]
    # Not a run: one datagram, as read.
    assert split_segments(b"abc", 4) == [b"abc"]
    assert split_segments(b"abcd", 4) == [b"abcd"]
    assert split_segments(b"abcdef", 0) == [b"abcdef"]
    assert split_segments(b"", 4) == [b""]


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=200), st.integers(1, 2000))
def test_what_a_run_carries_splits_back_into_the_same_datagrams(
    datagrams: list[bytes], max_bytes: int
) -> None:
    """Whatever the sizes: the run batch_length picks, joined as the kernel sends it and cut at its
    first datagram's size as a coalesced read gives it, is the same datagrams in the same order."""
    rest = datagrams
    while rest:
        count = batch_length((len(d) for d in rest), max_bytes=max_bytes, max_segment=UDP_MAX)
        assert 1 <= count <= MAX_SEGMENTS
        run, rest = rest[:count], rest[count:]
        assert count == 1 or sum(map(len, run)) <= max_bytes
        assert split_segments(b"".join(run), len(run[0])) == run
